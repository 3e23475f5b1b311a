"""The after-save pipeline: market analysis -> scoring -> CRM sync -> workflows.

``lead_saved`` runs inside the save's transaction and writes a PipelineJob (the
outbox); after commit the job is sent to Celery. If the broker is unreachable the
job simply stays pending and ``sweep`` sends it again later, so a save never
fails and no work is lost because Redis was down.

Jobs are idempotent and version-aware: a job for an older version than the lead's
current one is superseded, a job whose version was already processed is a no-op,
and results are written with a compare-and-set on ``Lead.version``.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from integrations.models import PipelineJob, PipelineJobStatus
from leads import audit
from leads.models import Lead, ProcessingStatus
from leads.selectors import with_lead_details

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def lead_saved(lead: Lead, *, reason: str) -> PipelineJob:
    """Record the after-save work for ``lead``'s current version; call inside the save's transaction."""
    job = PipelineJob.objects.create(lead=lead, version=lead.version, reason=reason)
    Lead.objects.filter(pk=lead.pk).update(processing_status=ProcessingStatus.PENDING, processing_error="")
    transaction.on_commit(lambda: dispatch(job.pk))
    return job


def leads_saved(leads: list[Lead], *, reason: str) -> list[PipelineJob]:
    """``lead_saved`` for many leads at once (a batch create): two queries, one job per lead."""
    if not leads:
        return []
    jobs = PipelineJob.objects.bulk_create(
        [PipelineJob(lead=lead, version=lead.version, reason=reason) for lead in leads]
    )
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(
        processing_status=ProcessingStatus.PENDING, processing_error=""
    )
    job_ids = [job.pk for job in jobs]
    transaction.on_commit(lambda: dispatch_many(job_ids))
    return jobs


def dispatch_many(job_ids: list[int]) -> int:
    """Send the jobs in order, then mark them sent in one query; stops at the first the
    broker refuses (the sweeper sends the rest). Returns how many were sent."""
    sent = []
    for job_id in job_ids:
        if not _send_job(job_id):
            break
        sent.append(job_id)
    if sent:
        PipelineJob.objects.filter(pk__in=sent, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    return len(sent)


def dispatch(job_id: int) -> bool:
    """Send the job to the workers; False (job left pending) when the broker is unreachable."""
    if not _send_job(job_id):
        return False
    PipelineJob.objects.filter(pk=job_id, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    return True


def _send_job(job_id: int) -> bool:
    from integrations.tasks import process_lead_job

    try:
        process_lead_job.apply_async(args=[job_id], retry=False)
    except (BrokerError, OSError) as exc:
        logger.warning("Broker unreachable, pipeline job %s left for the sweeper: %s", job_id, exc)
        return False
    return True


def sweep(now: datetime | None = None) -> int:
    """Re-send pending jobs that were never sent or were lost; returns how many were sent."""
    now = now or timezone.now()
    unsent_grace = timedelta(seconds=settings.PIPELINE_UNSENT_GRACE_SECONDS)
    unfinished_grace = timedelta(seconds=settings.PIPELINE_UNFINISHED_GRACE_SECONDS)
    stuck = PipelineJob.objects.filter(status=PipelineJobStatus.PENDING).filter(
        Q(dispatched_at__isnull=True, created_at__lte=now - unsent_grace) | Q(dispatched_at__lte=now - unfinished_grace)
    )
    sent = 0
    for job_id in stuck.order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH]:
        PipelineJob.objects.filter(pk=job_id).update(dispatched_at=None)
        if not dispatch(job_id):
            break  # the broker is still down; try again on the next sweep
        sent += 1
    return sent


def process_job(job_id: int) -> str:
    """Analyse and score the job's lead version; returns what happened ("done", "superseded", ...)."""
    from integrations.market.services import analyse_lead
    from integrations.scoring.services import record_scoring, score_lead

    job = PipelineJob.objects.filter(pk=job_id).first()
    if job is None or job.status in (PipelineJobStatus.DONE, PipelineJobStatus.SUPERSEDED):
        return "skipped"
    lead = with_lead_details(Lead.objects.all()).filter(pk=job.lead_id).first()
    if lead is None:
        return _finish(job, PipelineJobStatus.SUPERSEDED)
    if lead.version > job.version:
        return _finish(job, PipelineJobStatus.SUPERSEDED)
    if lead.processed_version >= job.version and lead.processing_status == ProcessingStatus.DONE:
        return _finish(job, PipelineJobStatus.DONE)

    analysis = analyse_lead(lead)
    result = score_lead(lead, market_analysis=analysis.get("market_analysis"))
    metadata = {**lead.metadata, **analysis}
    with transaction.atomic():
        written = Lead.objects.filter(pk=lead.pk, version=job.version).update(
            metadata=metadata,
            score=result.score,
            score_breakdown=result.factors,
            processing_status=ProcessingStatus.DONE,
            processing_error="",
            processed_version=job.version,
        )
        if not written:  # a newer save landed while we computed; its own job will run
            return _finish(job, PipelineJobStatus.SUPERSEDED)
        record_scoring(lead_pk=lead.pk, version=job.version, result=result)
        audit.record_score(lead_pk=lead.pk, old=lead.score, new=result.score)
        _finish(job, PipelineJobStatus.DONE)
    _start_follow_on_work(lead, job)
    return "done"


def record_failure(job_id: int, error: BaseException, *, final: bool) -> None:
    """Show the failure on the lead (its API view says why) and count the attempt."""
    job = PipelineJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    reason = f"{type(error).__name__}: {error}"[:1000]
    job.attempts += 1
    job.last_error = reason
    if final:
        job.status = PipelineJobStatus.FAILED
        job.finished_at = timezone.now()
    job.save(update_fields=["attempts", "last_error", "status", "finished_at"])
    Lead.objects.filter(pk=job.lead_id, version=job.version).update(
        processing_status=ProcessingStatus.FAILED, processing_error=reason
    )


def _finish(job: PipelineJob, status: str) -> str:
    job.status = status
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    return status


def _start_follow_on_work(lead: Lead, job: PipelineJob) -> None:
    """CRM sync, webhooks and workflows run as their own tasks: a CRM, receiver or SMTP
    outage must not hold back the score, and each has its own retries."""
    from integrations.crm.services import enqueue_sync
    from integrations.crm.tasks import deliver_crm_sync
    from integrations.tasks import run_workflows
    from integrations.webhooks.services import emit_for_pipeline_job, emit_lead_scored

    for record in enqueue_sync(lead):
        _send(deliver_crm_sync, record.pk)
    # Webhook deliveries are outbox rows queued after commit (and swept if the broker is down).
    emit_for_pipeline_job(lead_pk=lead.pk, version=job.version, reason=job.reason)
    emit_lead_scored(lead.pk, job.version)
    _send(run_workflows, lead.pk, job.version, job.reason)


def _send(task, *args) -> None:
    try:
        task.apply_async(args=list(args), retry=False)
    except (BrokerError, OSError) as exc:
        # The CRM outbox has its own sweeper; workflows are re-run by the periodic jobs.
        logger.warning("Broker unreachable, %s%s not queued: %s", task.name, args, exc)
