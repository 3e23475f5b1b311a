"""The one way a lead is written. Every writer (the service behind the API, the
agent pages and the admin; the CSV import; merges and their undo; the opt-out link;
the workflows; routing and plans to come) goes through here, so each write:

- locks every row it will write: the lead and its contact, preferences and
  timeline, read fresh under the lock (a writer that waited never saves a stale copy);
- saves only the columns that moved (``update_fields``), so even a stale value in
  memory cannot overwrite a field the write did not touch;
- moves the lead to its next version and marks the after-save work pending;
- records the audit entries and the save's events (``leads.events``) in the same
  transaction, and queues the events' relay once it commits.

::

    with lead_write(lead_id, context=context) as write:
        write.lead.contact.first_name = "Ada"
        write.change_status(LeadStatus.CONTACTED)

A write that moved nothing makes no version, no entry and no event. An exception
inside the block rolls everything back. ``insert_leads`` is the same for new leads.
Writes that are the after-save work's own bookkeeping (scores, SLA state) and make no
version live in ``leads.core.bookkeeping``.
"""

import copy
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

from leads import bulk
from leads.audit import history as audit
from leads.core import bookkeeping, selectors
from leads.errors import NotFound, PreconditionFailed
from leads.events import services as events
from leads.events.models import LeadEventKind
from leads.events.tasks import is_urgent, relay_after_commit
from leads.models import (
    Contact,
    Interaction,
    Lead,
    Preferences,
    ProcessingStatus,
    StatusChange,
    Timeline,
)
from leads.reports.pipeline import rank

PART_NAMES = ("contact", "preferences", "timeline")
# Written by every write that moves the lead on; the rest only when they changed.
_VERSION_COLUMNS = {"version", "processing_status", "processing_error", "updated_at"}


class LeadWrite:
    """One lead locked for a write (``lead_write``). Change ``lead`` and its parts in
    memory; rows that belong to the write (a status change, an interaction, events)
    are added through the methods, which keep the history and the events in step."""

    def __init__(self, lead: Lead, context: audit.AuditContext):
        self.lead = lead
        self.context = context
        self._before = {name: _column_values(row) for name, row in _rows(lead)}
        self._changes = audit.LeadChanges(lead)
        self._interactions: list[Interaction] = []
        self._extra_events: list[tuple[LeadEventKind, dict[str, Any]]] = []
        self.status_before = lead.status

    def change_status(self, status: str, *, at: datetime | None = None) -> StatusChange | None:
        """Move the lead to ``status`` and record the move (time in stage, speed to lead);
        returns the move, None when the lead already has that status."""
        if status == self.lead.status:
            return None
        change = StatusChange.objects.create(
            lead=self.lead,
            from_status=self.lead.status,
            to_status=status,
            changed_by=self.context.actor,
            changed_at=at or timezone.now(),
        )
        bookkeeping.record_move(self.lead, change)
        self.lead.status = status
        return change

    def add_interaction(self, **values: Any) -> Interaction:
        """Log an interaction on the lead (``values`` are Interaction fields)."""
        interaction = Interaction.objects.create(lead=self.lead, **values)
        self._interactions.append(interaction)
        self._changes.add_event(*audit.interaction_added(interaction))
        return interaction

    def add_event(self, kind: LeadEventKind, data: dict[str, Any] | None = None, *, audit_entry=None) -> None:
        """Record an event that is not one field's change (merged, archived, restored),
        with its audit entry ``(field, old, new)`` when it has one."""
        self._extra_events.append((kind, data or {}))
        if audit_entry is not None:
            self._changes.add_event(*audit_entry)

    @property
    def moved(self) -> bool:
        """Whether the write has changed anything so far."""
        return bool(self._interactions or self._extra_events or any(self._moved_columns().values()))

    def _moved_columns(self) -> dict[str, set[str]]:
        return {name: _moved(row, self._before[name]) for name, row in _rows(self.lead)}

    def _save(self, *, changeset: uuid.UUID, at: datetime) -> list[events.NewEvent]:
        """Save what moved as the lead's next version; returns the events to record."""
        moved = self._moved_columns()
        if not (self._interactions or self._extra_events or any(moved.values())):
            return []
        lead = self.lead
        lead.version += 1
        lead.processing_status = ProcessingStatus.PENDING
        lead.processing_error = ""
        for name in PART_NAMES:
            if moved[name]:
                getattr(lead, name).save(update_fields=sorted(moved[name]))
        lead.save(update_fields=sorted(moved["lead"] | _VERSION_COLUMNS))
        entries = self._changes.record(self.context, changeset=changeset, at=at)
        return self._events(entries)

    def _events(self, entries) -> list[events.NewEvent]:
        lead = self.lead
        changed = [entry.field for entry in entries if entry.field not in audit.EVENTS]
        found: list[tuple[LeadEventKind, dict[str, Any]]] = []
        for entry in entries:
            if entry.field == "status":
                found.append((LeadEventKind.STATUS_CHANGED, {"from": entry.old_value, "to": entry.new_value}))
            elif entry.field == "assigned_to":
                found.append((LeadEventKind.ASSIGNED, {"from": entry.old_value, "to": entry.new_value}))
        found += [
            (LeadEventKind.INTERACTION_ADDED, {"interaction_id": interaction.pk}) for interaction in self._interactions
        ]
        found += self._extra_events
        if changed or self._interactions:
            found.append(
                (LeadEventKind.UPDATED, {"changed_fields": changed + (["interactions"] if self._interactions else [])})
            )
        return [events.NewEvent(lead.pk, lead.version, kind, data) for kind, data in found]


