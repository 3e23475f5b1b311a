"""The preference index: open leads' preferences, one row per lead and location key, so a
changed listing is compared with the few leads of its location and price band rather
than with every lead.

- ``index_refresh(lead_pks)``: bring the rows of these leads in step with their
  preferences and status (the lead-event subscriber calls it in the relay's transaction);
- ``index_rebuild()``: every open lead again (after a tolerance change, or for leads
  written without events: demo and bench history);
- ``candidates(listings)``: for each listing, the leads whose index rows it passes
  (location, price band, beds, baths, area, type), with what the score needs; the
  must-haves and the exact rules are then checked by ``fit.fit``.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from integrations.matches import fit
from integrations.matches.models import PreferenceIndex
from leads import bulk
from leads.core.services import PREFERENCE_FIELDS
from leads.models import Lead

REBUILD_BATCH = 2000
LISTINGS_PER_QUERY = 100  # listings looked up in one query (three keys each at most)


def _tolerance_pct() -> float:
    return settings.LISTING_MATCH_PRICE_TOLERANCE_PCT


def rows_for(lead: Lead) -> list[PreferenceIndex]:
    """The index rows of a lead (none when it is not open, not a buyer or has no location)."""
    preferences = getattr(lead, "preferences", None)
    if preferences is None or not fit.lead_is_matched(lead):
        return []
    wanted = fit.wanted_from(preferences)
    low, high = fit.price_band(wanted, tolerance_pct=_tolerance_pct())
    return [
        PreferenceIndex(
            lead_id=lead.pk,
            location_key=key,
            price_low=low,
            price_high=high,
            min_beds=wanted.min_beds or 0,
            min_baths=wanted.min_baths or 0,
            min_square_feet=wanted.min_square_feet or 0,
            types_mask=fit.type_mask(wanted.property_types),
            min_price=wanted.min_price,
            max_price=wanted.max_price,
            must_have=sorted(wanted.must_have),
            nice_to_have=list(wanted.nice_to_have),
        )
        for key in sorted(wanted.location_keys)
    ]


def _leads(pks: Iterable[int]):
    return (
        Lead.objects.filter(pk__in=list(pks))
        .select_related("preferences")
        .only(
            "pk",
            "status",
            "lead_type",
            "archived_at",
            "merged_into_id",
            *(f"preferences__{name}" for name in PREFERENCE_FIELDS),
        )
    )


@transaction.atomic
def index_refresh(lead_pks: Sequence[int]) -> int:
    """Replace the index rows of these leads by their current preferences; returns the rows written."""
    lead_pks = sorted(set(lead_pks))
    if not lead_pks:
        return 0
    # Two refreshes of one lead at once (a relay and a match task) would each delete the
    # rows the other has not committed yet and insert theirs twice: the leads' row locks
    # (in id order; NO KEY UPDATE, so rows referring to the leads are not held up) take
    # them one after the other.
    list(Lead.objects.select_for_update(no_key=True).filter(pk__in=lead_pks).order_by("pk").values_list("pk"))
    rows = [row for lead in _leads(lead_pks) for row in rows_for(lead)]
    PreferenceIndex.objects.filter(lead_id__in=lead_pks).delete()
    bulk.insert(rows)
    return len(rows)


def _open_buyers():
    return Lead.objects.filter(
        archived_at__isnull=True, merged_into__isnull=True, lead_type__in=fit.MATCHED_LEAD_TYPES
    ).exclude(status__in=fit.CLOSED_STATUSES)


def open_buyer_pks() -> list[int]:
    """Every open buyer's primary key, in order."""
    return list(_open_buyers().order_by("pk").values_list("pk", flat=True))


def index_rebuild(*, batch: int = REBUILD_BATCH) -> int:
    """Every open buyer's rows again, a batch of leads per transaction (the rows of other
    leads are dropped); returns the rows written."""
    PreferenceIndex.objects.exclude(lead__in=_open_buyers().values("pk")).delete()
    open_leads = _open_buyers().order_by("pk").values_list("pk", flat=True)
    written, after = 0, 0
    while True:
        pks = list(open_leads.filter(pk__gt=after)[:batch])
        if not pks:
            return written
        written += index_refresh(pks)
        after = pks[-1]


