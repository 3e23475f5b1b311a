"""Alerts by web push, end to end against a push service on loopback that checks the
VAPID signature and decrypts the payload (RFC 8291) as a real one does: what it
receives, what is recorded, and what a gone (410), failing (5xx) or refusing push
service does to the alert."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from integrations.alerts import payloads, tasks
from integrations.alerts.models import AgentAlert, AlertStatus, DeliveryStatus, PushSubscription
from integrations.alerts.tests.conftest import prefer, subscribe
from integrations.crm.tests.conftest import Reply
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(manager):
    return LeadFactory(
        contact__first_name="Ada",
        contact__last_name="Lovelace",
        contact__phone="+14155550134",
        source="zillow",
        preferences__min_price=300000,
        preferences__max_price=1250000,
    )


@pytest.fixture
def offer(django_capture_on_commit_callbacks, lead):
    """``offer(user)``: the routing engine offers the lead to ``user`` (Claim, Call) and
    commits; the alert's first attempt runs. Returns the alert."""

    def send(user):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.send_agent_alert(user=user, lead=lead, reason="offer", actions=payloads.offer_actions(lead))
        return AgentAlert.objects.get(user=user, lead=lead)

    return send


def deliveries(alert) -> list[tuple[str, str]]:
    return [(delivery.channel, delivery.status) for delivery in alert.deliveries.order_by("position")]


def test_the_push_service_gets_a_signed_push_it_can_decrypt_and_the_alert_is_delivered(
    push_service, offer, agent, lead
):
    # given an agent whose phone subscribed to pushes
    browser = push_service.browser()
    subscription = subscribe(agent, browser)
    # when the lead is offered to them
    alert = offer(agent)
    # then the push service got one push whose VAPID header it verified (or it would have
    # answered 401) and whose body it decrypted with the phone's key
    (push,) = push_service.pushes
    assert push_service.refused == []
    assert push.path == "/push/1"
    assert push.claims["aud"] == push_service.base_url and push.claims["sub"] == "mailto:ops@leads.example.com"
    assert push.payload == {
        "title": "Lead up for grabs: Ada Lovelace",
        "body": "Zillow · $300k\u2013$1.25M",
        "lead_id": lead.public_id,
        "lead_name": "Ada Lovelace",
        "source": "Zillow",
        "budget": "$300k\u2013$1.25M",
        "url": f"https://leads.example.com/leads/{lead.public_id}/",
        "reason": "offer",
        "tag": f"lead-{lead.public_id}",
        "actions": [
            {"action": "claim", "title": "Claim", "url": f"https://leads.example.com/leads/{lead.public_id}/claim/"},
            {"action": "call", "title": "Call", "url": "tel:+14155550134"},
        ],
    }
    # and the alert was delivered by push (201), the email on standby skipped
    alert.refresh_from_db()
    assert (alert.status, alert.delivered_via) == (AlertStatus.DELIVERED, "push")
    assert deliveries(alert) == [("push", DeliveryStatus.DELIVERED), ("email", DeliveryStatus.SKIPPED)]
    push_delivery = alert.deliveries.get(channel="push")
    assert (push_delivery.response_status, push_delivery.attempts, push_delivery.last_error) == (201, 1, "")
    assert push_delivery.delivered_at is not None and push_delivery.next_attempt_at is None
    assert push_delivery.detail == {str(subscription.pk): {"status": 201, "outcome": "accepted"}}
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None
    assert mail.outbox == []


def test_a_push_signed_with_another_key_is_refused_by_the_push_service(push_service, offer, agent, settings):
    # given a phone that subscribed under the site's key, which was then replaced
    subscribe(agent, push_service.browser())
    from integrations.alerts.vapid import generate_keys

    new_keys = generate_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY, settings.WEBPUSH_VAPID_PUBLIC_KEY = new_keys.private_key, new_keys.public_key
    # when an alert is pushed
    alert = offer(agent)
    # then the push service refused it (401: not the key the browser subscribed with),
    # a permanent failure, and the alert went by email instead
    assert push_service.pushes == []
    assert push_service.refused == [["k is not the application server key the browser subscribed with"]]
    assert deliveries(alert) == [("push", DeliveryStatus.FAILED), ("email", DeliveryStatus.SENT)]
    assert alert.deliveries.get(channel="push").response_status == 401
    (email,) = mail.outbox
    assert email.to == [agent.email] and email.subject == "Lead up for grabs: Ada Lovelace"


