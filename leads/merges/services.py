"""Merging two leads that are one person, and undoing a merge. Managers and admins only.

``lead_merge`` keeps the primary lead: each field takes the primary's value unless
``prefer`` says "duplicate" for it, or the primary's value is empty (then the
duplicate's is taken). Opt-outs are kept from either lead unless ``prefer`` says
otherwise: a person who said "no email" on one record still means it. The
duplicate's interactions, status history and follow-ups move to the primary (open
follow-ups go to the primary's agent), and the duplicate is archived with
``merged_into`` set. A LeadMerge row keeps both leads as they were (every part,
and the ids of the rows moved) so ``lead_merge_undo`` can put everything back.

Each is one write of both leads (``leads.core.writes.lead_writes``): both locked in id
order, both moved to their next version, audit entries in one changeset, and the
events (``lead.merged`` on the primary, ``lead.archived`` on the duplicate; an undo's
``lead.updated`` and ``lead.restored``) recorded with them.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from leads.accounts import permissions
from leads.audit import history as audit
from leads.core import bookkeeping, selectors, writes
from leads.core.validation import price_range_errors
from leads.errors import Conflict, NotFound, ValidationFailed
from leads.events.models import LeadEventKind
from leads.models import FollowUpTask, Interaction, Lead, LeadMerge, StatusChange, User

PRIMARY, DUPLICATE = "primary", "duplicate"

# The fields a merge chooses between ("contact.phone_is_valid" follows "contact.phone").
MERGE_FIELDS = (
    *audit.LEAD_FIELDS,
    *(
        f"{part}.{field}"
        for part, fields in audit.PART_FIELDS.items()
        for field in fields
        if (part, field) != ("contact", "phone_is_valid")
    ),
)
OPT_OUT_FIELDS = ("contact.email_opt_out", "contact.sms_opt_out", "contact.call_opt_out")

# What an undo puts back on the lead row (the rest is bookkeeping: ids, version,
# timestamps, the after-save state, which the undo's own pipeline run refreshes).
RESTORED_LEAD_FIELDS = (
    "lead_type",
    "source",
    "status",
    "assigned_to",
    "score",
    "score_breakdown",
    "metadata",
    "custom_fields",
    "tags",
    "first_contacted_at",
    "last_contacted_at",
    "sla_due_at",
    "sla_status",
    "archived_at",
    "archived_by",
    "merged_into",
)


@dataclass(frozen=True)
class FieldChoice:
    """A field on which two leads differ, and which one a merge takes by default."""

    path: str
    label: str
    primary: Any
    duplicate: Any
    default: str


def merge_choices(primary: Lead, duplicate: Lead) -> list[FieldChoice]:
    """The fields the two leads disagree on (in MERGE_FIELDS order); expects their parts loaded."""
    primary_values, duplicate_values = _values(primary), _values(duplicate)
    return [
        FieldChoice(
            path=path,
            label=audit.field_label(path),
            primary=primary_values[path],
            duplicate=duplicate_values[path],
            default=_default_winner(path, primary_values[path], duplicate_values[path]),
        )
        for path in MERGE_FIELDS
        if primary_values[path] != duplicate_values[path]
    ]


@transaction.atomic
def lead_merge(
    *,
    actor: User,
    primary_id: str,
    duplicate_id: str,
    prefer: dict[str, str] | None = None,
    context: audit.AuditContext,
) -> LeadMerge:
    """Merge ``duplicate_id`` into ``primary_id``; returns the LeadMerge.

    PermissionDenied for agents, ValidationFailed for a lead merged with itself or
    a bad ``prefer``, NotFound when either lead is hidden, archived or missing.
    """
    permissions.require(permissions.can_merge, actor)
    prefer = dict(prefer or {})
    if primary_id == duplicate_id:
        raise ValidationFailed(fields={"duplicate_id": ["A lead cannot be merged with itself."]})
    _check_prefer(prefer)
    leads = selectors.visible_leads(actor)
    with writes.lead_writes([primary_id, duplicate_id], context=context, leads=leads) as locked:
        primary_write, duplicate_write = _pair(locked, primary_id, duplicate_id)
        primary, duplicate = primary_write.lead, duplicate_write.lead
        snapshot = {PRIMARY: _lead_snapshot(primary), DUPLICATE: _lead_snapshot(duplicate)}
        taken = _apply_values(primary, duplicate, prefer)
        _check_merged_lead(primary)

        now = timezone.now()
        created_status_changes = []
        taken_status, primary.status = primary.status, primary_write.status_before
        change = primary_write.change_status(taken_status, at=now)
        if change is not None:
            created_status_changes.append(change.pk)
        snapshot["moved"] = _move_rows(duplicate, primary)
        bookkeeping.recount_stage_figures([primary, duplicate])  # the history moved with the rows
        snapshot["created"] = {"status_changes": created_status_changes}
        snapshot["taken_from_duplicate"] = taken
        _stamp_contact_times(primary, duplicate)
        duplicate.archived_at, duplicate.archived_by, duplicate.merged_into = now, actor, primary

        merge = LeadMerge(primary=primary, duplicate=duplicate, merged_by=actor, merged_at=now, prefer=prefer)
        moved = {kind: len(ids) for kind, ids in snapshot["moved"].items()}
        details = {"merge_id": merge.public_id, "duplicate_id": duplicate.public_id, "moved": moved}
        primary_write.add_event(LeadEventKind.MERGED, details, audit_entry=(audit.Event.MERGED, None, details))
        duplicate_write.add_event(
            LeadEventKind.ARCHIVED,
            {"merged_into": primary.public_id, "merge_id": merge.public_id},
            audit_entry=(audit.Event.MERGED_INTO, None, primary.public_id),
        )
    merge.snapshot = snapshot
    merge.primary_version, merge.duplicate_version = primary.version, duplicate.version
    merge.save(force_insert=True)
    return merge


@transaction.atomic
def lead_merge_undo(*, actor: User, merge_id: str, force: bool = False, context: audit.AuditContext) -> LeadMerge:
    """Put both leads back as they were before the merge; returns the LeadMerge.

    Conflict when the merge was already undone, or when either lead changed since
    the merge (its version moved on) unless ``force``: those changes would be lost.
    """
    permissions.require(permissions.can_merge, actor)
    merge = merge_get(user=actor, merge_id=merge_id, for_update=True)
    if merge.is_undone:
        raise Conflict(f"This merge was already undone at {audit.json_value(merge.undone_at)}.")
    leads = selectors.visible_leads(actor, include_archived=True)
    primary_id, duplicate_id = merge.primary.public_id, merge.duplicate.public_id
    with writes.lead_writes([primary_id, duplicate_id], context=context, leads=leads) as locked:
        primary_write, duplicate_write = _pair(locked, primary_id, duplicate_id)
        primary, duplicate = primary_write.lead, duplicate_write.lead
        if not force and (primary.version, duplicate.version) != (merge.primary_version, merge.duplicate_version):
            raise Conflict(
                f"{primary.public_id} or {duplicate.public_id} changed since the merge (version "
                f"{primary.version}/{duplicate.version}, the merge left {merge.primary_version}/"
                f"{merge.duplicate_version}); undoing it would lose those changes. Add ?force=true to undo anyway."
            )
        snapshot = merge.snapshot
        _restore_lead(primary, snapshot[PRIMARY])
        _restore_lead(duplicate, snapshot[DUPLICATE])
        _move_rows_back(snapshot["moved"], primary=primary, duplicate=duplicate)
        StatusChange.objects.filter(lead=primary, pk__in=snapshot["created"]["status_changes"]).delete()
        bookkeeping.recount_stage_figures([primary, duplicate])
        primary_write.add_event(
            LeadEventKind.UPDATED,
            {"merge_undone": merge.public_id},
            audit_entry=(
                audit.Event.MERGE_UNDONE,
                {"merge_id": merge.public_id, "duplicate_id": duplicate.public_id},
                None,
            ),
        )
        duplicate_write.add_event(
            LeadEventKind.RESTORED,
            {"merge_undone": merge.public_id},
            audit_entry=(
                audit.Event.MERGE_UNDONE,
                {"merge_id": merge.public_id, "primary_id": primary.public_id},
                None,
            ),
        )
    merge.undone_at, merge.undone_by = timezone.now(), actor
    merge.save(update_fields=["undone_at", "undone_by"])
    return merge


def merge_get(*, user: User, merge_id: str, for_update: bool = False) -> LeadMerge:
    """A merge between leads ``user`` may see (archived ones included); NotFound otherwise."""
    leads = selectors.visible_leads(user, include_archived=True)
    merges = LeadMerge.objects.select_related("primary", "duplicate", "merged_by", "undone_by")
    if for_update:
        merges = merges.select_for_update(of=("self",))
    merge = (
        merges.filter(public_id=merge_id, primary__in=leads, duplicate__in=leads).first()
        if isinstance(merge_id, str) and merge_id.isascii() and merge_id.isprintable() and len(merge_id) <= 40
        else None
    )
    if merge is None:
        raise NotFound("Merge not found.")
    return merge


# --- helpers ---------------------------------------------------------------------


def _check_prefer(prefer: dict[str, str]) -> None:
    if len(prefer) > len(MERGE_FIELDS):
        raise ValidationFailed(fields={"prefer": [f"At most {len(MERGE_FIELDS)} fields, one per mergeable field."]})
    errors = {}
    for path, winner in prefer.items():
        shown = path[:80]  # echo a bounded part of the input
        if path not in MERGE_FIELDS:
            errors[f"prefer.{shown}"] = [f'"{shown}" is not a field a merge can choose, e.g. "contact.email".']
        elif winner not in (PRIMARY, DUPLICATE):
            errors[f"prefer.{shown}"] = ['Use "primary" or "duplicate".']
    if errors:
        raise ValidationFailed(fields=errors)


def _pair(locked: dict[str, writes.LeadWrite], primary_id: str, duplicate_id: str):
    """The two locked leads' writes; NotFound for the one that is missing."""
    if primary_id not in locked:
        raise NotFound("Lead not found.")
    if duplicate_id not in locked:
        raise NotFound("The duplicate lead was not found.", fields={"duplicate_id": ["No such lead."]})
    return locked[primary_id], locked[duplicate_id]


