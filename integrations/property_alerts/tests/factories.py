"""Factories of the property alerts' tests: listings, matches (written directly: the
matching is not what these tests check), alert settings and messages."""

from decimal import Decimal

import factory
from django.utils import timezone

from integrations.market.models import Listing, ListingStatus
from integrations.matches.models import ListingMatch, MatchReason
from integrations.property_alerts.models import AlertMessage, AlertStatus, AlertSubscription, Frequency
from leads.models import PropertyType
from leads.tests.factories import LeadFactory


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    source = "test"
    external_id = factory.Sequence(lambda n: f"TX-{n:05d}")
    location = "Austin"
    price = Decimal("525000")
    beds = 3
    baths = Decimal("2.0")
    square_feet = 1450
    property_type = PropertyType.SINGLE_FAMILY
    status = ListingStatus.ACTIVE
    address = factory.Sequence(lambda n: f"{100 + n} Maple Street")
    city = "Austin"
    postal_code = "78704"
    photo_urls = factory.LazyAttribute(lambda listing: [f"https://photos.example.com/{listing.external_id}/1.jpg"])


class MatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ListingMatch

    lead = factory.SubFactory(LeadFactory)
    listing = factory.SubFactory(ListingFactory)
    score = 80
    reason = MatchReason.NEW
    price = factory.LazyAttribute(lambda match: match.listing.price)
    first_matched_at = factory.LazyFunction(timezone.now)
    matched_at = factory.LazyAttribute(lambda match: match.first_matched_at)


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertSubscription

    lead = factory.SubFactory(LeadFactory)
    frequency = Frequency.INSTANT
    effective_frequency = factory.LazyAttribute(lambda subscription: subscription.frequency)
    set_at = factory.LazyFunction(timezone.now)


class AlertMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertMessage

    lead = factory.SubFactory(LeadFactory)
    frequency = Frequency.DAILY
    status = AlertStatus.SENT
    listings = factory.LazyFunction(list)
    listing_count = factory.LazyAttribute(lambda message: len(message.listings))
    sent_at = factory.LazyFunction(timezone.now)
