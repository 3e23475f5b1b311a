"""Delivering webhooks to a real HTTP receiver on loopback: signature, retries with
backoff, dead deliveries, the address rule at delivery time, pausing, replay."""

import socket
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from integrations import periodic
from integrations.crm.tests.conftest import Reply, signature_problems
from integrations.webhooks.client import RefusedAddress, guarded_session
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks.services import (
    DeliveryOutcome,
    deliver,
    emit_lead_event,
    replay_deliveries,
    subscriptions_set_active,
    sweep_deliveries,
)
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def emitted(subscription, django_capture_on_commit_callbacks, *, event=WebhookEvent.LEAD_CREATED, lead=None):
    """Emit ``event`` for a lead (delivered at once after commit); returns the delivery row."""
    with django_capture_on_commit_callbacks(execute=True):
        assert emit_lead_event(event=event, lead=lead or LeadFactory()) == 1
    return WebhookDelivery.objects.get(subscription=subscription)


def test_receiver_verifies_the_signature_and_timestamp_of_a_delivery(
    subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a subscription to lead.created
    subscription = subscribe(WebhookEvent.LEAD_CREATED)
    lead = LeadFactory(contact__first_name="Ada", contact__email="ada@example.com")
    # when the event is emitted and the transaction commits
    delivery = emitted(subscription, django_capture_on_commit_callbacks, lead=lead)
    # then the receiver got one POST it can verify with the subscription's secret
    (request,) = receiver.received
    assert (request.method, request.path) == ("POST", "/hooks/leads")
    assert request.headers["content-type"] == "application/json"
    assert signature_problems(request, secret=subscription.secret) == []
    assert signature_problems(request, secret="whsec_someone-elses-secret") == ["signature does not match"]
    assert request.headers["idempotency-key"] == str(delivery.event_id)
    assert request.headers["x-leads-event"] == "lead.created"
    assert request.headers["user-agent"] == "leadmgmt-webhooks/1"
    body = request.json()
    assert body["id"] == str(delivery.event_id)
    assert body["event"] == "lead.created"
    assert body["version"] == lead.version
    assert body["created_at"].endswith("Z")
    assert body["lead"]["id"] == lead.public_id
    assert body["lead"]["contact"] == {**body["lead"]["contact"], "first_name": "Ada", "email": "ada@example.com"}
    # and the log says it was delivered
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
        "",
    )
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None


def test_a_stale_timestamp_is_what_a_receiver_refuses(subscribe, receiver, django_capture_on_commit_callbacks):
    # The replay window check is only worth something if it can fail.
    subscription = subscribe()
    emitted(subscription, django_capture_on_commit_callbacks)
    (request,) = receiver.received
    stale = replace(request, headers={**request.headers, "x-leads-timestamp": "1000000000"})
    assert signature_problems(stale, secret=subscription.secret) == [
        "stale or missing timestamp '1000000000'",
        "signature does not match",
    ]


