"""The after-save pipeline: market analysis -> scoring -> CRM sync -> workflows.

The pipeline subscribes to lead events (``leads.events``): ``plan_jobs`` turns the
relayed events of each lead into one PipelineJob for its newest version (the
pipeline's own outbox, written in the relay's transaction), and the jobs are sent to
the workers once that commits (``integrations.tasks``). A job never sent (the
broker was down) stays pending and the sweeper sends it later.

A worker processes a message's jobs, and other queued jobs up to ``BATCH_SIZE``,
in one pass (``process_jobs``): the jobs are row-locked (SKIP LOCKED, so two
workers never take the same job), the leads and their market data are read once
for the batch, and the results written in bulk (``leads.core.bookkeeping``). The messages
of jobs another worker already finished are no-ops.

Jobs are idempotent and version-aware: a job for an older version than the lead's
current one is superseded (only the computation is skipped: every event the saves
made was relayed to the webhooks on its own), a job whose version was already
processed is a no-op, and results are written with a compare-and-set on
``Lead.version``.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from integrations.market.services import MarketData, analyse_lead
from integrations.models import PipelineJob, PipelineJobStatus
from integrations.scoring.config import scoring_config
from integrations.scoring.selectors import source_conversion_stats_held
from integrations.scoring.services import ScoreResult, record_scorings, score_lead
from leads.core import bookkeeping
from leads.core.selectors import with_lead_details
from leads.events.models import VERSION_EVENTS, LeadEvent, LeadEventKind
from leads.models import Lead, ProcessingStatus
from leads.webevents.selectors import WebEngagement, web_engagement

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
BATCH_SIZE = 50  # jobs processed in one pass (one message, one transaction)


# A job's reason: what its newest save did, a creation first (the workflows greet new leads).
CREATED = "created"
CARRY_CREATION_FOR = timedelta(days=1)
_REASONS = [
    (LeadEventKind.CREATED, CREATED),
    (LeadEventKind.MERGED, "merged"),
    (LeadEventKind.STATUS_CHANGED, "status_changed"),
    (LeadEventKind.INTERACTION_ADDED, "interaction"),
    (LeadEventKind.ASSIGNED, "assigned"),
    (LeadEventKind.ARCHIVED, "archived"),
    (LeadEventKind.RESTORED, "restored"),
]


def plan_jobs(events: list[LeadEvent]) -> list[int]:
    """One pending job per lead for the newest version among ``events`` (called in the
    relay's transaction); returns the jobs' ids, to send once it commits."""
    newest: dict[int, int] = {}
    kinds: dict[int, set[str]] = defaultdict(set)
    for event in events:
        if event.kind in VERSION_EVENTS:
            newest[event.lead_id] = max(newest.get(event.lead_id, 0), event.lead_version)
            kinds[event.lead_id].add(event.kind)
    if not newest:
        return []
    reasons = {lead_pk: _reason(kinds[lead_pk]) for lead_pk in newest}
    for lead_pk in _creations_not_done([pk for pk, reason in reasons.items() if reason != CREATED]):
        reasons[lead_pk] = CREATED
    # Marked sent now: after commit only a refused send clears it (the sweeper's cue).
    now = timezone.now()
    jobs = PipelineJob.objects.bulk_create(
        [
            PipelineJob(lead_id=lead_pk, version=version, reason=reasons[lead_pk], dispatched_at=now)
            for lead_pk, version in newest.items()
        ]
    )
    return [job.pk for job in jobs]


def _creations_not_done(lead_pks: list[int]) -> set[int]:
    """Leads whose "created" job has not run to the end (still pending, or superseded by a
    save that came before it ran): their next job carries the creation on, so the
    workflows still greet the new lead (first-contact task, SLA, welcome). Only recent
    creations: a lead that came in days ago is not greeted late."""
    if not lead_pks:
        return set()
    recent = timezone.now() - CARRY_CREATION_FOR
    created = (
        PipelineJob.objects.filter(lead_id__in=lead_pks, reason=CREATED, created_at__gte=recent)
        .values("lead_id")
        .annotate(done=Count("pk", filter=Q(status=PipelineJobStatus.DONE)))
    )
    return {row["lead_id"] for row in created if not row["done"]}


def _reason(kinds: set[str]) -> str:
    return next((reason for kind, reason in _REASONS if kind in kinds), "updated")


def mark_unsent(job_ids: list[int]) -> None:
    """The broker refused these jobs: leave them to the sweeper."""
    PipelineJob.objects.filter(pk__in=job_ids, status=PipelineJobStatus.PENDING).update(dispatched_at=None)


def due_for_sweep(now: datetime | None = None) -> list[int]:
    """Pending jobs never sent, or sent and never finished, past their grace; marked
    sent again (the caller sends them). Returns their ids."""
    now = now or timezone.now()
    unsent_grace = timedelta(seconds=settings.PIPELINE_UNSENT_GRACE_SECONDS)
    unfinished_grace = timedelta(seconds=settings.PIPELINE_UNFINISHED_GRACE_SECONDS)
    stuck = PipelineJob.objects.filter(status=PipelineJobStatus.PENDING).filter(
        Q(dispatched_at__isnull=True, created_at__lte=now - unsent_grace) | Q(dispatched_at__lte=now - unfinished_grace)
    )
    job_ids = list(stuck.order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    PipelineJob.objects.filter(pk__in=job_ids).update(dispatched_at=now)
    return job_ids


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
    result: bookkeeping.ProcessingResult | None = None


@dataclass(frozen=True)
class BatchResult:
    """What a pass did: each processed job's outcome ("done", "superseded", "failed";
    jobs finished already or in another worker's hands are left out), and the leads
    whose new score was written, for the follow-on work (CRM sync, workflows)."""

    outcomes: dict[int, str]
    scored: list[tuple[Lead, PipelineJob]]


def process_jobs(job_ids: Iterable[int], *, take_queued: bool = False) -> BatchResult:
    """Analyse and score the leads of the pending jobs ``job_ids`` in one pass; with
    ``take_queued`` other queued jobs (pending, never attempted) fill the batch up to
    ``BATCH_SIZE``.

    A job whose analysis or scoring raises a non-transient error is recorded as
    failed (on the lead, with its reason) without holding back the others; any
    other error rolls the batch back and raises ``BatchFailed``.
    """
    claimed: list[int] = []
    try:
        with transaction.atomic():
            jobs = _claim(list(job_ids), take_queued=take_queued)
            claimed = [job.pk for job in jobs]
            return _process(jobs)
    except Exception as error:
        raise BatchFailed(claimed or list(job_ids), error) from error


def _process(jobs: list[PipelineJob]) -> BatchResult:
    if not jobs:
        return BatchResult({}, [])
    outcomes: dict[int, str] = {}
    leads = {lead.pk: lead for lead in with_lead_details(Lead.objects.filter(pk__in={job.lead_id for job in jobs}))}
    runs: dict[int, _Run] = {}  # by lead: one run per lead version
    creations_superseded = set()
    for job in jobs:
        lead = leads.get(job.lead_id)
        if lead is None or lead.version > job.version:
            outcomes[job.pk] = PipelineJobStatus.SUPERSEDED
            if job.reason == CREATED:
                creations_superseded.add(job.lead_id)
        elif bookkeeping.is_processed(lead, job.version) or job.lead_id in runs:
            outcomes[job.pk] = PipelineJobStatus.DONE
        else:
            runs[job.lead_id] = _Run(job, lead)
    for lead_pk in creations_superseded & set(runs):
        runs[lead_pk].job.reason = CREATED  # the newer job of this batch carries the creation on

    market = MarketData.for_leads([run.lead for run in runs.values()])
    web = web_engagement(list(runs), days=int(scoring_config()["WEB_ACTIVITY_DAYS"]))
    scores: dict[int, ScoreResult] = {}
    with source_conversion_stats_held():
        for lead_pk, run in list(runs.items()):
            try:
                analysis = analyse_lead(run.lead, market=market)
                scores[lead_pk] = score_lead(
                    run.lead, market_analysis=analysis.get("market_analysis"), web=web.get(lead_pk, WebEngagement())
                )
                run.result = bookkeeping.ProcessingResult(
                    lead_pk=lead_pk,
                    version=run.job.version,
                    metadata={**run.lead.metadata, **analysis},
                    score=scores[lead_pk].score,
                    score_breakdown=scores[lead_pk].factors,
                )
            except TRANSIENT_ERRORS:
                raise
            except Exception as error:
                logger.exception("Pipeline job %s failed", run.job.pk)
                record_failure([run.job.pk], error, final=True)
                outcomes[run.job.pk] = PipelineJobStatus.FAILED
                del runs[lead_pk]

    written = {item.lead_pk for item in bookkeeping.write_processing_results(run.result for run in runs.values())}
    record_scorings([(lead_pk, runs[lead_pk].job.version, scores[lead_pk]) for lead_pk in written])
    scored = []
    for lead_pk, run in runs.items():
        outcomes[run.job.pk] = PipelineJobStatus.DONE if lead_pk in written else PipelineJobStatus.SUPERSEDED
        if lead_pk in written:
            _apply(run.lead, run.result)
            scored.append((run.lead, run.job))
    _finish({job_id: outcome for job_id, outcome in outcomes.items() if outcome != PipelineJobStatus.FAILED})
    return BatchResult(outcomes, scored)


def _apply(lead: Lead, result: bookkeeping.ProcessingResult) -> None:
    """The written result on the in-memory lead, as the follow-on work reads it."""
    lead.metadata, lead.score, lead.score_breakdown = result.metadata, result.score, result.score_breakdown
    lead.processing_status, lead.processing_error = ProcessingStatus.DONE, ""
    lead.processed_version = result.version


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
    bookkeeping.mark_processing_failed(failed, reason)
