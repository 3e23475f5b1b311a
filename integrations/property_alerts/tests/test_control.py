"""Frequency control: unopened alerts slow the frequency down (instant -> daily ->
weekly), then pause it, each step with a note on the lead page; an open or a click
restores the chosen frequency and clears the pause."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.property_alerts import control, sending, services
from integrations.property_alerts.models import AlertMessage, AlertSubscription
from integrations.property_alerts.tests.conftest import links_in, parts, received
from integrations.property_alerts.tests.factories import MatchFactory, SubscriptionFactory
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_three_unopened_instant_alerts_slow_the_lead_to_daily_with_a_note(smtp_inbox, instant_buyer, settings):
    settings.PROPERTY_ALERTS_STEP_DOWN_AFTER = 3
    now = timezone.now()
    # given three instant alerts the lead never opened
    for hour in range(3):
        MatchFactory(lead=instant_buyer, first_matched_at=now + timedelta(hours=hour))
        assert sending.send_instant_alerts(now + timedelta(hours=hour, minutes=1))["sent"] == 1

    # when a fourth match comes
    MatchFactory(lead=instant_buyer, first_matched_at=now + timedelta(hours=4))
    result = sending.send_instant_alerts(now + timedelta(hours=4, minutes=1))

    # then no instant alert: the lead is on daily now, and the note says why
    assert (result["sent"], result["slowed"]) == (0, 1)
    assert len(smtp_inbox.envelopes) == 3
    subscription = AlertSubscription.objects.get(lead=instant_buyer)
    assert (subscription.frequency, subscription.effective_frequency) == ("instant", "daily")
    assert subscription.note == "Alerts slowed to daily: last 3 not opened"
    assert subscription.consecutive_unopened == 0


def test_an_opened_alert_keeps_the_frequency(smtp_inbox, client, instant_buyer, settings):
    settings.PROPERTY_ALERTS_STEP_DOWN_AFTER = 2
    now = timezone.now()
    MatchFactory(lead=instant_buyer, first_matched_at=now)
    sending.send_instant_alerts(now + timedelta(minutes=1))
    client.get(links_in(parts(received(smtp_inbox)[0])[1], "o")[0])  # opened
    for hour in (1, 2):
        MatchFactory(lead=instant_buyer, first_matched_at=now + timedelta(hours=hour))
        assert sending.send_instant_alerts(now + timedelta(hours=hour, minutes=1))["sent"] == 1

    assert AlertSubscription.objects.get(lead=instant_buyer).effective_frequency == "instant"


@pytest.mark.parametrize(
    ("effective", "unopened", "after", "paused", "note"),
    [
        ("instant", 3, "daily", False, "Alerts slowed to daily: last 3 not opened"),
        ("daily", 3, "weekly", False, "Alerts slowed to weekly: last 3 not opened"),
        ("weekly", 3, "weekly", True, "Alerts paused: last 3 not opened"),
        ("daily", 2, "daily", False, ""),
    ],
)
def test_each_step_down(effective, unopened, after, paused, note, settings):
    settings.PROPERTY_ALERTS_STEP_DOWN_AFTER = settings.PROPERTY_ALERTS_PAUSE_AFTER = 3
    subscription = AlertSubscription(frequency="instant", effective_frequency=effective, consecutive_unopened=unopened)

    changed = control.step_down_if_ignored(subscription, now=timezone.now())

    assert changed == bool(note)
    assert subscription.effective_frequency == after
    assert (subscription.paused_at is not None) == paused
    assert subscription.note == note


def test_a_paused_lead_gets_nothing_until_it_opens_an_alert_and_then_its_chosen_frequency(smtp_inbox, client):
    lead = LeadFactory()
    subscription = SubscriptionFactory(
        lead=lead,
        frequency="instant",
        effective_frequency="weekly",
        paused_at=timezone.now(),
        note="Alerts paused: last 3 not opened",
    )
    old = AlertMessage.objects.create(lead=lead, frequency="weekly", status="sent", sent_at=timezone.now())
    MatchFactory(lead=lead)
    assert sending.send_instant_alerts(timezone.now())["sent"] == 0
    assert sending.send_digests(timezone.now() + timedelta(days=8))["weekly"]["sent"] == 0

    # the lead opens an old alert
    services.record_open(message_key=old.key)

    subscription.refresh_from_db()
    assert (subscription.effective_frequency, subscription.paused_at) == ("instant", None)
    assert subscription.note == "Alerts back to instant: the lead opened an alert"
    assert sending.send_instant_alerts(timezone.now())["sent"] == 1


def test_a_click_restores_the_chosen_frequency(smtp_inbox, client, match, instant_buyer):
    sending.send_instant_alerts(timezone.now())
    AlertSubscription.objects.filter(lead=instant_buyer).update(effective_frequency="weekly", consecutive_unopened=2)

    client.get(links_in(parts(received(smtp_inbox)[0])[1], "c")[0])

    subscription = AlertSubscription.objects.get(lead=instant_buyer)
    assert (subscription.effective_frequency, subscription.consecutive_unopened) == ("instant", 0)
    assert subscription.note == "Alerts back to instant: the lead clicked a listing"