def test_a_server_error_is_retried_with_backoff_until_the_receiver_takes_it(
    subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a receiver that fails once with 500, then accepts
    receiver.answer(Reply(500, "boom"), Reply(200))
    subscription = subscribe()
    # when the first attempt fails
    before = timezone.now()
    delivery = emitted(subscription, django_capture_on_commit_callbacks)
    # then the delivery waits for its backoff (between half and all of 30 s after the first try)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.FAILED, 1, 500)
    assert "HTTP 500" in delivery.last_error and "boom" in delivery.last_error
    assert before + timedelta(seconds=15) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert sweep_deliveries(timezone.now()) == 0
    assert len(receiver.received) == 1
    # and the sweeper sends it again once the backoff has passed
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_deliveries(delivery.next_attempt_at + timedelta(seconds=1)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        2,
        200,
        "",
    )
    # with the same body and idempotency key, so the receiver can drop a repeat
    first, second = receiver.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == str(delivery.event_id)
    assert first.json() == second.json()


def test_a_retry_waits_at_least_as_long_as_retry_after(subscribe, receiver, django_capture_on_commit_callbacks):
    receiver.answer(Reply(429, "slow down", headers={"Retry-After": "900"}))
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at >= delivery.last_attempt_at + timedelta(seconds=900)


def test_a_client_error_makes_the_delivery_dead_without_retries(
    subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a receiver that rejects the body
    receiver.answer(Reply(422, {"error": "unknown field"}))
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    # then the delivery is dead at once and nothing is due
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.DEAD, 1, 422)
    assert "unknown field" in delivery.last_error
    assert delivery.next_attempt_at is None
    # so no sweep, however late, and no second task send it again
    assert sweep_deliveries(timezone.now() + timedelta(days=30)) == 0
    assert deliver(delivery.pk) == DeliveryOutcome.DEAD
    assert len(receiver.received) == 1


def test_a_delivery_is_dead_after_the_last_allowed_attempt(
    subscribe, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    receiver.answer(*[Reply(503, "down")] * 5)
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    later = timezone.now()
    for _ in range(4):
        later += timedelta(hours=2)
        with django_capture_on_commit_callbacks(execute=True):
            sweep_deliveries(later)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, 3)
    assert len(receiver.received) == 3


def test_a_timeout_is_a_transient_failure(subscribe, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_READ_TIMEOUT = 0.2
    receiver.answer(Reply(200, delay=0.6))
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    assert (delivery.status, delivery.response_status) == (DeliveryStatus.FAILED, None)
    assert "Timed out" in delivery.last_error


def test_a_target_that_now_resolves_to_loopback_is_refused_at_delivery_time(
    subscribe, receiver, settings, django_capture_on_commit_callbacks
):
    # given a subscription saved while private targets were allowed (or whose host
    # started resolving to a private address since)
    subscription = subscribe()
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    # when an event is delivered
    delivery = emitted(subscription, django_capture_on_commit_callbacks)
    # then nothing reached the receiver, and the delivery is dead with the reason
    assert receiver.received == []
    assert delivery.status == DeliveryStatus.DEAD
    assert "127.0.0.1 is a loopback address" in delivery.last_error


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_connection_itself_is_checked_so_dns_rebinding_gets_nowhere(receiver, private_targets_refused, scheme):
    # Even when the URL check is bypassed (a host that resolved to a public address a
    # moment ago), the session refuses the socket it got before sending a byte (for
    # https, before the TLS handshake).
    url = f"{scheme}://127.0.0.1:{receiver.httpd.server_port}/hooks/leads"
    with guarded_session() as session, pytest.raises(RefusedAddress, match="loopback"):
        session.post(url, json={"x": 1}, timeout=1)
    assert receiver.received == []


def test_the_guarded_session_talks_to_loopback_when_private_targets_are_allowed(receiver, loopback_allowed):
    # The refusal above is the address rule, not a broken session.
    with guarded_session() as session:
        assert session.post(f"{receiver.base_url}/hooks/leads", json={"x": 1}, timeout=1).status_code == 200
    assert len(receiver.received) == 1


def test_an_unreachable_receiver_is_a_transient_failure(subscribe, django_capture_on_commit_callbacks):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = emitted(subscribe(url=f"http://127.0.0.1:{port}/hooks"), django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.FAILED
    assert "Connection failed" in delivery.last_error


def test_deliveries_of_a_paused_subscription_wait_until_it_is_resumed(
    subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a queued delivery whose subscription is paused before it is sent
    subscription = subscribe()
    with django_capture_on_commit_callbacks(execute=False):
        emit_lead_event(event=WebhookEvent.LEAD_CREATED, lead=LeadFactory())
    delivery = WebhookDelivery.objects.get()
    subscriptions_set_active([subscription.pk], active=False)
    # then neither the task nor the sweeper sends it
    assert deliver(delivery.pk) == DeliveryOutcome.PAUSED
    assert sweep_deliveries(timezone.now() + timedelta(hours=1)) == 0
    # and once resumed the sweeper does
    subscriptions_set_active([subscription.pk], active=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_deliveries(timezone.now() + timedelta(hours=1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1


def test_a_lost_task_is_queued_again_by_the_periodic_sweeper(subscribe, receiver, django_capture_on_commit_callbacks):
    # given a delivery whose task never ran (a worker died, the broker lost it)
    subscribe()
    with django_capture_on_commit_callbacks(execute=False):
        emit_lead_event(event=WebhookEvent.LEAD_CREATED, lead=LeadFactory())
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # when the registered periodic job runs
    with django_capture_on_commit_callbacks(execute=True):
        assert periodic.run("sweep_webhook_deliveries") == 1
    # then it is delivered
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1


def test_replay_sends_a_delivered_event_again_with_the_same_id(subscribe, receiver, django_capture_on_commit_callbacks):
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert replay_deliveries([delivery.pk]) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    first, second = receiver.received
    assert first.json() == second.json()
    assert second.headers["idempotency-key"] == str(delivery.event_id)


def test_replay_revives_a_dead_delivery_with_a_fresh_count_of_attempts(
    subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a delivery that died on a 410 the receiver has since fixed
    receiver.answer(Reply(410, "gone"))
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.DEAD
    # when it is replayed
    with django_capture_on_commit_callbacks(execute=True):
        replay_deliveries([delivery.pk])
    # then it is delivered
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
        "",
    )
    assert len(receiver.received) == 2


def test_an_unknown_delivery_is_missing():
    assert deliver(987654) == DeliveryOutcome.MISSING


def test_a_delivery_row_without_a_task_is_not_sent_twice(subscribe, receiver, django_capture_on_commit_callbacks):
    delivery = emitted(subscribe(), django_capture_on_commit_callbacks)
    assert deliver(delivery.pk) == DeliveryOutcome.ALREADY_DELIVERED
    assert len(receiver.received) == 1


def test_emitting_rolls_back_with_the_callers_transaction(subscribe, receiver, django_capture_on_commit_callbacks):
    subscribe()
    lead = LeadFactory()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        emit_lead_event(event=WebhookEvent.LEAD_CREATED, lead=lead)
        raise RuntimeError("the caller fails after emitting")
    assert not WebhookDelivery.objects.exists()
    assert callbacks == []
    assert receiver.received == []


def test_event_ids_are_unique_per_delivery(subscribe, django_capture_on_commit_callbacks):
    subscribe()
    subscribe()
    with django_capture_on_commit_callbacks(execute=True):
        assert emit_lead_event(event=WebhookEvent.LEAD_UPDATED, lead=LeadFactory()) == 2
    ids = [delivery.payload["id"] for delivery in WebhookDelivery.objects.all()]
    assert len(set(ids)) == 2 and all(uuid.UUID(value) for value in ids)
