"""The after-save pipeline in-process: outbox, idempotency, stale versions, failures."""

import pytest
from django.db import transaction

from integrations import pipeline
from integrations.models import PipelineJob, PipelineJobStatus
from leads.api.serializers import LeadInput
from leads.models import Lead, ProcessingStatus
from leads.services import LeadManagementService
from leads.tests.factories import seed_payload

pytestmark = pytest.mark.django_db


def valid_seed_lead() -> dict:
    data = LeadInput(data=seed_payload())
    data.is_valid(raise_exception=True)
    return data.validated_data


def create_seed_lead(user, django_capture_on_commit_callbacks, *, execute=True):
    with django_capture_on_commit_callbacks(execute=execute) as callbacks:
        lead = LeadManagementService(user).create_lead(valid_seed_lead())
    return lead, callbacks


def test_committed_create_is_analysed_and_scored(agent, django_capture_on_commit_callbacks):
    # when a lead is created and the transaction commits
    lead, callbacks = create_seed_lead(agent, django_capture_on_commit_callbacks)
    # then one job was dispatched after commit and the lead carries the results
    assert len(callbacks) == 1
    lead.refresh_from_db()
    assert lead.processing_status == ProcessingStatus.DONE
    assert lead.processed_version == lead.version == 1
    assert 0 <= lead.score <= 100
    assert lead.score_breakdown and all("reason" in factor for factor in lead.score_breakdown)
    assert lead.metadata["market_analysis"]["locations"][0]["location"] == "San Francisco"
    assert PipelineJob.objects.get(lead=lead).status == PipelineJobStatus.DONE


def test_rolled_back_save_schedules_nothing(agent, django_capture_on_commit_callbacks):
    data = valid_seed_lead()
    # given a save inside a transaction that is rolled back
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        LeadManagementService(agent).create_lead(data)
        raise RuntimeError("the caller's transaction fails after the save")
    # then no lead, no job, and nothing was queued
    assert not Lead.objects.exists()
    assert not PipelineJob.objects.exists()
    assert callbacks == []


def test_job_run_twice_does_the_work_once(agent, django_capture_on_commit_callbacks):
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks)
    job = PipelineJob.objects.get(lead=lead)
    # when the same job is delivered again (acks_late redelivery)
    PipelineJob.objects.filter(pk=job.pk).update(status=PipelineJobStatus.PENDING)
    outcome = pipeline.process_job(job.pk)
    # then it sees the version already processed and changes nothing
    assert outcome == PipelineJobStatus.DONE
    assert PipelineJob.objects.filter(lead=lead).count() == 1


def test_stale_job_never_overwrites_newer_results(agent, django_capture_on_commit_callbacks):
    # given a lead saved twice, the first job not yet run
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    first_job = PipelineJob.objects.get(lead=lead, version=1)
    with django_capture_on_commit_callbacks(execute=True):
        LeadManagementService(agent).update_lead(lead.public_id, {"timeline": {"urgency_level": "urgent"}})
    lead.refresh_from_db()
    score_after_update = lead.score
    assert lead.processed_version == 2
    # when the late job for version 1 finally runs
    outcome = pipeline.process_job(first_job.pk)
    # then it is superseded and the version 2 results stand
    lead.refresh_from_db()
    assert outcome == PipelineJobStatus.SUPERSEDED
    assert lead.processed_version == 2
    assert lead.score == score_after_update


def test_failure_is_visible_on_the_lead_with_its_reason(agent, django_capture_on_commit_callbacks):
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    job = PipelineJob.objects.get(lead=lead)
    # when processing fails for good
    pipeline.record_failure(job.pk, ValueError("market data unreadable"), final=True)
    # then the lead says failed and why, and the job is not swept again
    lead.refresh_from_db()
    assert lead.processing_status == ProcessingStatus.FAILED
    assert "market data unreadable" in lead.processing_error
    assert PipelineJob.objects.get(pk=job.pk).status == PipelineJobStatus.FAILED
