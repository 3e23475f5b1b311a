"""Delivering leads to the signed webhook, against a real HTTP server on loopback."""

import socket
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from integrations.crm.models import CrmSyncRecord, SyncStatus
from integrations.crm.selectors import due_records
from integrations.crm.services import deliver, enqueue_sync
from integrations.crm.tasks import sweep_crm_outbox
from integrations.crm.tests.conftest import Reply, signature_problems
from integrations.outbox import Outcome
from leads.core.services import LeadManagementService
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def enqueued_record(lead) -> CrmSyncRecord:
    (record,) = enqueue_sync(lead)
    return record


def test_webhook_receives_the_lead_signed_with_timestamp_and_idempotency_key(webhook_target):
    # given a lead waiting for its first sync
    lead = LeadFactory(contact__first_name="Ada", contact__email="ada@example.com")
    (record,) = enqueue_sync(lead)
    # when it is delivered
    outcome = deliver(record.pk)
    # then the receiver got one POST it can verify with the shared secret
    assert outcome == Outcome.SENT
    (request,) = webhook_target.received
    assert request.method == "POST"
    assert request.path == "/hooks/leads"
    assert request.headers["content-type"] == "application/json"
    assert signature_problems(request) == []
    assert request.headers["idempotency-key"] == f"{lead.public_id}:1"
    body = request.json()
    assert body["event"] == "lead.synced"
    assert body["version"] == 1
    assert body["lead"]["id"] == lead.public_id
    assert body["lead"]["contact"]["email"] == "ada@example.com"
    assert body["lead"]["contact"]["first_name"] == "Ada"
    # and the record says so
    record.refresh_from_db()
    assert record.status == SyncStatus.SYNCED
    assert record.synced_version == 1
    assert record.attempts == 1
    assert record.last_error == ""
    assert record.next_attempt_at is None


def test_a_receiver_with_another_secret_rejects_the_signature(webhook_target):
    # The receiver check is only worth something if it can fail.
    lead = LeadFactory()
    deliver(enqueued_record(lead).pk)
    (request,) = webhook_target.received
    assert signature_problems(request, secret="not-the-secret") == ["signature does not match"]


def test_server_errors_are_retried_by_the_sweeper_until_the_webhook_takes_the_lead(webhook_target, celery_eager):
    # given a receiver that fails twice with 500 then accepts
    webhook_target.answer(Reply(500, "boom"), Reply(503, "busy"), Reply(200))
    lead = LeadFactory()
    (record,) = enqueue_sync(lead)
    # when the first delivery fails
    assert deliver(record.pk) == Outcome.FAILED
    record.refresh_from_db()
    assert (record.status, record.attempts) == (SyncStatus.FAILED, 1)
    assert "HTTP 500" in record.last_error and "boom" in record.last_error
    # then the sweeper leaves it alone until its backoff has passed
    assert sweep_crm_outbox(timezone.now()) == 0
    assert len(webhook_target.received) == 1
    # and sends it again each time it is due
    assert sweep_crm_outbox(record.next_attempt_at + timedelta(seconds=1)) == 1
    record.refresh_from_db()
    assert (record.status, record.attempts) == (SyncStatus.FAILED, 2)
    assert "HTTP 503" in record.last_error
    assert sweep_crm_outbox(record.next_attempt_at + timedelta(seconds=1)) == 1
    # until it is synced, the attempts counted and the error cleared
    record.refresh_from_db()
    assert (record.status, record.attempts, record.synced_version) == (SyncStatus.SYNCED, 3, 1)
    assert record.last_error == ""
    assert len(webhook_target.received) == 3
    assert {request.headers["idempotency-key"] for request in webhook_target.received} == {f"{lead.public_id}:1"}