@contextmanager
def lead_write(
    lead_id: str | int,
    *,
    context: audit.AuditContext,
    leads: QuerySet[Lead] | None = None,
    expected_version: int | None = None,
    savepoint: bool = True,
) -> Iterator[LeadWrite]:
    """Lock the lead ``lead_id`` (one of ``leads``, by default those the actor may see)
    for one write; NotFound when it is not there, PreconditionFailed when it is not at
    ``expected_version``. ``lead_id`` is the public id, or the primary key for the
    system's own writes (tasks hold primary keys). ``savepoint=False``: inside a
    transaction the caller ends on any error (no savepoint to roll back to)."""
    with lead_writes([lead_id], context=context, leads=leads, savepoint=savepoint) as writes:
        if lead_id not in writes:
            raise NotFound("Lead not found.")
        write = writes[lead_id]
        if expected_version is not None and expected_version != write.lead.version:
            raise PreconditionFailed(f"The lead is at version {write.lead.version}, not {expected_version}.")
        yield write


@contextmanager
def lead_writes(
    lead_ids: Sequence[str | int],
    *,
    context: audit.AuditContext,
    leads: QuerySet[Lead] | None = None,
    savepoint: bool = True,
) -> Iterator[dict[str, LeadWrite]]:
    """``lead_write`` for several leads at once (a merge, a bulk action): locked in id
    order, so two such writes never deadlock; the ids not found are left out of the
    dict (keyed by the ids given). Their audit entries share one changeset."""
    with transaction.atomic(savepoint=savepoint):
        if leads is None:
            leads = selectors.visible_leads(context.actor)
        given = set(lead_ids)
        writes = {
            (lead.pk if lead.pk in given else lead.public_id): LeadWrite(lead, context)
            for lead in lock(leads, lead_ids)
        }
        yield writes
        changeset, at = uuid.uuid4(), timezone.now()
        new_events = [event for write in writes.values() for event in write._save(changeset=changeset, at=at)]
        _record_events(new_events, context=context, at=at)


