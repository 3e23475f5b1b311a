import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from integrations.market.imports import listings_import, market_data_import
from integrations.market.models import Listing, ListingStatus, MarketSnapshot
from integrations.market.providers import CsvFileProvider, MarketDataUnavailable

pytestmark = pytest.mark.django_db

MARKET_HEADER = (
    "location,month,median_list_price,median_sale_price,price_per_sqft,active_listings,median_days_on_market"
)
LISTING_HEADER = "external_id,location,price,beds,baths,square_feet,property_type,status,listed_at"


def write_csv(tmp_path, name: str, *lines: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run(command: str, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_market_data_loads_a_good_file(tmp_path):
    # given a file with two months for one city, in spreadsheet-style formatting
    path = write_csv(
        tmp_path,
        "bay.csv",
        MARKET_HEADER,
        'San Francisco,2026-09,"$1,250,000",1310000,1001.5,850,21',
        "  san  FRANCISCO ,2026-10-15,1260000,1336000,1009.75,840,19",
    )
    # when it is imported
    out, err = run("import_market_data", path)
    # then both months are stored under one normalised key, the month as its first day
    assert err == ""
    assert "2 created, 0 updated" in out
    october = MarketSnapshot.objects.get(location_key="san francisco", month=date(2026, 10, 1))
    assert october.median_sale_price == Decimal("1336000")
    assert october.price_per_sqft == Decimal("1009.75")
    assert (october.active_listings, october.median_days_on_market) == (840, 19)
    assert october.source == "csv:bay.csv"
    assert MarketSnapshot.objects.get(month=date(2026, 9, 1)).median_list_price == Decimal("1250000")


def test_import_reports_bad_rows_by_number_and_keeps_the_good_ones(tmp_path):
    # given a file whose rows 3 and 4 are wrong (the header is row 1)
    path = write_csv(
        tmp_path,
        "mixed.csv",
        MARKET_HEADER,
        "Oakland,2026-10,820000,836000,559,567,30",
        "Berkeley,October 2026,1224000,1408000,897,101,22",
        ",2026-10,,-5,abc,,",
        "Fremont,2026-10,1418000,1517000,897,200,13",
    )
    # when it is imported
    out, err = run("import_market_data", path)
    # then each bad row is named with what is wrong, and the good rows are in
    assert "row 3: month 'October 2026' is not a month (YYYY-MM or YYYY-MM-DD)" in err
    assert "row 4: location is required" in err
    assert "median_sale_price '-5' must be 0 or more" in err
    assert "price_per_sqft 'abc' is not a number" in err
    assert "2 created, 0 updated, 0 unchanged, 2 row error(s)" in out
    assert set(MarketSnapshot.objects.values_list("location", flat=True)) == {"Oakland", "Fremont"}


def test_a_market_row_needs_a_median_price(tmp_path):
    path = write_csv(tmp_path, "no_median.csv", MARKET_HEADER, "Oakland,2026-10,,,559,567,30")

    summary = market_data_import(provider=CsvFileProvider(path))

    assert [str(error) for error in summary.errors] == ["row 2: median_sale_price or median_list_price is required"]
    assert not MarketSnapshot.objects.exists()


def test_reimporting_market_data_updates_instead_of_duplicating(tmp_path):
    # given a month already imported
    first = write_csv(tmp_path, "v1.csv", MARKET_HEADER, "Oakland,2026-10,820000,836000,559,567,30")
    market_data_import(provider=CsvFileProvider(first))
    # when a corrected file for the same location and month is imported, plus an identical row
    second = write_csv(
        tmp_path,
        "v2.csv",
        MARKET_HEADER,
        "OAKLAND,2026-10-01,821000,840000,560,570,28",
        "Oakland,2026-09,815000,838000,561,560,29",
    )
    summary = market_data_import(provider=CsvFileProvider(second))
    again = market_data_import(provider=CsvFileProvider(second))
    # then the month is updated in place, and a second identical import changes nothing
    assert (summary.created, summary.updated, summary.unchanged) == (1, 1, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert MarketSnapshot.objects.count() == 2
    october = MarketSnapshot.objects.get(month=date(2026, 10, 1))
    assert (october.median_sale_price, october.median_days_on_market, october.source) == (
        Decimal("840000"),
        28,
        "csv:v2.csv",
    )


def test_import_listings_loads_good_rows_and_reports_bad_ones(tmp_path):
    # given listings with labels, defaults and two broken rows
    path = write_csv(
        tmp_path,
        "listings.csv",
        LISTING_HEADER,
        "MLS-1,Oakland,615000,2,2,980,Condo,active,2026-10-02",
        "MLS-2,Oakland,1250000,3,2.5,1650,single_family,,",
        "MLS-3,Oakland,free,2,1,800,castle,listed,yesterday",
        "MLS-4,Oakland,500000,1,1,600,condo,pending,2026-09-30",
        ",Oakland,500000,1,1,600,condo,active,",
    )
    # when they are imported
    out, err = run("import_listings", path)
    # then the good rows are stored, each bad one reported once with every problem
    assert "3 created" in out
    assert "2 row error(s)" in out
    assert "row 4: price 'free' is not a number" in err
    assert "property_type 'castle' is not one of" in err
    assert "status 'listed' is not one of active, pending, sold" in err
    assert "listed_at 'yesterday' is not a date (YYYY-MM-DD)" in err
    assert "row 6: external_id is required" in err
    condo = Listing.objects.get(external_id="MLS-1")
    assert (condo.property_type, condo.status, condo.location_key) == ("condo", ListingStatus.ACTIVE, "oakland")
    house = Listing.objects.get(external_id="MLS-2")
    assert (house.baths, house.status, house.listed_at) == (Decimal("2.5"), ListingStatus.ACTIVE, None)


def test_reimporting_listings_updates_by_source_and_external_id(tmp_path):
    # given a listing imported from a feed labelled "mls:test"
    first = write_csv(tmp_path, "day1.csv", LISTING_HEADER, "MLS-1,Oakland,615000,2,2,980,condo,active,2026-10-02")
    run("import_listings", first, "--source", "mls:test")
    # when the next day's file has a price cut and a status change for the same listing
    second = write_csv(tmp_path, "day2.csv", LISTING_HEADER, "MLS-1,Oakland,599000,2,2,980,condo,pending,2026-10-02")
    out, _ = run("import_listings", second, "--source", "mls:test")
    # then the one listing is updated
    assert "0 created, 1 updated" in out
    listing = Listing.objects.get()
    assert (listing.price, listing.status, listing.source) == (Decimal("599000"), "pending", "mls:test")


def test_duplicate_rows_in_one_file_keep_the_last(tmp_path):
    path = write_csv(
        tmp_path,
        "dupes.csv",
        LISTING_HEADER,
        "MLS-1,Oakland,615000,2,2,980,condo,active,",
        "MLS-1,Oakland,605000,2,2,980,condo,active,",
    )

    summary = listings_import(provider=CsvFileProvider(path), batch_size=1)

    assert (summary.created, summary.updated) == (1, 1)
    assert Listing.objects.get().price == Decimal("605000")


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run("import_market_data", str(tmp_path / "absent.csv"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("city,price\nOakland,1\n", "no valid header; missing column(s) location, month"),
        (b"location,month,median_sale_price\nK\xf6ln,2026-10,1\n", "not UTF-8 text"),
    ],
)
def test_unreadable_file_is_a_command_error_and_imports_nothing(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)

    with pytest.raises(CommandError, match=re.escape(message)):
        run("import_market_data", str(path))

    assert not MarketSnapshot.objects.exists()


def test_listing_file_without_listing_columns_is_refused(tmp_path):
    path = write_csv(tmp_path, "market.csv", MARKET_HEADER, "Oakland,2026-10,820000,836000,559,567,30")

    with pytest.raises(MarketDataUnavailable, match="missing column"):
        listings_import(provider=CsvFileProvider(path))


def test_missing_file_makes_the_command_exit_non_zero(tmp_path):
    # the exit status a shell script sees, not just the exception
    result = subprocess.run(
        [sys.executable, "manage.py", "import_listings", str(tmp_path / "absent.csv")],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no such file" in result.stderr
