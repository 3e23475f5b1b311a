"""Reads of market data. Each function is one query, whatever the number of locations."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from integrations.market.models import Listing, ListingStatus, MarketSnapshot


@dataclass(frozen=True)
class ListingCriteria:
    """What a buyer asked for; None (or no types) means "any"."""

    property_types: tuple[str, ...] = ()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_beds: int | None = None
    min_baths: Decimal | None = None


def market_snapshots_by_location(*, location_keys: Collection[str]) -> dict[str, list[MarketSnapshot]]:
    """Every month of data for these location keys, oldest month first, keyed by location key."""
    snapshots: dict[str, list[MarketSnapshot]] = defaultdict(list)
    for snapshot in MarketSnapshot.objects.filter(location_key__in=location_keys).order_by("location_key", "month"):
        snapshots[snapshot.location_key].append(snapshot)
    return dict(snapshots)


def matching_listings(*, location_keys: Collection[str], criteria: ListingCriteria) -> QuerySet[Listing]:
    """Active listings in these locations that meet the criteria."""
    listings = Listing.objects.filter(status=ListingStatus.ACTIVE, location_key__in=location_keys)
    if criteria.property_types:
        listings = listings.filter(property_type__in=criteria.property_types)
    if criteria.min_price is not None:
        listings = listings.filter(price__gte=criteria.min_price)
    if criteria.max_price is not None:
        listings = listings.filter(price__lte=criteria.max_price)
    if criteria.min_beds is not None:
        listings = listings.filter(beds__gte=criteria.min_beds)
    if criteria.min_baths is not None:
        listings = listings.filter(baths__gte=criteria.min_baths)
    return listings


def matching_listing_counts(*, location_keys: Collection[str], criteria: ListingCriteria) -> dict[str, int]:
    """How many listings match, per location key (keys without a match are absent)."""
    rows = (
        matching_listings(location_keys=location_keys, criteria=criteria)
        .order_by()
        .values("location_key")
        .annotate(count=Count("id"))
    )
    return {row["location_key"]: row["count"] for row in rows}


def matching_listing_examples(
    *, location_keys: Collection[str], criteria: ListingCriteria, per_location: int = 3
) -> dict[str, list[Listing]]:
    """Up to ``per_location`` matching listings per location key, newest first."""
    ranked = (
        matching_listings(location_keys=location_keys, criteria=criteria)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("location_key")],
                order_by=[F("listed_at").desc(nulls_last=True), F("price").asc(), F("id").asc()],
            )
        )
        .filter(rank__lte=per_location)
        .only("location_key", "price", "beds", "baths", "property_type", "listed_at")
        .order_by("location_key", "rank")
    )
    examples: dict[str, list[Listing]] = defaultdict(list)
    for listing in ranked:
        examples[listing.location_key].append(listing)
    return dict(examples)
