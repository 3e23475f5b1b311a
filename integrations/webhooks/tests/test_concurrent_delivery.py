"""Deliveries overlapping other work: a second worker, a replay landing mid-send, a
lead's next delivery tried while its earlier one is in flight. These tests commit for
real, so other threads see the data (and after-commit work runs at once)."""

import threading

import pytest
from django.db import connection

from integrations.crm.tests.conftest import Reply
from integrations.outbox import Outcome
from integrations.webhooks import tasks
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery
from integrations.webhooks.services import deliver
from integrations.webhooks.tests.factories import WebhookDeliveryFactory


def queued_delivery(subscription, **fields) -> WebhookDelivery:
    """A delivery row whose task has not run yet (a real save would send it at once
    here: with no test transaction around it, after-commit work runs straight away)."""
    return WebhookDeliveryFactory(subscription=subscription, **fields)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_event_at_once_send_it_once(subscribe, receiver):
    # The SQLite test database (in memory, shared cache) answers a second writer with
    # "table is locked" instead of waiting, so this runs in the PostgreSQL pass.
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    # given a receiver that takes a moment to answer (within the read timeout)
    receiver.answer(Reply(200, delay=0.3))
    delivery = queued_delivery(subscribe())
    start = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            start.wait()
            outcomes.append(deliver(delivery.pk))
        finally:
            connection.close()

    # when two workers deliver it at the same moment
    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=10)
    # then one sent it and the other found it busy
    assert sorted(outcomes) == sorted([Outcome.SENT, Outcome.BUSY])
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


@pytest.mark.django_db(transaction=True)
def test_a_replay_made_while_an_attempt_is_in_flight_is_not_undone_by_its_result(subscribe, receiver):
    # given an attempt that the receiver fails only after someone replayed the delivery
    delivery = queued_delivery(subscribe())

    def replay_meanwhile():
        try:
            tasks.replay_deliveries([delivery.pk])  # queued at once: sent again, and taken this time
        finally:
            connection.close()

    receiver.answer(Reply(500, "boom", before=replay_meanwhile), Reply(200))
    # when the first attempt reports its failure
    deliver(delivery.pk)
    # then the replay's successful send stands instead of the stale failure
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.last_error) == (DeliveryStatus.DELIVERED, 200, "")
    assert len(receiver.received) == 2


@pytest.mark.django_db(transaction=True)
def test_a_leads_next_delivery_tried_while_its_earlier_one_is_in_flight_waits_and_follows(subscribe, receiver):
    # given two deliveries of the same lead to the same subscription, in event order
    subscription = subscribe()
    earlier = queued_delivery(subscription, lead_public_id="lead_" + "a" * 24, sequence=1)
    later = queued_delivery(subscription, lead_public_id="lead_" + "a" * 24, sequence=2)
    tried_meanwhile = []

    def deliver_later_meanwhile():
        try:
            tried_meanwhile.append(deliver(later.pk))  # another worker takes the later one's message
        finally:
            connection.close()

    receiver.answer(Reply(200, before=deliver_later_meanwhile))
    # when the earlier one's task runs, and the later one is tried while it is being sent
    assert tasks.deliver_webhook(earlier.pk) == "sent"
    # then the later one was held, and was sent once the earlier one was delivered
    assert tried_meanwhile == [Outcome.HELD]
    assert [request.json()["id"] for request in receiver.received] == [str(earlier.event_id), str(later.event_id)]
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {earlier.pk: DeliveryStatus.DELIVERED, later.pk: DeliveryStatus.DELIVERED}