def lock(leads: QuerySet[Lead], lead_ids: Iterable[str | int]) -> list[Lead]:
    """The leads of ``leads`` with these public ids (or primary keys), each with its
    contact, preferences, timeline (and assignee), every row of the four locked until the
    transaction ends and read after the lock was granted. In id order."""
    lead_ids = list(lead_ids)
    public_ids = [lead_id for lead_id in lead_ids if selectors.is_lead_id(lead_id)]
    pks = [lead_id for lead_id in lead_ids if isinstance(lead_id, int) and not isinstance(lead_id, bool)]
    if not (public_ids or pks):
        return []
    wanted = Q(public_id__in=public_ids) if public_ids else Q(pk__in=pks)
    if public_ids and pks:
        wanted |= Q(pk__in=pks)
    # Filtering on the parts makes their joins INNER, which FOR UPDATE may lock (it may
    # not lock the nullable side of an outer join); every lead has all three.
    return list(
        leads.filter(wanted, contact__isnull=False, preferences__isnull=False, timeline__isnull=False)
        .select_related(*PART_NAMES, "assigned_to")
        .select_for_update(no_key=True, of=("self", *PART_NAMES))
        .order_by("pk")
    )


def insert_leads(
    new_leads: Sequence[tuple[Lead, Sequence[Contact | Preferences | Timeline]]],
    *,
    context: audit.AuditContext,
    created_data: dict[str, Any] | None = None,
) -> list[Lead]:
    """Insert new leads with their parts (unsaved instances, ids drawn), each with its
    first status change, its "created" audit entry and its ``lead.created`` event
    (whose data is ``created_data``, {} by default); one query per table whatever their
    number. Returns the leads."""
    for lead, _ in new_leads:
        lead.processing_status = ProcessingStatus.PENDING
        lead.furthest_stage = rank(lead.status)  # the first status change's stage
    leads = insert_past_leads(new_leads)
    if not leads:
        return []
    changed_by_id = getattr(context.actor, "pk", None)
    bulk.insert_rows(
        StatusChange,
        [
            {
                "lead_id": lead.pk,
                "from_status": "",
                "to_status": lead.status,
                "changed_by_id": changed_by_id,
                "changed_at": lead.created_at,
            }
            for lead in leads
        ],
    )
    # In the stage since the first change, i.e. the arrival (set by the insert).
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(stage_entered_at=F("created_at"))
    for lead in leads:
        lead.stage_entered_at = lead.created_at
    audit.record_created_many(leads, context)
    created = [
        events.NewEvent(lead.pk, lead.version, LeadEventKind.CREATED, dict(created_data or {})) for lead in leads
    ]
    _record_events(created, context=context, at=timezone.now())
    return leads


def insert_past_leads(new_leads: Sequence[tuple[Lead, Sequence[Contact | Preferences | Timeline]]]) -> list[Lead]:
    """Insert leads as they stood in the past, with their parts, exactly as given (demo
    and bench history, whose status history and interactions the caller writes): no
    first status change, no audit entry, no event, since nothing should react now to a
    past that was never lived here. One query per table. Returns the leads."""
    leads = [lead for lead, _ in new_leads]
    if not leads:
        return []
    bulk.insert(leads)
    parts = [part for _, lead_parts in new_leads for part in lead_parts]
    for model in (Contact, Preferences, Timeline):
        bulk.insert([part for part in parts if isinstance(part, model)])
    return leads


def _record_events(new_events: list[events.NewEvent], *, context: audit.AuditContext, at: datetime) -> None:
    urgent = context.urgent_events and is_urgent(new_events, channel=context.channel)
    # A new or reassigned lead's events wait for the urgent relay, or for a relay of their own.
    may_join = not any(event.kind in events.URGENT_KINDS for event in new_events)
    event_ids = events.record(new_events, actor=context.actor, channel=context.channel, at=at)
    relay_after_commit(event_ids, urgent=urgent, may_join=may_join)


def _rows(lead: Lead) -> list[tuple[str, Model]]:
    return [("lead", lead), *((name, getattr(lead, name)) for name in PART_NAMES)]


def _column_values(row: Model) -> dict[str, Any]:
    """The row's column values by field name; lists and dicts copied, so changing them
    in place still counts as a change."""
    values = {}
    for field in row._meta.concrete_fields:
        if field.primary_key:
            continue
        value = getattr(row, field.attname)
        values[field.name] = copy.deepcopy(value) if isinstance(value, list | dict) else value
    return values


def _moved(row: Model, before: dict[str, Any]) -> set[str]:
    return {name for name, old in before.items() if getattr(row, row._meta.get_field(name).attname) != old}
