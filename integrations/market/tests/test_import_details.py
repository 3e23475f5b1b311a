"""The CSV listing import with the detail columns (address, city, ZIP, features, photos,
the source's modification time) and the price history it records."""

import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from integrations.market.models import Listing, ListingChange, ListingChangeKind
from integrations.market.rows import LISTING_COLUMNS

pytestmark = pytest.mark.django_db

HEADER = "external_id,location,price,property_type,address,city,postal_code,features,photo_urls,modified_at"


def import_csv(tmp_path, *lines: str) -> tuple[str, str]:
    path = tmp_path / "mls.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_listings", str(path), "--source", "mls:test", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_csv_import_reads_the_detail_columns_and_records_price_history(tmp_path):
    out, err = import_csv(
        tmp_path,
        "A1,Oakland,900000,Condo,12 Lake St,Oakland,94610,Pool|Garage,"
        "https://p.example.com/1.jpg https://p.example.com/2.jpg,2026-12-01T10:00:00Z",
    )
    assert err == "" and "1 created" in out
    listing = Listing.objects.get(external_id="A1")
    assert (listing.address, listing.city, listing.postal_code) == ("12 Lake St", "Oakland", "94610")
    assert listing.features == ["pool", "garage"]
    assert listing.photo_urls == ["https://p.example.com/1.jpg", "https://p.example.com/2.jpg"]

    out, err = import_csv(tmp_path, "A1,Oakland,850000,Condo,12 Lake St,Oakland,94610,Pool,,2026-12-02T10:00:00Z")

    assert "1 updated" in out
    kinds = list(ListingChange.objects.filter(listing=listing).values_list("kind", flat=True))
    assert kinds == [ListingChangeKind.NEW, ListingChangeKind.PRICE_DROP]


def test_a_csv_price_of_zero_is_reported_and_not_stored(tmp_path):
    _out, err = import_csv(tmp_path, "Z1,Oakland,0,Condo,,,,,,")
    assert "row 2: price must be more than 0" in err
    assert not Listing.objects.exists()


def test_the_import_commands_help_lists_every_listing_column():
    result = subprocess.run(
        [sys.executable, "manage.py", "import_listings", "--help"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    for column in LISTING_COLUMNS:
        assert column in result.stdout
    assert "photo_urls" in result.stdout and "modified_at" in result.stdout