def _values(lead: Lead) -> dict[str, Any]:
    """The lead's mergeable values (assigned_to as the User)."""
    return {path: _get(lead, path) for path in MERGE_FIELDS}


def _get(lead: Lead, path: str) -> Any:
    part, _, field = path.rpartition(".")
    owner = getattr(lead, part) if part else lead
    return getattr(owner, field)


def _set(lead: Lead, path: str, value: Any) -> None:
    part, _, field = path.rpartition(".")
    owner = getattr(lead, part) if part else lead
    setattr(owner, field, value)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _default_winner(path: str, primary_value: Any, duplicate_value: Any) -> str:
    if path in OPT_OUT_FIELDS:
        return DUPLICATE if duplicate_value and not primary_value else PRIMARY
    if path == "assigned_to" and duplicate_value is not None and not duplicate_value.is_active:
        return PRIMARY
    return DUPLICATE if _is_empty(primary_value) and not _is_empty(duplicate_value) else PRIMARY


def _apply_values(primary: Lead, duplicate: Lead, prefer: dict[str, str]) -> list[str]:
    """Give the primary the duplicate's value where it wins; the paths taken."""
    taken = []
    for path in MERGE_FIELDS:
        primary_value, duplicate_value = _get(primary, path), _get(duplicate, path)
        if primary_value == duplicate_value:
            continue
        if prefer.get(path, _default_winner(path, primary_value, duplicate_value)) != DUPLICATE:
            continue
        if path == "assigned_to" and duplicate_value is not None and not duplicate_value.is_active:
            raise ValidationFailed(fields={"prefer.assigned_to": ["The duplicate's agent is not active."]})
        _set(primary, path, duplicate_value)
        if path == "contact.phone":
            primary.contact.phone_is_valid = duplicate.contact.phone_is_valid
        taken.append(path)
    return taken


