"""Audit history: what changed on a lead, from what to what, who changed it, when
and through which channel (API, agent pages, admin, task, import, system).

Writers record in the same transaction as the change, so a rolled-back write
leaves no entry and a committed one always has its entries:

    changes = audit.LeadChanges(lead)   # right after locking the lead
    ...                                 # change the lead and its parts, save
    changes.record(context)             # one entry per field whose value moved

A field is a path: "status", "assigned_to", "tags", "contact.email",
"preferences.min_price", "timeline.urgency_level". Events that are not one
field's change use their own name (``Event``); their values say what happened.
Values are stored as JSON: decimals as numbers, dates and times in ISO 8601
(UTC, "Z"), the assignee as a username.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.utils import timezone

from leads import bulk
from leads.core import selectors
from leads.models import AuditChannel, AuditEntry, Contact, Interaction, Lead, Preferences, Timeline, User

LEAD_FIELDS = ("lead_type", "source", "status", "assigned_to", "tags", "custom_fields")
PARTS = {
    "contact": Contact,
    "preferences": Preferences,
    "timeline": Timeline,
}


def _part_fields(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields if not field.primary_key)


PART_FIELDS = {name: _part_fields(model) for name, model in PARTS.items()}


class Event:
    """Entries that are not one field's change."""

    CREATED = "created"  # new: the lead's values
    INTERACTION_ADDED = "interaction_added"  # new: {"id", "type", "summary"}
    SCORED = "score"  # old/new: the score (the pipeline's write, one entry)
    MERGED = "merged"  # on the primary; new: {"merge_id", "duplicate_id"}
    MERGED_INTO = "merged_into"  # on the duplicate; new: the primary's id
    MERGE_UNDONE = "merge_undone"  # on both; old: {"merge_id", ...}


# Entries that name an event rather than one field's change.
EVENTS = frozenset(
    {Event.CREATED, Event.INTERACTION_ADDED, Event.SCORED, Event.MERGED, Event.MERGED_INTO, Event.MERGE_UNDONE}
)


@dataclass(frozen=True)
class AuditContext:
    """Who writes and through what; ``actor`` is None for tasks and the system."""

    actor: User | None
    channel: str = AuditChannel.API
    request_id: str = ""
    # False for a writer that does the at-once work of its new and reassigned leads itself
    # (the routing alerts its assignee in its own transaction): their events' relay then
    # waits its turn behind speed-to-lead work instead of going ahead of it.
    urgent_events: bool = True


TASK = AuditContext(actor=None, channel=AuditChannel.TASK)
SYSTEM = AuditContext(actor=None, channel=AuditChannel.SYSTEM)


_AS_JSON = frozenset({str, int, bool, float})


def json_value(value: Any) -> Any:
    """``value`` as the JSON an entry stores."""
    if value is None or type(value) in _AS_JSON:  # most values: nothing to convert
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return value


def audited_values(lead: Lead) -> dict[str, Any]:
    """The lead's audited fields as JSON, keyed by path. ``assigned_to`` holds the
    user's id here (``record`` names the user), so this costs no query when the
    parts are loaded."""
    values = {field: json_value(getattr(lead, field)) for field in LEAD_FIELDS if field != "assigned_to"}
    values["assigned_to"] = lead.assigned_to_id
    for name, fields in PART_FIELDS.items():
        part = getattr(lead, name, None)
        for field in fields:
            values[f"{name}.{field}"] = json_value(getattr(part, field)) if part is not None else None
    return values


