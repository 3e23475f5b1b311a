"""Reads of property matches.

- ``current_matches(lead)``: the lead's current matches, best first (the lead page);
- ``lead_matches(user=, lead_id=, page=, page_size=)``: the same for the API, through the
  user's scope (NotFound for a lead the user may not see);
- ``matches_to_alert(lead)``: for the alerts, the current matches the lead has not been
  told about (never alerted, or matched again since at a lower price), newest first.
"""

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from integrations.matches.models import ListingMatch
from leads.core.selectors import lead_ensure_visible
from leads.models import Lead, User


def _current(lead_filter: Q) -> QuerySet[ListingMatch]:
    return (
        ListingMatch.objects.filter(lead_filter, is_current=True)
        .select_related("listing")
        .order_by("-score", "-matched_at", "pk")
    )


def current_matches(lead: Lead, *, limit: int | None = None) -> list[ListingMatch]:
    """The lead's current matches with their listings, best score first (one query)."""
    matches = _current(Q(lead=lead))
    return list(matches[:limit] if limit else matches)


@dataclass(frozen=True)
class MatchPage:
    matches: list[ListingMatch]
    total_count: int
    page: int
    page_size: int


def lead_matches(*, user: User, lead_id: str, page: int = 1, page_size: int = 20) -> MatchPage:
    """A page of the current matches of a lead the user may see (NotFound otherwise)."""
    lead_ensure_visible(user=user, lead_id=lead_id)
    matches = _current(Q(lead__public_id=lead_id))
    total = matches.count()
    offset = (page - 1) * page_size
    rows = list(matches[offset : offset + page_size]) if offset < total else []
    return MatchPage(matches=rows, total_count=total, page=page, page_size=page_size)


def matches_to_alert(lead: Lead | int) -> list[ListingMatch]:
    """The current matches to tell the lead about, newest first, with their listings: those
    never alerted, and those matched again since the last alert (a price drop, back on the
    market) at a price under the one alerted: never the same listing twice unless its price
    dropped."""
    return list(
        ListingMatch.objects.filter(lead=lead, is_current=True)
        .filter(
            Q(alerted_at__isnull=True)
            | Q(matched_at__gt=F("alerted_at"), alerted_price__isnull=True)
            | Q(matched_at__gt=F("alerted_at"), price__lt=F("alerted_price"))
        )
        .select_related("listing")
        .order_by("-matched_at", "-score", "pk")
    )
