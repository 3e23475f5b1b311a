"""Delivering webhooks to a real HTTP receiver on loopback: signature, retries with
backoff, dead deliveries, the address rule at delivery time, pausing, the sweep and
replay. Deliveries come from real saves, relayed as the after-commit work does."""

import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import periodic
from integrations.crm.tests.conftest import Reply, signature_problems
from integrations.outbox import Outcome
from integrations.webhooks import services, tasks
from integrations.webhooks.client import RefusedAddress, guarded_session
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks.tests.saves import create_lead, relayed_deliveries, tag
from leads.errors import Conflict
from leads.events.models import LeadEvent
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def updates(subscribe):
    """A subscription to lead.updated only, at the loopback receiver."""
    return subscribe(WebhookEvent.UPDATED)


@pytest.fixture
def delivered(manager, django_capture_on_commit_callbacks):
    """``delivered(subscription, lead=None)``: a save of the lead's tags, committed and
    its after-commit work run (relay, fan-out, first attempt); returns the delivery."""

    def save(subscription, lead=None):
        with django_capture_on_commit_callbacks(execute=True):
            tag(lead or LeadFactory(), manager)
        return subscription.deliveries.get()

    return save


@pytest.fixture
def queued(manager):
    """``queued(subscription)``: a save whose events were relayed but whose delivery
    task never ran (the worker died, the broker lost it); returns the delivery."""

    def save(subscription):
        tag(LeadFactory(), manager)
        (delivery,) = relayed_deliveries(subscription)
        return delivery

    return save


def test_receiver_verifies_the_signature_and_timestamp_of_a_delivery(updates, delivered, receiver):
    # given a lead, and a subscription to lead.updated
    lead = LeadFactory(contact__first_name="Ada", contact__email="ada@example.com")
    # when a save updates it and the transaction commits
    delivery = delivered(updates, lead)
    # then the receiver got one POST it can verify with the subscription's secret
    (request,) = receiver.received
    assert (request.method, request.path) == ("POST", "/hooks/leads")
    assert request.headers["content-type"] == "application/json"
    assert signature_problems(request, secret=updates.secret) == []
    assert signature_problems(request, secret="whsec_someone-elses-secret") == ["signature does not match"]
    event = LeadEvent.objects.get(lead=lead, kind="lead.updated")
    assert request.headers["idempotency-key"] == str(event.event_id) == str(delivery.event_id)
    assert request.headers["x-leads-event"] == "lead.updated"
    assert request.headers["user-agent"] == "leadmgmt-webhooks/1"
    body = request.json()
    assert body["id"] == str(event.event_id)
    assert body["event"] == "lead.updated"
    assert body["version"] == 2
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


def test_a_stale_timestamp_is_what_a_receiver_refuses(updates, delivered, receiver):
    # The replay window check is only worth something if it can fail.
    delivered(updates)
    (request,) = receiver.received
    stale = replace(request, headers={**request.headers, "x-leads-timestamp": "1000000000"})
    assert signature_problems(stale, secret=updates.secret) == [
        "stale or missing timestamp '1000000000'",
        "signature does not match",
    ]


def test_a_server_error_is_retried_with_backoff_until_the_receiver_takes_it(
    updates, delivered, receiver, django_capture_on_commit_callbacks
):
    # given a receiver that fails once with 500, then accepts
    receiver.answer(Reply(500, "boom"), Reply(200))
    # when the first attempt fails
    before = timezone.now()
    delivery = delivered(updates)
    # then the delivery waits for its backoff (between half and all of 30 s after the first try)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.FAILED, 1, 500)
    assert "HTTP 500" in delivery.last_error and "boom" in delivery.last_error
    assert before + timedelta(seconds=15) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert tasks.sweep_webhook_deliveries(timezone.now()) == 0
    assert len(receiver.received) == 1
    # and the sweeper sends it again once the backoff has passed
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_webhook_deliveries(delivery.next_attempt_at + timedelta(seconds=1)) == 1
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
    assert first.body == second.body


def test_a_retry_waits_at_least_as_long_as_retry_after(updates, delivered, receiver):
    receiver.answer(Reply(429, "slow down", headers={"Retry-After": "900"}))
    delivery = delivered(updates)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at >= delivery.last_attempt_at + timedelta(seconds=900)


