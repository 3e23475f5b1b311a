"""The port between ``leads`` and whatever reacts to a save.

``leads`` records what each save did (``record``), as ``LeadEvent`` rows in the
save's own transaction: a transactional outbox. It knows nothing of who listens.
Integrations subscribe in their ``AppConfig.ready()``::

    events.subscribe("webhooks", on_lead_events)   # on_lead_events(events: list[LeadEvent])
    events.subscribe("routing", on_lead_events, urgent=True)

Once a save commits, ``relay`` hands its events to every subscriber, inside one
transaction that also marks them relayed: a subscriber writes its own outbox rows
there (pipeline jobs, webhook deliveries) and queues any sending with
``transaction.on_commit``. So each event is taken by every subscriber exactly once,
with the subscriber's work, or not at all (a crash rolls both back and the relay is
tried again). Events reach subscribers in order per lead: a relay never hands over an
event while an earlier event of the same lead is still waiting.

Speed to lead: the events of a new or reassigned lead go first to the *urgent*
subscribers alone (routing, the agent's alert), in a relay of their own that marks them
``urgent_relayed_at``; the other subscribers (scoring, webhooks, plans...) take them in
the ordinary relay that follows, which hands the urgent subscribers only the events they
have not had. Each subscriber still sees each event once, in order per lead.

The relay is queued after each commit (``leads.events.tasks``); ``sweep`` queues
again the events a lost message or a down broker left behind.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from leads import bulk
from leads.events.models import LeadEvent, LeadEventKind

logger = logging.getLogger(__name__)

Subscriber = Callable[[list[LeadEvent]], None]

RELAY_BATCH = 200
# Speed to lead (a new lead to route, a lead given to an agent to alert): these kinds are
# relayed by their own relay (``leads.events.tasks``: urgent), never swept into another
# relay's batch, which may be running behind the after-save work.
URGENT_KINDS = frozenset({LeadEventKind.CREATED, LeadEventKind.ASSIGNED})
_subscribers: dict[str, Subscriber] = {}
_urgent_subscribers: set[str] = set()


def subscribe(name: str, handler: Subscriber, *, urgent: bool = False) -> None:
    """Hand every committed event to ``handler`` (a list at a time, in id order, inside
    the relay's transaction). An ``urgent`` handler takes a new or reassigned lead's
    events ahead of the others, in the urgent relay. Registering a name again replaces
    its handler."""
    _subscribers[name] = handler
    if urgent:
        _urgent_subscribers.add(name)
    else:
        _urgent_subscribers.discard(name)


def subscribers() -> dict[str, Subscriber]:
    return dict(_subscribers)


@dataclass(frozen=True)
class NewEvent:
    """An event a write is about to record."""

    lead_pk: int
    lead_version: int
    kind: LeadEventKind
    data: dict[str, Any]


def record(new_events: Iterable[NewEvent], *, actor, channel: str, at: datetime | None = None) -> list[int]:
    """Write the events in the current transaction (one query); returns their ids,
    which the caller queues for the relay once the transaction commits."""
    at = at or timezone.now()
    actor_id = getattr(actor, "pk", None)
    rows = [
        {
            "lead_id": event.lead_pk,
            "lead_version": event.lead_version,
            "kind": event.kind,
            "data": event.data,
            "actor_id": actor_id,
            "channel": channel,
            "occurred_at": at,
        }
        for event in new_events
    ]
    return bulk.insert_rows(LeadEvent, rows)


@dataclass(frozen=True)
class RelayOutcome:
    relayed: list[int]
    held_back: list[int]  # an earlier event of the same lead was still waiting: relay these again soon
    more_waiting: bool = False  # the relay took a full batch of queued events: others may wait still


def relay(event_ids: Iterable[int], *, take_queued: bool = True) -> RelayOutcome:
    """Hand the unrelayed events among ``event_ids``, with the other waiting events of
    their leads (and, with ``take_queued``, other waiting events up to RELAY_BATCH, but
    none of the ``URGENT_KINDS`` still owed to the urgent subscribers), to every
    subscriber, and mark them relayed. An urgent subscriber gets only the events the
    urgent relay has not handed it.

    Events another relay holds are skipped (it hands them over). A subscriber's error
    rolls the whole relay back and propagates: nothing is marked, nothing is lost.
    """

    def hand_over(events: list[LeadEvent]) -> None:
        owed_to_urgent = [event for event in events if event.urgent_relayed_at is None]
        for name, handler in _subscribers.items():
            if name not in _urgent_subscribers:
                handler(events)
            elif owed_to_urgent:
                handler(owed_to_urgent)

    return _relay(event_ids, urgent=False, take_queued=take_queued, hand_over=hand_over)


def relay_urgent(event_ids: Iterable[int]) -> RelayOutcome:
    """Hand the events among ``event_ids`` that the urgent subscribers have not had, with
    their leads' earlier such events, to the urgent subscribers alone and mark them
    ``urgent_relayed_at``; the ordinary ``relay`` of the same events hands them to the
    others afterwards. Rolls back and propagates a subscriber's error, like ``relay``."""

    def hand_over(events: list[LeadEvent]) -> None:
        for name in _urgent_subscribers:
            _subscribers[name](events)

    return _relay(event_ids, urgent=True, take_queued=False, hand_over=hand_over)


def _relay(event_ids: Iterable[int], *, urgent: bool, take_queued: bool, hand_over: Subscriber) -> RelayOutcome:
    """Claim the events, hand those in lead order over and mark them (``urgent_relayed_at``
    for the urgent relay, ``relayed_at`` otherwise), in one transaction."""
    with transaction.atomic():
        events = _claim(list(event_ids), take_queued=take_queued, urgent=urgent)
        if not events:
            return RelayOutcome([], [])
        more_waiting = take_queued and len(events) >= RELAY_BATCH
        events, held_back = _in_lead_order(events, urgent=urgent)
        if events:
            hand_over(events)
            marked = (
                {"urgent_relayed_at": timezone.now()} if urgent else {"relayed_at": timezone.now(), "relay_error": ""}
            )
            LeadEvent.objects.filter(pk__in=[event.pk for event in events]).update(**marked)
    return RelayOutcome([event.pk for event in events], [event.pk for event in held_back], more_waiting)


def record_relay_failure(event_ids: list[int], error: BaseException) -> None:
    """Count a failed relay on its events and keep the reason (shown in the admin)."""
    LeadEvent.objects.filter(pk__in=event_ids, relayed_at__isnull=True).update(
        relay_attempts=F("relay_attempts") + 1, relay_error=f"{type(error).__name__}: {error}"[:2000]
    )


def _waiting(*, urgent: bool):
    """Events still owed to every subscriber or, for the urgent relay, to the urgent ones."""
    waiting = LeadEvent.objects.filter(relayed_at__isnull=True)
    return waiting.filter(urgent_relayed_at__isnull=True) if urgent else waiting


def _claim(event_ids: list[int], *, take_queued: bool, urgent: bool) -> list[LeadEvent]:
    waiting = _waiting(urgent=urgent).select_for_update(skip_locked=True, of=("self",))
    # The leads' earlier events still waiting come along: an urgent relay (which takes no
    # other queued events) is then never held back behind a relay still in the queue.
    leads = LeadEvent.objects.filter(pk__in=event_ids).values("lead_id")
    events = (
        list(waiting.filter(Q(pk__in=event_ids) | Q(lead_id__in=leads)).select_related("actor")) if event_ids else []
    )
    room = RELAY_BATCH - len(events)
    if take_queued and room > 0:
        taken = {event.pk for event in events}
        not_yet_urgent = Q(kind__in=URGENT_KINDS, urgent_relayed_at__isnull=True)
        # Nor the later events of a lead with such an event waiting: they would be held back.
        behind = _waiting(urgent=False).filter(not_yet_urgent, lead_id=OuterRef("lead_id"), pk__lt=OuterRef("pk"))
        others = waiting.exclude(pk__in=taken).exclude(not_yet_urgent).exclude(Exists(behind))
        events += list(others.select_related("actor").order_by("pk")[:room])
    return sorted(events, key=lambda event: event.pk)


def _in_lead_order(events: list[LeadEvent], *, urgent: bool) -> tuple[list[LeadEvent], list[LeadEvent]]:
    """Split the claimed events into those that may go now and those held back because
    an earlier event of their lead is waiting outside this claim (another relay holds
    it, or it was claimed by nobody yet)."""
    claimed = {event.pk for event in events}
    first_waiting = dict(
        _waiting(urgent=urgent)
        .filter(lead_id__in={event.lead_id for event in events})
        .exclude(pk__in=claimed)
        .values_list("lead_id")
        .annotate(first=Min("pk"))
    )
    ready, held = [], []
    for event in events:
        blocker = first_waiting.get(event.lead_id)
        (held if blocker is not None and blocker < event.pk else ready).append(event)
    return ready, held


def due_for_relay(now: datetime | None = None, *, limit: int = 1000) -> list[int]:
    """Events still waiting ``LEAD_EVENTS_RELAY_GRACE_SECONDS`` after they were recorded:
    their relay message was refused or lost."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.LEAD_EVENTS_RELAY_GRACE_SECONDS)
    due = LeadEvent.objects.filter(relayed_at__isnull=True, occurred_at__lte=now - grace).order_by("pk")
    return list(due.values_list("pk", flat=True)[:limit])


def purge_relayed(now: datetime | None = None) -> int:
    """Delete events relayed more than LEAD_EVENTS_KEEP_DAYS ago; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LEAD_EVENTS_KEEP_DAYS)
    deleted, _ = LeadEvent.objects.filter(relayed_at__lt=cutoff).delete()
    return deleted
