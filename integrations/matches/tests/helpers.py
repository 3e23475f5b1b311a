"""Listings written the way imports write them (with their ``ListingChange`` rows), and
buyers with preferences in the preference index."""

from dataclasses import replace
from decimal import Decimal

from integrations.market.imports import ImportSummary, listings_store
from integrations.market.locations import location_key
from integrations.market.models import Listing
from integrations.market.rows import ListingRow
from integrations.matches import index
from leads.tests.factories import LeadFactory

SOURCE = "test"
HOME = ListingRow(
    external_id="",
    location="Oakland",
    location_key="oakland",
    price=Decimal(500_000),
    beds=3,
    baths=Decimal(2),
    square_feet=1500,
    property_type="single_family",
    status="active",
    listed_at=None,
    address="12 Elm St",
    city="Oakland",
    postal_code="94607",
)


def put_listing(external_id: str, **fields) -> Listing:
    """Create or change the listing through the import's store (which records the change)."""
    current = Listing.objects.filter(source=SOURCE, external_id=external_id).first()
    base = HOME if current is None else _row_of(current)
    if "location" in fields:
        fields["location_key"] = location_key(fields["location"])
    for name in ("price", "baths"):
        if fields.get(name) is not None:
            fields[name] = Decimal(fields[name])
    for name in ("features", "photo_urls"):
        if name in fields:
            fields[name] = tuple(fields[name])
    row = replace(base, external_id=external_id, **fields)
    listings_store(source=SOURCE, batch={external_id: row}, summary=ImportSummary(source=SOURCE))
    return Listing.objects.get(source=SOURCE, external_id=external_id)


def _row_of(listing: Listing) -> ListingRow:
    return ListingRow(
        external_id=listing.external_id,
        location=listing.location,
        location_key=listing.location_key,
        price=listing.price,
        beds=listing.beds,
        baths=listing.baths,
        square_feet=listing.square_feet,
        property_type=listing.property_type,
        status=listing.status,
        listed_at=listing.listed_at,
        address=listing.address,
        city=listing.city,
        postal_code=listing.postal_code,
        features=tuple(listing.features),
        photo_urls=tuple(listing.photo_urls),
        modified_at=listing.modified_at,
    )


def buyer(**preferences):
    """An open buyer (Oakland, single family, $400k-$600k, 3+ beds, 2+ baths unless told),
    indexed as the lead-event subscriber would."""
    values = {
        "property_types": ["single_family"],
        "min_price": 400_000,
        "max_price": 600_000,
        "preferred_locations": ["Oakland"],
        "min_bedrooms": 3,
        "min_bathrooms": 2,
    } | preferences
    lead_fields = values.pop("lead", {})
    lead = LeadFactory(**lead_fields, **{f"preferences__{name}": value for name, value in values.items()})
    index.index_refresh([lead.pk])
    return lead
