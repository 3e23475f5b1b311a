"""Periodic jobs, one registry for both ways of running them: Celery beat in
production (``CELERY_BEAT_SCHEDULE`` is built from it) and ``manage.py
run_periodic`` on the embedded default, which has no broker.

Both run a job through ``run``, which records each run's outcome in
``PeriodicJobState``: the admin lists every job's state, and the managers'
dashboard warns while a job is failing (``failing_jobs``).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from integrations.models import PeriodicJobState

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
    # Agent alerts: retries after a backoff, the next channel after a lost attempt.
    "sweep_alert_deliveries": PeriodicJob("integrations.alerts.tasks.sweep_alert_deliveries", timedelta(seconds=10)),
    # Speed to lead: settle met/breached SLAs and escalate breaches to the agent's manager.
    # Last week's report to each manager, once per manager and week (leads.reports.weekly).
    "weekly_report": PeriodicJob("integrations.workflows.weekly_report.send_weekly_reports", timedelta(hours=1)),
    "mark_sla_breaches": PeriodicJob("integrations.workflows.services.mark_sla_breaches", timedelta(minutes=1)),
    # Routing: lost routes sent again, offers of departed agents withdrawn, unclaimed offers expired to the fallback.
    "sweep_routing": PeriodicJob("integrations.routing.tasks.sweep_routing", timedelta(seconds=10)),
    # Routing: breached first-contact SLAs sent back to the pond or to another agent (the rule's setting).
    "route_sla_breaches": PeriodicJob("integrations.routing.sla.handle_sla_breaches", timedelta(minutes=1)),
    # Engagement decays with time, so scores are refreshed even when nothing is saved.
    "rescore_stale_leads": PeriodicJob("integrations.scoring.services.rescore_stale_leads", timedelta(hours=1)),
    # At most one digest per agent per UTC day; running hourly catches up after downtime.
    "overdue_digest": PeriodicJob("integrations.workflows.services.send_overdue_digest", timedelta(hours=1)),
    # Follow-up plans: due steps (after downtime, everything that fell due meanwhile), their
    # messages' retries, and the plans started by time (no contact for N days, a date).
    "run_plan_steps": PeriodicJob("integrations.plans.tasks.run_due_steps", timedelta(seconds=15)),
    "sweep_plan_deliveries": PeriodicJob("integrations.plans.tasks.sweep_plan_deliveries", timedelta(seconds=30)),
    "start_plans_by_time": PeriodicJob("integrations.plans.tasks.start_plans_by_time", timedelta(hours=1)),
    # Property alerts: instant ones shortly after a match appears, digests at the lead-local digest hour.
    "send_instant_property_alerts": PeriodicJob(
        "integrations.property_alerts.sending.send_instant_alerts", timedelta(minutes=2)
    ),
    "send_property_alert_digests": PeriodicJob(
        "integrations.property_alerts.sending.send_digests", timedelta(minutes=15)
    ),
    # The chance-to-close model: trained, backtested and guarded, then every open lead scored (a worker's task).
    "train_win_model": PeriodicJob("integrations.winprob.tasks.train_nightly", timedelta(hours=24)),
    # Property matching: listing changes and leads whose task message was lost or refused.
    "sweep_listing_matches": PeriodicJob("integrations.matches.tasks.sweep", timedelta(minutes=1)),
    # Listing feeds (RESO Web API): each active feed whose interval has passed is sent to a worker.
    "sync_listing_feeds": PeriodicJob("integrations.feeds.tasks.queue_due_feeds", timedelta(minutes=1)),
    # Idempotency-Key answers older than IDEMPOTENCY_KEY_TTL_HOURS.
    "purge_idempotency_keys": PeriodicJob("leads.api.idempotency.purge_expired_keys", timedelta(hours=1)),
    # Folds the lead counters' change rows (leads.reporting.counts); the list sums them per request.
    "compact_lead_counts": PeriodicJob("leads.reporting.counts.compact", timedelta(minutes=1)),
}


LATE_MARGIN = timedelta(minutes=1)


def run(name: str):
    """Run one periodic job now and record how it went; returns what the service
    returned, or raises what it raised (after recording the failure)."""
    job = JOBS[name]
    started_at = timezone.now()
    try:
        result = import_string(job.service)(started_at)
    except Exception as exc:
        _record_run(name, started_at, error=exc)
        raise
    _record_run(name, started_at, result=result)
    return result


def failing_jobs() -> list["PeriodicJobState"]:
    """The registered jobs whose last run failed, the longest-failing first."""
    from integrations.models import PeriodicJobState  # see _record_run

    return list(
        PeriodicJobState.objects.filter(name__in=list(JOBS), consecutive_failures__gt=0).order_by(
            "-consecutive_failures", "name"
        )
    )


def never_run_jobs() -> list[str]:
    """The registered jobs with no recorded run, by name."""
    from integrations.models import PeriodicJobState  # see _record_run

    ran = set(PeriodicJobState.objects.filter(name__in=list(JOBS)).values_list("name", flat=True))
    return sorted(set(JOBS) - ran)


def job_health(state: "PeriodicJobState", *, now: datetime) -> str:
    """ "failing" while its last run failed; "late" when a registered job has not
    started for two of its periods and a minute (is beat or run_periodic running?);
    "ok" otherwise."""
    if state.failing:
        return "failing"
    job = JOBS.get(state.name)
    if job and (state.last_started_at is None or now - state.last_started_at > 2 * job.every + LATE_MARGIN):
        return "late"
    return "ok"


def _record_run(name: str, started_at: datetime, *, result: object = None, error: Exception | None = None) -> None:
    """Write the run's outcome on the job's row. A failure to record it is logged and
    never replaces the job's own outcome (the database may be what the job failed on)."""
    # Imported here: Celery builds its beat schedule from this module before Django's
    # apps are loaded, when importing a model would fail.
    from integrations.models import PeriodicJobState

    finished_at = timezone.now()
    try:
        with transaction.atomic():
            state, _ = PeriodicJobState.objects.select_for_update().get_or_create(name=name)
            state.last_started_at, state.last_finished_at = started_at, finished_at
            if error is None:
                state.last_succeeded_at = finished_at
                state.last_result = _short(repr(result), 200)
                state.consecutive_failures = 0
            else:
                state.last_failed_at = finished_at
                state.last_error = _short(f"{type(error).__name__}: {error}", 2000)
                state.consecutive_failures += 1
            state.save()
    except DatabaseError:
        logger.exception("Could not record the outcome of periodic job %s", name)


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, without NUL (which PostgreSQL cannot store)."""
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def beat_schedule() -> dict:
    return {
        name: {"task": "integrations.tasks.run_periodic_job", "schedule": job.every, "args": [name]}
        for name, job in JOBS.items()
    }
