"""What an alert says, the same on every channel: the lead's name, source and budget,
a link to the lead, and the actions (Claim, Call, Open) a notification offers.

An action is ``{"action": name, "title": label, "url": target}``; the service worker
opens (or, for ``tel:``, dials) the action's URL when it is tapped, so the routing
engine decides where "Claim" goes (``claim_action``: ``ALERTS_CLAIM_PATH``)."""

import re
from decimal import Decimal

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from integrations.alerts.models import AlertReason
from leads.errors import ValidationFailed
from leads.models import Lead

MAX_ACTIONS = 3
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
URL_PREFIXES = ("https://", "http://", "tel:", "/")
TITLES = {AlertReason.ASSIGNED: "New lead: {name}", AlertReason.OFFER: "Lead up for grabs: {name}"}


def lead_url(lead: Lead) -> str:
    """The absolute link to the lead's page (on ``SITE_URL``)."""
    try:
        return f"{settings.SITE_URL}{reverse('leads:lead_detail', args=[lead.public_id])}"
    except NoReverseMatch:  # the agent pages are not installed
        return settings.SITE_URL


def open_action(lead: Lead) -> dict:
    return {"action": "open", "title": "Open", "url": lead_url(lead)}


def claim_action(lead: Lead) -> dict:
    """Claim the offered lead: the page at ``ALERTS_CLAIM_PATH`` (``/leads/<lead_id>/claim/``)."""
    path = settings.ALERTS_CLAIM_PATH.format(lead_id=lead.public_id)
    return {"action": "claim", "title": "Claim", "url": f"{settings.SITE_URL}{path}"}


def call_action(lead: Lead) -> dict | None:
    """Call the lead (``tel:``), or None when they have no phone or asked not to be called."""
    contact = lead.contact
    if not contact.phone or contact.call_opt_out:
        return None
    return {"action": "call", "title": "Call", "url": f"tel:{contact.phone}"}


def assignment_actions(lead: Lead) -> list[dict]:
    """The actions of an "assigned" alert: Call (when the lead may be called) and Open."""
    return [action for action in (call_action(lead), open_action(lead)) if action]


def offer_actions(lead: Lead) -> list[dict]:
    """The actions of an "offer" alert: Claim, and Call when the lead may be called."""
    return [action for action in (claim_action(lead), call_action(lead)) if action]


def clean_actions(actions: list[dict] | None) -> list[dict]:
    """``actions`` checked and made absolute (a path gets ``SITE_URL``); raises
    ``ValidationFailed`` (field ``actions``) for more than MAX_ACTIONS, a malformed name,
    an empty title or a URL that is not http(s), ``tel:`` or a path."""
    actions = actions or []
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        raise ValidationFailed(fields={"actions": [f"Give a list of at most {MAX_ACTIONS} actions."]})
    cleaned = []
    for index, action in enumerate(actions):
        name, title, url = (str(action.get(key) or "") for key in ("action", "title", "url"))
        problems = []
        if not ACTION_NAME.match(name):
            problems.append("action: a lowercase name such as 'claim'")
        if not title.strip() or len(title) > 40:
            problems.append("title: 1 to 40 characters")
        if not url.startswith(URL_PREFIXES) or len(url) > 500 or any(char.isspace() for char in url):
            problems.append("url: an http(s) or tel: URL, or a path on this site")
        if problems:
            raise ValidationFailed(fields={f"actions[{index}]": problems})
        if url.startswith("/"):
            url = f"{settings.SITE_URL}{url}"
        cleaned.append({"action": name, "title": title.strip(), "url": url})
    return cleaned


def money(value: Decimal | int | float) -> str:
    """$950, $300k, $1.25M."""
    value = float(value)
    if value >= 1_000_000:
        return "$" + f"{value / 1_000_000:.2f}".rstrip("0").rstrip(".") + "M"
    if value >= 1000:
        return f"${round(value / 1000)}k"
    return f"${round(value)}"


def budget_text(lead: Lead) -> str:
    """The price range in words: "$300k-$500k" (an en dash), "from $300k", "up to $500k", or ""."""
    low, high = lead.preferences.min_price, lead.preferences.max_price
    if low and high:
        return f"{money(low)}\u2013{money(high)}"
    if low:
        return f"from {money(low)}"
    if high:
        return f"up to {money(high)}"
    return ""


def alert_payload(lead: Lead, *, reason: str, actions: list[dict]) -> dict:
    """What every channel says about the alert (``actions`` already cleaned)."""
    name = lead.contact.full_name or lead.public_id
    source, budget = lead.get_source_display(), budget_text(lead)
    return {
        "title": TITLES[reason].format(name=name)[:120],
        "body": " · ".join(part for part in (source, budget) if part),
        "lead_id": lead.public_id,
        "lead_name": name,
        "source": source,
        "budget": budget,
        "url": lead_url(lead),
        "reason": reason,
        "tag": f"lead-{lead.public_id}",
        "actions": actions,
    }
