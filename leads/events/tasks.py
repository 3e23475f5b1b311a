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

An ordinary relay takes the other events waiting when it runs (up to
``services.RELAY_BATCH``, then it queues the next), except new or reassigned leads' events
still owed to the urgent relay. So a commit whose events it would take (``may_join``:
scores, edits, the urgent relay's own follow-up) queues no relay while one waits in the
queue: one message per commit made a busy after-save worker run seven relays a lead,
five finding their events taken already. The mark that one waits lives in the broker's
Redis beside the message and lapses after ``RELAY_QUEUED_SECONDS``: a lost message holds
the next relays back at most that long, and the sweep relays what it left.
"""

import contextlib
import logging
from functools import partial

import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from leadmgmt.broker import broker_breaker, send_or_leave
from leadmgmt.redis_breaker import UNREACHABLE_ERRORS
from leads.audit.models import AuditChannel
from leads.events import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 8
HELD_BACK_DELAY_SECONDS = 1
RELAY_QUEUED_SECONDS = 10


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
    if not urgent:
        _clear_relay_queued()  # from now on a commit queues a relay again
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
    if outcome.more_waiting:
        send_relay([], may_join=True)
    if urgent:
        # The other subscribers' turn, for these events and any the urgent relay found
        # already handed to the urgent subscribers (a sweep's late events).
        held_back = set(outcome.held_back)
        send_relay(sorted({*event_ids, *outcome.relayed} - held_back), may_join=True)


def send_relay(
    event_ids: list[int], *, urgent: bool = False, countdown: float | None = None, may_join: bool = False
) -> bool:
    """Queue a relay of ``event_ids`` now; False (nothing lost) when the broker is unreachable.
    ``may_join``: any ordinary relay would take these events, so none is queued while one
    waits in the queue (True then too)."""
    marked = None
    if may_join and not urgent and countdown is None:
        marked = _mark_relay_queued()
        if marked is False:
            return True
    sent = send_or_leave(
        relay_lead_events,
        event_ids,
        urgent,
        countdown=countdown,
        priority=settings.URGENT_TASK_PRIORITY if urgent else None,
        left_for="the lead events sweep",
    )
    if marked and not sent:
        _clear_relay_queued()  # nothing waits: the next commit queues a relay
    return sent


_clients: dict[str, redis.Redis] = {}


def _broker_redis() -> redis.Redis | None:
    """A client of the broker's Redis; None for in-process tasks (no broker)."""
    app = relay_lead_events.app
    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if url not in _clients:
        timeout = settings.REDIS_SOCKET_TIMEOUT
        _clients[url] = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            # A connection Redis dropped (a restart) is retried once on a new one.
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.ConnectionError],
        )
    return _clients[url]


def _mark_relay_queued() -> bool | None:
    """Mark that an ordinary relay waits in the queue: True when this call marked it,
    False when one was marked already, None when the broker cannot be asked (no broker,
    its circuit open, unreachable): the relay is then sent, and sending decides."""
    client = _broker_redis()
    # ``is_open``, not ``allows()``: a half-open circuit's one trial is the publish's.
    if client is None or broker_breaker(relay_lead_events.app).is_open:
        return None
    try:
        return bool(client.set(_relay_queued_key(), 1, nx=True, ex=RELAY_QUEUED_SECONDS))
    except UNREACHABLE_ERRORS:
        return None  # the publish finds the broker gone and opens its circuit


def _clear_relay_queued() -> None:
    """The relay marked as waiting was taken by a worker, or never queued."""
    client = _broker_redis()
    if client is not None:
        with contextlib.suppress(*UNREACHABLE_ERRORS):
            client.delete(_relay_queued_key())


def _relay_queued_key() -> str:
    return f"leads:relay-queued:{relay_lead_events.app.conf.task_default_queue}"  # one mark per queue


def relay_after_commit(event_ids: list[int], *, urgent: bool = False, may_join: bool = False) -> None:
    """Queue the relay of the current transaction's events once it commits (``send_relay``)."""
    if event_ids:
        transaction.on_commit(partial(send_relay, list(event_ids), urgent=urgent, may_join=may_join))


def sweep(now=None) -> int:
    """Queue the relay of events still waiting past their grace (periodic job); returns how
    many. They are late already: the relay goes ahead of the after-save work."""
    event_ids = services.due_for_relay(now)
    if event_ids and not send_relay(event_ids, urgent=True):
        return 0
    return len(event_ids)
