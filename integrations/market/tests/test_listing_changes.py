"""Every listing import records what it changed (``ListingChange``): the listing's price and
status history, and the property matching's outbox."""

import pytest

from integrations.market import imports
from integrations.market.imports import ImportSummary, listings_store, on_listing_changes
from integrations.market.models import Listing, ListingChange, ListingChangeKind
from integrations.market.rows import RowInvalid, listing_row_parse

pytestmark = pytest.mark.django_db

BASE = {
    "external_id": "MLS-1",
    "location": "Oakland",
    "price": "800000",
    "property_type": "Single Family",
    "beds": "3",
    "address": "12 Oak St",
    "city": "Oakland",
    "postal_code": "94610",
    "features": "Pool|garage",
    "photo_urls": "https://photos.example/1.jpg https://photos.example/2.jpg",
    "modified_at": "2026-12-01T10:00:00Z",
}


def _store(**changes) -> ImportSummary:
    summary = ImportSummary(source="mls")
    listings_store(source="mls", batch={"MLS-1": listing_row_parse({**BASE, **changes})}, summary=summary)
    return summary


def _kinds() -> list[str]:
    return list(ListingChange.objects.order_by("id").values_list("kind", flat=True))


def test_a_new_listing_keeps_its_details_and_records_that_it_is_new():
    _store()

    listing = Listing.objects.get()
    assert (listing.address, listing.city, listing.postal_code) == ("12 Oak St", "Oakland", "94610")
    assert listing.features == ["pool", "garage"]
    assert listing.photo_urls == ["https://photos.example/1.jpg", "https://photos.example/2.jpg"]
    assert listing.modified_at.isoformat() == "2026-12-01T10:00:00+00:00"
    assert _kinds() == [ListingChangeKind.NEW]


def test_an_unchanged_listing_records_nothing_and_changes_are_told_apart():
    _store()
    assert _store().unchanged == 1
    _store(price="760000")
    _store(price="760000", status="pending")
    _store(price="750000", status="active")
    _store(price="790000")

    assert _kinds() == [
        ListingChangeKind.NEW,
        ListingChangeKind.PRICE_DROP,
        ListingChangeKind.OFF_MARKET,
        ListingChangeKind.BACK_ON_MARKET,
        ListingChangeKind.PRICE_INCREASE,
    ]
    drop = ListingChange.objects.get(kind=ListingChangeKind.PRICE_DROP)
    assert (drop.old_price, drop.new_price, drop.old_status, drop.new_status) == (800000, 760000, "active", "active")
    assert not ListingChange.objects.filter(matched_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"price": "0"}, "price must be more than 0"),
        ({"price": "-5"}, "price '-5' must be 0 or more"),
        ({"square_feet": "0"}, "square_feet must be more than 0"),
        ({"square_feet": "-1200"}, "square_feet '-1200' must be a whole number"),
        ({"photo_urls": "javascript:alert(1)"}, "photo_urls 'javascript:alert(1)' is not an http(s) address"),
        ({"modified_at": "yesterday"}, "modified_at 'yesterday' is not a date and time"),
        ({"modified_at": "2026-12-01T10:00:00"}, "has no time zone"),
        ({"status": "gone"}, "status 'gone' is not one of"),
    ],
)
def test_bad_listing_values_are_refused_with_the_reason(changes, message):
    with pytest.raises(RowInvalid) as refused:
        listing_row_parse({**BASE, **changes})

    assert message in str(refused.value)


def test_listeners_hear_of_changes_after_the_commit_only(django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(imports, "_listing_change_listeners", [])  # this test's listener only, removed after
    heard: list[str] = []

    def listener():
        heard.append("changes")

    on_listing_changes(listener)
    with django_capture_on_commit_callbacks(execute=True):
        _store()
    with django_capture_on_commit_callbacks(execute=True):
        _store()  # unchanged: nothing to hear

    assert heard == ["changes"]
