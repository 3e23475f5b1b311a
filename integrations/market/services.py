"""Market data: analysing a lead against it (``analyse_lead``: a pure read that returns
a lead's market analysis and the insights written from it; the pipeline stores them in
``lead.metadata``). Importing it: ``integrations.market.imports``.
"""

from collections.abc import Iterable
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from integrations.market.insights import lead_insights_build
from integrations.market.locations import location_candidate_keys, location_key
from integrations.market.models import Listing, MarketSnapshot
from integrations.market.selectors import (
    ListingCriteria,
    market_snapshots_by_location,
    matching_listing_counts,
    matching_listing_examples,
)
from leads.models import LeadType

MAX_LOCATIONS = 10  # preferred locations analysed per lead; the rest are counted as skipped
TREND_MONTHS = 12  # the trend covers the months up to 12 back from the latest month with data
FLAT_TREND_PCT = 1.0  # a change within +/- this is "flat"
BUDGET_TOLERANCE_PCT = 5.0  # a budget within this of the median is "within" the market
EXAMPLES_PER_LOCATION = 3


def _iso_now() -> str:
    return timezone.now().astimezone(UTC).isoformat().replace("+00:00", "Z")


def _month(value: date) -> str:
    return f"{value:%Y-%m}"


def _dollars(value: Decimal | None) -> int | None:
    return None if value is None else int(value.to_integral_value())


def _decimal_number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _pct(part: Decimal, whole: Decimal) -> float:
    return round(float((part - whole) / whole * 100), 1)


def _preferred_locations(preferences: Any) -> list[str]:
    """The lead's locations, cleaned and de-duplicated by key, in the lead's order."""
    seen, locations = set(), []
    for value in getattr(preferences, "preferred_locations", None) or []:
        if not isinstance(value, str) or not location_key(value):
            continue
        if location_key(value) not in seen:
            seen.add(location_key(value))
            locations.append(" ".join(value.split()))
    return locations


def _as_decimal(value: Any) -> Decimal | None:
    """Decimals from the database; ints or floats from an unsaved object are converted."""
    return None if value is None else Decimal(str(value))


def _criteria(preferences: Any) -> ListingCriteria:
    return ListingCriteria(
        property_types=tuple(value for value in (preferences.property_types or []) if isinstance(value, str)),
        min_price=_as_decimal(preferences.min_price),
        max_price=_as_decimal(preferences.max_price),
        min_beds=preferences.min_bedrooms,
        min_baths=_as_decimal(preferences.min_bathrooms),
    )