def _check_merged_lead(lead: Lead) -> None:
    """The merged values must make a valid lead (a min price from one lead and a
    max price from the other can cross)."""
    errors = price_range_errors(lead.preferences.min_price, lead.preferences.max_price, prefix="preferences.")
    if not (lead.contact.email or lead.contact.phone):
        errors["contact"] = ["A lead needs an email address or a phone number."]
    if errors:
        raise ValidationFailed("The chosen values do not make a valid lead.", fields=errors)


def _move_rows(duplicate: Lead, primary: Lead) -> dict[str, list]:
    """Move the duplicate's interactions, status history and follow-ups to the primary;
    open follow-ups go to the primary's agent. Returns what moved (for the undo)."""
    interactions = list(Interaction.objects.filter(lead=duplicate).values_list("pk", flat=True))
    status_changes = list(StatusChange.objects.filter(lead=duplicate).values_list("pk", flat=True))
    follow_ups = list(FollowUpTask.objects.filter(lead=duplicate).values_list("pk", "assigned_to_id", "completed_at"))
    Interaction.objects.filter(pk__in=interactions).update(lead=primary)
    StatusChange.objects.filter(pk__in=status_changes).update(lead=primary)
    FollowUpTask.objects.filter(pk__in=[pk for pk, _, _ in follow_ups]).update(lead=primary)
    FollowUpTask.objects.filter(pk__in=[pk for pk, _, done in follow_ups if done is None]).update(
        assigned_to=primary.assigned_to_id
    )
    return {
        "interactions": interactions,
        "status_changes": status_changes,
        "follow_ups": [[pk, assignee] for pk, assignee, _ in follow_ups],
    }


