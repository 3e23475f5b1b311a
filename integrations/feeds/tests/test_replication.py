"""Replicating a RESO Web API feed from a server on loopback: paging, the incremental
cursor, resuming after a failure, malformed pages, rejected listings, the token."""

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from integrations.feeds.models import FeedRun, ListingFeed, RunStatus
from integrations.feeds.services import feed_sync
from integrations.feeds.tests.factories import ResoRecordFactory, stamp
from integrations.market.models import Listing, ListingChange, ListingChangeKind, ListingStatus

pytestmark = pytest.mark.django_db


def sync(feed: ListingFeed) -> FeedRun:
    run = feed_sync(feed_id=feed.pk)
    assert run is not None
    feed.refresh_from_db()
    run.refresh_from_db()
    return run


def keys() -> list[str]:
    return sorted(Listing.objects.filter(source="reso:main").values_list("external_id", flat=True))


@pytest.fixture
def ten_listings(reso_server):
    """Ten records, three pages of four: LK00007 and LK00008 share a timestamp and sit on
    either side of the boundary between pages 2 and 3 (a bulk update does that)."""
    records = [ResoRecordFactory(ListingKey=f"LK{n:05d}", ModificationTimestamp=stamp(n)) for n in range(10)]
    records[8]["ModificationTimestamp"] = records[7]["ModificationTimestamp"]
    reso_server.records = records
    return records


def test_first_sync_imports_every_page(feed, reso_server, ten_listings):
    # when the feed runs for the first time
    run = sync(feed)

    # then all three pages were read with the token, the first without a filter, and every listing stored
    assert [request["auth"] for request in reso_server.requests] == ["Bearer reso-test-token"] * 3
    assert reso_server.filters() == [None, None, None]
    assert [request.get("$skip") for request in reso_server.requests] == [None, "4", "8"]
    assert reso_server.requests[0]["$top"] == "4"
    assert reso_server.requests[0]["$orderby"] == "ModificationTimestamp asc,ListingKey asc"
    assert keys() == [f"LK{n:05d}" for n in range(10)]
    assert ListingChange.objects.filter(kind=ListingChangeKind.NEW).count() == 10
    assert (run.status, run.pages, run.received, run.created, run.updated, run.rejected) == ("ok", 3, 10, 10, 0, 0)
    assert (feed.last_status, feed.last_received, feed.last_created, feed.last_error) == ("ok", 10, 10, "")
    # and the cursor is the last listing, in ModificationTimestamp then ListingKey order
    assert (feed.cursor_modified_at, feed.cursor_listing_key) == (datetime(2026, 11, 1, 9, 9, tzinfo=UTC), "LK00009")
    assert feed.lease_until is None and feed.last_finished_at >= feed.last_started_at


def test_a_listing_is_mapped_from_the_reso_fields(feed, reso_server):
    reso_server.records = [
        ResoRecordFactory(
            ListingKey="LK1",
            ListPrice=1250000,
            BedroomsTotal=4,
            BathroomsTotalInteger=None,
            BathroomsTotalDecimal=2.5,
            LivingArea=2100.0,
            PropertyType="Residential",
            PropertySubType="Condominium",
            StandardStatus="ActiveUnderContract",
            UnparsedAddress=None,
            StreetNumber="12",
            StreetName="Lake",
            StreetSuffix="Shore",
            UnitNumber="4B",
            City="Oakland",
            PostalCode="94610",
            ListingContractDate="2026-10-20",
            PoolPrivateYN=True,
            ModificationTimestamp="2026-11-02T08:30:00.25Z",
        )
    ]

    sync(feed)

    listing = Listing.objects.get(source="reso:main", external_id="LK1")
    assert (listing.price, listing.beds, listing.baths) == (Decimal("1250000"), 4, Decimal("2.5"))
    assert listing.square_feet == 2100
    assert (listing.property_type, listing.status) == ("condo", ListingStatus.PENDING)
    assert (listing.address, listing.city, listing.postal_code, listing.location) == (
        "12 Lake Shore #4B",
        "Oakland",
        "94610",
        "Oakland",
    )
    assert str(listing.listed_at) == "2026-10-20"
    assert listing.modified_at == datetime(2026, 11, 2, 8, 30, 0, 250000, tzinfo=UTC)
    assert listing.features == ["pool", "garage", "walk-in closet(s)"]
    assert listing.photo_urls == ["https://photos.example.com/LK1/1.jpg", "https://photos.example.com/LK1/2.jpg"]
    assert reso_server.requests[0]["$expand"] == "Media"