class LeadChanges:
    """The lead's audited values before a write; ``record`` writes an entry for
    each value the write moved, plus the events added with ``add_event``."""

    def __init__(self, lead: Lead):
        self.lead = lead
        self.before = audited_values(lead)
        self.events: list[tuple[str, Any, Any]] = []
        self._usernames = _loaded_assignee(lead)

    def add_event(self, field: str, old: Any, new: Any) -> None:
        self.events.append((field, json_value(old), json_value(new)))

    def changed_fields(self) -> list[tuple[str, Any, Any]]:
        after = audited_values(self.lead)
        return [(field, self.before[field], value) for field, value in after.items() if self.before[field] != value]

    def record(
        self, context: AuditContext, *, changeset: uuid.UUID | None = None, at: datetime | None = None
    ) -> list[AuditEntry]:
        """Write the entries (none when nothing moved); call inside the write's transaction."""
        changes = [*self.changed_fields(), *self.events]
        usernames = {**self._usernames, **_loaded_assignee(self.lead)}
        return _write(self.lead.pk, changes, context, changeset=changeset, at=at, usernames=usernames)


def _loaded_assignee(lead: Lead) -> dict[int, str]:
    """The lead's assignee's username by id when the assignee is in memory (no query)."""
    assignee = lead.assigned_to if Lead.assigned_to.is_cached(lead) else None
    return {assignee.pk: assignee.username} if assignee is not None else {}


def record(
    lead: Lead,
    changes: Iterable[tuple[str, Any, Any]],
    context: AuditContext,
    *,
    changeset: uuid.UUID | None = None,
    at: datetime | None = None,
) -> list[AuditEntry]:
    """Write one entry per ``(field, old, new)``, all in one changeset; one query."""
    return _write(lead.pk, changes, context, changeset=changeset, at=at)


def _write(
    lead_pk: int,
    changes: Iterable[tuple[str, Any, Any]],
    context: AuditContext,
    *,
    changeset: uuid.UUID | None = None,
    at: datetime | None = None,
    usernames: dict[int, str] | None = None,
) -> list[AuditEntry]:
    changes = list(changes)
    if not changes:
        return []
    changes = _name_assignees(changes, usernames or {})
    changeset = changeset or uuid.uuid4()
    at = at or timezone.now()
    actor = context.actor if isinstance(context.actor, User) else None
    return AuditEntry.objects.bulk_create(
        AuditEntry(
            lead_id=lead_pk,
            changeset=changeset,
            field=field,
            old_value=old,
            new_value=new,
            actor=actor,
            channel=context.channel,
            request_id=context.request_id[:64],
            at=at,
        )
        for field, old, new in changes
    )


def record_created(lead: Lead, context: AuditContext) -> list[int]:
    """One "created" entry holding the new lead's values."""
    return record_created_many([lead], context)


def record_created_many(leads: list[Lead], context: AuditContext) -> list[int]:
    """``record_created`` for a batch of new leads (their parts and assignee loaded):
    one query, one changeset per lead. Returns the entries' ids."""
    actor_id = context.actor.pk if isinstance(context.actor, User) else None
    at = timezone.now()
    request_id = context.request_id[:64]
    entries = []
    for lead in leads:
        values = audited_values(lead)
        values["assigned_to"] = lead.assigned_to.username if lead.assigned_to_id else None
        entries.append(
            {
                "lead_id": lead.pk,
                "changeset": uuid.uuid4(),
                "field": Event.CREATED,
                "old_value": None,
                "new_value": values,
                "actor_id": actor_id,
                "channel": context.channel,
                "request_id": request_id,
                "at": at,
            }
        )
    return bulk.insert_rows(AuditEntry, entries)


def interaction_added(interaction: Interaction) -> tuple[str, None, dict]:
    """The ``(field, old, new)`` of an interaction logged on the lead."""
    return (
        Event.INTERACTION_ADDED,
        None,
        {"id": interaction.pk, "type": interaction.type, "summary": interaction.summary},
    )


def record_score(*, lead_pk: int, old: int | None, new: int | None) -> list[AuditEntry]:
    """The pipeline's score write as one entry (its breakdown, analysis and
    processing state are bookkeeping of the same write); nothing when unchanged."""
    return record_scores([(lead_pk, old, new)])


