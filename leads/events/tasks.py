"""Queueing the relay of committed lead events (``leads.events.services``).

Each commit that recorded events queues one ``relay_lead_events`` message with their
ids. If the broker refuses it, nothing is lost: the events stay unrelayed and
``sweep`` (a periodic job) queues them again.

Speed to lead: the relay of a new lead, or of a lead given to an agent, is urgent (it
routes the lead, it alerts the agent) and goes at ``URGENT_TASK_PRIORITY`` (and to the
urgent queue where one is set), taking only its own events, to the urgent subscribers
only; it then queues the ordinary relay of the same events for the other subscribers.
Any other relay (scores, edits) waits its turn with the after-save work and takes
whatever else is waiting.
"""

import logging
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import transaction

from leadmgmt.broker import send_or_leave
from leads.audit.models import AuditChannel
from leads.events import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 8
HELD_BACK_DELAY_SECONDS = 1


def is_urgent(new_events: list[services.NewEvent], *, channel: str) -> bool:
    """A new or reassigned lead, except from a CSV import (thousands at once must not
    hold back the leads arriving one by one)."""
    return channel != AuditChannel.IMPORT and any(event.kind in services.URGENT_KINDS for event in new_events)


@shared_task(
    name="leads.relay_lead_events",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=60,
    time_limit=90,
)
def relay_lead_events(self, event_ids: list[int], urgent: bool = False) -> None:
    """Relay the events (and others waiting); ``urgent``: to the urgent subscribers first,
    then queue their ordinary relay. A subscriber's failure is recorded on the events and
    retried with backoff; after the last retry the sweep keeps trying."""
    try:
        outcome = services.relay_urgent(event_ids) if urgent else services.relay(event_ids)
    except Exception as error:
        services.record_relay_failure(event_ids, error)
        if self.request.retries >= self.max_retries:
            logger.error("Relay of lead events %s failed for good; the sweep will retry", event_ids, exc_info=error)
            return
        raise self.retry(exc=error, countdown=min(2 ** (self.request.retries + 1), 120)) from error
    if outcome.held_back:
        send_relay(outcome.held_back, urgent=urgent, countdown=HELD_BACK_DELAY_SECONDS)
    if urgent:
        # The other subscribers' turn, for these events and any the urgent relay found
        # already handed to the urgent subscribers (a sweep's late events).
        held_back = set(outcome.held_back)
        send_relay(sorted({*event_ids, *outcome.relayed} - held_back))


def send_relay(event_ids: list[int], *, urgent: bool = False, countdown: float | None = None) -> bool:
    """Queue a relay of ``event_ids`` now; False (nothing lost) when the broker is unreachable."""
    return send_or_leave(
        relay_lead_events,
        event_ids,
        urgent,
        countdown=countdown,
        priority=settings.URGENT_TASK_PRIORITY if urgent else None,
        left_for="the lead events sweep",
    )


def relay_after_commit(event_ids: list[int], *, urgent: bool = False) -> None:
    """Queue the relay of the current transaction's events once it commits."""
    if event_ids:
        transaction.on_commit(partial(send_relay, list(event_ids), urgent=urgent))


def sweep(now=None) -> int:
    """Queue the relay of events still waiting past their grace (periodic job); returns how
    many. They are late already: the relay goes ahead of the after-save work."""
    event_ids = services.due_for_relay(now)
    if event_ids and not send_relay(event_ids, urgent=True):
        return 0
    return len(event_ids)
