"""Writes of web activity events.

``record_web_event`` stores one event a website or an alert email reported about a
lead; ``record_web_events`` a batch of them (the API's). Both are idempotent by the
sender's ``event_id``: an id the sender used before returns the stored event and
changes nothing (``created`` is False). Ids are the sender's own (``WebEvent``:
unique per API key or agent, ``system`` for the app's own senders such as the alerts).

A web event is not a write to the lead: the lead's version does not move and the
after-save pipeline (market analysis, CRM sync, workflows) does not run for a page
view. Each call records one ``lead.web_activity`` lead event per lead in the same
transaction (``leads.events``), so the subscribers react once it commits: scoring
refreshes the engagement part of the score, plans start on "web activity" triggers.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from leads.core.inputs import flatten_errors
from leads.errors import Conflict, ValidationFailed
from leads.events import services as events
from leads.events.models import LeadEventKind
from leads.events.tasks import relay_after_commit
from leads.models import AuditChannel, Lead, User
from leads.webevents.inputs import WebEventInput
from leads.webevents.models import WebEvent

SYSTEM_SENDER = "system"


def sender_key(actor: User | None) -> str:
    """Whose event ids these are: the API key's (or agent's) user, or the app itself."""
    return f"user:{actor.pk}" if getattr(actor, "pk", None) else SYSTEM_SENDER


def validate_web_event(raw: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """The typed values of one event (``WebEventInput``); ValidationFailed with field errors."""
    serializer = WebEventInput(data=raw)
    if not serializer.is_valid():
        raise ValidationFailed("The event has invalid fields.", fields=flatten_errors(serializer.errors, prefix))
    return dict(serializer.validated_data)


@dataclass(frozen=True)
class Recorded:
    event: WebEvent
    created: bool


def record_web_event(
    *,
    lead: Lead,
    kind: str,
    occurred_at: datetime,
    event_id: str,
    listing_ref: str = "",
    listing_url: str = "",
    search: dict | None = None,
    page_url: str = "",
    source: str = "idx",
    data: dict | None = None,
    actor: User | None = None,
) -> tuple[WebEvent, bool]:
    """Store one event of ``lead`` (``kind``: a ``WebEventKind``); returns ``(event, created)``.

    A repeated ``event_id`` (from the same sender) returns the stored event, created
    False, and records nothing. ValidationFailed for bad values (unknown kind, a time in
    the future or older than a year, oversized data, a URL that is not http(s));
    Conflict when the sender used the id for another lead.
    """
    values = validate_web_event(
        {
            "event_id": event_id,
            "kind": kind,
            "occurred_at": occurred_at,
            "listing_ref": listing_ref,
            "listing_url": listing_url,
            "search": search,
            "page_url": page_url,
            "source": source,
            "data": data,
        }
    )
    [recorded] = record_web_events([(lead, values)], actor=actor)
    return recorded.event, recorded.created


def record_web_events(items: list[tuple[Lead, dict[str, Any]]], *, actor: User | None) -> list[Recorded]:
    """Store the validated events (``validate_web_event`` values), each for its lead, all or
    none; a result per item, in order. An id repeated within the batch is stored once.
    A few queries whatever the batch's size."""
    try:
        return _record(items, actor=actor)
    except IntegrityError:
        # Another request stored one of these ids meanwhile: this time it is found.
        return _record(items, actor=actor)


def _record(items: list[tuple[Lead, dict[str, Any]]], *, actor: User | None) -> list[Recorded]:
    key = sender_key(actor)
    sender = actor if key != SYSTEM_SENDER else None
    with transaction.atomic():
        known = {
            event.event_id: event
            for event in WebEvent.objects.filter(sender_key=key, event_id__in={v["event_id"] for _, v in items})
        }
        results, new = [], []
        for index, (lead, values) in enumerate(items):
            event = known.get(values["event_id"])
            if event is not None:
                if event.lead_id != lead.pk:
                    field = f"events[{index}].event_id" if len(items) > 1 else "event_id"
                    raise Conflict(
                        "This event_id was already used for another lead.",
                        fields={field: [f'"{values["event_id"]}" is already the id of another lead\'s event.']},
                    )
                results.append(Recorded(event, created=False))
                continue
            event = WebEvent(lead=lead, sender_key=key, sent_by=sender, **values)
            known[event.event_id] = event
            new.append(event)
            results.append(Recorded(event, created=True))
        if new:
            WebEvent.objects.bulk_create(new)
            _record_lead_events(new, [lead for lead, _ in items], actor=actor)
    return results


def _record_lead_events(new: list[WebEvent], leads: list[Lead], *, actor: User | None) -> None:
    """One ``lead.web_activity`` event per lead (the lead's version unchanged), relayed after commit."""
    by_lead: dict[int, list[WebEvent]] = defaultdict(list)
    for event in new:
        by_lead[event.lead_id].append(event)
    versions = {lead.pk: lead.version for lead in leads}
    new_events = [
        events.NewEvent(
            lead_pk,
            versions[lead_pk],
            LeadEventKind.LEAD_WEB_ACTIVITY,
            {
                "web_event_ids": [event.pk for event in lead_events],
                "kinds": sorted({event.kind for event in lead_events}),
            },
        )
        for lead_pk, lead_events in by_lead.items()
    ]
    channel = AuditChannel.API if getattr(actor, "pk", None) else AuditChannel.SYSTEM
    relay_after_commit(events.record(new_events, actor=actor, channel=channel), may_join=True)
