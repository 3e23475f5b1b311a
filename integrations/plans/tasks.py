"""Thin Celery tasks and periodic jobs around the plans' scheduler and outbox."""

from datetime import datetime
from functools import partial

from celery import current_app, shared_task
from django.db import transaction
from django.utils import timezone

from integrations.plans import delivery, scheduler, triggers
from leadmgmt.broker import send_or_leave


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60)
def deliver_step_run(run_id: int) -> str:
    """One attempt at sending a recorded plan message."""
    return delivery.deliver(run_id).value


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def run_enrolments(enrolment_ids: list[int]) -> int:
    """Claim these enrolments if they are due and free, and run their due steps."""
    ids, lease = scheduler.claim_due(timezone.now(), ids=enrolment_ids)
    return scheduler.run_claimed(ids, lease)


def run_after_commit(enrolment_ids: list[int]) -> None:
    """Run new enrolments' first steps once the current transaction commits (if the broker
    is down, the periodic ``run_plan_steps`` picks them up: they are due)."""
    transaction.on_commit(
        partial(send_or_leave, run_enrolments, list(enrolment_ids), left_for="the run_plan_steps job")
    )


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def run_claimed_enrolments(enrolment_ids: list[int], lease: str) -> int:
    """Run enrolments the periodic job claimed (until ``lease``, ISO 8601)."""
    return scheduler.run_claimed(enrolment_ids, datetime.fromisoformat(lease))


def _fan_out(enrolment_ids: list[int], lease) -> None:
    # Refused by the broker: the claims expire with their lease and the next run takes them.
    send_or_leave(run_claimed_enrolments, enrolment_ids, lease.isoformat(), left_for="the run_plan_steps job")


def run_due_steps(now=None) -> int:
    """Periodic: the steps that are due. With a broker, claimed in batches and run by the
    workers (so every worker shares the load); without one, a batch run here."""
    if current_app.conf.task_always_eager:
        return scheduler.run_due(now)
    return scheduler.run_due(now, fan_out=_fan_out)


def sweep_plan_deliveries(now=None) -> int:
    """Periodic: queue again the plan messages whose backoff passed or whose worker was lost."""
    return delivery.OUTBOX.sweep(deliver_step_run, delivery.due(now), now=now)


def start_plans_by_time(now=None) -> int:
    """Periodic: start the "no contact for N days" and date-triggered plans."""
    with transaction.atomic():
        return triggers.start_by_time(now)
