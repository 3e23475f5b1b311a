"""seed_demo gives the demo buyers alert settings and alerts once (the hook runs after the leads)."""

from io import StringIO

import pytest
from django.core.management import call_command

from integrations.property_alerts.management.commands.seed_property_alerts_demo import DEMO_EMAIL_DOMAIN
from integrations.property_alerts.models import AlertMessage, AlertSubscription
from integrations.property_alerts.tests.factories import SubscriptionFactory
from leads import demo as leads_demo
from leads.management.commands.seed_demo import DEMO_HOOKS
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_the_demo_has_each_frequency_a_paused_lead_with_its_note_and_sent_alerts_once():
    assert DEMO_EMAIL_DOMAIN == leads_demo.DEMO_EMAIL_DOMAIN
    assert "seed_property_alerts_demo" in DEMO_HOOKS

    call_command("seed_demo", "--leads", "40", stdout=StringIO())
    counts = (AlertSubscription.objects.count(), AlertMessage.objects.count())
    call_command("seed_property_alerts_demo", stdout=StringIO())

    assert (AlertSubscription.objects.count(), AlertMessage.objects.count()) == counts
    assert set(AlertSubscription.objects.values_list("frequency", flat=True)) == {"instant", "daily", "weekly", "off"}
    paused = AlertSubscription.objects.get(paused_at__isnull=False)
    assert paused.note == "Alerts paused: last 3 not opened"
    assert AlertMessage.objects.filter(opened_at__isnull=False).exists()
    assert AlertMessage.objects.filter(clicked_at__isnull=False).exists()
    assert all(message.listing_count == len(message.listings) > 0 for message in AlertMessage.objects.all())


def test_settings_the_alert_runs_gave_by_default_do_not_stop_the_demo():
    # the matches demo runs first and its instant alert run gives matched buyers the default setting
    buyers = [
        LeadFactory(lead_type="buyer", contact__email=f"buyer{number}@{DEMO_EMAIL_DOMAIN}") for number in range(6)
    ]
    SubscriptionFactory(lead=buyers[0], frequency="daily", set_by="default")

    call_command("seed_property_alerts_demo", stdout=StringIO())

    assert AlertMessage.objects.filter(lead=buyers[0]).exists()
    assert AlertSubscription.objects.get(lead=buyers[0]).set_by != "default"
    assert AlertSubscription.objects.filter(lead__in=buyers).count() == 6