def test_a_slow_receiver_times_out_as_a_transient_failure_with_backoff(webhook_target):
    # given a receiver slower than the client's 0.5 s read timeout
    webhook_target.answer(Reply(200, delay=2.0))
    record = enqueued_record(LeadFactory())
    before = timezone.now()
    # when the delivery is attempted
    outcome = deliver(record.pk)
    # then it failed for now and waits out a backoff (30 s step, jittered to 15-30 s)
    assert outcome == Outcome.FAILED
    record.refresh_from_db()
    assert record.status == SyncStatus.FAILED
    assert "Timed out" in record.last_error
    assert before + timedelta(seconds=15) <= record.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert record.claimed_until is None
    assert not due_records(timezone.now()).filter(pk=record.pk).exists()
    assert due_records(record.next_attempt_at).filter(pk=record.pk).exists()


def test_a_refused_connection_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with override_settings(
        CRM_TARGETS=["webhook"], CRM_WEBHOOK_URL=f"http://127.0.0.1:{closed_port}/", CRM_WEBHOOK_SECRET="s"
    ):
        record = enqueued_record(LeadFactory())
        assert deliver(record.pk) == Outcome.FAILED
    record.refresh_from_db()
    assert record.status == SyncStatus.FAILED
    assert "Connection failed" in record.last_error


def test_backoff_grows_with_each_failed_attempt(webhook_target):
    webhook_target.answer(*[Reply(502)] * 3)
    record = enqueued_record(LeadFactory())
    waits = []
    for _ in range(3):
        deliver(record.pk)
        record.refresh_from_db()
        # from when the failure was recorded (the attempt itself took some time before it)
        waits.append((record.next_attempt_at - record.updated_at).total_seconds())
    # 30 s, 60 s, 120 s steps, each jittered down to at most half
    assert 15 <= waits[0] <= 30
    assert 30 <= waits[1] <= 60
    assert 60 <= waits[2] <= 120


def test_retry_after_from_a_429_is_honoured(webhook_target):
    webhook_target.answer(Reply(429, "slow down", headers={"Retry-After": "600"}))
    record = enqueued_record(LeadFactory())
    assert deliver(record.pk) == Outcome.FAILED
    record.refresh_from_db()
    assert record.status == SyncStatus.FAILED
    assert record.next_attempt_at - record.last_attempt_at >= timedelta(seconds=600)


def test_a_rejected_lead_is_dead_at_once_and_not_retried(webhook_target, celery_eager):
    # given a receiver that rejects the payload
    webhook_target.answer(Reply(422, {"error": "phone is not valid"}))
    record = enqueued_record(LeadFactory())
    # when it is delivered
    assert deliver(record.pk) == Outcome.DEAD
    # then it is dead with the receiver's reason, after one request
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
    assert record.attempts == 1
    assert "HTTP 422" in record.last_error and "phone is not valid" in record.last_error
    assert record.next_attempt_at is None
    # and neither the sweeper (even much later) nor a repeated task sends it again
    assert sweep_crm_outbox(timezone.now() + timedelta(days=30)) == 0
    assert deliver(record.pk) == Outcome.DEAD
    assert len(webhook_target.received) == 1


def test_a_long_error_response_is_truncated(webhook_target):
    webhook_target.answer(Reply(400, "x" * 50_000))
    record = enqueued_record(LeadFactory())
    deliver(record.pk)
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
    assert 100 < len(record.last_error) <= 2000


def test_the_record_is_dead_after_the_last_allowed_attempt(webhook_target):
    # given a receiver that is always down, and at most 4 attempts (fixture settings)
    webhook_target.answer(*[Reply(503)] * 10)
    record = enqueued_record(LeadFactory())
    # when it is tried four times
    outcomes = [deliver(record.pk) for _ in range(4)]
    # then the fourth failure makes it dead, and nothing more is sent
    assert outcomes == [Outcome.FAILED] * 3 + [Outcome.DEAD]
    record.refresh_from_db()
    assert (record.status, record.attempts, record.next_attempt_at) == (SyncStatus.DEAD, 4, None)
    assert deliver(record.pk) == Outcome.DEAD
    assert len(webhook_target.received) == 4


