"""Thin Celery tasks around the CRM sync services, and their queueing. Retries are not
Celery retries kept in a worker's memory: a failed delivery is written to its outbox
record with the time of the next try, and the periodic ``sweep_crm_outbox`` queues it
again then."""

from celery import shared_task
from django.db import transaction

from integrations.crm import services
from integrations.outbox import Outcome
from leads.models import Lead


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60)
def deliver_crm_sync(record_id: int) -> str:
    """Deliver one outbox record; returns the outcome (sent, failed, dead, nothing_to_send, busy, ...)."""
    outcome = services.deliver(record_id)
    if outcome in (Outcome.SENT, Outcome.FAILED) and services.waits_to_be_sent(record_id):
        services.OUTBOX.dispatch(deliver_crm_sync, record_id)  # a newer version arrived meanwhile
    return outcome.value


def queue_sync(leads: list[Lead]) -> None:
    """Ask every enabled target for each lead's current version and queue the deliveries."""
    with transaction.atomic():
        records = [record for lead in leads for record in services.enqueue_sync(lead)]
        services.OUTBOX.queue_after_commit(deliver_crm_sync, [record.pk for record in records])


def replay(record_ids: list[int]) -> int:
    """Send the records again (``services.replay``); returns how many were queued."""
    with transaction.atomic():
        replayed = services.replay(record_ids)
        services.OUTBOX.queue_after_commit(deliver_crm_sync, replayed)
    return len(replayed)


def sweep_crm_outbox(now=None) -> int:
    """Queue every due record again (periodic job); returns how many were queued."""
    return services.OUTBOX.sweep(deliver_crm_sync, services.due(now), now=now)
