"""Reads for a lead's page: its story as one timeline, the market figures as chart
series, the score, the CRM sync state and the sections integrations provide (the
routing trace, the property matches). Each part degrades to an empty state
while the after-save work has not produced it yet."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leads import ports
from leads.audit import history as audit
from leads.models import Interaction, Lead, StatusChange, WebEvent
from leads.webevents import selectors as web_activity

HISTORY_ROWS = 20
WEB_ROWS = 20  # the latest website events in the activity (the API lists them all)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "interaction", "status" or "web"
    item: Interaction | StatusChange | WebEvent


def lead_page_data(lead: Lead) -> dict[str, Any]:
    """Everything the lead page shows beyond the lead itself (expects
    ``selectors.with_lead_details``). Five queries, plus the CRM state's."""
    market = lead.metadata.get("market_analysis") or {}
    locations = [entry for entry in market.get("locations") or [] if isinstance(entry, dict)]
    return {
        "timeline": lead_timeline(lead),
        "market": market,
        "market_locations": locations,
        "market_chart": market_chart(locations),
        "insights": lead.metadata.get("lead_insights") or {},
        "score_factors": [factor for factor in lead.score_breakdown or [] if isinstance(factor, dict)],
        "crm_sync": crm_sync_state(lead),
        "plans": ports.lead_page_section("plans", lead),
        "property_alerts": ports.lead_page_section("property_alerts", lead),
        "routing": ports.lead_page_section("routing", lead),
        "win_probability": ports.lead_page_section("win_probability", lead),
        "matches": ports.lead_page_section("matches", lead),
        "history": audit.history_lines(audit.recent_entries(lead, limit=HISTORY_ROWS)),
        "web_summary": web_activity.activity_summary(lead),
    }


def lead_timeline(lead: Lead) -> list[TimelineEntry]:
    """Interactions, status changes and the latest website activity (``WEB_ROWS``), newest first."""
    entries = [TimelineEntry(at=item.occurred_at, kind="interaction", item=item) for item in lead.interactions.all()]
    changes = StatusChange.objects.filter(lead=lead).select_related("changed_by")
    entries += [TimelineEntry(at=change.changed_at, kind="status", item=change) for change in changes]
    web_events = web_activity.recent_web_events(lead, limit=WEB_ROWS)
    entries += [TimelineEntry(at=event.occurred_at, kind="web", item=event) for event in web_events]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def market_chart(locations: list[dict]) -> dict | None:
    """Median sale price per month, one series per location; None without data."""
    series = {}
    for entry in locations:
        points = ((entry.get("trend") or {}).get("series")) or []
        values = {point.get("month"): point.get("median_sale_price") for point in points if isinstance(point, dict)}
        if any(value is not None for value in values.values()):
            series[str(entry.get("location", ""))] = values
    if not series:
        return None
    months = sorted({month for values in series.values() for month in values if month})
    return {
        "labels": [_month_label(month) for month in months],
        "datasets": [
            {"label": name, "data": [values.get(month) for month in months]} for name, values in series.items()
        ],
    }


def _month_label(month: str) -> str:
    """'2025-11' -> "Nov '25"."""
    try:
        return datetime.strptime(str(month)[:7], "%Y-%m").strftime("%b '%y")
    except ValueError:
        return str(month)


def crm_sync_state(lead: Lead) -> list[dict] | None:
    """One entry per CRM target, or None when no CRM integration provides it (``leads.ports``)."""
    return ports.lead_page_section("crm_sync", lead)