def test_a_client_error_makes_the_delivery_dead_without_retries(updates, delivered, receiver):
    # given a receiver that rejects the body
    receiver.answer(Reply(422, {"error": "unknown field"}))
    delivery = delivered(updates)
    # then the delivery is dead at once and nothing is due
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.DEAD, 1, 422)
    assert "unknown field" in delivery.last_error
    assert delivery.next_attempt_at is None
    # so no sweep, however late, and no second task send it again
    assert tasks.sweep_webhook_deliveries(timezone.now() + timedelta(days=30)) == 0
    assert services.deliver(delivery.pk) == Outcome.DEAD
    assert len(receiver.received) == 1


def test_a_delivery_is_dead_after_the_last_allowed_attempt(
    updates, delivered, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    receiver.answer(*[Reply(503, "down")] * 5)
    delivery = delivered(updates)
    later = timezone.now()
    for _ in range(4):
        later += timedelta(hours=2)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.sweep_webhook_deliveries(later)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.DEAD, 3, None)
    assert len(receiver.received) == 3


def test_an_attempt_that_never_reported_back_counts_towards_the_limit(updates, queued, receiver, settings):
    # given a delivery whose every allowed attempt was claimed by a worker that died mid-send
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    delivery = queued(updates)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=2, claimed_until=None)
    # when the task runs again
    assert services.deliver(delivery.pk) == Outcome.DEAD
    # then it gives up without sending, and says why
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert "Gave up after 2 attempts" in delivery.last_error
    assert receiver.received == []


def test_a_timeout_is_a_transient_failure(updates, delivered, receiver, settings):
    settings.WEBHOOKS_READ_TIMEOUT = 0.2
    receiver.answer(Reply(200, delay=0.6))
    delivery = delivered(updates)
    assert (delivery.status, delivery.response_status) == (DeliveryStatus.FAILED, None)
    assert "Timed out" in delivery.last_error


def test_a_target_that_now_resolves_to_loopback_is_refused_at_delivery_time(updates, delivered, receiver, settings):
    # given a subscription saved while private targets were allowed (or whose host
    # started resolving to a private address since)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    # when an event is delivered
    delivery = delivered(updates)
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


def test_an_unreachable_receiver_is_a_transient_failure(subscribe, delivered):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = delivered(subscribe(WebhookEvent.UPDATED, url=f"http://127.0.0.1:{port}/hooks"))
    assert delivery.status == DeliveryStatus.FAILED
    assert "Connection failed" in delivery.last_error


