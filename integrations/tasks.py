"""Thin Celery tasks around the pipeline services. They take ids, re-read, and
are safe to run twice or late."""

import logging

from celery import shared_task
from django.db import DatabaseError

from integrations import periodic, pipeline

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
# Faults worth retrying; anything else is a bug or bad data and fails at once,
# visible on the lead with its reason.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError)


def backoff_seconds(retries: int) -> int:
    """2, 4, 8, 16, 32 seconds: exponential, bounded."""
    return min(2 ** (retries + 1), 60)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, soft_time_limit=30, time_limit=45)
def process_lead_job(self, job_id: int) -> str:
    try:
        return pipeline.process_job(job_id)
    except Exception as exc:
        transient = isinstance(exc, TRANSIENT_ERRORS)
        final = not transient or self.request.retries >= self.max_retries
        pipeline.record_failure(job_id, exc, final=final)
        if final:
            logger.exception("Pipeline job %s failed for good", job_id)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def run_workflows(lead_pk: int, version: int, reason: str) -> None:
    from integrations.workflows.services import start_for_lead
    from leads.models import Lead

    lead = Lead.objects.select_related("contact", "timeline", "assigned_to").filter(pk=lead_pk).first()
    if lead is not None:
        start_for_lead(lead, reason=reason)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def run_periodic_job(name: str) -> object:
    return periodic.run(name)
