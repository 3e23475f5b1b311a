"""A lead's deliveries to a subscription go in the order its events were made: a later
one waits while an earlier one is still on its way (pending or retrying), and goes as
soon as that one is settled. The payload's id is the event's own, so a retry and a
replay resend the same id, Idempotency-Key and body."""

from datetime import timedelta

import pytest

from integrations.crm.tests.conftest import LoopbackServer, Reply
from integrations.outbox import Outcome
from integrations.webhooks import services, tasks
from integrations.webhooks.models import DeliveryStatus, WebhookEvent
from integrations.webhooks.tests.saves import create_lead, deliveries_of, relayed_deliveries, tag
from leads.events.models import LeadEvent
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def event_ids(requests) -> list[str]:
    return [request.json()["id"] for request in requests]


def updated_ids(lead) -> list[str]:
    events = LeadEvent.objects.filter(lead=lead, kind="lead.updated").order_by("pk")
    return [str(event_id) for event_id in events.values_list("event_id", flat=True)]


def statuses(subscription, lead=None) -> list[str]:
    """The subscription's delivery statuses in sequence order (of one lead, if given)."""
    return [
        delivery.status
        for delivery in deliveries_of(subscription)
        if lead is None or delivery.lead_public_id == lead.public_id
    ]


@pytest.fixture
def three_updates(manager, django_capture_on_commit_callbacks):
    """``three_updates(lead)``: three saves of the lead committed back to back, then
    their after-commit work run (relay, fan-out, the deliveries' first attempts)."""

    def save(lead):
        with django_capture_on_commit_callbacks(execute=True):
            for name in ("first", "second", "third"):
                tag(lead, manager, name)

    return save


def sweep_after_backoff(delivery, django_capture_on_commit_callbacks) -> int:
    delivery.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        return tasks.sweep_webhook_deliveries(delivery.next_attempt_at + timedelta(seconds=1))


def test_a_leads_later_deliveries_wait_while_its_first_is_retried(
    subscribe, receiver, three_updates, django_capture_on_commit_callbacks
):
    # given a subscription to updates and a receiver that fails the first request once
    subscription = subscribe(WebhookEvent.UPDATED)
    receiver.answer(Reply(500, "busy"))
    lead = LeadFactory()
    # when three saves of the lead are delivered
    three_updates(lead)
    # then only the first was tried; it waits for its retry and the later two wait for it
    first, second, third = deliveries_of(subscription)
    assert event_ids(receiver.received) == updated_ids(lead)[:1]
    assert statuses(subscription) == [DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.PENDING]
    assert (second.attempts, third.attempts) == (0, 0)
    assert services.deliver(third.pk) == Outcome.HELD
    assert tasks.deliver_webhook(second.pk) == "held"
    assert len(receiver.received) == 1
    # when the first is retried after its backoff and taken
    assert sweep_after_backoff(first, django_capture_on_commit_callbacks) == 1
    # then the later two follow at once, in the order of their events
    assert event_ids(receiver.received) == [updated_ids(lead)[0], *updated_ids(lead)]
    assert statuses(subscription) == [DeliveryStatus.DELIVERED] * 3
    assert [delivery.sequence for delivery in deliveries_of(subscription)] == sorted(
        LeadEvent.objects.filter(lead=lead, kind="lead.updated").values_list("pk", flat=True)
    )


def test_a_dead_delivery_no_longer_holds_the_leads_queue(
    subscribe, receiver, three_updates, django_capture_on_commit_callbacks
):
    # given a lead whose first delivery failed and whose later ones wait for it
    subscription = subscribe(WebhookEvent.UPDATED)
    receiver.answer(Reply(500, "busy"), Reply(422, "never"))
    lead = LeadFactory()
    three_updates(lead)
    first = deliveries_of(subscription)[0]
    assert len(receiver.received) == 1
    # when its retry is rejected for good
    sweep_after_backoff(first, django_capture_on_commit_callbacks)
    # then it is dead and the later two went, in order
    assert statuses(subscription) == [DeliveryStatus.DEAD, DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED]
    assert event_ids(receiver.received) == [updated_ids(lead)[0], *updated_ids(lead)]