def _trend(snapshots: list[MarketSnapshot]) -> dict:
    """Median sale price over the window ending at the latest month; direction from first to last point."""
    latest = snapshots[-1].month
    months_since_zero = latest.year * 12 + latest.month - 1 - TREND_MONTHS
    start = date(months_since_zero // 12, months_since_zero % 12 + 1, 1)  # TREND_MONTHS before the latest
    window = [snapshot for snapshot in snapshots if snapshot.month > start]
    series = [
        {"month": _month(snapshot.month), "median_sale_price": _dollars(snapshot.median_sale_price)}
        for snapshot in window
    ]
    prices = [snapshot.median_sale_price for snapshot in window if snapshot.median_sale_price]
    change = _pct(prices[-1], prices[0]) if len(prices) >= 2 else None
    if change is None:
        direction = None
    elif change > FLAT_TREND_PCT:
        direction = "up"
    elif change < -FLAT_TREND_PCT:
        direction = "down"
    else:
        direction = "flat"
    return {"months": len(window), "median_sale_price_change_pct": change, "direction": direction, "series": series}


def _budget_fit(*, min_price: Decimal | None, max_price: Decimal | None, snapshot: MarketSnapshot) -> dict:
    """Where the lead's price range sits against this month's median.

    below: even the top of the range is more than the tolerance under the median;
    above: even the bottom is more than the tolerance over it; else within.
    difference_pct is signed: the top of the range for "below", the bottom for
    "above", the middle of the range for "within".
    """
    compared_to = "median_sale_price" if snapshot.median_sale_price else "median_list_price"
    median = getattr(snapshot, compared_to)
    if min_price is None and max_price is None:
        return {"position": None, "difference_pct": None, "compared_to": compared_to, "reason": "No price range given."}
    if not median:
        return {"position": None, "difference_pct": None, "compared_to": compared_to, "reason": "No median price."}
    tolerance = Decimal(str(BUDGET_TOLERANCE_PCT)) / 100
    if max_price is not None and max_price < median * (1 - tolerance):
        position, reference = "below", max_price
    elif min_price is not None and min_price > median * (1 + tolerance):
        position, reference = "above", min_price
    else:
        position = "within"
        bounds = [price for price in (min_price, max_price) if price is not None]
        reference = sum(bounds) / len(bounds)
    return {"position": position, "difference_pct": _pct(reference, median), "compared_to": compared_to}


def _location_entry(
    *,
    location: str,
    key: str | None,
    snapshots: list[MarketSnapshot],
    criteria: ListingCriteria,
    lead_type: str,
    counts: dict[str, int],
    examples: dict[str, list[Listing]],
) -> dict:
    if key is None:
        return {"location": location, "status": "no_data", "reason": f"No market data for {location}."}
    latest = snapshots[-1]
    entry = {
        "location": location,
        "status": "ok",
        "source": latest.source,
        "month": _month(latest.month),
        "median_list_price": _dollars(latest.median_list_price),
        "median_sale_price": _dollars(latest.median_sale_price),
        "price_per_sqft": _decimal_number(latest.price_per_sqft),
        "active_listings": latest.active_listings,
        "median_days_on_market": latest.median_days_on_market,
        "trend": _trend(snapshots),
    }
    if lead_type == LeadType.RENTER:
        reason = "The market data covers homes for sale; rental budgets are not compared."
        entry |= {
            "matching_listings": None,
            "matching_examples": [],
            "budget_fit": {"position": None, "difference_pct": None, "compared_to": None, "reason": reason},
        }
        return entry
    entry |= {
        "matching_listings": counts.get(key, 0),
        "matching_examples": [
            {
                "price": _dollars(listing.price),
                "beds": listing.beds,
                "baths": _decimal_number(listing.baths),
                "property_type": listing.property_type,
            }
            for listing in examples.get(key, [])
        ],
        "budget_fit": _budget_fit(min_price=criteria.min_price, max_price=criteria.max_price, snapshot=latest),
    }
    return entry


def _overall_budget_fit(entries: list[dict]) -> str | None:
    """within if any location fits, else below/above when all agree, else mixed."""
    positions = {entry["budget_fit"]["position"] for entry in entries} - {None}
    if not positions:
        return None
    if "within" in positions:
        return "within"
    return positions.pop() if len(positions) == 1 else "mixed"


def _best_location(entries: list[dict], *, lead_type: str) -> str | None:
    """Buyers: most matching listings, then budget fit; sellers: the fastest market."""
    if not entries:
        return None
    if lead_type == LeadType.SELLER:
        fastest = min(
            entries, key=lambda entry: (entry["median_days_on_market"] is None, entry["median_days_on_market"] or 0)
        )
        return fastest["location"]

    def buyer_rank(entry: dict) -> tuple:
        fit = entry["budget_fit"]
        closeness = -abs(fit["difference_pct"]) if fit["difference_pct"] is not None else float("-inf")
        return (entry["matching_listings"] or 0, fit["position"] == "within", closeness, entry["active_listings"] or 0)

    return max(entries, key=buyer_rank)["location"]


def _criteria_data(criteria: ListingCriteria | None) -> dict | None:
    if criteria is None:
        return None
    return {
        "property_types": list(criteria.property_types),
        "min_price": _dollars(criteria.min_price),
        "max_price": _dollars(criteria.max_price),
        "min_bedrooms": criteria.min_beds,
        "min_bathrooms": _decimal_number(criteria.min_baths),
    }


def _analysis(
    *, lead_type: str, criteria: ListingCriteria | None, entries: list[dict], skipped: int, reason: str = ""
) -> dict:
    with_data = [entry for entry in entries if entry["status"] == "ok"]
    analysis = {
        "generated_at": _iso_now(),
        "status": "ok" if with_data else "no_data",
        "lead_type": lead_type,
        "data_source": ", ".join(sorted({entry["source"] for entry in with_data})) or None,
        "criteria": _criteria_data(criteria),
        "locations": entries,
        "summary": {
            "locations_requested": len(entries),
            "locations_with_data": len(with_data),
            "locations_skipped": skipped,
            "matching_listings": None
            if lead_type == LeadType.RENTER or not with_data
            else sum(entry["matching_listings"] for entry in with_data),
            "budget_fit": _overall_budget_fit(with_data),
            "best_location": _best_location(with_data, lead_type=lead_type),
        },
    }
    if not with_data:
        analysis["reason"] = reason or "No market data for the lead's preferred locations."
    return analysis


class MarketData:
    """The market data reads of ``analyse_lead``, shareable by the leads of a batch:
    snapshots read once for all the locations given up front, listing matches read
    once per (locations, criteria). Build one per batch: it does not notice new imports."""

    def __init__(self, snapshots: dict[str, list[MarketSnapshot]] | None = None, known_keys: frozenset = frozenset()):
        self._snapshots = snapshots or {}
        self._known_keys = known_keys
        self._listings: dict[tuple, tuple[dict, dict]] = {}

    @classmethod
    def for_leads(cls, leads: Iterable[Any]) -> "MarketData":
        """Snapshots of every location the leads prefer, in one query (none when they have none)."""
        keys = frozenset(
            key
            for lead in leads
            for location in _preferred_locations(getattr(lead, "preferences", None))[:MAX_LOCATIONS]
            for key in location_candidate_keys(location)
        )
        return cls(market_snapshots_by_location(location_keys=keys) if keys else {}, keys)

    def snapshots(self, location_keys: set[str]) -> dict[str, list[MarketSnapshot]]:
        if not location_keys <= self._known_keys:
            self._snapshots |= market_snapshots_by_location(location_keys=location_keys - self._known_keys)
            self._known_keys |= location_keys
        return {key: self._snapshots[key] for key in location_keys if key in self._snapshots}

    def listings(self, location_keys: set[str], criteria: ListingCriteria) -> tuple[dict, dict]:
        """(matching counts, examples) per location key."""
        key = (frozenset(location_keys), criteria)
        if key not in self._listings:
            self._listings[key] = (
                matching_listing_counts(location_keys=location_keys, criteria=criteria),
                matching_listing_examples(
                    location_keys=location_keys, criteria=criteria, per_location=EXAMPLES_PER_LOCATION
                ),
            )
        return self._listings[key]


def analyse_lead(lead: Any, *, market: MarketData | None = None) -> dict:
    """The lead's market analysis and insights: {"market_analysis": {...}, "lead_insights": {...}}.

    ``lead`` needs ``.lead_type`` and ``.preferences`` (property_types, min_price,
    max_price, preferred_locations, min_bedrooms, min_bathrooms). A pure read: three
    queries at most (snapshots, listing counts, examples), whatever the number of
    locations, plus one for ``lead.preferences`` when it is not already loaded.
    Unknown locations and missing preferences are reported as "no_data", never raised.
    ``market``: the reads shared with the other leads of a batch (``MarketData.for_leads``).
    """
    market = market or MarketData()
    lead_type = lead.lead_type
    preferences = getattr(lead, "preferences", None)  # a missing row raises DoesNotExist, an AttributeError
    locations = _preferred_locations(preferences)
    if not locations:
        reason = "The lead has no preferences yet." if preferences is None else "The lead has no preferred locations."
        criteria = None if preferences is None else _criteria(preferences)
        analysis = _analysis(lead_type=lead_type, criteria=criteria, entries=[], skipped=0, reason=reason)
        insights = lead_insights_build(analysis=analysis, lead_type=lead_type, property_types=[])
        return {"market_analysis": analysis, "lead_insights": insights}

    skipped, locations = len(locations[MAX_LOCATIONS:]), locations[:MAX_LOCATIONS]
    candidates = {location: location_candidate_keys(location) for location in locations}
    snapshots = market.snapshots({key for keys in candidates.values() for key in keys})
    resolved: dict[str, str | None] = {}
    for location, keys in candidates.items():
        key = next((key for key in keys if key in snapshots), None)
        if key is None or key not in resolved.values():  # "Oakland" and "Oakland, CA" are one market
            resolved[location] = key
    locations = list(resolved)
    found_keys = {key for key in resolved.values() if key}

    criteria = _criteria(preferences)
    counts, examples = {}, {}
    if found_keys and lead_type != LeadType.RENTER:
        counts, examples = market.listings(found_keys, criteria)
    entries = [
        _location_entry(
            location=location,
            key=resolved[location],
            snapshots=snapshots.get(resolved[location], []),
            criteria=criteria,
            lead_type=lead_type,
            counts=counts,
            examples=examples,
        )
        for location in locations
    ]
    analysis = _analysis(lead_type=lead_type, criteria=criteria, entries=entries, skipped=skipped)
    insights = lead_insights_build(analysis=analysis, lead_type=lead_type, property_types=list(criteria.property_types))
    return {"market_analysis": analysis, "lead_insights": insights}
