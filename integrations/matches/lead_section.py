"""The lead page's "Property matches" card (``leads.ports.provide_lead_page_section("matches", ...)``):
the lead's current matches, best first, or why there are none."""

from django.conf import settings

from integrations.matches import fit, selectors
from integrations.matches.models import MatchReason
from leads.models import Lead

TEMPLATE = "matches/_lead_card.html"
CARD_ROWS = 12
REASONS = dict(MatchReason.choices)
PHOTO_SCHEMES = ("https://", "http://", "data:image/")


def lead_matches_section(lead: Lead) -> dict:
    """``{"template", "matches", "empty"}``: up to CARD_ROWS matches (each with its listing,
    ``reason_label``, ``dropped``: the price fell since it first matched) and, without any,
    the reason why."""
    matches = selectors.current_matches(lead, limit=CARD_ROWS)
    rows = [
        {
            "match": match,
            "listing": match.listing,
            "photo": _page_address(next((url for url in match.listing.photo_urls or [] if _is_photo(url)), None)),
            "reason_label": REASONS.get(match.reason, match.reason),
            "dropped": match.reason == MatchReason.PRICE_DROP,
        }
        for match in matches
    ]
    return {"template": TEMPLATE, "matches": rows, "empty": "" if rows else empty_reason(lead)}


def _is_photo(url) -> bool:
    """A web address or an inline image (anything else is not put in a page)."""
    return isinstance(url, str) and url.startswith(PHOTO_SCHEMES)


def _page_address(url: str | None) -> str | None:
    """A photo on this site (the demo's, under SITE_URL) by its path, so the page loads it
    from wherever it is served (and the Content-Security-Policy's 'self' allows it)."""
    if url and url.startswith(settings.SITE_URL + "/"):
        return url[len(settings.SITE_URL) :]
    return url


def empty_reason(lead: Lead) -> str:
    preferences = getattr(lead, "preferences", None)
    if not fit.lead_is_matched(lead):
        if lead.lead_type not in fit.MATCHED_LEAD_TYPES:
            return f"Listings are matched to buyers; this lead is a {lead.get_lead_type_display().lower()}."
        return "The lead is not open: listings are no longer matched to it."
    if preferences is None or not fit.preferred_location_keys(preferences.preferred_locations):
        return "No preferred locations yet: add one under Looking for and matching listings appear here."
    return "No listing fits yet: new listings, price drops and homes back on the market are checked as they come in."
