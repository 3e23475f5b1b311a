"""Importing market data and listings from a provider (CSV file, demo data, a RESO feed).

- ``market_data_import`` / ``listings_import``: validate each raw row, upsert in batches
  (one transaction per batch) and return an ``ImportSummary``.
- ``listings_store``: the one write path of listings, which also records each change
  (``ListingChange``: the price history and the property matching's outbox) and tells the
  ``on_listing_changes`` listeners once it commits.
"""

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from integrations.market.models import Listing, ListingChange, ListingChangeKind, ListingStatus, MarketSnapshot
from integrations.market.providers import MarketDataProvider, RawRow
from integrations.market.rows import ListingRow, MarketRow, RowInvalid, listing_row_parse, market_row_parse

BATCH_SIZE = 500

SNAPSHOT_FIELDS = (
    "location",
    "median_list_price",
    "median_sale_price",
    "price_per_sqft",
    "active_listings",
    "median_days_on_market",
    "source",
)
LISTING_FIELDS = (
    "location",
    "location_key",
    "price",
    "beds",
    "baths",
    "square_feet",
    "property_type",
    "status",
    "listed_at",
    "address",
    "city",
    "postal_code",
    "features",
    "photo_urls",
    "modified_at",
)


@dataclass(frozen=True)
class RowError:
    row: int
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass
class ImportSummary:
    source: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows left alone because another source's data is already there
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.skipped:
            text += f", {self.skipped} kept from another source"
        return f"{text}, {len(self.errors)} row error(s)"


ParsedRow = TypeVar("ParsedRow", MarketRow, ListingRow)


def _import_rows(
    *,
    rows: Iterable[RawRow],
    parse: Callable[[Any], ParsedRow],
    key: Callable[[ParsedRow], Hashable],
    store: Callable[[dict[Hashable, ParsedRow], ImportSummary], None],
    summary: ImportSummary,
    batch_size: int,
) -> ImportSummary:
    """Validate each row, then store them batch by batch; a later row with the same key wins."""
    batch: dict[Hashable, ParsedRow] = {}
    for raw in rows:
        try:
            parsed = parse(raw.values)
        except RowInvalid as error:
            summary.errors.append(RowError(row=raw.number, message=str(error)))
            continue
        if key(parsed) in batch:
            summary.updated += 1  # the same record earlier in this batch: this row replaces it
        batch[key(parsed)] = parsed
        if len(batch) >= batch_size:
            store(batch, summary)
            batch = {}
    if batch:
        store(batch, summary)
    return summary


def _apply(instance: Any, values: dict[str, Any]) -> bool:
    """Set the fields that differ; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def market_data_import(
    *, provider: MarketDataProvider, keep_other_sources: bool = False, batch_size: int = BATCH_SIZE
) -> ImportSummary:
    """Upsert the provider's monthly figures by (location, month).

    With ``keep_other_sources`` a month that another source already filled is left
    alone (the demo data uses this so it never overwrites real figures).
    Raises ``MarketDataUnavailable`` when the provider cannot be read at all.
    """
    source = provider.source

    @transaction.atomic
    def store(batch: dict[Hashable, MarketRow], summary: ImportSummary) -> None:
        rows = list(batch.values())
        existing = {
            (snapshot.location_key, snapshot.month): snapshot
            for snapshot in MarketSnapshot.objects.select_for_update().filter(
                location_key__in={row.location_key for row in rows}, month__in={row.month for row in rows}
            )
        }
        to_create, to_update, now = [], [], timezone.now()
        for row in rows:
            values = {name: getattr(row, name) for name in SNAPSHOT_FIELDS if name != "source"} | {"source": source}
            snapshot = existing.get((row.location_key, row.month))
            if snapshot is None:
                to_create.append(MarketSnapshot(location_key=row.location_key, month=row.month, **values))
            elif keep_other_sources and snapshot.source != source:
                summary.skipped += 1
            elif _apply(snapshot, values):
                snapshot.updated_at = now
                to_update.append(snapshot)
            else:
                summary.unchanged += 1
        MarketSnapshot.objects.bulk_create(to_create)
        MarketSnapshot.objects.bulk_update(to_update, [*SNAPSHOT_FIELDS, "updated_at"])
        summary.created += len(to_create)
        summary.updated += len(to_update)

    return _import_rows(
        rows=provider.market_rows(),
        parse=market_row_parse,
        key=lambda row: (row.location_key, row.month),
        store=store,
        summary=ImportSummary(source=source),
        batch_size=batch_size,
    )


_listing_change_listeners: list[Callable[[], None]] = []


def on_listing_changes(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after each commit that recorded listing changes (the property
    matching takes them from the ``ListingChange`` rows; the call only says there are some)."""
    if listener not in _listing_change_listeners:
        _listing_change_listeners.append(listener)


