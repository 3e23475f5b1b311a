"""The lead page's "Property matches" card (``leads.ports.provide_lead_page_section("matches", ...)``):
the lead's current matches, best first, or why there are none."""

from integrations.market.photos import page_photos
from integrations.matches import fit, selectors
from integrations.matches.models import MatchReason
from leads.models import Lead

TEMPLATE = "matches/_lead_card.html"
CARD_ROWS = 12
REASONS = dict(MatchReason.choices)


def lead_matches_section(lead: Lead) -> dict:
    """``{"template", "matches", "empty"}``: up to CARD_ROWS matches (each with its listing,
    ``reason_label``, ``dropped``: the price fell since it first matched) and, without any,
    the reason why."""
    matches = selectors.current_matches(lead, limit=CARD_ROWS)
    rows = [
        {
            "match": match,
            "listing": match.listing,
            "photo": next(iter(page_photos(match.listing)), None),
            "reason_label": REASONS.get(match.reason, match.reason),
            "dropped": match.reason == MatchReason.PRICE_DROP,
        }
        for match in matches
    ]
    return {"template": TEMPLATE, "matches": rows, "empty": "" if rows else empty_reason(lead)}


def empty_reason(lead: Lead) -> str:
    preferences = getattr(lead, "preferences", None)
    if not fit.lead_is_matched(lead):
        if lead.lead_type not in fit.MATCHED_LEAD_TYPES:
            return f"Listings are matched to buyers; this lead is a {lead.get_lead_type_display().lower()}."
        return "The lead is not open: listings are no longer matched to it."
    if preferences is None or not fit.preferred_location_keys(preferences.preferred_locations):
        return "No preferred locations yet: add one under Looking for and matching listings appear here."
    return "No listing fits yet: new listings, price drops and homes back on the market are checked as they come in."
