"""The rules of a match, in one place: whether a listing fits what a lead wants, and how well.

Pure functions over plain data (``Wanted``, and any object with a listing's fields), so the
index (``integrations.matches.index``) and the services can share them and tests need no
database. A listing fits when it is active, of a wanted type (none given: any), priced in
the lead's range widened by the tolerance, has at least the minimum beds, baths and area
(an unknown value does not meet a minimum), lies in one of the lead's locations, and has
every must-have feature. The score (0-100) says how well; ``reasons`` say why in plain words.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from integrations.market.locations import location_candidate_keys, location_key
from integrations.market.models import ListingStatus
from leads.models import LeadStatus, LeadType, PropertyType

# Listings are homes for sale: sellers and renters are not sent them.
MATCHED_LEAD_TYPES = frozenset({LeadType.BUYER, LeadType.BUYER_SELLER, LeadType.INVESTOR})
CLOSED_STATUSES = frozenset({LeadStatus.CLOSED, LeadStatus.LOST})
NO_MAX_PRICE = 10**13  # the index's "no maximum" (prices are at most 14 digits with cents)
TYPE_BITS = {value: 1 << index for index, value in enumerate(PropertyType.values)}

# Most points per part of the score; they add up to 100.
PRICE_POINTS = 40
BEDS_POINTS = 15
BATHS_POINTS = 10
AREA_POINTS = 10
TYPE_POINTS = 10
FEATURE_POINTS = 15


@dataclass(frozen=True)
class Wanted:
    """What a lead asked for, from its preferences (None or empty: no wish)."""

    location_keys: frozenset[str] = frozenset()
    property_types: frozenset[str] = frozenset()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_beds: int | None = None
    min_baths: Decimal | None = None
    min_square_feet: int | None = None
    must_have: frozenset[str] = frozenset()
    nice_to_have: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fit:
    score: int
    reasons: list[str]


def features_of(values: Any) -> list[str]:
    """Case-folded, de-duplicated feature names from a JSON list (anything else is ignored)."""
    seen: list[str] = []
    for value in values or []:
        if isinstance(value, str) and location_key(value) and location_key(value) not in seen:
            seen.append(location_key(value))
    return seen


def preferred_location_keys(locations: Any) -> frozenset[str]:
    """The keys a lead's preferred locations are matched by ("Oakland, CA": "oakland, ca" and "oakland")."""
    return frozenset(
        key
        for value in locations or []
        if isinstance(value, str) and location_key(value)
        for key in location_candidate_keys(value)
    )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def wanted_from(preferences: Any) -> Wanted:
    """``Wanted`` from a ``Preferences`` row (or anything with its fields)."""
    return Wanted(
        location_keys=preferred_location_keys(preferences.preferred_locations),
        property_types=frozenset(value for value in preferences.property_types or [] if value in TYPE_BITS),
        min_price=_decimal(preferences.min_price),
        max_price=_decimal(preferences.max_price),
        min_beds=preferences.min_bedrooms,
        min_baths=_decimal(preferences.min_bathrooms),
        min_square_feet=preferences.min_square_feet,
        must_have=frozenset(features_of(preferences.must_have_features)),
        nice_to_have=tuple(features_of(preferences.nice_to_have_features)),
    )


def lead_is_matched(lead: Any) -> bool:
    """Open (not closed, lost, archived or merged away) and a buyer of some kind."""
    return (
        lead.archived_at is None
        and lead.merged_into_id is None
        and lead.status not in CLOSED_STATUSES
        and lead.lead_type in MATCHED_LEAD_TYPES
    )


@lru_cache(maxsize=16)
def tolerance(pct: float) -> Decimal:
    return Decimal(str(pct)) / 100


def price_band(wanted: Wanted, *, tolerance_pct: float) -> tuple[int, int]:
    """(lowest, highest) price in whole dollars that can fit, the tolerance included."""
    widen = tolerance(tolerance_pct)
    low = 0 if wanted.min_price is None else max(0, math.floor(wanted.min_price * (1 - widen)))
    high = NO_MAX_PRICE if wanted.max_price is None else math.ceil(wanted.max_price * (1 + widen))
    return low, high


def listing_place_keys(listing: Any) -> frozenset[str]:
    """The keys a listing is found by: its location, its city and its ZIP code."""
    values = (listing.location_key, listing.city or "", listing.postal_code or "")
    return frozenset(location_key(value) for value in values if location_key(value))


@dataclass(frozen=True)
class Offer:
    """A listing as the rules read it, prepared once for the many leads it is compared with."""

    status: str
    property_type: str
    price: Decimal
    beds: int | None
    baths: Decimal | None
    square_feet: int | None
    places: frozenset[str]
    features: frozenset[str]


