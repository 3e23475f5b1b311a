"""Writes of the property matching: the only code that writes ``ListingMatch`` rows.

- ``match_listing_changes()``: take the listing changes no matching has taken yet
  (``ListingChange.matched_at`` null), a batch per transaction, locked with SKIP LOCKED so
  two workers share the work; match each changed listing against the preference index.
- ``match_leads(lead_pks)``: a lead whose preferences (or status) changed, against the
  active listings of its locations;
- ``matches_alerted(match_pks, at=)``: the alerts record what they sent (``alerted_at``,
  ``alerted_price``: the match's price then).

Both are idempotent: a match is upserted by (lead, listing); processing the same changes or
the same lead again writes nothing new. ``matched_at`` moves (a new match to tell the lead
about) when the listing starts fitting, drops its price, or comes back on the market; a
match that stops fitting, or whose listing left the market, is kept with ``is_current`` off.
"""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.market.models import Listing, ListingChange, ListingChangeKind, ListingStatus
from integrations.matches import fit, index, upserts
from integrations.matches.models import ListingMatch, MatchReason
from integrations.matches.upserts import MatchRow
from leads.models import Lead

logger = logging.getLogger(__name__)

CHANGE_BATCH = 500

# Which change of a listing, when several wait, names the reason: a new listing first.
_REASON_OF_KIND = {
    ListingChangeKind.NEW: MatchReason.NEW,
    ListingChangeKind.BACK_ON_MARKET: MatchReason.BACK_ON_MARKET,
    ListingChangeKind.PRICE_DROP: MatchReason.PRICE_DROP,
}
_KIND_ORDER = [ListingChangeKind.NEW, ListingChangeKind.BACK_ON_MARKET, ListingChangeKind.PRICE_DROP]


