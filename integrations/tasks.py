"""Thin Celery tasks around the pipeline services, and the pipeline's subscription to
lead events. They take ids, re-read, and are safe to run twice or late."""

from functools import partial

from celery import shared_task
from django.db import transaction

from integrations import periodic, pipeline
from integrations.crm.tasks import queue_sync
from integrations.workflows.services import start_for_leads
from leadmgmt.broker import send_or_leave
from leads.events.models import LeadEvent

MAX_RETRIES = 5
TRANSIENT_ERRORS = pipeline.TRANSIENT_ERRORS


def backoff_seconds(retries: int) -> int:
    """2, 4, 8, 16, 32 seconds: exponential, bounded."""
    return min(2 ** (retries + 1), 60)


def on_lead_events(events: list[LeadEvent]) -> None:
    """The pipeline's subscription (``leads.events``): plan a job per changed lead in the
    relay's transaction, and send the jobs once it commits."""
    job_ids = pipeline.plan_jobs(events)
    if job_ids:
        transaction.on_commit(partial(dispatch, job_ids))


@shared_task(
    bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES, soft_time_limit=120, time_limit=150
)
def process_lead_jobs(self, job_ids: list[int]) -> None:
    """Process the jobs (and other queued jobs up to a batch, unless retrying), then
    start the follow-on work of the leads scored: CRM sync and workflows, each as its
    own task, so a CRM or SMTP outage never holds back the scores.

    A batch that fails as a whole is split: each of its jobs is sent again alone,
    after a backoff, so one bad lead cannot keep the others from being scored.
    A job alone is retried with backoff on transient errors, and fails for good
    (shown on its lead) on any other error or once out of retries.
    """
    try:
        result = pipeline.process_jobs(job_ids, take_queued=True)
    except pipeline.BatchFailed as failed:
        error, taken = failed.cause, failed.job_ids
        if len(taken) > 1:
            pipeline.record_failure(taken, error, final=False)
            for job_id in taken:
                dispatch([job_id], countdown=backoff_seconds(0))
            return
        final = not isinstance(error, TRANSIENT_ERRORS) or self.request.retries >= self.max_retries
        pipeline.record_failure(taken, error, final=final)
        if final:
            return
        raise self.retry(args=[taken], exc=error, countdown=backoff_seconds(self.request.retries)) from error
    if result.scored:
        queue_sync([lead for lead, _job in result.scored])
        items = [[lead.pk, job.version, job.reason] for lead, job in result.scored]
        send_or_leave(run_workflows_batch, items, left_for="the periodic workflow jobs")


def dispatch(job_ids: list[int], *, countdown: float | None = None) -> int:
    """Send the jobs, ``BATCH_SIZE`` to a message; stops at the first message the broker
    refuses and marks the rest unsent (the sweeper sends them). Returns how many were sent."""
    for start in range(0, len(job_ids), pipeline.BATCH_SIZE):
        chunk = job_ids[start : start + pipeline.BATCH_SIZE]
        if not send_or_leave(process_lead_jobs, chunk, countdown=countdown, left_for="the pipeline sweeper"):
            pipeline.mark_unsent(job_ids[start:])
            return start
    return len(job_ids)


def sweep_pipeline(now=None) -> int:
    """Send again the pending jobs never sent or lost (periodic job); returns how many were sent."""
    job_ids = pipeline.due_for_sweep(now)
    return dispatch(job_ids) if job_ids else 0


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def run_workflows_batch(items: list[list]) -> None:
    """The workflows of a batch of committed saves: ``[[lead_pk, version, reason], ...]``."""
    start_for_leads([(lead_pk, reason) for lead_pk, _version, reason in items])


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def run_periodic_job(name: str) -> object:
    return periodic.run(name)
