"""The outbox around the deliveries: which targets get records, what a lead's sync
state says, the sweeper, in-flight claims and the Celery tasks."""

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from django.utils import timezone

from integrations.crm.models import CrmSyncRecord, SyncStatus, SyncTarget
from integrations.crm.selectors import due_records, sync_state_for_lead
from integrations.crm.services import deliver, enqueue_sync
from integrations.crm.tasks import deliver_crm_sync, sweep_crm_outbox
from integrations.crm.tests.conftest import HUBSPOT_TOKEN, WEBHOOK_SECRET, Reply
from integrations.outbox import Outcome
from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_with_no_target_configured_nothing_is_recorded_and_the_lead_says_so(no_crm_configured):
    lead = LeadFactory()
    assert enqueue_sync(lead) == []
    assert not CrmSyncRecord.objects.exists()
    assert sync_state_for_lead(lead) == [
        {
            "target": None,
            "status": "not_configured",
            "attempts": 0,
            "last_error": "",
            "synced_version": None,
            "last_attempt_at": None,
            "next_retry_at": None,
        }
    ]


def test_a_configured_target_left_out_of_crm_targets_is_off(webhook_target):
    with override_settings(CRM_TARGETS=["hubspot"], HUBSPOT_ACCESS_TOKEN=""):
        lead = LeadFactory()
        assert enqueue_sync(lead) == []
        assert sync_state_for_lead(lead)[0]["status"] == "not_configured"


def test_the_webhook_needs_a_secret_to_be_on(webhook_target):
    with override_settings(CRM_WEBHOOK_SECRET=""):
        assert enqueue_sync(LeadFactory()) == []


def test_each_configured_target_gets_one_record(webhook_server, hubspot_server):
    with override_settings(
        CRM_TARGETS=["webhook", "hubspot"],
        CRM_WEBHOOK_URL=webhook_server.base_url,
        CRM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        HUBSPOT_BASE_URL=hubspot_server.base_url,
        HUBSPOT_ACCESS_TOKEN=HUBSPOT_TOKEN,
    ):
        lead = LeadFactory()
        records = enqueue_sync(lead)
        assert [record.target for record in records] == [SyncTarget.WEBHOOK, SyncTarget.HUBSPOT]
        assert {(r.status, r.wanted_version, r.idempotency_key) for r in records} == {
            (SyncStatus.PENDING, 1, f"{lead.public_id}:1")
        }
        assert [state["target"] for state in sync_state_for_lead(lead)] == ["webhook", "hubspot"]
        assert {state["status"] for state in sync_state_for_lead(lead)} == {"pending"}


def test_sync_state_shows_the_failure_and_when_it_is_retried(webhook_target):
    webhook_target.answer(Reply(503, "maintenance"))
    lead = LeadFactory()
    (record,) = enqueue_sync(lead)
    deliver(record.pk)
    record.refresh_from_db()
    (state,) = sync_state_for_lead(lead)
    assert state["target"] == "webhook"
    assert state["status"] == "failed"
    assert state["attempts"] == 1
    assert "HTTP 503" in state["last_error"] and "maintenance" in state["last_error"]
    assert state["synced_version"] is None
    assert state["last_attempt_at"].endswith("Z")
    assert state["next_retry_at"].endswith("Z")
    assert state["next_retry_at"] > state["last_attempt_at"]


def test_sync_state_of_a_synced_lead(webhook_target):
    lead = LeadFactory()
    (record,) = enqueue_sync(lead)
    deliver(record.pk)
    (state,) = sync_state_for_lead(lead)
    assert (state["status"], state["synced_version"], state["last_error"], state["next_retry_at"]) == (
        "synced",
        1,
        "",
        None,
    )


def test_a_target_not_reached_yet_shows_as_pending(webhook_target):
    (state,) = sync_state_for_lead(LeadFactory())
    assert (state["target"], state["status"], state["attempts"]) == ("webhook", "pending", 0)


def test_sync_state_takes_one_query_and_none_when_prefetched(webhook_target, django_assert_num_queries):
    lead = LeadFactory()
    enqueue_sync(lead)
    with django_assert_num_queries(1):
        sync_state_for_lead(lead)
    lead = Lead.objects.prefetch_related("crm_sync_records").get(pk=lead.pk)
    with django_assert_num_queries(0):
        sync_state_for_lead(lead)


def test_a_delivery_in_flight_is_not_sent_a_second_time(webhook_target):
    # given a record another worker has claimed and is sending
    (record,) = enqueue_sync(LeadFactory())
    CrmSyncRecord.objects.filter(pk=record.pk).update(claimed_until=timezone.now() + timedelta(minutes=5))
    # when a duplicate task runs
    assert deliver(record.pk) == Outcome.BUSY
    # then it sends nothing and counts no attempt
    assert webhook_target.received == []
    record.refresh_from_db()
    assert record.attempts == 0


