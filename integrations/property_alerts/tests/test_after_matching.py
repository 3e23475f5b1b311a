"""From a listing import to the lead's inbox: a lead on instant alerts hears of a new listing
that fits as soon as the matching commits it, and of nothing that does not fit."""

import pytest

from integrations.matches.tests.helpers import buyer, put_listing
from integrations.property_alerts.tests.conftest import parts, received
from integrations.property_alerts.tests.factories import SubscriptionFactory
from leads.models import Contact

pytestmark = pytest.mark.django_db


def test_an_imported_listing_that_fits_reaches_an_instant_lead_at_once(smtp_inbox, django_capture_on_commit_callbacks):
    lead = buyer()
    Contact.objects.filter(lead=lead).update(email="oakland.buyer@example.com")
    SubscriptionFactory(lead=lead, frequency="instant")
    daily = buyer()
    SubscriptionFactory(lead=daily, frequency="daily")

    # the import commits: the matching runs after it, and the instant alert after the matching
    with django_capture_on_commit_callbacks(execute=True):
        put_listing("MLS-77", address="77 Lakeshore Ave", price=520_000)
        put_listing("MLS-78", address="1 Far Away Rd", location="Fresno", city="Fresno")

    (email,) = received(smtp_inbox)
    assert email["To"] == "oakland.buyer@example.com"
    text, _ = parts(email)
    assert "77 Lakeshore Ave" in text and "$520,000" in text
    assert "Far Away" not in text


def test_a_price_drop_is_sent_again_at_once(smtp_inbox, django_capture_on_commit_callbacks):
    lead = buyer()
    SubscriptionFactory(lead=lead, frequency="instant")
    with django_capture_on_commit_callbacks(execute=True):
        put_listing("MLS-80", address="80 Grand Ave", price=590_000)

    with django_capture_on_commit_callbacks(execute=True):
        put_listing("MLS-80", price=560_000)

    first, second = received(smtp_inbox)
    assert first["Subject"].startswith("New match: 80 Grand Ave")
    assert second["Subject"].startswith("Price drop: 80 Grand Ave")
    assert "price dropped from $590,000" in parts(second)[0]
