"""Thin Celery tasks around the webhook services. Retries are not Celery retries:
a failed attempt is written to its delivery row with the time of the next try,
and the periodic ``sweep_webhook_deliveries`` job queues it again then."""

from celery import shared_task

from integrations.webhooks import services


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60)
def deliver_webhook(delivery_id: int) -> str:
    """Make one attempt at a delivery; returns the outcome (delivered, failed, dead, busy, ...)."""
    return services.deliver(delivery_id).value
