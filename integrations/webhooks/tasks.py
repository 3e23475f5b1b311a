"""Thin Celery tasks around the webhook services, their queueing, and the webhooks'
subscription to lead events. Retries are not Celery retries: a failed attempt is
written to its delivery row with the time of the next try, and the periodic
``sweep_webhook_deliveries`` job queues it again then."""

from celery import shared_task
from django.db import transaction

from integrations.webhooks import services
from integrations.webhooks.models import WebhookDelivery
from leads.events.models import LeadEvent


def on_lead_events(events: list[LeadEvent]) -> None:
    """The webhooks' subscription (``leads.events``): a delivery per event and interested
    subscription, written in the relay's transaction and queued once it commits."""
    services.OUTBOX.queue_after_commit(deliver_webhook, services.fan_out(events))


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60)
def deliver_webhook(delivery_id: int) -> str:
    """Make one attempt at a delivery, then queue the lead's next one to the same
    subscription if it was waiting for this one; returns the outcome."""
    outcome = services.deliver(delivery_id)
    following = services.next_in_line(delivery_id)
    if following is not None:
        services.OUTBOX.dispatch(deliver_webhook, following)
    return outcome.value


def replay_deliveries(delivery_ids: list[int]) -> int:
    """Send the deliveries again (``services.replay_deliveries``); returns how many were queued."""
    with transaction.atomic():
        replayed = services.replay_deliveries(delivery_ids)
        services.OUTBOX.queue_after_commit(deliver_webhook, replayed)
    return len(replayed)


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Replay one delivery; Conflict when its subscription is paused."""
    services.check_replayable(delivery)
    replay_deliveries([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def sweep_webhook_deliveries(now=None) -> int:
    """Queue every due delivery again (periodic job); returns how many were queued."""
    return services.OUTBOX.sweep(deliver_webhook, services.due(now), now=now)
