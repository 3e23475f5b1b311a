"""The after-save pipeline in-process: outbox, idempotency, stale versions, failures."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from integrations import pipeline
from integrations import tasks as integrations_tasks
from integrations.models import PipelineJob, PipelineJobStatus
from leads.core.inputs import LeadInput
from leads.core.services import LeadManagementService
from leads.models import AuditEntry, FollowUpTask, Lead, ProcessingStatus
from leads.tests.factories import LeadFactory, seed_payload
from leads.tests.lead_events import relay_recorded_events

pytestmark = pytest.mark.django_db


def valid_seed_lead() -> dict:
    data = LeadInput(data=seed_payload())
    data.is_valid(raise_exception=True)
    return data.validated_data


def create_seed_lead(user, django_capture_on_commit_callbacks, *, execute=True):
    """A lead created through the service; with ``execute=False`` its events are relayed
    (its pipeline job planned) but the job is not run."""
    if not execute:
        return save_unprocessed(
            django_capture_on_commit_callbacks, lambda: LeadManagementService(user).create_lead(valid_seed_lead())
        ), []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lead = LeadManagementService(user).create_lead(valid_seed_lead())
    return lead, callbacks


def save_unprocessed(django_capture_on_commit_callbacks, save):
    """Run ``save`` and relay its events, which plans its pipeline job, without sending the job."""
    with django_capture_on_commit_callbacks(execute=False):
        result = save()
        relay_recorded_events()
    return result


def processed(job_id: int) -> str:
    """Run one job as a worker does; its outcome ("skipped" when it was finished already)."""
    return pipeline.process_jobs([job_id]).outcomes.get(job_id, "skipped")


def test_committed_create_is_analysed_and_scored(agent, django_capture_on_commit_callbacks):
    # when a lead is created and the transaction commits
    lead, callbacks = create_seed_lead(agent, django_capture_on_commit_callbacks)
    # then its events were relayed after commit, its job ran, and the lead carries the results
    assert callbacks[0].func.__name__ == "send_relay"
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
    outcome = processed(job.pk)
    # then it sees the version already processed and changes nothing
    assert outcome == PipelineJobStatus.DONE
    assert PipelineJob.objects.filter(lead=lead).count() == 1


def test_stale_job_never_overwrites_newer_results(agent, django_capture_on_commit_callbacks):
    # given a lead saved twice, neither job run yet
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    save_unprocessed(
        django_capture_on_commit_callbacks,
        lambda: LeadManagementService(agent).update_lead(lead.public_id, {"timeline": {"urgency_level": "urgent"}}),
    )
    first_job, second_job = PipelineJob.objects.filter(lead=lead).order_by("version")
    assert pipeline.process_jobs([second_job.pk]).outcomes == {second_job.pk: PipelineJobStatus.DONE}
    lead.refresh_from_db()
    score_after_update = lead.score
    assert lead.processed_version == 2
    # when the late job for version 1 finally runs
    outcome = processed(first_job.pk)
    # then it is superseded and the version 2 results stand
    lead.refresh_from_db()
    assert outcome == PipelineJobStatus.SUPERSEDED
    assert lead.processed_version == 2
    assert lead.score == score_after_update


def test_failure_is_visible_on_the_lead_with_its_reason(agent, django_capture_on_commit_callbacks):
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    job = PipelineJob.objects.get(lead=lead)
    # when processing fails for good
    pipeline.record_failure([job.pk], ValueError("market data unreadable"), final=True)
    # then the lead says failed and why, and the job is not swept again
    lead.refresh_from_db()
    assert lead.processing_status == ProcessingStatus.FAILED
    assert "market data unreadable" in lead.processing_error
    assert PipelineJob.objects.get(pk=job.pk).status == PipelineJobStatus.FAILED


# --- batches: several jobs in one pass -------------------------------------------


@pytest.fixture
def demo_market():
    call_command("seed_market_demo", stdout=StringIO())


def saved_leads(count: int, reason: str = "updated") -> list[PipelineJob]:
    """``count`` leads, each with a pending job for its current version."""
    return [
        PipelineJob.objects.create(lead=lead, version=lead.version, reason=reason)
        for lead in LeadFactory.create_batch(count)
    ]


def test_a_batch_analyses_and_scores_every_lead_of_its_jobs(demo_market):
    jobs = saved_leads(3)
    # when one pass processes the three jobs
    outcomes = pipeline.process_jobs([job.pk for job in jobs]).outcomes
    # then each lead carries its own results and each job is done
    assert outcomes == {job.pk: PipelineJobStatus.DONE for job in jobs}
    for job in jobs:
        lead = Lead.objects.get(pk=job.lead_id)
        assert lead.processing_status == ProcessingStatus.DONE and lead.processed_version == lead.version
        assert lead.score is not None
        assert lead.metadata["market_analysis"]["locations"][0]["status"] == "ok"
        assert lead.score_record.scored_version == lead.version
    assert set(PipelineJob.objects.values_list("status", flat=True)) == {PipelineJobStatus.DONE}


def test_one_failing_job_in_a_batch_does_not_hold_back_the_others(demo_market):
    first, broken, last = saved_leads(3)
    # given a lead whose stored metadata is not an object (written by hand, say)
    Lead.objects.filter(pk=broken.lead_id).update(metadata=["not", "an", "object"])
    # when the batch runs
    outcomes = pipeline.process_jobs([first.pk, broken.pk, last.pk]).outcomes
    # then the other two are scored, and the broken one fails for good with its reason on the lead
    assert outcomes == {
        first.pk: PipelineJobStatus.DONE,
        broken.pk: PipelineJobStatus.FAILED,
        last.pk: PipelineJobStatus.DONE,
    }
    assert Lead.objects.get(pk=first.lead_id).processing_status == ProcessingStatus.DONE
    assert Lead.objects.get(pk=last.lead_id).score is not None
    failed = Lead.objects.get(pk=broken.lead_id)
    assert failed.processing_status == ProcessingStatus.FAILED
    assert "TypeError" in failed.processing_error
    assert failed.score is None
    assert PipelineJob.objects.get(pk=broken.pk).status == PipelineJobStatus.FAILED


def test_a_batch_with_two_versions_of_a_lead_writes_only_the_newer(agent, django_capture_on_commit_callbacks):
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    save_unprocessed(
        django_capture_on_commit_callbacks,
        lambda: LeadManagementService(agent).change_status(lead.public_id, "contacted"),
    )
    other = saved_leads(1)[0]
    old_job, new_job = PipelineJob.objects.filter(lead=lead).order_by("version")
    # when both versions' jobs land in one batch, the older first
    outcomes = pipeline.process_jobs([old_job.pk, other.pk, new_job.pk]).outcomes
    # then the older is superseded, the newer and the other lead's job are done
    assert outcomes == {
        old_job.pk: PipelineJobStatus.SUPERSEDED,
        other.pk: PipelineJobStatus.DONE,
        new_job.pk: PipelineJobStatus.DONE,
    }
    lead.refresh_from_db()
    assert lead.processed_version == 2 and lead.processing_status == ProcessingStatus.DONE


def test_a_batch_run_twice_does_the_work_once(demo_market):
    jobs = saved_leads(2)
    pipeline.process_jobs([job.pk for job in jobs])
    scored = dict(Lead.objects.values_list("pk", "score"))
    # when the same message is delivered again
    outcomes = pipeline.process_jobs([job.pk for job in jobs]).outcomes
    # then the finished jobs are left out and nothing changes
    assert outcomes == {}
    assert dict(Lead.objects.values_list("pk", "score")) == scored


def test_a_worker_fills_its_batch_with_queued_jobs_but_not_with_jobs_awaiting_a_retry(demo_market):
    own, queued, retrying = saved_leads(3)
    PipelineJob.objects.filter(pk=retrying.pk).update(attempts=1, last_error="TimeoutError: slow")
    # when a worker takes the message for one job
    outcomes = pipeline.process_jobs([own.pk], take_queued=True).outcomes
    # then it also processes the job still queued, and leaves the retrying one to its backoff
    assert outcomes == {own.pk: PipelineJobStatus.DONE, queued.pk: PipelineJobStatus.DONE}
    assert PipelineJob.objects.get(pk=retrying.pk).status == PipelineJobStatus.PENDING
    # and the queued job's own message, delivered later, is a no-op
    assert pipeline.process_jobs([queued.pk], take_queued=True).outcomes == {}


def test_a_batch_takes_the_same_number_of_queries_whatever_its_size_and_one_audit_entry_per_lead(
    demo_market, django_assert_max_num_queries
):
    def queries_for(count: int) -> int:
        jobs = saved_leads(count)
        with CaptureQueriesContext(connection) as captured:
            pipeline.process_jobs([job.pk for job in jobs])
        assert set(PipelineJob.objects.filter(pk__in=[job.pk for job in jobs]).values_list("status", flat=True)) == {
            PipelineJobStatus.DONE
        }
        return len(captured)

    queries_for(1)  # warms the cached conversion stats
    small, large = queries_for(5), queries_for(20)
    # no query per lead: the audit entries and the lead.scored events are one insert each
    # (two at 20 rows or more on PostgreSQL: ids drawn, then COPY)
    assert large - small <= 2
    jobs = saved_leads(20)
    with django_assert_max_num_queries(small + 2):
        pipeline.process_jobs([job.pk for job in jobs])
    assert AuditEntry.objects.filter(field="score", lead__in=[job.lead_id for job in jobs]).count() == 20


def test_a_job_being_retried_runs_alone(demo_market):
    retrying, queued = saved_leads(2)
    PipelineJob.objects.filter(pk=retrying.pk).update(attempts=1, last_error="TimeoutError: slow")
    # when the retry's message is taken
    outcomes = pipeline.process_jobs([retrying.pk], take_queued=True).outcomes
    # then it is processed without filling its batch: whatever broke it cannot take others down
    assert outcomes == {retrying.pk: PipelineJobStatus.DONE}
    assert PipelineJob.objects.get(pk=queued.pk).status == PipelineJobStatus.PENDING


def test_a_lead_saved_again_before_its_creation_ran_still_gets_its_first_contact(
    agent, django_capture_on_commit_callbacks
):
    # given a new lead whose "created" job is planned, then a status change before either ran
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    service = LeadManagementService(agent)
    save_unprocessed(django_capture_on_commit_callbacks, lambda: service.update_lead(lead.public_id, {"tags": ["hot"]}))
    first, second = PipelineJob.objects.filter(lead=lead).order_by("version")
    assert (first.reason, second.reason) == ("created", "created")  # the newer job carries the creation

    # when a worker takes them one at a time, the older first (it is superseded)
    assert processed(first.pk) == PipelineJobStatus.SUPERSEDED
    with django_capture_on_commit_callbacks(execute=True):
        integrations_tasks.process_lead_jobs.apply(args=[[second.pk]])

    # then the workflows still greeted it: its first-contact task and deadline exist
    lead.refresh_from_db()
    assert lead.sla_due_at is not None
    assert FollowUpTask.objects.filter(lead=lead, kind="first_contact").count() == 1


def test_a_creation_superseded_within_one_batch_hands_its_reason_to_the_newer_job(
    agent, django_capture_on_commit_callbacks
):
    lead, _ = create_seed_lead(agent, django_capture_on_commit_callbacks, execute=False)
    service = LeadManagementService(agent)
    save_unprocessed(django_capture_on_commit_callbacks, lambda: service.update_lead(lead.public_id, {"tags": ["x"]}))
    PipelineJob.objects.filter(lead=lead, version=2).update(reason="updated")  # planned without the carry-over
    jobs = list(PipelineJob.objects.filter(lead=lead).order_by("version"))

    result = pipeline.process_jobs([job.pk for job in jobs])

    assert [job.reason for _lead, job in result.scored] == ["created"]