@dataclass
class MatchSummary:
    changes: int = 0
    listings: int = 0
    candidates: int = 0  # (lead, listing) pairs the index returned
    matched: int = 0  # matches created or moved (new to the lead)
    updated: int = 0  # still fitting: score, reasons or price refreshed
    ended: int = 0  # no longer current

    def add(self, other: "MatchSummary") -> None:
        for name in ("changes", "listings", "candidates", "matched", "updated", "ended"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _tolerance_pct() -> float:
    return settings.LISTING_MATCH_PRICE_TOLERANCE_PCT


def _reason_of(kinds: Iterable[str]) -> str | None:
    """The reason a batch of a listing's changes gives a lead to look again (None: no news)."""
    kinds = set(kinds)
    for kind in _KIND_ORDER:
        if kind in kinds:
            return _REASON_OF_KIND[kind]
    return None


# --- listings against leads -----------------------------------------------------------


def match_listing_changes(
    *, batch_size: int = CHANGE_BATCH, max_batches: int | None = None, max_seconds: float | None = None
) -> MatchSummary:
    """Take the waiting listing changes batch after batch until none is left (or after
    ``max_batches``, or once ``max_seconds`` have passed: one batch at least); returns what
    was done."""
    summary = MatchSummary()
    batches, started = 0, time.monotonic()
    while max_batches is None or batches < max_batches:
        if batches and max_seconds is not None and time.monotonic() - started >= max_seconds:
            break
        done = match_change_batch(batch_size=batch_size)
        if not done.changes:
            break
        summary.add(done)
        batches += 1
    return summary


def changes_waiting() -> bool:
    return ListingChange.objects.filter(matched_at__isnull=True).exists()


@transaction.atomic
def match_change_batch(*, batch_size: int = CHANGE_BATCH) -> MatchSummary:
    """One batch of waiting changes (those another worker holds are skipped), matched and
    marked taken in one transaction: a crash leaves them waiting, never half matched."""
    changes = list(
        ListingChange.objects.select_for_update(skip_locked=True)
        .filter(matched_at__isnull=True)
        .order_by("pk")
        .only("pk", "listing_id", "kind")[:batch_size]
    )
    if not changes:
        return MatchSummary()
    kinds: dict[int, list[str]] = {}
    for change in changes:
        kinds.setdefault(change.listing_id, []).append(change.kind)
    listings = list(Listing.objects.filter(pk__in=list(kinds)).order_by("pk"))
    now = timezone.now()
    summary = match_listings(listings, reasons={pk: _reason_of(found) for pk, found in kinds.items()}, now=now)
    summary.changes = len(changes)
    ListingChange.objects.filter(pk__in=[change.pk for change in changes]).update(matched_at=now)
    return summary


class Stored(NamedTuple):
    """What a stored match says, read as a tuple (a listing may have thousands)."""

    pk: int
    lead_id: int
    listing_id: int
    score: int
    reasons: list
    reason: str
    price: Decimal
    matched_at: datetime
    is_current: bool


def _stored(matches) -> list[Stored]:
    return [Stored(*values) for values in matches.values_list(*Stored._fields)]


def match_listings(
    listings: Sequence[Listing], *, reasons: dict[int, str | None], now: datetime | None = None
) -> MatchSummary:
    """Match these listings (as they are now) against the index and write the outcome.

    ``reasons[listing.pk]``: why the listing changed (``MatchReason`` of a new listing, a
    price drop, back on market) or None for other changes (details, a price increase):
    then leads it already fits keep their ``matched_at``, and those it starts fitting get
    it as a new listing."""
    now = now or timezone.now()
    summary = MatchSummary(listings=len(listings))
    tolerance_pct = _tolerance_pct()
    active = [listing for listing in listings if listing.status == ListingStatus.ACTIVE]
    found = index.candidates(active)
    existing = {
        (match.lead_id, match.listing_id): match
        for match in _stored(ListingMatch.objects.filter(listing__in=[listing.pk for listing in listings]))
    }
    writes: list[MatchRow] = []
    fitting: set[tuple[int, int]] = set()
    for listing in active:
        offer = fit.offer_of(listing)
        news = reasons.get(listing.pk)
        for lead_pk, wanted in found.get(listing.pk, {}).items():
            summary.candidates += 1
            result = fit.fit(wanted, offer, tolerance_pct=tolerance_pct)
            if result is None:
                continue
            fitting.add((lead_pk, listing.pk))
            row = _row(
                existing.get((lead_pk, listing.pk)), lead_pk, listing, result, news, news or MatchReason.NEW, now
            )
            if row is not None:
                writes.append(row)
    ended = [match.pk for key, match in existing.items() if match.is_current and key not in fitting]
    _write(writes, ended, summary)
    return summary


def _row(
    match: Stored | None,
    lead_pk: int,
    listing: Listing,
    result: fit.Fit,
    news: str | None,
    new_reason: str,
    now: datetime,
) -> MatchRow | None:
    """The upsert the fit calls for, or None when the stored match already says it."""
    if match is None or not match.is_current or news is not None:
        reason = new_reason if match is None or not match.is_current else news
        return MatchRow(lead_pk, listing.pk, result.score, result.reasons, reason, listing.price, now, now, True)
    if (match.score, match.reasons, match.price) == (result.score, result.reasons, listing.price):
        return None
    # still fitting: refreshed, and ``matched_at`` stays (first_matched_at is not written for an existing match)
    return MatchRow(
        lead_pk, listing.pk, result.score, result.reasons, match.reason, listing.price, now, match.matched_at, True
    )


_new_match_listeners: list[Callable[[list[int]], None]] = []


def on_new_matches(listener: Callable[[list[int]], None]) -> None:
    """Call ``listener(lead_pks)`` in the transaction that gave these leads new matches (new
    listings, price drops, back on market); the listener defers its work to the commit."""
    if listener not in _new_match_listeners:
        _new_match_listeners.append(listener)


def _write(writes: list[MatchRow], ended: list[int], summary: MatchSummary) -> None:
    leads_with_news: set[int] = set()
    for row in writes:
        if row.matched_at == row.first_matched_at:
            summary.matched += 1
            leads_with_news.add(row.lead_id)
        else:
            summary.updated += 1
    upserts.upsert(writes)
    if leads_with_news:
        for listener in _new_match_listeners:
            listener(sorted(leads_with_news))
    if ended:
        summary.ended += ListingMatch.objects.filter(pk__in=ended, is_current=True).update(is_current=False)


# --- a lead against listings ----------------------------------------------------------


def _active_listings_in(keys: frozenset[str], band: tuple[int, int]) -> list[Listing]:
    """Active listings whose location, ZIP or city is one of ``keys``, priced in ``band``
    (the ``listing_match`` index serves the location part)."""
    low, high = band
    places = Q(location_key__in=keys) | Q(postal_code__in=keys)
    for city in sorted(key for key in keys if not key[:1].isdigit()):
        places |= Q(city__iexact=city)
    listings = Listing.objects.filter(places, status=ListingStatus.ACTIVE, price__gte=low, price__lte=high)
    return [listing for listing in listings.order_by("pk") if fit.listing_place_keys(listing) & keys]


def match_leads(lead_pks: Sequence[int], *, now: datetime | None = None) -> MatchSummary:
    """Each lead (its preferences as they are now) against the active listings; a lead that
    is no longer open, or has no location, is left with no current match."""
    summary = MatchSummary()
    for lead in index._leads(sorted(set(lead_pks))):
        summary.add(match_lead(lead, now=now))
    return summary


@transaction.atomic
def match_lead(lead: Lead, *, now: datetime | None = None) -> MatchSummary:
    now = now or timezone.now()
    summary = MatchSummary()
    index.index_refresh([lead.pk])
    preferences = getattr(lead, "preferences", None)
    wanted = fit.wanted_from(preferences) if preferences is not None else None
    listings: list[Listing] = []
    if wanted is not None and wanted.location_keys and fit.lead_is_matched(lead):
        listings = _active_listings_in(wanted.location_keys, fit.price_band(wanted, tolerance_pct=_tolerance_pct()))
    summary.listings = len(listings)
    existing = {match.listing_id: match for match in _stored(ListingMatch.objects.filter(lead=lead))}
    writes: list[MatchRow] = []
    fitting: set[int] = set()
    tolerance_pct = _tolerance_pct()
    for listing in listings:
        summary.candidates += 1
        result = fit.fit(wanted, listing, tolerance_pct=tolerance_pct)
        if result is None:
            continue
        fitting.add(listing.pk)
        row = _row(existing.get(listing.pk), lead.pk, listing, result, None, MatchReason.PREFERENCES, now)
        if row is not None:
            writes.append(row)
    ended = [match.pk for listing_pk, match in existing.items() if match.is_current and listing_pk not in fitting]
    _write(writes, ended, summary)
    return summary


# --- alerts -------------------------------------------------------------------------------


def matches_alerted(match_pks: Iterable[int], *, at: datetime | None = None) -> int:
    """Record that these matches were sent to their lead now (or ``at``), at their current
    price; returns how many. ``selectors.matches_to_alert`` leaves them out until they match
    again at a lower price."""
    return ListingMatch.objects.filter(pk__in=list(match_pks)).update(
        alerted_at=at or timezone.now(), alerted_price=F("price")
    )