def test_a_gone_subscription_is_deleted_and_the_alert_falls_back_to_sms(push_service, sms_provider, offer, agent):
    # given an agent who chose push, then texts, and whose phone's subscription has expired
    prefer(agent, "push,sms", sms_number="(415) 555-0199", sms_opt_in=True)
    subscription = subscribe(agent, push_service.browser())
    push_service.answer(Reply(410, {"error": "expired"}))
    # when an alert is sent
    alert = offer(agent)
    # then the push service answered 410: the subscription is deleted, the push failed
    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()
    push_delivery = alert.deliveries.get(channel="push")
    assert (push_delivery.status, push_delivery.response_status, push_delivery.attempts) == (
        DeliveryStatus.FAILED,
        410,
        1,
    )
    assert push_delivery.detail[str(subscription.pk)]["outcome"] == "gone: subscription deleted"
    # and the alert was texted at once
    (text,) = sms_provider.texts
    assert text.form["To"] == "+14155550199"
    assert text.form["Body"].startswith("Lead up for grabs: Ada Lovelace\nZillow")
    alert.refresh_from_db()
    assert deliveries(alert) == [
        ("push", DeliveryStatus.FAILED),
        ("sms", DeliveryStatus.SENT),
        ("email", DeliveryStatus.STANDBY),  # until the provider says the text arrived
    ]
    assert (alert.status, alert.delivered_via) == (AlertStatus.SENT, "sms")
    assert alert.deliveries.get(channel="sms").sms_message.provider_sid == text.sid


def test_a_push_service_error_is_retried_after_a_backoff_then_delivered(
    push_service, offer, agent, django_capture_on_commit_callbacks
):
    # given a push service that fails once with 503, then accepts
    subscribe(agent, push_service.browser())
    push_service.answer(Reply(503, {"error": "busy"}, headers={"Retry-After": "7"}))
    before = timezone.now()
    alert = offer(agent)
    # then the push waits for its backoff (at least the Retry-After), the email on standby
    push_delivery = alert.deliveries.get(channel="push")
    assert (push_delivery.status, push_delivery.attempts, push_delivery.response_status) == (
        DeliveryStatus.RETRYING,
        1,
        503,
    )
    assert push_delivery.next_attempt_at >= before + timedelta(seconds=7)
    assert tasks.sweep_alert_deliveries(timezone.now()) == 0
    # and the sweep sends it again once the backoff has passed
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_alert_deliveries(push_delivery.next_attempt_at + timedelta(seconds=1)) == 1
    assert len(push_service.pushes) == 2
    alert.refresh_from_db()
    assert deliveries(alert) == [("push", DeliveryStatus.DELIVERED), ("email", DeliveryStatus.SKIPPED)]
    assert alert.status == AlertStatus.DELIVERED


def test_a_push_service_failing_every_attempt_makes_the_alert_go_by_email(
    push_service, offer, agent, django_capture_on_commit_callbacks
):
    # given a push service that keeps failing (ALERTS_MAX_ATTEMPTS is 2)
    subscribe(agent, push_service.browser())
    push_service.answer(Reply(500, {}), Reply(502, {}))
    alert = offer(agent)
    push_delivery = alert.deliveries.get(channel="push")
    assert push_delivery.status == DeliveryStatus.RETRYING
    # when its last attempt fails
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep_alert_deliveries(push_delivery.next_attempt_at + timedelta(seconds=1))
    # then the push failed after two attempts and the email went
    push_delivery.refresh_from_db()
    assert (push_delivery.status, push_delivery.attempts, push_delivery.response_status) == (
        DeliveryStatus.FAILED,
        2,
        502,
    )
    assert deliveries(alert) == [("push", DeliveryStatus.FAILED), ("email", DeliveryStatus.SENT)]
    assert len(mail.outbox) == 1


def test_a_timeout_is_a_transient_failure(push_service, offer, agent, settings):
    # given a push service slower than the read timeout
    settings.WEBPUSH_READ_TIMEOUT = 0.2
    subscribe(agent, push_service.browser())
    push_service.answer(Reply(201, {}, delay=1.0))
    alert = offer(agent)
    push_delivery = alert.deliveries.get(channel="push")
    assert push_delivery.status == DeliveryStatus.RETRYING
    assert "Timed out" in push_delivery.last_error


def test_every_browser_of_the_user_gets_the_push(push_service, offer, agent):
    # given a phone and a laptop, the laptop's subscription gone
    phone, laptop = push_service.browser(), push_service.browser()
    subscribe(agent, phone)
    gone = subscribe(agent, laptop)
    push_service.answer(Reply(201, {}), Reply(410, {}))
    # when an alert is pushed
    alert = offer(agent)
    # then both were tried: the phone took it, the laptop's subscription was removed
    assert sorted(push.path for push in push_service.pushes) == ["/push/1", "/push/2"]
    assert list(PushSubscription.objects.filter(user=agent).values_list("endpoint", flat=True)) == [phone.endpoint]
    assert not PushSubscription.objects.filter(pk=gone.pk).exists()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DELIVERED


def test_a_push_endpoint_on_a_private_address_is_refused_at_send_time(push_service, offer, agent, settings):
    # given a subscription made while loopback was allowed, and the rule back on
    subscribe(agent, push_service.browser())
    settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS = False
    # when an alert is pushed
    alert = offer(agent)
    # then nothing reached the loopback server and the alert went by email
    assert push_service.pushes == [] and push_service.refused == []
    push_delivery = alert.deliveries.get(channel="push")
    assert push_delivery.status == DeliveryStatus.FAILED
    assert "https" in push_delivery.detail[next(iter(push_delivery.detail))]["outcome"]
    assert deliveries(alert)[1] == ("email", DeliveryStatus.SENT)