def test_second_sync_asks_only_for_changes_and_records_price_drop_and_back_on_market(feed, reso_server, ten_listings):
    reso_server.change("LK00003", StandardStatus="Withdrawn", ModificationTimestamp=stamp(3))
    sync(feed)
    assert Listing.objects.get(external_id="LK00003").status == ListingStatus.WITHDRAWN
    cursor = feed.cursor_modified_at
    reso_server.requests.clear()

    # given the MLS drops one price and puts the withdrawn home back on the market
    old_price = Listing.objects.get(external_id="LK00001").price
    reso_server.change("LK00001", ListPrice=int(old_price) - 50000, ModificationTimestamp=stamp(30))
    reso_server.change("LK00003", StandardStatus="Active", ModificationTimestamp=stamp(31))

    # when the feed runs again
    run = sync(feed)

    # then it asked only for what changed since the cursor, in one page
    assert reso_server.filters() == ["ModificationTimestamp ge 2026-11-01T09:09:00Z"]
    assert cursor == datetime(2026, 11, 1, 9, 9, tzinfo=UTC)
    # (the two changed listings, and the last one imported, which ge returns again and is skipped)
    assert (run.received, run.created, run.updated, run.unchanged) == (3, 0, 2, 1)
    changes = {change.listing.external_id: change for change in ListingChange.objects.exclude(kind="new")}
    assert changes["LK00001"].kind == ListingChangeKind.PRICE_DROP
    assert (changes["LK00001"].old_price, changes["LK00001"].new_price) == (old_price, old_price - 50000)
    assert changes["LK00003"].kind == ListingChangeKind.BACK_ON_MARKET
    assert (changes["LK00003"].old_status, changes["LK00003"].new_status) == ("withdrawn", "active")
    assert feed.cursor_modified_at == datetime(2026, 11, 1, 9, 31, tzinfo=UTC)
    assert feed.cursor_listing_key == "LK00003"


def test_a_run_with_nothing_new_records_nothing(feed, reso_server, ten_listings):
    sync(feed)
    changes = ListingChange.objects.count()

    run = sync(feed)

    assert ListingChange.objects.count() == changes
    assert (run.status, run.received, run.created, run.updated, run.unchanged) == ("ok", 1, 0, 0, 1)


def test_reimporting_from_scratch_an_unchanged_feed_records_nothing(feed, reso_server, ten_listings):
    sync(feed)
    changes = ListingChange.objects.count()
    ListingFeed.objects.filter(pk=feed.pk).update(cursor_modified_at=None, cursor_listing_key="")

    run = sync(feed)

    assert reso_server.filters()[-1] is None
    assert (run.received, run.created, run.updated, run.unchanged) == (10, 0, 0, 10)
    assert ListingChange.objects.count() == changes


@pytest.mark.parametrize(("fault", "message"), [("timeout", "Timed out"), ("500", "HTTP 500")])
def test_a_failure_on_page_three_keeps_pages_one_and_two_and_the_next_run_resumes(
    feed, reso_server, ten_listings, fault, message
):
    # given the server fails on the third page
    reso_server.faults[3] = fault

    run = sync(feed)

    # then the run failed with the reason, and pages 1 and 2 are stored with the cursor after them
    assert run.status == RunStatus.FAILED and feed.last_status == "failed"
    assert message in run.error and "Page 3" in run.error and "after 2 page(s)" in run.error
    assert message in feed.last_error
    assert keys() == [f"LK{n:05d}" for n in range(8)]
    assert (feed.cursor_modified_at, feed.cursor_listing_key) == (datetime(2026, 11, 1, 9, 7, tzinfo=UTC), "LK00007")
    assert (run.pages, run.created) == (2, 8)
    assert feed.lease_until is None

    # when the next run comes (the server works again)
    reso_server.requests.clear()
    again = sync(feed)

    # then it resumed from the cursor and completed: LK00008, at the cursor's very timestamp, is not lost
    assert reso_server.filters() == ["ModificationTimestamp ge 2026-11-01T09:07:00Z"]
    assert again.status == RunStatus.OK
    assert (again.received, again.created, again.unchanged) == (3, 2, 1)
    assert keys() == [f"LK{n:05d}" for n in range(10)]
    assert ListingChange.objects.filter(kind=ListingChangeKind.NEW).count() == 10  # no duplicates


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("html", "Page 2 from http://127.0.0.1:"),
        ("no_value", 'has no "value" list'),
        ("foreign_next", "@odata.nextLink http://listings.elsewhere.example/reso/odata/Property"),
    ],
)
def test_a_malformed_page_fails_the_run_and_stores_nothing_of_it(feed, reso_server, ten_listings, fault, message):
    reso_server.faults[2] = fault

    run = sync(feed)

    assert run.status == RunStatus.FAILED
    assert message in run.error and message in feed.last_error
    assert keys() == [f"LK{n:05d}" for n in range(4)]  # page 1 only
    assert feed.cursor_listing_key == "LK00003"
    if fault == "html":
        assert "is not JSON (text/html)" in run.error and "Service temporarily unavailable" in run.error
    if fault == "foreign_next":
        assert "not on the feed's server" in run.error
        assert len(reso_server.requests) == 2  # the foreign link was never followed


