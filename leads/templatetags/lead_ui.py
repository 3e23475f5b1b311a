"""Small display helpers for the agent pages: badges, money, durations."""

from datetime import datetime
from decimal import Decimal, InvalidOperation

import phonenumbers
from django import template
from django.utils import timezone

register = template.Library()

HOT_SCORE = 70
WARM_SCORE = 40


@register.filter
def score_class(score: int | None) -> str:
    """'hot', 'warm', 'cool', or 'pending' while the lead has no score yet."""
    if score is None:
        return "pending"
    if score >= HOT_SCORE:
        return "hot"
    if score >= WARM_SCORE:
        return "warm"
    return "cool"


@register.filter
def money(value) -> str:
    """$1,250,000 (no cents); an em dash when there is no value."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "—"
    return f"${amount:,.0f}"


@register.filter
def minutes_human(minutes: float | None) -> str:
    """125 -> '2 h 5 min'; 1500 -> '1 d 1 h'; None -> an em dash."""
    if minutes is None:
        return "—"
    total = round(minutes)
    if total < 60:
        return f"{total} min"
    hours, mins = divmod(total, 60)
    if hours < 24:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def waited(since: datetime | None) -> str:
    """How long ago ``since`` was, as minutes_human."""
    if since is None:
        return "—"
    return minutes_human(max(0.0, (timezone.now() - since).total_seconds() / 60))


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


@register.simple_tag
def next_ordering(current: str, field: str) -> str:
    """The ordering a column header switches to: ascending first, then descending."""
    return f"-{field}" if current == field else field


@register.simple_tag
def sort_state(current: str, field: str) -> str:
    """aria-sort value of a column header."""
    if current == field:
        return "ascending"
    if current == f"-{field}":
        return "descending"
    return "none"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def humanize_key(value: str) -> str:
    return str(value).replace("_", " ").capitalize()


@register.filter
def phone_display(value: str) -> str:
    """+14155550100 -> '+1 415-555-0100'; anything that does not parse stays as it is."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def ago(moment: datetime | None) -> str:
    """A short relative time: '5 min ago', '3 h ago', '2 d ago', 'in 4 d'."""
    if moment is None:
        return "—"
    seconds = (timezone.now() - moment).total_seconds()
    text = minutes_human(abs(seconds) / 60).split(" ")
    short = " ".join(text[:2])  # the largest unit only
    if abs(seconds) < 60:
        return "just now"
    return f"{short} ago" if seconds > 0 else f"in {short}"


@register.filter
def chart_columns(chart: dict) -> list[str]:
    """The series names of a chart's data (``json_script`` shape): one per dataset, or
    [""] for a single series of ``values``."""
    if chart.get("datasets"):
        return [str(dataset.get("label", "")) for dataset in chart["datasets"]]
    return [""]


@register.filter
def chart_rows(chart: dict) -> list[tuple[str, list]]:
    """A chart's figures as table rows: (label, the value of each series); None where
    the chart has no value."""
    if chart.get("datasets"):
        series = [list(dataset.get("data") or []) for dataset in chart["datasets"]]
    else:
        series = [list(chart.get("values") or [])]
    return [
        (str(label), [values[index] if index < len(values) else None for values in series])
        for index, label in enumerate(chart.get("labels") or [])
    ]
