"""The RESO Data Dictionary mapping, record by record (no server, no database)."""

from decimal import Decimal

import pytest

from integrations.feeds import reso
from integrations.feeds.client import Cursor, FeedError, Page
from integrations.feeds.services import page_read
from integrations.feeds.tests.factories import ResoRecordFactory
from integrations.market.rows import RowInvalid


@pytest.mark.parametrize(
    ("main", "sub", "expected"),
    [
        ("Residential", "SingleFamilyResidence", "single_family"),
        ("Residential", "Single Family Residence", "single_family"),
        ("Residential", None, "single_family"),
        ("Residential", "Condominium", "condo"),
        ("Residential", "Townhouse", "townhouse"),
        ("Residential", "Duplex", "multi_family"),
        ("ResidentialIncome", None, "multi_family"),
        ("Residential Income", "Quadruplex", "multi_family"),
        ("Land", None, "land"),
        ("Farm", None, "land"),
        ("CommercialSale", None, "commercial"),
        ("Residential", "ManufacturedHome", "mobile_home"),
    ],
)
def test_property_types_map_to_ours(main, sub, expected):
    row = reso.listing_row(ResoRecordFactory(PropertyType=main, PropertySubType=sub))
    assert row.property_type == expected


@pytest.mark.parametrize(
    ("main", "sub", "reason"),
    [
        ("ResidentialLease", None, "PropertyType 'ResidentialLease' is a lease, not a home for sale"),
        ("Residential", "Cabin", "PropertyType 'Residential' / PropertySubType 'Cabin' has no matching property type"),
        (None, None, "PropertyType is required"),
    ],
)
def test_unmapped_types_are_rejected_with_the_value(main, sub, reason):
    with pytest.raises(RowInvalid) as invalid:
        reso.listing_row(ResoRecordFactory(PropertyType=main, PropertySubType=sub))
    assert invalid.value.messages == [reason]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Active", "active"),
        ("ActiveUnderContract", "active_under_contract"),
        ("Pending", "pending"),
        ("Closed", "sold"),
        ("Withdrawn", "withdrawn"),
        ("Canceled", "withdrawn"),
        ("Expired", "withdrawn"),
    ],
)
def test_standard_statuses_map_to_ours(status, expected):
    expected = "pending" if expected == "active_under_contract" else expected
    assert reso.listing_row(ResoRecordFactory(StandardStatus=status)).status == expected


def test_an_unknown_or_missing_status_is_rejected():
    with pytest.raises(RowInvalid, match="StandardStatus 'ComingSoon' has no matching status"):
        reso.listing_row(ResoRecordFactory(StandardStatus="ComingSoon"))
    with pytest.raises(RowInvalid, match="StandardStatus is required"):
        reso.listing_row(ResoRecordFactory(StandardStatus=None))


def test_numbers_area_and_location():
    row = reso.listing_row(
        ResoRecordFactory(
            ListPrice=649999.0,
            BathroomsTotalInteger=2,
            BathroomsTotalDecimal=None,
            LivingArea=100,
            LivingAreaUnits="SquareMeters",
            City=None,
            PostalCode="94110",
        )
    )
    assert (row.price, row.baths, row.square_feet) == (Decimal("649999.00"), Decimal("2.0"), 1076)
    assert (row.location, row.city, row.postal_code) == ("94110", "", "94110")


def test_every_problem_of_a_record_is_listed():
    with pytest.raises(RowInvalid) as invalid:
        reso.listing_row(
            ResoRecordFactory(
                ListingKey=None, ListingId=None, ListPrice=-5, LivingArea=0, ModificationTimestamp="yesterday"
            )
        )
    assert invalid.value.messages == [
        "ListingKey (or ListingId) is required",
        "ModificationTimestamp 'yesterday' is not a date and time",
        "external_id is required",
        "price '-5' must be 0 or more",
        "square_feet must be more than 0",
        "modified_at 'yesterday' is not a date and time (ISO 8601)",
    ]


def test_listing_id_stands_in_for_a_missing_listing_key():
    assert reso.listing_row(ResoRecordFactory(ListingKey=None, ListingId="ML42")).external_id == "ML42"


def test_features_from_yes_no_fields_and_lists():
    row = reso.listing_row(
        ResoRecordFactory(
            PoolPrivateYN=False,
            PoolFeatures=["InGround"],
            GarageYN=None,
            GarageSpaces=2,
            FireplaceYN=True,
            ViewYN="true",
            InteriorFeatures=["HighCeilings", "Walk-In Closet(s)"],
            ExteriorFeatures=["None"],
        )
    )
    assert row.features == ("fireplace", "view", "pool", "garage", "high ceilings", "walk-in closet(s)", "in ground")


def test_photos_are_the_photo_media_by_order():
    row = reso.listing_row(
        ResoRecordFactory(
            Media=[
                {"MediaURL": "https://p.example.com/3.jpg", "Order": 3},
                {"MediaURL": "https://p.example.com/plan.pdf", "Order": 0, "MediaCategory": "FloorPlan"},
                {"MediaURL": "ftp://p.example.com/x.jpg", "Order": 1},
                {"MediaURL": "https://p.example.com/no-order.jpg"},
                {"MediaURL": "https://p.example.com/1.jpg", "Order": 1, "MediaCategory": "Photo"},
            ]
        )
    )
    assert row.photo_urls == (
        "https://p.example.com/1.jpg",
        "https://p.example.com/3.jpg",
        "https://p.example.com/no-order.jpg",
    )


def test_records_at_or_before_the_cursor_are_skipped_and_the_cursor_moves_to_the_last():
    records = [
        ResoRecordFactory(ListingKey="A", ModificationTimestamp="2026-11-01T10:00:00Z"),
        ResoRecordFactory(ListingKey="B", ModificationTimestamp="2026-11-01T10:00:00Z"),
        ResoRecordFactory(ListingKey="C", ModificationTimestamp="2026-11-01T10:00:00Z"),
        ResoRecordFactory(ListingKey="D", ModificationTimestamp="2026-11-01T10:05:00Z", ListPrice=0),
    ]
    cursor = Cursor(reso.modification_timestamp(records[1]), "B")

    result = page_read(Page(number=1, url="x", records=records, next_url=None), cursor=cursor)

    assert list(result.rows) == ["C"]
    assert (result.received, result.seen_before, len(result.rejections)) == (4, 2, 1)
    assert result.cursor == Cursor(reso.modification_timestamp(records[3]), "D")


def test_feed_error_messages_are_bounded():
    assert len(FeedError("x" * 5000).message) == 2000