def test_bad_listings_are_rejected_counted_and_logged_and_the_others_stored(feed, reso_server, caplog):
    reso_server.records = [
        ResoRecordFactory(ListingKey="GOOD1"),
        ResoRecordFactory(ListingKey="FREE", ListPrice=0),
        ResoRecordFactory(ListingKey="NEGATIVE", LivingArea=-120),
        ResoRecordFactory(ListingKey="LEASE", PropertyType="ResidentialLease", PropertySubType=None),
        ResoRecordFactory(ListingKey="CABIN", PropertySubType="Cabin"),
        ResoRecordFactory(ListingKey="GOOD2"),
    ]

    with caplog.at_level(logging.WARNING, logger="integrations.feeds.services"):
        run = sync(feed)

    assert keys() == ["GOOD1", "GOOD2"]
    assert (run.status, run.received, run.created, run.rejected) == (RunStatus.PARTIAL, 6, 2, 4)
    assert (feed.last_status, feed.last_rejected) == ("partial", 4)
    reasons = dict(run.rejections)
    assert "price must be more than 0" in reasons["FREE"]
    assert "square_feet '-120' must be a whole number, 0 or more" in reasons["NEGATIVE"]
    assert "is a lease" in reasons["LEASE"]
    assert "PropertySubType 'Cabin' has no matching property type" in reasons["CABIN"]
    assert "listing FREE rejected: price must be more than 0" in caplog.text
    # the rejected records moved the cursor: they are not asked for again until they change
    assert feed.cursor_listing_key == "GOOD2"


def test_a_wrong_token_fails_the_run_with_401_and_stores_nothing(feed, reso_server, ten_listings, monkeypatch):
    monkeypatch.setenv("RESO_TOKEN_TESTS", "not-the-token")

    run = sync(feed)

    assert run.status == RunStatus.FAILED
    assert "401" in run.error and "refused the token" in run.error and "401" in feed.last_error
    assert keys() == [] and feed.cursor_modified_at is None


def test_a_missing_token_variable_fails_the_run_before_any_request(feed, reso_server, monkeypatch):
    monkeypatch.delenv("RESO_TOKEN_TESTS")

    run = sync(feed)

    assert run.status == RunStatus.FAILED
    assert "RESO_TOKEN_TESTS" in run.error and "not set" in run.error
    assert reso_server.requests == []


def test_a_feed_held_by_another_run_is_not_run_twice(feed, reso_server, ten_listings):
    # given a run holds the feed (its lease is in the future)
    ListingFeed.objects.filter(pk=feed.pk).update(lease_until=datetime(2999, 1, 1, tzinfo=UTC))

    assert feed_sync(feed_id=feed.pk) is None
    assert reso_server.requests == [] and not FeedRun.objects.exists()


def test_a_run_that_died_gives_the_feed_back_once_its_lease_has_passed(feed, reso_server, ten_listings):
    # given a run that died mid-way: still "running", its lease over
    dead = FeedRun.objects.create(feed=feed, started_at=datetime(2026, 11, 1, tzinfo=UTC))
    ListingFeed.objects.filter(pk=feed.pk).update(lease_until=datetime(2026, 11, 1, 0, 10, tzinfo=UTC))

    run = sync(feed)

    dead.refresh_from_db()
    assert run.status == RunStatus.OK
    assert dead.status == RunStatus.FAILED and "Interrupted" in dead.error