def test_delivering_the_same_version_twice_sends_it_once(webhook_target):
    record = enqueued_record(LeadFactory())
    assert deliver(record.pk) == Outcome.SENT
    # when the task runs again (a redelivered message, a late duplicate)
    assert deliver(record.pk) == Outcome.NOTHING_TO_SEND
    # then the receiver saw one request, and the attempt was not counted
    assert len(webhook_target.received) == 1
    record.refresh_from_db()
    assert record.attempts == 1


def test_enqueueing_the_same_version_again_changes_nothing(webhook_target):
    lead = LeadFactory()
    (record,) = enqueue_sync(lead)
    deliver(record.pk)
    # when the pipeline runs again for the same version
    assert enqueue_sync(lead) == []
    # then there is still one record, synced, and nothing more was sent
    assert CrmSyncRecord.objects.filter(lead=lead).count() == 1
    assert CrmSyncRecord.objects.get(lead=lead).status == SyncStatus.SYNCED
    assert len(webhook_target.received) == 1


def test_a_newer_version_is_synced_again(webhook_target, manager):
    # given a lead synced at version 1
    lead = LeadFactory(contact__first_name="Ada")
    deliver(enqueued_record(lead).pk)
    # when it is edited (version 2) and the pipeline enqueues it
    lead = LeadManagementService(manager).update_lead(lead.public_id, {"contact": {"first_name": "Grace"}})
    assert lead.version == 2
    (record,) = enqueue_sync(lead)
    assert (record.status, record.wanted_version, record.attempts) == (SyncStatus.PENDING, 2, 0)
    assert deliver(record.pk) == Outcome.SENT
    # then the receiver got the new data under the new version's key
    first, second = webhook_target.received
    assert second.json()["version"] == 2
    assert second.json()["lead"]["contact"]["first_name"] == "Grace"
    assert second.headers["idempotency-key"] == f"{lead.public_id}:2"
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]
    record.refresh_from_db()
    assert (record.status, record.synced_version) == (SyncStatus.SYNCED, 2)


def test_a_stale_enqueue_does_not_move_the_record_back(webhook_target, manager):
    lead = LeadFactory()
    stale_copy = LeadFactory._meta.model.objects.get(pk=lead.pk)  # still at version 1
    lead = LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["vip"]})
    (record,) = enqueue_sync(lead)
    # when a late pipeline run for version 1 enqueues
    assert enqueue_sync(stale_copy) == []
    record.refresh_from_db()
    assert record.wanted_version == 2
    assert record.idempotency_key == f"{lead.public_id}:2"


def test_a_newer_version_revives_a_dead_record(webhook_target, manager):
    webhook_target.answer(Reply(422, "bad"))
    lead = LeadFactory()
    record = enqueued_record(lead)
    deliver(record.pk)
    record.refresh_from_db()
    assert record.status == SyncStatus.DEAD
    # when the lead is fixed and saved again
    lead = LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["fixed"]})
    assert [r.pk for r in enqueue_sync(lead)] == [record.pk]
    # then the new version gets a fresh set of attempts, and goes through
    assert deliver(record.pk) == Outcome.SENT
    record.refresh_from_db()
    assert (record.status, record.attempts, record.synced_version) == (SyncStatus.SYNCED, 1, 2)


def test_a_newer_version_waits_for_the_running_backoff(webhook_target, manager):
    # given a record in backoff after a 503
    webhook_target.answer(Reply(503))
    lead = LeadFactory()
    record = enqueued_record(lead)
    deliver(record.pk)
    record.refresh_from_db()
    retry_at = record.next_attempt_at
    # when a newer version is enqueued
    lead = LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["new"]})
    # then nothing is sent now: the record keeps its backoff and will carry version 2
    assert enqueue_sync(lead) == []
    record.refresh_from_db()
    assert (record.status, record.wanted_version, record.next_attempt_at) == (SyncStatus.FAILED, 2, retry_at)


def test_delivery_takes_a_bounded_number_of_queries(webhook_target, django_assert_max_num_queries):
    record = enqueued_record(LeadFactory())
    with django_assert_max_num_queries(12):
        deliver(record.pk)