# --- looking up the candidates of listings ---------------------------------------------


@lru_cache(maxsize=4096)
def _json_list(text: str) -> tuple:
    return tuple(json.loads(text))


def _json(value: Any) -> tuple:
    """A JSON list column (text from a raw query on PostgreSQL and SQLite); the same few
    feature lists come back thousands of times, so each text is parsed once."""
    return _json_list(value) if isinstance(value, str) else tuple(value or ())


@lru_cache(maxsize=1024)
def _types_of(mask: int) -> frozenset[str]:
    return frozenset(value for value, bit in fit.TYPE_BITS.items() if mask & bit)


def _wanted(row: Sequence[Any]) -> fit.Wanted:
    """The lead's wishes from its index row (its one location key: the one the listing is in)."""
    place, min_price, max_price, min_beds, min_baths, min_sqft, mask, must_have, nice = row
    return fit.Wanted(
        location_keys=frozenset({place}),
        property_types=_types_of(mask),
        min_price=None if min_price is None else Decimal(str(min_price)),
        max_price=None if max_price is None else Decimal(str(max_price)),
        min_beds=min_beds or None,
        min_baths=Decimal(str(min_baths)) if min_baths else None,
        min_square_feet=min_sqft or None,
        must_have=frozenset(_json(must_have)),
        nice_to_have=tuple(_json(nice)),
    )


def _candidate_sql(rows: int) -> str:
    table = connection.ops.quote_name(PreferenceIndex._meta.db_table)
    first = (
        "(CAST(%s AS bigint), CAST(%s AS varchar(100)), CAST(%s AS numeric), CAST(%s AS integer), "
        "CAST(%s AS numeric), CAST(%s AS bigint), CAST(%s AS bigint))"
    )
    values = ", ".join([first] * rows)
    # One index range scan per (listing, key): location_key, then the price band. Only the
    # table name and the count of placeholder rows are formatted in; every value is a parameter.
    return (
        f"WITH wanted_for(listing_id, place, price, beds, baths, area, type_bit) AS (VALUES {values}) "  # noqa: S608
        "SELECT w.listing_id, p.lead_id, p.location_key, p.min_price, p.max_price, p.min_beds, p.min_baths, "
        "p.min_square_feet, p.types_mask, p.must_have, p.nice_to_have "
        f"FROM wanted_for w JOIN {table} p ON p.location_key = w.place "
        "AND p.price_low <= w.price AND p.price_high >= w.price "
        "AND p.min_beds <= w.beds AND p.min_baths <= w.baths AND p.min_square_feet <= w.area "
        "AND (p.types_mask = 0 OR (p.types_mask & w.type_bit) <> 0)"
    )


def candidates(listings: Sequence[Any]) -> dict[int, dict[int, fit.Wanted]]:
    """{listing id: {lead pk: what the lead wants}} for the leads whose index rows the
    listing passes; one query per LISTINGS_PER_QUERY listings. A lead found by two of the
    listing's keys (its city and its ZIP) appears once."""
    found: dict[int, dict[int, fit.Wanted]] = defaultdict(dict)
    wishes: dict[tuple[int, str], fit.Wanted] = {}  # a lead's row, read once per query for all its listings
    for start in range(0, len(listings), LISTINGS_PER_QUERY):
        params: list[Any] = []
        for listing in listings[start : start + LISTINGS_PER_QUERY]:
            for key in sorted(fit.listing_place_keys(listing)):
                params += [
                    listing.pk,
                    key,
                    listing.price,
                    listing.beds or 0,
                    listing.baths or 0,
                    listing.square_feet or 0,
                    fit.TYPE_BITS.get(listing.property_type, 0),
                ]
        if not params:
            continue
        with connection.cursor() as cursor:
            cursor.execute(_candidate_sql(len(params) // 7), params)
            for row in cursor.fetchall():
                listing_id, lead_id, place = row[0], row[1], row[2]
                if lead_id not in found[listing_id]:
                    wanted = wishes.get((lead_id, place))
                    if wanted is None:
                        wanted = wishes[lead_id, place] = _wanted(row[2:])
                    found[listing_id][lead_id] = wanted
    return found
