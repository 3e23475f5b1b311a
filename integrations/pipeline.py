"""The after-save pipeline: market analysis -> scoring -> CRM sync -> workflows.

``lead_saved`` runs inside the save's transaction and writes a PipelineJob (the
outbox); after commit the transaction's jobs are sent to Celery in one message
(``BATCH_SIZE`` jobs a message at most). If the broker is unreachable the jobs
simply stay pending and ``sweep`` sends them again later, so a save never fails
and no work is lost because Redis was down.

A worker processes a message's jobs, and other queued jobs up to ``BATCH_SIZE``,
in one pass (``process_jobs``): the jobs are row-locked (SKIP LOCKED, so two
workers never take the same job), the leads and their market data are read once
for the batch, and the results written in bulk. The messages of jobs another
worker already finished are no-ops.

Jobs are idempotent and version-aware: a job for an older version than the lead's
current one is superseded, a job whose version was already processed is a no-op,
and results are written with a compare-and-set on ``Lead.version`` (the leads are
locked and re-checked in the writing transaction).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from integrations.models import PipelineJob, PipelineJobStatus
from leads import audit
from leads.models import Lead, ProcessingStatus
from leads.selectors import with_lead_details

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
BATCH_SIZE = 50  # jobs processed in one pass (one message, one transaction)
RESULT_FIELDS = ["metadata", "score", "score_breakdown", "processing_status", "processing_error", "processed_version"]


def lead_saved(lead: Lead, *, reason: str, status_saved: bool = False) -> PipelineJob:
    """Record the after-save work for ``lead``'s current version; call inside the save's transaction.

    ``status_saved``: the caller's save already wrote ``processing_status`` "pending"
    and an empty ``processing_error`` (``mark_pending`` before the save), so no
    extra UPDATE is needed.
    """
    return leads_saved([lead], reason=reason, status_saved=status_saved)[0]


def leads_saved(leads: list[Lead], *, reason: str, status_saved: bool = False) -> list[PipelineJob]:
    """``lead_saved`` for many leads at once (a batch create): one job per lead, one or two queries."""
    if not leads:
        return []
    # Marked sent now: after commit only a refused send clears it (the sweeper's cue).
    now = timezone.now()
    jobs = PipelineJob.objects.bulk_create(
        [PipelineJob(lead=lead, version=lead.version, reason=reason, dispatched_at=now) for lead in leads]
    )
    if not status_saved:
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(
            processing_status=ProcessingStatus.PENDING, processing_error=""
        )
    job_ids = [job.pk for job in jobs]
    transaction.on_commit(lambda: dispatch(job_ids))
    return jobs


def mark_pending(lead: Lead) -> None:
    """Set the processing state of a new version on ``lead`` in memory, for its own
    save to write (then call ``lead_saved(..., status_saved=True)``)."""
    lead.processing_status = ProcessingStatus.PENDING
    lead.processing_error = ""


def dispatch(job_ids: list[int], *, countdown: float | None = None) -> int:
    """Send the jobs, ``BATCH_SIZE`` to a message; stops at the first message the broker
    refuses and marks the rest unsent (the sweeper sends them). Returns how many were sent."""
    from integrations.tasks import process_lead_jobs

    for start in range(0, len(job_ids), BATCH_SIZE):
        chunk = job_ids[start : start + BATCH_SIZE]
        try:
            process_lead_jobs.apply_async(args=[chunk], countdown=countdown, retry=False)
        except (BrokerError, OSError) as exc:
            logger.warning("Broker unreachable, %d pipeline job(s) left for the sweeper: %s", len(job_ids) - start, exc)
            PipelineJob.objects.filter(pk__in=job_ids[start:], status=PipelineJobStatus.PENDING).update(
                dispatched_at=None
            )
            return start
    return len(job_ids)


def sweep(now: datetime | None = None) -> int:
    """Re-send pending jobs that were never sent or were lost; returns how many were sent."""
    now = now or timezone.now()
    unsent_grace = timedelta(seconds=settings.PIPELINE_UNSENT_GRACE_SECONDS)
    unfinished_grace = timedelta(seconds=settings.PIPELINE_UNFINISHED_GRACE_SECONDS)
    stuck = PipelineJob.objects.filter(status=PipelineJobStatus.PENDING).filter(
        Q(dispatched_at__isnull=True, created_at__lte=now - unsent_grace) | Q(dispatched_at__lte=now - unfinished_grace)
    )
    job_ids = list(stuck.order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    if not job_ids:
        return 0
    PipelineJob.objects.filter(pk__in=job_ids).update(dispatched_at=now)
    return dispatch(job_ids)  # the broker still down: the unsent ones are marked unsent again


# Faults worth retrying; anything else is a bug or bad data and fails at once,
# visible on the lead with its reason.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError)


class BatchFailed(Exception):
    """The batch's transaction failed as a whole (nothing of it was written);
    ``job_ids`` are the jobs it had taken."""

    def __init__(self, job_ids: list[int], cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.job_ids = job_ids
        self.cause = cause


@dataclass(eq=False)
class _Run:
    job: PipelineJob
    lead: Lead
    analysis: dict | None = None
    result: object = None
    metadata: dict | None = None
    previous_score: int | None = None
    written: bool = False


def process_jobs(job_ids: Iterable[int], *, take_queued: bool = False) -> dict[int, str]:
    """Analyse and score the leads of the pending jobs ``job_ids`` in one pass; with
    ``take_queued`` other queued jobs (pending, never attempted) fill the batch up to
    ``BATCH_SIZE``. Returns each processed job's outcome ("done", "superseded",
    "failed"); jobs finished already or in another worker's hands are left out.

    A job whose analysis or scoring raises a non-transient error is recorded as
    failed (on the lead, with its reason) without holding back the others; any
    other error rolls the batch back and raises ``BatchFailed``.
    """
    claimed: list[int] = []
    try:
        with transaction.atomic():
            jobs = _claim(list(job_ids), take_queued=take_queued)
            claimed = [job.pk for job in jobs]
            outcomes, written = _process(jobs)
    except Exception as error:
        raise BatchFailed(claimed or list(job_ids), error) from error
    _start_follow_on_work(written)
    return outcomes


def _process(jobs: list[PipelineJob]) -> tuple[dict[int, str], list[_Run]]:
    from integrations.market.services import MarketData, analyse_lead
    from integrations.scoring.selectors import source_conversion_stats_held
    from integrations.scoring.services import record_scorings, score_lead

    outcomes: dict[int, str] = {}
    if not jobs:
        return outcomes, []
    leads = {lead.pk: lead for lead in with_lead_details(Lead.objects.filter(pk__in={job.lead_id for job in jobs}))}
    runs: dict[int, _Run] = {}  # by lead: one run per lead version
    for job in jobs:
        lead = leads.get(job.lead_id)
        if lead is None or lead.version > job.version:
            outcomes[job.pk] = PipelineJobStatus.SUPERSEDED
        elif _already_processed(lead, job.version) or job.lead_id in runs:
            outcomes[job.pk] = PipelineJobStatus.DONE
        else:
            runs[job.lead_id] = _Run(job, lead)

    market = MarketData.for_leads([run.lead for run in runs.values()])
    with source_conversion_stats_held():
        for lead_pk, run in list(runs.items()):
            try:
                run.analysis = analyse_lead(run.lead, market=market)
                run.result = score_lead(run.lead, market_analysis=run.analysis.get("market_analysis"))
                run.metadata = {**run.lead.metadata, **run.analysis}
            except TRANSIENT_ERRORS:
                raise
            except Exception as error:
                logger.exception("Pipeline job %s failed", run.job.pk)
                record_failure([run.job.pk], error, final=True)
                outcomes[run.job.pk] = PipelineJobStatus.FAILED
                del runs[lead_pk]

    written = _write_results(list(runs.values()))
    record_scorings([(run.lead.pk, run.job.version, run.result) for run in written])
    for run in written:
        audit.record_score(lead_pk=run.lead.pk, old=run.previous_score, new=run.result.score)
    for run in runs.values():
        outcomes[run.job.pk] = PipelineJobStatus.DONE if run.written else PipelineJobStatus.SUPERSEDED
    _finish({job_id: outcome for job_id, outcome in outcomes.items() if outcome != PipelineJobStatus.FAILED})
    return outcomes, written


def process_job(job_id: int) -> str:
    """``process_jobs`` for one job; "skipped" when it was finished already.
    Raises the error itself (not ``BatchFailed``) when it fails."""
    try:
        return process_jobs([job_id]).get(job_id, "skipped")
    except BatchFailed as failed:
        raise failed.cause from None


def _claim(job_ids: list[int], *, take_queued: bool) -> list[PipelineJob]:
    """Lock the pending jobs of ``job_ids`` (and queued ones, up to BATCH_SIZE) for this
    transaction, skipping those another worker holds.

    Only never-attempted jobs are taken to fill a batch, and only by a batch of such
    jobs: a job being retried keeps its backoff and runs alone, so a job that breaks
    its batch cannot break the next one too.
    """
    pending = PipelineJob.objects.select_for_update(skip_locked=True).filter(status=PipelineJobStatus.PENDING)
    jobs = list(pending.filter(pk__in=job_ids).order_by("pk"))
    room = BATCH_SIZE - len(jobs)
    if take_queued and room > 0 and not any(job.attempts for job in jobs):
        queued = pending.filter(attempts=0).exclude(pk__in=job_ids).order_by("pk")[:room]
        jobs += list(queued)
    return jobs


def _already_processed(lead: Lead, version: int) -> bool:
    return lead.processed_version >= version and lead.processing_status == ProcessingStatus.DONE


def _write_results(runs: list[_Run]) -> list[_Run]:
    """Compare-and-set: write the runs whose lead is still at the job's version and not
    processed yet (rows locked, then one bulk UPDATE); returns the runs written."""
    if not runs:
        return []
    # NO KEY UPDATE: saves inserting rows that point at these leads (jobs, audit) need not wait.
    current = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update(no_key=True)
        .filter(pk__in=[run.lead.pk for run in runs])
        .order_by("pk")
        .only("pk", "version", "processed_version", "processing_status")
    }
    written = []
    for run in runs:
        now_lead = current.get(run.lead.pk)
        if now_lead is None or now_lead.version != run.job.version or _already_processed(now_lead, run.job.version):
            continue  # a newer save landed while we computed (its own job will run), or it was done meanwhile
        lead = run.lead
        run.previous_score = lead.score
        lead.metadata = run.metadata
        lead.score = run.result.score
        lead.score_breakdown = run.result.factors
        lead.processing_status = ProcessingStatus.DONE
        lead.processing_error = ""
        lead.processed_version = run.job.version
        run.written = True
        written.append(run)
    Lead.objects.bulk_update([run.lead for run in written], RESULT_FIELDS)
    return written


def _finish(outcomes: dict[int, str]) -> None:
    now = timezone.now()
    for status in {*outcomes.values()}:
        ids = [job_id for job_id, outcome in outcomes.items() if outcome == status]
        PipelineJob.objects.filter(pk__in=ids).update(status=status, finished_at=now)


def record_failure(job_ids: Iterable[int], error: BaseException, *, final: bool) -> None:
    """Show the failure on the jobs' leads (their API view says why) and count the
    attempt; jobs finished meanwhile are left alone."""
    reason = f"{type(error).__name__}: {error}"[:1000]
    jobs = PipelineJob.objects.filter(pk__in=list(job_ids), status=PipelineJobStatus.PENDING)
    failed = list(jobs.values_list("lead_id", "version"))
    changes = {"attempts": F("attempts") + 1, "last_error": reason}
    if final:
        changes |= {"status": PipelineJobStatus.FAILED, "finished_at": timezone.now()}
    jobs.update(**changes)
    for lead_pk, version in failed:
        Lead.objects.filter(pk=lead_pk, version=version).update(
            processing_status=ProcessingStatus.FAILED, processing_error=reason
        )


def _start_follow_on_work(runs: list[_Run]) -> None:
    """CRM sync, webhooks and workflows of the leads just scored. The CRM deliveries
    and the batch's workflows run as their own tasks: a CRM, receiver or SMTP outage
    must not hold back the scores, and each has its own retries."""
    if not runs:
        return
    from integrations.crm.services import enqueue_sync
    from integrations.crm.tasks import deliver_crm_sync
    from integrations.tasks import run_workflows_batch
    from integrations.webhooks.services import emit_for_pipeline_jobs

    for run in runs:
        for record in enqueue_sync(run.lead):
            _send(deliver_crm_sync, record.pk)
    # Webhook deliveries are outbox rows queued after commit (and swept if the broker is down).
    emit_for_pipeline_jobs([(run.lead.pk, run.job.version, run.job.reason) for run in runs])
    _send(run_workflows_batch, [[run.lead.pk, run.job.version, run.job.reason] for run in runs])


def _send(task, *args) -> None:
    try:
        task.apply_async(args=list(args), retry=False)
    except (BrokerError, OSError) as exc:
        # The CRM outbox has its own sweeper; workflows are re-run by the periodic jobs.
        logger.warning("Broker unreachable, %s not queued: %s", task.name, exc)