def test_deliveries_of_a_paused_subscription_wait_until_it_is_resumed(
    updates, queued, receiver, django_capture_on_commit_callbacks
):
    # given a queued delivery whose subscription is paused before it is sent
    delivery = queued(updates)
    services.subscriptions_set_active([updates.pk], active=False)
    # then neither the task nor the sweeper sends it
    assert services.deliver(delivery.pk) == Outcome.HELD
    assert tasks.sweep_webhook_deliveries(timezone.now() + timedelta(hours=1)) == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    # and once resumed the sweeper does
    services.subscriptions_set_active([updates.pk], active=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_webhook_deliveries(timezone.now() + timedelta(hours=1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1


def test_a_lost_task_is_queued_again_by_the_periodic_sweeper(
    updates, queued, receiver, django_capture_on_commit_callbacks
):
    # given a delivery whose task never ran, now due
    delivery = queued(updates)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # when the registered periodic job runs
    with django_capture_on_commit_callbacks(execute=True):
        assert periodic.run("sweep_webhook_deliveries") == 1
    # then it is delivered
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1


def test_a_sweep_queues_a_due_delivery_once(updates, queued, django_capture_on_commit_callbacks):
    # given a due delivery
    delivery = queued(updates)
    later = delivery.next_attempt_at + timedelta(seconds=1)
    # when two sweeps run at the same moment, the first one's message not yet taken
    with django_capture_on_commit_callbacks(execute=False):
        first = tasks.sweep_webhook_deliveries(later)
        second = tasks.sweep_webhook_deliveries(later)
    # then only the first queued it
    assert (first, second) == (1, 0)


def test_the_sweep_leaves_deliveries_that_are_not_due(updates, queued):
    delivery = queued(updates)
    assert tasks.sweep_webhook_deliveries(delivery.next_attempt_at - timedelta(seconds=1)) == 0


def test_replay_sends_a_delivered_event_again_with_the_same_id(
    updates, delivered, receiver, django_capture_on_commit_callbacks
):
    delivery = delivered(updates)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.replay_deliveries([delivery.pk]) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    first, second = receiver.received
    assert first.body == second.body
    assert second.headers["idempotency-key"] == str(delivery.event_id)


def test_replay_revives_a_dead_delivery_with_a_fresh_count_of_attempts(
    updates, delivered, receiver, django_capture_on_commit_callbacks
):
    # given a delivery that died on a 410 the receiver has since fixed
    receiver.answer(Reply(410, "gone"))
    delivery = delivered(updates)
    assert delivery.status == DeliveryStatus.DEAD
    # when it is replayed
    with django_capture_on_commit_callbacks(execute=True):
        tasks.replay_deliveries([delivery.pk])
    # then it is delivered
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
        "",
    )
    assert len(receiver.received) == 2


def test_the_replay_service_rearms_without_sending_and_leaves_paused_webhooks_alone(
    updates, subscribe, manager, receiver, django_capture_on_commit_callbacks
):
    # given two dead deliveries, one of a webhook since paused
    creations = subscribe(WebhookEvent.CREATED)
    receiver.answer(Reply(410, "gone"), Reply(410, "gone"))
    with django_capture_on_commit_callbacks(execute=True):
        tag(LeadFactory(), manager)
        create_lead(manager)
    live, paused = updates.deliveries.get(), creations.deliveries.get()
    assert {live.status, paused.status} == {DeliveryStatus.DEAD}
    services.subscriptions_set_active([creations.pk], active=False)
    # when both are replayed through the service (no commit: nothing queued yet)
    with django_capture_on_commit_callbacks(execute=False):
        replayed = services.replay_deliveries([live.pk, paused.pk])
    # then only the active webhook's delivery is pending again, from zero attempts, and nothing was sent
    assert replayed == [live.pk]
    live.refresh_from_db()
    paused.refresh_from_db()
    assert (live.status, live.attempts, live.claimed_until) == (DeliveryStatus.PENDING, 0, None)
    assert live.next_attempt_at is not None
    assert paused.status == DeliveryStatus.DEAD
    assert len(receiver.received) == 2


def test_delivery_replay_refuses_a_paused_webhook(updates, delivered):
    # given a delivered event of a webhook that is then paused
    delivery = delivered(updates)
    services.subscriptions_set_active([updates.pk], active=False)
    delivery.refresh_from_db()
    # when it is replayed, then Conflict, and nothing changed
    with pytest.raises(Conflict):
        tasks.delivery_replay(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_an_unknown_delivery_is_missing():
    assert services.deliver(987654) == Outcome.MISSING


def test_a_delivered_delivery_is_not_sent_twice(updates, delivered, receiver):
    delivery = delivered(updates)
    assert services.deliver(delivery.pk) == Outcome.NOTHING_TO_SEND
    assert tasks.deliver_webhook(delivery.pk) == "nothing_to_send"
    assert len(receiver.received) == 1


def test_a_lead_created_through_the_service_reaches_the_receiver_as_created_and_scored(
    agent, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a receiver subscribed to creations and scores
    subscription = subscribe(WebhookEvent.CREATED, WebhookEvent.SCORED)
    # when an agent creates a lead and the transaction commits (the pipeline runs in-process)
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(agent)
    # then the receiver got both events for it, signed, in order, the score included in the latter
    assert [request.json()["event"] for request in receiver.received] == ["lead.created", "lead.scored"]
    lead.refresh_from_db()
    created, scored = (request.json() for request in receiver.received)
    assert created["lead"]["id"] == scored["lead"]["id"] == lead.public_id
    assert created["version"] == scored["version"] == 1
    assert scored["score"] == scored["lead"]["score"] == lead.score is not None
    assert all(signature_problems(request, secret=subscription.secret) == [] for request in receiver.received)
    assert set(subscription.deliveries.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
