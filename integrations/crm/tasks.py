"""Thin Celery tasks around the CRM sync services. Retries are not Celery retries
kept in a worker's memory: a failed delivery is written to its outbox record with
the time of the next try, and ``sweep_crm_outbox`` queues it again then."""

from celery import shared_task

from integrations.crm import services


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60)
def deliver_crm_sync(record_id: int) -> str:
    """Deliver one outbox record; returns the outcome (synced, failed, dead, up_to_date, busy, ...)."""
    return services.deliver(record_id).value


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=270)
def sweep_crm_outbox() -> int:
    """Queue every due record again; returns how many were queued."""
    return services.sweep_outbox()
