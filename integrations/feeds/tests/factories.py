from datetime import UTC, datetime, timedelta

import factory

from integrations.feeds.models import ListingFeed

TOKEN_ENV = "RESO_TOKEN_TESTS"
TOKEN = "reso-test-token"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def stamp(minutes: int) -> str:
    """A ModificationTimestamp ``minutes`` after T0, as a RESO server writes it."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class ResoRecordFactory(factory.DictFactory):
    """A RESO Data Dictionary Property record, the way a Web API server sends it."""

    ListingKey = factory.Sequence(lambda n: f"LK{n:05d}")
    ListingId = factory.LazyAttribute(lambda o: f"ML{o.ListingKey[2:]}")
    ModificationTimestamp = factory.Sequence(lambda n: stamp(n))
    StandardStatus = "Active"
    PropertyType = "Residential"
    PropertySubType = "SingleFamilyResidence"
    ListPrice = factory.Sequence(lambda n: 800000 + 1000 * n)
    BedroomsTotal = 3
    BathroomsTotalInteger = 2
    LivingArea = 1650.0
    LivingAreaUnits = "SquareFeet"
    City = "Oakland"
    PostalCode = "94610"
    UnparsedAddress = factory.Sequence(lambda n: f"{100 + n} Grand Ave")
    ListingContractDate = "2026-10-20"
    PoolPrivateYN = False
    GarageYN = True
    InteriorFeatures = factory.LazyFunction(lambda: ["Walk-In Closet(s)"])
    Media = factory.LazyAttribute(
        lambda o: [
            {"MediaURL": f"https://photos.example.com/{o.ListingKey}/2.jpg", "Order": 2, "MediaCategory": "Photo"},
            {"MediaURL": f"https://photos.example.com/{o.ListingKey}/1.jpg", "Order": 1, "MediaCategory": "Photo"},
        ]
    )


class ListingFeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ListingFeed
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"feed{n}")
    base_url = "http://127.0.0.1:9/reso/odata"  # the tests point it at their server
    token_env = TOKEN_ENV
    page_size = 4
    interval_minutes = 15
