"""Two workers running the same delivery at once (a redelivered message while the
first run is still sending) must not both send.

Runs in the PostgreSQL pass: the SQLite test database lives in memory with a shared
cache, where a second connection gets "table is locked" at once instead of waiting
as it does on the file database the app uses.
"""

import threading

import pytest
from django.db import connection

from integrations.crm.models import SyncStatus
from integrations.crm.services import DeliveryOutcome, deliver, enqueue_sync
from integrations.crm.tests.conftest import Reply
from leads.tests.factories import LeadFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_record_at_once_send_it_once(webhook_target):
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
    assert sorted(outcomes) == sorted([DeliveryOutcome.SYNCED, DeliveryOutcome.BUSY])
    assert len(webhook_target.received) == 1
    record.refresh_from_db()
    assert (record.status, record.attempts) == (SyncStatus.SYNCED, 1)
