"""Thin Celery tasks around the alert services, their queueing, and the alerts'
subscriptions (lead events, SMS status callbacks). Retries are not Celery retries: a
failed attempt is written to its delivery with the time of the next try, and the
periodic ``sweep_alert_deliveries`` job queues it again then."""

from collections.abc import Iterable
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import transaction

from integrations.alerts import services
from integrations.sms.models import SmsMessage
from leads.events.models import LeadEvent
from leads.models import Lead, User


def queue_alerts_after_commit(delivery_ids: Iterable[int], *, here: bool = False) -> None:
    """Send these deliveries (``services.alert_agent``'s answer) once the current transaction
    commits: queued for a worker, or with ``here`` attempted in this process (a caller already
    in a worker, on the speed-to-lead path: no second trip through the queue). Either way a
    failed attempt is retried like any other (``sweep_alert_deliveries``)."""
    if not here:
        services.OUTBOX.queue_after_commit(deliver_alert, delivery_ids)
    elif delivery_ids := list(delivery_ids):
        transaction.on_commit(partial(_deliver_here, delivery_ids))


def _deliver_here(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        deliver_alert.apply(args=[delivery_id])


def send_agent_alert(
    *,
    user: User,
    lead: Lead,
    reason: str,
    actions: list[dict] | None = None,
    key: str | None = None,
    new_key: bool = False,
    deliver_here: bool = False,
) -> list[int]:
    """``services.alert_agent`` and its sending once the current transaction commits
    (at once outside a transaction; in this process with ``deliver_here``); returns the
    deliveries queued."""
    delivery_ids = services.alert_agent(user=user, lead=lead, reason=reason, actions=actions, key=key, new_key=new_key)
    queue_alerts_after_commit(delivery_ids, here=deliver_here)
    return delivery_ids


def on_lead_events(events: list[LeadEvent]) -> None:
    """The alerts' subscription (``leads.events``): the new assignee of a lead is alerted,
    the alert written in the relay's transaction and sent once it commits."""
    queue_alerts_after_commit(services.assignment_alerts(events))


def on_sms_status(message: SmsMessage, previous_status: str) -> None:
    """A status callback moved an alert's text (``integrations.sms``): delivered, or the next channel goes."""
    queue_alerts_after_commit(services.sms_status_changed(message))


@shared_task(
    acks_late=True, ignore_result=True, soft_time_limit=45, time_limit=60, priority=settings.URGENT_TASK_PRIORITY
)
def deliver_alert(delivery_id: int) -> str:
    """Make one attempt at a delivery, then queue the channel it armed (if it failed for
    good); returns the outcome."""
    outcome, armed = services.deliver(delivery_id)
    for next_delivery in armed:
        services.OUTBOX.dispatch(deliver_alert, next_delivery)
    return outcome.value


def replay_alerts(alert_ids: list[int]) -> int:
    """Send the alerts again from their first channel; returns how many deliveries were queued."""
    with transaction.atomic():
        armed = services.replay_alerts(alert_ids)
        queue_alerts_after_commit(armed)
    return len(armed)


def replay_deliveries(delivery_ids: list[int]) -> int:
    """Try these channels again; returns how many were queued."""
    with transaction.atomic():
        replayed = services.replay_deliveries(delivery_ids)
        queue_alerts_after_commit(replayed)
    return len(replayed)


def sweep_alert_deliveries(now=None) -> int:
    """Queue every due delivery again (periodic job); returns how many were queued."""
    return services.OUTBOX.sweep(deliver_alert, services.due(now), now=now)
