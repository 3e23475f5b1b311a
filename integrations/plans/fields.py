"""The merge fields of one lead: plain strings, the only values templates see."""

from django.conf import settings

from integrations.alerts.models import AlertPreference
from integrations.market.locations import location_candidate_keys
from integrations.market.selectors import ListingCriteria, matching_listings
from integrations.workflows.unsubscribe import unsubscribe_url
from leads.models import Lead


def merge_fields(
    lead: Lead, *, channel: str = "email", agent_phones: dict[int, str] | None = None, listing: bool = True
) -> dict[str, str]:
    """``templating.MERGE_FIELDS`` for ``lead`` (with its contact, team, agent loaded).
    ``agent_phones``: the agents' alert numbers by user id, loaded for a batch
    (``agent_phones_of``); ``listing=False`` leaves the listing fields empty (for a
    template that does not use them: they cost a query)."""
    contact, agent = lead.contact, lead.assigned_to
    fields = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.full_name,
        "agent_name": agent.get_full_name() or agent.username if agent else "",
        "agent_first_name": (agent.first_name or agent.username) if agent else "",
        "agent_phone": agent_phone(agent, agent_phones),
        "agent_email": agent.email if agent else "",
        "team_name": lead.team.name if lead.team_id else "",
        "unsubscribe_url": unsubscribe_url(lead=lead, channel="sms" if channel == "text" else "email"),
    }
    fields.update(listing_fields(lead) if listing else {"listing_url": "", "listing_summary": ""})
    return fields


def agent_phones_of(agent_ids) -> dict[int, str]:
    """The alert numbers the agents gave, by user id (one query for a batch)."""
    rows = AlertPreference.objects.filter(user_id__in=set(agent_ids)).exclude(sms_number="")
    return dict(rows.values_list("user_id", "sms_number"))


def uses_listing(*sources: str) -> bool:
    """Whether a template refers to the listing fields (only then are they looked up)."""
    return any("listing_" in (source or "") for source in sources)


def agent_phone(agent, agent_phones: dict[int, str] | None = None) -> str:
    """The number the agent gave for alerts, else the team's texting number (SMS_FROM_NUMBER)."""
    number = ""
    if agent is not None and agent_phones is not None:
        number = agent_phones.get(agent.pk, "")
    elif agent is not None:
        number = AlertPreference.objects.filter(user=agent).values_list("sms_number", flat=True).first() or ""
    return number or settings.SMS_FROM_NUMBER


def listing_fields(lead: Lead) -> dict[str, str]:
    """The newest active listing that matches the lead's budget, types and places."""
    preferences = getattr(lead, "preferences", None)
    places = (preferences.preferred_locations or []) if preferences else []
    keys = [key for place in places if isinstance(place, str) for key in location_candidate_keys(place) if key]
    if not keys:
        return {"listing_url": "", "listing_summary": ""}
    criteria = ListingCriteria(
        property_types=tuple(preferences.property_types or ()),
        min_price=preferences.min_price,
        max_price=preferences.max_price,
        min_beds=preferences.min_bedrooms,
    )
    listing = matching_listings(location_keys=keys, criteria=criteria).order_by("-listed_at", "price", "pk").first()
    if listing is None:
        return {"listing_url": "", "listing_summary": ""}
    beds = f"{listing.beds} bd " if listing.beds else ""
    summary = f"{beds}{listing.get_property_type_display().lower()}, ${listing.price:,.0f} in {listing.location}"
    template = settings.PLANS_LISTING_URL
    url = template.replace("{external_id}", listing.external_id) if template else ""
    return {"listing_url": url, "listing_summary": summary}
