"""Thin Celery tasks around the pipeline services. They take ids, re-read, and
are safe to run twice or late."""

import logging

from celery import shared_task

from integrations import periodic, pipeline

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
TRANSIENT_ERRORS = pipeline.TRANSIENT_ERRORS


def backoff_seconds(retries: int) -> int:
    """2, 4, 8, 16, 32 seconds: exponential, bounded."""
    return min(2 ** (retries + 1), 60)


@shared_task(
    bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES, soft_time_limit=120, time_limit=150
)
def process_lead_jobs(self, job_ids: list[int]) -> None:
    """Process the jobs (and other queued jobs up to a batch, unless retrying).

    A batch that fails as a whole is split: each of its jobs is sent again alone,
    after a backoff, so one bad lead cannot keep the others from being scored.
    A job alone is retried with backoff on transient errors, and fails for good
    (shown on its lead) on any other error or once out of retries.
    """
    try:
        pipeline.process_jobs(job_ids, take_queued=True)
    except pipeline.BatchFailed as failed:
        error, taken = failed.cause, failed.job_ids
        if len(taken) > 1:
            logger.warning("Pipeline batch of %d jobs failed (%r); sending each again alone", len(taken), error)
            pipeline.record_failure(taken, error, final=False)
            for job_id in taken:
                pipeline.dispatch([job_id], countdown=backoff_seconds(0))
            return
        final = not isinstance(error, TRANSIENT_ERRORS) or self.request.retries >= self.max_retries
        pipeline.record_failure(taken, error, final=final)
        if final:
            logger.error("Pipeline job %s failed for good", taken, exc_info=error)
            return
        raise self.retry(args=[taken], exc=error, countdown=backoff_seconds(self.request.retries)) from error


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES, soft_time_limit=30, time_limit=45)
def process_lead_job(self, job_id: int) -> None:
    """Messages sent before batches existed (one job each): processed like a batch of one."""
    pipeline.dispatch([job_id])


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def run_workflows(lead_pk: int, version: int, reason: str) -> None:
    """Messages sent before batches existed (one lead each)."""
    run_workflows_batch([[lead_pk, version, reason]])


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def run_workflows_batch(items: list[list]) -> None:
    """The workflows of a batch of committed saves: ``[[lead_pk, version, reason], ...]``."""
    from integrations.workflows.services import start_for_leads

    start_for_leads([(lead_pk, reason) for lead_pk, _version, reason in items])


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def run_periodic_job(name: str) -> object:
    return periodic.run(name)