def record_scores(scores: Iterable[tuple[int, int | None, int | None]]) -> list[AuditEntry]:
    """``record_score`` for many ``(lead_pk, old, new)`` at once: one query, none when no score moved."""
    at = timezone.now()
    entries = [
        AuditEntry(
            lead_id=lead_pk,
            changeset=uuid.uuid4(),
            field=Event.SCORED,
            old_value=old,
            new_value=new,
            channel=TASK.channel,
            at=at,
        )
        for lead_pk, old, new in scores
        if old != new
    ]
    return bulk.insert(entries)


def _name_assignees(changes: list[tuple[str, Any, Any]], known: dict[int, str]) -> list[tuple[str, Any, Any]]:
    """Replace user ids in "assigned_to" changes by usernames (those not ``known``: one
    query, only when needed)."""
    ids = {value for field, old, new in changes if field == "assigned_to" for value in (old, new) if value}
    if not ids:
        return changes
    names = {pk: known[pk] for pk in ids if pk in known}
    if unknown := ids - set(names):
        names.update(User.objects.filter(pk__in=unknown).values_list("pk", "username"))

    def name(value):
        return names.get(value, value) if value else None

    return [
        (field, name(old), name(new)) if field == "assigned_to" else (field, old, new) for field, old, new in changes
    ]


# --- reads ------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPage:
    entries: list[AuditEntry]
    total_count: int
    page: int
    page_size: int


def lead_history(*, user: User, lead_id: str, page: int = 1, page_size: int = 20) -> HistoryPage:
    """The visible lead's entries, newest first; NotFound when the lead is hidden."""
    selectors.lead_ensure_visible(user=user, lead_id=lead_id)
    entries = AuditEntry.objects.filter(lead__public_id=lead_id).select_related("actor")
    total_count = Paginator(entries, page_size).count
    offset = (page - 1) * page_size
    rows = list(entries[offset : offset + page_size]) if offset < total_count else []
    return HistoryPage(entries=rows, total_count=total_count, page=page, page_size=page_size)


def recent_entries(lead: Lead, *, limit: int = 20) -> list[AuditEntry]:
    """The lead's latest entries, for its page and its admin page (one query)."""
    return list(AuditEntry.objects.filter(lead=lead).select_related("actor")[:limit])


# --- showing an entry ---------------------------------------------------------------

_EVENT_LABELS = {
    Event.CREATED: "Created",
    Event.INTERACTION_ADDED: "Activity logged",
    Event.SCORED: "Score",
    Event.MERGED: "Merged a duplicate",
    Event.MERGED_INTO: "Merged into",
    Event.MERGE_UNDONE: "Merge undone",
}


@dataclass(frozen=True)
class HistoryLine:
    """An entry as people read it (the admin's and the lead page's History)."""

    at: datetime
    changeset: uuid.UUID
    actor: User | None
    channel: str
    label: str
    old: str
    new: str


def history_lines(entries: Iterable[AuditEntry]) -> list[HistoryLine]:
    return [
        HistoryLine(
            at=entry.at,
            changeset=entry.changeset,
            actor=entry.actor,
            channel=entry.get_channel_display(),
            label=field_label(entry.field),
            # A creation holds the whole lead: the label says enough.
            old="" if entry.field == Event.CREATED else value_text(entry.old_value),
            new="" if entry.field == Event.CREATED else value_text(entry.new_value),
        )
        for entry in entries
    ]


def field_label(field: str) -> str:
    """ "contact.email" -> "Contact: email"; events by their label."""
    if field in _EVENT_LABELS:
        return _EVENT_LABELS[field]
    part, _, name = field.rpartition(".")
    name = name.replace("_", " ")
    return f"{part.capitalize()}: {name}" if part else name.capitalize()


def value_text(value: Any) -> str:
    """A stored value as a short text for people."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        if "summary" in value:
            return f"{value.get('type', '')}: {value['summary']}".strip(": ")
        if "duplicate_id" in value:
            return str(value["duplicate_id"])
        return "; ".join(f"{key}: {value_text(item)}" for key, item in value.items() if item not in (None, "", []))
    return str(value)
