from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from integrations.market.demo import DEMO_CITIES, DEMO_MONTHS
from integrations.market.imports import market_data_import
from integrations.market.models import Listing, ListingStatus, MarketSnapshot
from integrations.market.providers import CsvFileProvider

pytestmark = pytest.mark.django_db

REQUIRED_CITIES = {
    "San Francisco",
    "Oakland",
    "San Jose",
    "Berkeley",
    "Palo Alto",
    "Fremont",
    "Walnut Creek",
    "San Mateo",
}


def seed() -> str:
    out = StringIO()
    call_command("seed_market_demo", stdout=out)
    return out.getvalue()


def test_seed_market_demo_loads_labelled_data_for_the_bay_area():
    seed()

    snapshots = MarketSnapshot.objects.all()
    assert set(snapshots.values_list("location", flat=True)) >= REQUIRED_CITIES
    assert snapshots.count() == len(DEMO_CITIES) * DEMO_MONTHS
    assert set(snapshots.values_list("source", flat=True)) == {"demo"}
    assert set(Listing.objects.values_list("source", flat=True)) == {"demo"}
    active = Listing.objects.filter(status=ListingStatus.ACTIVE)
    assert active.count() >= 200
    assert set(active.values_list("location", flat=True)) >= REQUIRED_CITIES
    assert set(active.values_list("property_type", flat=True)) >= {"single_family", "condo", "townhouse"}


def test_seed_market_demo_is_idempotent():
    # given the demo data loaded once
    seed()
    snapshots, listings = MarketSnapshot.objects.count(), Listing.objects.count()
    prices = sorted(Listing.objects.values_list("external_id", "price"))
    # when it is loaded again
    out = seed()
    # then nothing is added or changed
    assert MarketSnapshot.objects.count() == snapshots
    assert Listing.objects.count() == listings
    assert sorted(Listing.objects.values_list("external_id", "price")) == prices
    assert "0 created, 0 updated" in out


def test_seed_market_demo_never_overwrites_imported_figures(tmp_path):
    # given real figures imported for Oakland's latest demo month
    path = tmp_path / "oakland.csv"
    path.write_text("location,month,median_sale_price\nOakland,2026-10,799000\n")
    market_data_import(provider=CsvFileProvider(path))
    # when the demo data is seeded
    seed()
    # then that month keeps the imported figure and source
    october = MarketSnapshot.objects.get(location_key="oakland", month=date(2026, 10, 1))
    assert (october.median_sale_price, october.source) == (Decimal("799000"), "csv:oakland.csv")


def test_seed_demo_loads_market_data_first():
    call_command("seed_demo", leads=1, stdout=StringIO())

    assert MarketSnapshot.objects.filter(source="demo").exists()
    assert Listing.objects.filter(source="demo").exists()