def offer_of(listing: Any) -> Offer:
    if isinstance(listing, Offer):
        return listing
    return Offer(
        status=listing.status,
        property_type=listing.property_type,
        price=Decimal(listing.price),
        beds=listing.beds,
        baths=_decimal(listing.baths),
        square_feet=listing.square_feet,
        places=listing_place_keys(listing),
        features=frozenset(features_of(listing.features)),
    )


def fit(wanted: Wanted, listing: Any, *, tolerance_pct: float) -> Fit | None:
    """How well the listing (a ``Listing``, or its ``Offer`` when compared many times) fits,
    or None when it does not."""
    offer = offer_of(listing)
    if offer.status != ListingStatus.ACTIVE:
        return None
    if not wanted.location_keys or not (offer.places & wanted.location_keys):
        return None
    if wanted.property_types and offer.property_type not in wanted.property_types:
        return None
    low, high = price_band(wanted, tolerance_pct=tolerance_pct)
    if not low <= offer.price <= high:
        return None
    for minimum, value in (
        (wanted.min_beds, offer.beds),
        (wanted.min_baths, offer.baths),
        (wanted.min_square_feet, offer.square_feet),
    ):
        if minimum and (value is None or value < minimum):
            return None
    if not wanted.must_have <= offer.features:
        return None
    return _score(wanted, offer, tolerance_pct=tolerance_pct)


def _score(wanted: Wanted, listing: Offer, *, tolerance_pct: float) -> Fit:
    features = listing.features
    reasons: list[str] = []
    points = _price_points(wanted, listing.price, reasons, tolerance_pct=tolerance_pct)
    points += _room_points(wanted.min_beds, listing.beds, BEDS_POINTS, "bedroom", reasons)
    points += _room_points(wanted.min_baths, listing.baths, BATHS_POINTS, "bathroom", reasons)
    points += _area_points(wanted.min_square_feet, listing.square_feet, reasons)
    points += TYPE_POINTS if wanted.property_types else TYPE_POINTS * 0.7
    reasons += [f"has {feature}" for feature in sorted(wanted.must_have)]
    if wanted.nice_to_have:
        present = [feature for feature in wanted.nice_to_have if feature in features]
        points += FEATURE_POINTS * len(present) / len(wanted.nice_to_have)
        reasons += [f"has {feature}" for feature in present]
        reasons += [f"no {feature}" for feature in wanted.nice_to_have if feature not in features]
    else:
        points += FEATURE_POINTS * 0.7
    return Fit(score=max(0, min(100, round(points))), reasons=reasons)


def _dollars(amount: Decimal) -> str:
    return f"${amount:,.0f}"


def _price_points(wanted: Wanted, price: Decimal, reasons: list[str], *, tolerance_pct: float) -> float:
    """In range: 30 points, up to 40 the further under the max; in the tolerance band
    (over the max or under the min) fewer the further out."""
    widen = float(tolerance(tolerance_pct)) or 1.0
    if wanted.max_price is not None and price > wanted.max_price:
        over = float((price - wanted.max_price) / wanted.max_price) if wanted.max_price else 1.0
        reasons.append(f"{max(1, round(over * 100))}% over your budget")
        return 20 * max(0.0, 1 - over / widen)
    if wanted.min_price is not None and price < wanted.min_price:
        under = float((wanted.min_price - price) / wanted.min_price)
        reasons.append(f"{max(1, round(under * 100))}% under your minimum price")
        return 25 * max(0.0, 1 - under / widen)
    if wanted.max_price is None:
        return PRICE_POINTS * 0.85
    below = wanted.max_price - price
    if below == 0:
        reasons.append("at your max price")
        return 30
    reasons.append(f"{_dollars(below)} under your max")
    share = float(below / wanted.max_price) if wanted.max_price else 0.0
    return 30 + min(10.0, share * 50)  # 20% under the max or more: the full 40


def _number(value) -> str:
    return f"{float(value):g}"


def _room_points(minimum, value, most: int, noun: str, reasons: list[str]) -> float:
    if value is None:
        return most * 0.5
    count = _number(value)
    if not minimum:
        reasons.append(f"{count} {noun}{'' if value == 1 else 's'}")
        return most * 0.7
    extra = value - minimum
    if extra > 0:
        reasons.append(f"{_number(extra)} more {noun}{'' if extra == 1 else 's'} than you asked")
    return most * min(1.0, 0.75 + 0.125 * float(extra))


def _area_points(minimum, value, reasons: list[str]) -> float:
    if value is None:
        return AREA_POINTS * 0.5
    if not minimum:
        return AREA_POINTS * 0.7
    margin = (value - minimum) / minimum
    if margin > 0.05:
        reasons.append(f"{value - minimum:,} sq ft more than you asked")
    return AREA_POINTS * min(1.0, 0.8 + margin)


def type_mask(property_types: Iterable[str]) -> int:
    """The index's bitmask of the wanted types (0: any type)."""
    mask = 0
    for value in property_types:
        mask |= TYPE_BITS.get(value, 0)
    return mask