def test_a_delivery_whose_worker_died_is_swept_and_sent_once_the_claim_expires(webhook_target, celery_eager):
    # given a record claimed by a worker that died mid-send (attempt counted, never finished)
    (record,) = enqueue_sync(LeadFactory())
    expired = timezone.now() - timedelta(seconds=1)
    CrmSyncRecord.objects.filter(pk=record.pk).update(attempts=1, claimed_until=expired, next_attempt_at=expired)
    # when the sweeper runs
    assert sweep_crm_outbox(timezone.now()) == 1
    # then the record is sent and synced
    record.refresh_from_db()
    assert (record.status, record.attempts, record.claimed_until) == (SyncStatus.SYNCED, 2, None)
    assert len(webhook_target.received) == 1


def test_the_sweeper_queues_due_records_once(webhook_target, celery_eager):
    # given a record whose queued delivery was lost (never ran)
    (record,) = enqueue_sync(LeadFactory())
    later = record.next_attempt_at + timedelta(seconds=1)
    assert due_records(later).filter(pk=record.pk).exists()
    # when two sweeps run at that time
    assert sweep_crm_outbox(later) == 1
    assert sweep_crm_outbox(later) == 0
    # then it was sent once
    assert len(webhook_target.received) == 1


def test_the_sweeper_ignores_records_of_targets_no_longer_configured(webhook_target, celery_eager):
    (record,) = enqueue_sync(LeadFactory())
    later = record.next_attempt_at + timedelta(seconds=1)
    with override_settings(CRM_WEBHOOK_URL=""):
        assert not due_records(later).exists()
        assert sweep_crm_outbox(later) == 0
        assert deliver(record.pk) == Outcome.HELD
    assert webhook_target.received == []


def test_the_celery_tasks_wrap_the_services(webhook_target, celery_eager):
    (record,) = enqueue_sync(LeadFactory())
    assert deliver_crm_sync.apply(args=[record.pk]).get() == "sent"
    assert deliver_crm_sync.apply(args=[record.pk]).get() == "nothing_to_send"
    assert deliver_crm_sync.apply(args=[record.pk + 1000]).get() == "missing"
    assert sweep_crm_outbox() == 0


def test_delivery_task_is_acked_late_with_time_limits():
    assert deliver_crm_sync.acks_late is True
    assert deliver_crm_sync.soft_time_limit < deliver_crm_sync.time_limit


def test_a_webhook_url_without_secret_is_reported_by_the_checks():
    with override_settings(
        CRM_TARGETS=["webhook", "salesforce"], CRM_WEBHOOK_URL="https://crm.example", CRM_WEBHOOK_SECRET=""
    ):
        ids = {message.id for message in run_checks()}
    assert {"crm.W001", "crm.W002"} <= ids


def test_a_complete_configuration_passes_the_checks(webhook_target):
    ids = {message.id for message in run_checks()}
    assert not {"crm.W001", "crm.W002"} & ids


def test_a_record_whose_attempts_never_reported_back_is_dead_at_the_limit(webhook_target):
    # given a record whose every attempt died with its worker (claims expired, no result)
    (record,) = enqueue_sync(LeadFactory())
    expired = timezone.now() - timedelta(seconds=1)
    CrmSyncRecord.objects.filter(pk=record.pk).update(attempts=4, claimed_until=expired, next_attempt_at=expired)
    # when it is picked up once more
    assert deliver(record.pk) == Outcome.DEAD
    # then it gives up instead of looping forever
    record.refresh_from_db()
    assert (record.status, record.next_attempt_at, record.claimed_until) == (SyncStatus.DEAD, None, None)
    assert "Gave up after 4 attempts" in record.last_error
    assert webhook_target.received == []


def test_an_unexpected_error_is_recorded_as_a_failed_attempt_and_raised(webhook_target):
    # given a lead whose contact row is missing (data the representation cannot render)
    lead = LeadFactory(contact=None)
    (record,) = enqueue_sync(lead)
    # when it is delivered, the error surfaces to the worker
    with pytest.raises(Lead.contact.RelatedObjectDoesNotExist):
        deliver(record.pk)
    # and the record counts the attempt and is not left claimed
    record.refresh_from_db()
    assert (record.status, record.attempts, record.claimed_until) == (SyncStatus.FAILED, 1, None)
    assert record.last_error.startswith("Unexpected RelatedObjectDoesNotExist")
    assert webhook_target.received == []


def test_an_unusable_target_url_is_dead_at_once():
    with override_settings(CRM_TARGETS=["webhook"], CRM_WEBHOOK_URL="crm.example.com/hook", CRM_WEBHOOK_SECRET="s"):
        (record,) = enqueue_sync(LeadFactory())
        assert deliver(record.pk) == Outcome.DEAD
    record.refresh_from_db()
    assert "check the target's URL" in record.last_error
