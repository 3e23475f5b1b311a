"""Periodic jobs, one registry for both ways of running them: Celery beat in
production (``CELERY_BEAT_SCHEDULE`` is built from it) and ``manage.py
run_periodic`` on the embedded default, which has no broker."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    service: str  # dotted path of a function taking ``now``
    every: timedelta


JOBS: dict[str, PeriodicJob] = {
    "sweep_pipeline": PeriodicJob("integrations.tasks.sweep_pipeline", timedelta(seconds=30)),
    # Lead events whose relay message was refused or lost (leads.events).
    "relay_lead_events": PeriodicJob("leads.events.tasks.sweep", timedelta(seconds=30)),
    # Relayed lead events older than LEAD_EVENTS_KEEP_DAYS.
    "purge_lead_events": PeriodicJob("leads.events.services.purge_relayed", timedelta(hours=6)),
    # CRM sync retries: queues outbox records whose backoff has passed (or whose delivery was lost).
    "sweep_crm_outbox": PeriodicJob("integrations.crm.tasks.sweep_crm_outbox", timedelta(seconds=30)),
    # Webhook retries: queues deliveries whose backoff has passed (or whose task was lost).
    "sweep_webhook_deliveries": PeriodicJob(
        "integrations.webhooks.tasks.sweep_webhook_deliveries", timedelta(seconds=30)
    ),
    # Speed to lead: settle met/breached SLAs and escalate breaches to the agent's manager.
    "mark_sla_breaches": PeriodicJob("integrations.workflows.services.mark_sla_breaches", timedelta(minutes=1)),
    # Engagement decays with time, so scores are refreshed even when nothing is saved.
    "rescore_stale_leads": PeriodicJob("integrations.scoring.services.rescore_stale_leads", timedelta(hours=1)),
    # At most one digest per agent per UTC day; running hourly catches up after downtime.
    "overdue_digest": PeriodicJob("integrations.workflows.services.send_overdue_digest", timedelta(hours=1)),
    # Idempotency-Key answers older than IDEMPOTENCY_KEY_TTL_HOURS.
    "purge_idempotency_keys": PeriodicJob("leads.api.idempotency.purge_expired_keys", timedelta(hours=1)),
    # Folds the lead counters' change rows (leads.counts); the list sums them per request.
    "compact_lead_counts": PeriodicJob("leads.counts.compact", timedelta(minutes=1)),
}


def run(name: str):
    """Run one periodic job now; returns what the service returned."""
    job = JOBS[name]
    return import_string(job.service)(timezone.now())


def beat_schedule() -> dict:
    return {
        name: {"task": "integrations.tasks.run_periodic_job", "schedule": job.every, "args": [name]}
        for name, job in JOBS.items()
    }