def _change(listing: Listing, *, old_price, old_status: str | None, now) -> ListingChange:
    """The change an import made to a listing (``old_status`` None: it is new)."""
    if old_status is None:
        kind = ListingChangeKind.NEW
    elif old_status != ListingStatus.ACTIVE and listing.status == ListingStatus.ACTIVE:
        kind = ListingChangeKind.BACK_ON_MARKET
    elif old_status == ListingStatus.ACTIVE and listing.status != ListingStatus.ACTIVE:
        kind = ListingChangeKind.OFF_MARKET
    elif listing.price < old_price:
        kind = ListingChangeKind.PRICE_DROP
    elif listing.price > old_price:
        kind = ListingChangeKind.PRICE_INCREASE
    else:
        kind = ListingChangeKind.DETAILS
    return ListingChange(
        listing=listing,
        kind=kind,
        old_price=old_price,
        new_price=listing.price,
        old_status=old_status or "",
        new_status=listing.status,
        changed_at=now,
    )


@transaction.atomic
def listings_store(*, source: str, batch: Mapping[Hashable, ListingRow], summary: ImportSummary) -> None:
    """Upsert validated listings of one source by external id, in one transaction, and record
    each change (new, price drop, back on market, ...) as a ``ListingChange`` row."""
    existing = {
        listing.external_id: listing
        for listing in Listing.objects.select_for_update().filter(source=source, external_id__in=list(batch))
    }
    to_create, to_update, changes, now = [], [], [], timezone.now()
    for external_id, row in batch.items():
        values = {name: _stored(getattr(row, name)) for name in LISTING_FIELDS}
        listing = existing.get(external_id)
        if listing is None:
            listing = Listing(source=source, external_id=external_id, **values)
            to_create.append(listing)
            changes.append((listing, None, None))
            continue
        old_price, old_status = listing.price, listing.status
        if _apply(listing, values):
            listing.updated_at = now
            to_update.append(listing)
            changes.append((listing, old_price, old_status))
        else:
            summary.unchanged += 1
    Listing.objects.bulk_create(to_create)
    Listing.objects.bulk_update(to_update, [*LISTING_FIELDS, "updated_at"])
    ListingChange.objects.bulk_create(
        _change(listing, old_price=old_price, old_status=old_status, now=now)
        for listing, old_price, old_status in changes
    )
    summary.created += len(to_create)
    summary.updated += len(to_update)
    if changes:
        for listener in _listing_change_listeners:
            transaction.on_commit(listener)


def _stored(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def listings_import(*, provider: MarketDataProvider, batch_size: int = BATCH_SIZE) -> ImportSummary:
    """Upsert the provider's listings by (source, external_id).

    Raises ``MarketDataUnavailable`` when the provider cannot be read at all.
    """
    source = provider.source

    def store(batch: dict[Hashable, ListingRow], summary: ImportSummary) -> None:
        listings_store(source=source, batch=batch, summary=summary)

    return _import_rows(
        rows=provider.listing_rows(),
        parse=listing_row_parse,
        key=lambda row: row.external_id,
        store=store,
        summary=ImportSummary(source=source),
        batch_size=batch_size,
    )
