"""seed_demo gives the demo buyers alert settings and alerts once (the hook runs after the leads)."""

from io import StringIO

import pytest
from django.core.management import call_command

from integrations.property_alerts.management.commands.seed_property_alerts_demo import DEMO_EMAIL_DOMAIN
from integrations.property_alerts.models import AlertMessage, AlertSubscription
from leads import demo as leads_demo
from leads.management.commands.seed_demo import DEMO_HOOKS

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
