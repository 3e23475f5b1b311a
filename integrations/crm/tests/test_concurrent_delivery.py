"""Deliveries overlapping other work: a second worker, a save landing mid-send.
These tests commit for real, so other threads see the data."""

import threading

import pytest
from django.db import connection

from integrations.crm.models import SyncStatus
from integrations.crm.services import deliver, enqueue_sync
from integrations.crm.tasks import deliver_crm_sync
from integrations.crm.tests.conftest import Reply
from integrations.outbox import Outcome
from leads.models import Lead
from leads.tests.factories import LeadFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_record_at_once_send_it_once(webhook_target):
    # The SQLite test database lives in memory with a shared cache, where a second
    # connection gets "table is locked" at once instead of waiting as it does on the
    # file database the app uses; so this one runs in the PostgreSQL pass.
    if connection.vendor != "postgresql":
        pytest.skip("concurrent connections are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    # given a receiver that takes moment to answer (within the 0.5 s read timeout)
    webhook_target.answer(Reply(200, delay=0.3))
    (record,) = enqueue_sync(LeadFactory())
    start = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            start.wait()
            outcomes.append(deliver(record.pk))
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
    assert len(webhook_target.received) == 1
    record.refresh_from_db()
    assert (record.status, record.attempts) == (SyncStatus.SYNCED, 1)


@pytest.mark.django_db(transaction=True)
def test_a_version_saved_while_sending_is_sent_right_after(webhook_target, celery_eager):
    # given a lead whose version 1 is on its way to the receiver
    lead = LeadFactory(contact__first_name="Ada")
    (record,) = enqueue_sync(lead)

    def save_version_2_meanwhile():
        try:
            Lead.objects.filter(pk=lead.pk).update(version=2)
            lead.contact.first_name = "Grace"
            lead.contact.save()
            # the pipeline's enqueue for version 2 finds the record in flight: nothing to queue
            assert enqueue_sync(Lead.objects.get(pk=lead.pk)) == []
        finally:
            connection.close()

    webhook_target.answer(Reply(200, before=save_version_2_meanwhile), Reply(200))
    # when the version 1 delivery task finishes
    assert deliver_crm_sync(record.pk) == Outcome.SENT
    # then version 2 is sent straight after, in order
    assert [request.json()["version"] for request in webhook_target.received] == [1, 2]
    assert webhook_target.received[1].json()["lead"]["contact"]["first_name"] == "Grace"
    record.refresh_from_db()
    assert (record.status, record.synced_version, record.wanted_version) == (SyncStatus.SYNCED, 2, 2)