def test_a_dead_earlier_delivery_does_not_hold_a_later_save(
    manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a lead whose delivery died
    subscription = subscribe(WebhookEvent.UPDATED)
    receiver.answer(Reply(410, "gone"))
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        tag(lead, manager, "first")
    # when the lead is saved again
    with django_capture_on_commit_callbacks(execute=True):
        tag(lead, manager, "second")
    # then the new delivery is sent at once
    assert statuses(subscription) == [DeliveryStatus.DEAD, DeliveryStatus.DELIVERED]
    assert event_ids(receiver.received) == updated_ids(lead)


def test_another_leads_deliveries_are_not_held(manager, subscribe, receiver, django_capture_on_commit_callbacks):
    # given a receiver that fails the first request once
    subscription = subscribe(WebhookEvent.UPDATED)
    receiver.answer(Reply(500, "busy"))
    held_lead, other_lead = LeadFactory(), LeadFactory()
    # when two saves of one lead and one of another are delivered
    with django_capture_on_commit_callbacks(execute=True):
        tag(held_lead, manager, "first")
        tag(held_lead, manager, "second")
        tag(other_lead, manager, "first")
    # then the first lead's second delivery waits, and the other lead's went
    assert statuses(subscription, held_lead) == [DeliveryStatus.FAILED, DeliveryStatus.PENDING]
    assert statuses(subscription, other_lead) == [DeliveryStatus.DELIVERED]
    assert event_ids(receiver.received) == [updated_ids(held_lead)[0], *updated_ids(other_lead)]


def test_a_failing_subscription_does_not_hold_another_subscriptions_deliveries(
    manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given two subscriptions to updates, at two receivers; the second fails its first request
    healthy = subscribe(WebhookEvent.UPDATED)
    failing_receiver = LoopbackServer().start()
    try:
        failing_receiver.answer(Reply(500, "busy"))
        failing = subscribe(WebhookEvent.UPDATED, url=f"{failing_receiver.base_url}/hooks/leads")
        lead = LeadFactory()
        # when two saves of the same lead are delivered
        with django_capture_on_commit_callbacks(execute=True):
            tag(lead, manager, "first")
            tag(lead, manager, "second")
    finally:
        failing_receiver.stop()
    # then the failing subscription's queue for the lead waits, the healthy one's went
    assert statuses(failing) == [DeliveryStatus.FAILED, DeliveryStatus.PENDING]
    assert statuses(healthy) == [DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED]
    assert event_ids(receiver.received) == updated_ids(lead)


# --- the payload id is the event's -------------------------------------------------------


def test_a_retry_and_a_replay_resend_the_same_id_key_and_body(
    manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    # given a lead's creation, refused once by the receiver
    subscription = subscribe(WebhookEvent.CREATED)
    receiver.answer(Reply(503, "down"))
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(manager)
    delivery = subscription.deliveries.get()
    # when it is retried after its backoff, the lead changes, and the delivery is replayed
    sweep_after_backoff(delivery, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        tag(lead, manager, "changed-since")
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.replay_deliveries([delivery.pk]) == 1
    # then the three requests carry the event's id as payload id and Idempotency-Key, and one body
    created = LeadEvent.objects.get(lead=lead, kind="lead.created")
    first, retry, replay = receiver.received
    assert {request.headers["idempotency-key"] for request in (first, retry, replay)} == {str(created.event_id)}
    assert set(event_ids([first, retry, replay])) == {str(created.event_id)}
    assert first.body == retry.body == replay.body
    assert replay.json()["lead"]["tags"] == []
    assert subscription.deliveries.count() == 1


def test_the_same_event_has_the_same_id_at_every_subscription(manager, subscribe, receiver):
    # given two subscriptions to updates
    first = subscribe(WebhookEvent.UPDATED)
    second = subscribe(WebhookEvent.UPDATED, url=f"{receiver.base_url}/hooks/other")
    lead = LeadFactory()
    # when a save's event is relayed and its deliveries sent
    tag(lead, manager)
    for delivery in relayed_deliveries(first) + deliveries_of(second):
        assert tasks.deliver_webhook(delivery.pk) == "sent"
    # then both carry the event's id, so a receiver behind both can drop the repeat
    (event_id,) = updated_ids(lead)
    assert sorted(request.path for request in receiver.received) == ["/hooks/leads", "/hooks/other"]
    assert event_ids(receiver.received) == [event_id, event_id]


def test_a_leads_events_relayed_together_queue_one_delivery_and_the_others_follow_it(
    manager, subscribe, receiver, django_capture_on_commit_callbacks
):
    from leads.tests.lead_events import relay_recorded_events

    # given three saves of a lead whose events are relayed together (a busy relay's batch)
    subscription = subscribe(WebhookEvent.UPDATED)
    lead = LeadFactory()
    for name in ("first", "second", "third"):
        tag(lead, manager, name)
    # when the relay commits
    with django_capture_on_commit_callbacks() as queued:
        relay_recorded_events()
    # then one delivery task was queued, for the first (the two later would only be held)
    first, _, _ = deliveries_of(subscription)
    sends = [callback for callback in queued if callback.args[:1] == (tasks.deliver_webhook,)]
    assert [callback.args for callback in sends] == [(tasks.deliver_webhook, first.pk)]
    # and once it runs, the later two follow it, in the order of their events
    with django_capture_on_commit_callbacks(execute=True):
        sends[0]()
    assert event_ids(receiver.received) == updated_ids(lead)
    assert statuses(subscription) == [DeliveryStatus.DELIVERED] * 3