def _move_rows_back(moved: dict[str, list], *, primary: Lead, duplicate: Lead) -> None:
    """The rows a merge moved go back to the duplicate (those still on the primary)."""
    Interaction.objects.filter(lead=primary, pk__in=moved["interactions"]).update(lead=duplicate)
    StatusChange.objects.filter(lead=primary, pk__in=moved["status_changes"]).update(lead=duplicate)
    by_assignee: dict[int | None, list[int]] = {}
    for pk, assignee in moved["follow_ups"]:
        by_assignee.setdefault(assignee, []).append(pk)
    for assignee, pks in by_assignee.items():
        FollowUpTask.objects.filter(lead=primary, pk__in=pks).update(lead=duplicate, assigned_to=assignee)


def _stamp_contact_times(primary: Lead, duplicate: Lead) -> None:
    """The merged lead was first contacted when either was, last contacted when either was."""
    firsts = [value for value in (primary.first_contacted_at, duplicate.first_contacted_at) if value]
    lasts = [value for value in (primary.last_contacted_at, duplicate.last_contacted_at) if value]
    primary.first_contacted_at = min(firsts) if firsts else None
    primary.last_contacted_at = max(lasts) if lasts else None


def _lead_snapshot(lead: Lead) -> dict[str, dict[str, Any]]:
    """Everything an undo restores, as JSON (decimals and times as exact strings)."""
    return {
        "lead": _row_snapshot(lead, RESTORED_LEAD_FIELDS),
        **{part: _row_snapshot(getattr(lead, part), fields) for part, fields in audit.PART_FIELDS.items()},
    }


def _row_snapshot(instance, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _encode(instance._meta.get_field(name).value_from_object(instance)) for name in fields}


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _restore_lead(lead: Lead, snapshot: dict[str, dict[str, Any]]) -> None:
    """Put the snapshot's values back on the lead and its parts (saved by the write)."""
    _restore_row(lead, snapshot["lead"])
    for part in audit.PART_FIELDS:
        _restore_row(getattr(lead, part), snapshot[part])


def _restore_row(instance, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field = instance._meta.get_field(name)
        setattr(instance, field.attname, None if value is None else field.to_python(value))
