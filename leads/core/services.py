"""Lead operations with their business rules. The API, the agent pages, the admin,
commands and tasks all read and change leads through ``LeadManagementService``;
every change is made through ``leads.core.writes`` (one transaction that locks what it
writes, saves what moved, and records the history and the events)."""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads.accounts import permissions
from leads.audit import history as audit
from leads.core import duplicates, pagination, selectors, validation, writes
from leads.core.filters import LeadFilter
from leads.core.validation import price_range_errors
from leads.deals import services as deals
from leads.errors import ApplicationError, ValidationFailed
from leads.events.models import LeadEventKind
from leads.models import (
    AuditChannel,
    Contact,
    Interaction,
    InteractionDirection,
    Lead,
    LeadStatus,
    Preferences,
    Timeline,
    User,
)
from leads.reporting import counts

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_is_valid",
    "preferred_contact_method",
    "best_time_to_contact",
    "preferred_language",
    "email_opt_out",
    "sms_opt_out",
    "call_opt_out",
)
PREFERENCE_FIELDS = (
    "property_types",
    "min_price",
    "max_price",
    "preferred_locations",
    "min_bedrooms",
    "min_bathrooms",
    "min_square_feet",
    "must_have_features",
    "nice_to_have_features",
)
TIMELINE_FIELDS = ("urgency_level", "financing_status", "target_move_date", "pre_approval_amount")
LEAD_FIELDS = ("lead_type", "source", "tags", "custom_fields")


@dataclass(frozen=True)
class LeadPage:
    leads: list[Lead]
    total_count: int
    page: int | None  # None when the page was asked for by cursor
    page_size: int
    next_cursor: str | None  # where the next page starts; None on the last page


@dataclass(frozen=True)
class LeadIntake:
    """What ``create_or_attach_lead`` did: created ``lead``, or attached the inquiry
    to the ``existing`` lead (``lead`` is then that lead, or None if the actor may not see it)."""

    lead: Lead | None
    created: bool
    existing: duplicates.DuplicateMatch | None = None


@dataclass(frozen=True)
class BatchItemResult:
    """One item of ``create_leads_batch``: "created", "duplicate" or "error"."""

    index: int
    status: str
    lead_id: str | None = None
    code: str | None = None
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    existing: duplicates.DuplicateMatch | None = None

    CREATED = "created"
    DUPLICATE = "duplicate"
    ERROR = "error"

    @classmethod
    def failed(cls, index: int, error: ApplicationError) -> "BatchItemResult":
        return cls(index, cls.ERROR, code=error.code, errors=error.fields or {"body": [error.message]})


class LeadManagementService:
    """Lead operations performed by ``actor`` (the authenticated user) through
    ``channel`` (AuditChannel: "api", "page", "admin", "import", ...); every write
    records its changes in the audit history, in the same transaction."""

    def __init__(self, actor: User, *, channel: str = AuditChannel.API, request_id: str = ""):
        self.actor = actor
        self.audit_context = audit.AuditContext(actor=actor, channel=channel, request_id=request_id)

    # --- reads -------------------------------------------------------------

    def get_lead(self, lead_id: str) -> Lead:
        return selectors.lead_get(user=self.actor, lead_id=lead_id)

    def list_leads(
        self, *, filters: dict[str, Any], page: int = 1, page_size: int = 20, cursor: str | None = None
    ) -> LeadPage:
        """One page of the visible leads matching ``filters`` (LeadFilter's parameters),
        by page number or, flat at any depth, after a ``cursor`` (``leads.core.pagination``).
        """
        lead_filter = self._lead_filter(filters)
        leads = lead_filter.qs
        total_count = self._total(lead_filter)
        by_cursor = lead_filter.form.cleaned_data.get("ordering", "") in pagination.CURSOR_ORDERINGS
        if cursor is not None:
            if not by_cursor:
                raise ValidationFailed(
                    "A cursor follows the default order.",
                    fields={"cursor": ["Cursor pages are newest first: leave out ordering (or use -created_at)."]},
                )
            rows = list(selectors.with_lead_details(pagination.after_cursor(leads, cursor))[: page_size + 1])
            page = None
        else:
            offset = (page - 1) * page_size
            end = offset + page_size + 1
            if offset >= total_count:
                rows = []
            elif offset == 0:
                rows = list(selectors.with_lead_details(leads)[:end])
            else:
                # Skip the first rows on the lead table alone (an index scan), then join the
                # page's details: OFFSET over the joined rows costs ~15x more at depth.
                page_ids = leads.values("pk")[offset:end]
                rows = list(selectors.with_lead_details(leads.filter(pk__in=page_ids)))
        has_next = len(rows) > page_size
        rows = rows[:page_size]
        next_cursor = pagination.encode_cursor(rows[-1]) if has_next and by_cursor else None
        return LeadPage(leads=rows, total_count=total_count, page=page, page_size=page_size, next_cursor=next_cursor)

    def filtered_leads(self, filters: dict[str, Any]) -> QuerySet[Lead]:
        return self._lead_filter(filters).qs

    def filtered_leads_with_total(self, filters: dict[str, Any]) -> tuple[QuerySet[Lead], int]:
        """The visible leads matching ``filters``, and how many there are."""
        lead_filter = self._lead_filter(filters)
        return lead_filter.qs, self._total(lead_filter)

    def _total(self, lead_filter: LeadFilter) -> int:
        """From the maintained counters when the filters allow (``leads.reporting.counts``), else COUNT(*)."""
        total = counts.counted_total(self.actor, lead_filter.form.cleaned_data)
        return total if total is not None else lead_filter.qs.count()

    def _lead_filter(self, filters: dict[str, Any]) -> LeadFilter:
        lead_filter = LeadFilter(filters, queryset=selectors.visible_leads(self.actor), actor=self.actor)
        if not lead_filter.is_valid():
            raise ValidationFailed(
                "Some filters are invalid.",
                fields={name: [str(message) for message in messages] for name, messages in lead_filter.errors.items()},
            )
        return lead_filter

    # --- writes ------------------------------------------------------------

    @transaction.atomic
    def create_lead(self, data: dict[str, Any], *, reject_duplicates: bool = False) -> Lead:
        """Create a lead with its contact, preferences and timeline.

        ``data`` holds validated values: contact, lead_type, source, optional status,
        assigned_to (a User), preferences, timeline, tags and custom_fields. With
        ``reject_duplicates`` a lead the team already has (``leads.core.duplicates``)
        raises DuplicateLead and nothing is written.
        """
        assignee = self._check_new_lead(data)
        if reject_duplicates:
            match = self._find_duplicate(data)
            if match is not None:
                raise duplicates.DuplicateLead(match)
        lead = _new_lead(data, assignee=assignee, actor=self.actor)
        writes.insert_leads([(lead, _new_lead_parts(lead, data))], context=self.audit_context)
        return self._reload(lead)

    @transaction.atomic
    def create_or_attach_lead(self, data: dict[str, Any]) -> LeadIntake:
        """Create the lead or, when the team already has it, attach the new inquiry to
        the existing lead as an inbound note (``add_interaction``; the existing lead's
        values are left as they are). The lead may belong to another agent: the
        inquiry is still theirs to see, but the actor only gets the lead back if they
        may see it.
        """
        self._check_new_lead(data)
        match = self._find_duplicate(data)
        if match is None:
            return LeadIntake(lead=self.create_lead(data), created=True)
        lead, _interaction = self.add_interaction(match.public_id, duplicates.inquiry_note(data), within_team=True)
        return LeadIntake(lead=lead if match.visible else None, created=False, existing=match)

    @transaction.atomic
    def create_leads_batch(
        self, items: Sequence[dict[str, Any]], *, created_data: dict[str, Any] | None = None
    ) -> list[BatchItemResult]:
        """Create many leads (validated values, as for ``create_lead``) in one transaction.

        Each item is checked like ``create_lead(reject_duplicates=True)``; one that
        fails is reported and the others are still created. A duplicate of a team lead
        or of an earlier item is reported as "duplicate". Rows are written with bulk
        inserts. Results are in input order. ``created_data`` goes into each ``lead.created``
        event (the CSV import's ``{"route": true}`` asks the routing to route its unassigned leads).
        """
        results: list[BatchItemResult | None] = [None] * len(items)
        accepted: list[tuple[int, dict[str, Any], User | None]] = []
        for index, data in enumerate(items):
            try:
                accepted.append((index, data, self._check_new_lead(data)))
            except ApplicationError as exc:
                results[index] = BatchItemResult.failed(index, exc)

        contacts = [data.get("contact") or {} for _, data, _ in accepted]
        emails = [contact.get("email") for contact in contacts]
        phones = [contact.get("phone") for contact in contacts]
        duplicates.lock_contact_keys(emails=emails, phones=phones)
        by_email, by_phone = duplicates.contact_matches(emails=emails, phones=phones)

        new_leads: list[tuple[Lead, list[Contact | Preferences | Timeline]]] = []
        duplicate_of: dict[int, tuple[Lead, dict[str, list[str]]]] = {}
        for (index, data, assignee), email, phone in zip(accepted, emails, phones, strict=True):
            existing = (by_email.get(duplicates.email_key(email)) if email else None) or (
                by_phone.get(phone) if phone else None
            )
            if existing is not None:
                fields = duplicates.matched_fields(
                    existing, email=email, phone=phone, by_email=by_email, by_phone=by_phone
                )
                duplicate_of[index] = (existing, fields)
                continue
            lead = _new_lead(data, assignee=assignee, actor=self.actor)
            new_leads.append((lead, _new_lead_parts(lead, data)))
            results[index] = BatchItemResult(index, BatchItemResult.CREATED, lead_id=lead.public_id)
            # Later items of this batch are duplicates of this one.
            if email:
                by_email.setdefault(duplicates.email_key(email), lead)
            if phone:
                by_phone.setdefault(phone, lead)

        writes.insert_leads(new_leads, context=self.audit_context, created_data=created_data)

        visible = duplicates.visible_to(self.actor, {lead.pk for lead, _ in duplicate_of.values()})
        for index, (lead, fields) in duplicate_of.items():
            match = duplicates.DuplicateMatch(lead.pk, lead.public_id, lead.pk in visible, fields)
            results[index] = BatchItemResult(
                index, BatchItemResult.DUPLICATE, code=duplicates.DuplicateLead.code, errors=fields, existing=match
            )
        return results

    def update_lead(self, lead_id: str, changes: dict[str, Any], *, expected_version: int | None = None) -> Lead:
        """Merge ``changes`` into the lead: keys left out stay as they are, nested ones too.

        A nested part given as None is reset to its defaults. Raises
        PreconditionFailed when ``expected_version`` is not the current version.
        """
        with self._write(lead_id, expected_version=expected_version) as write:
            lead = write.lead
            _merge(lead.contact, changes.get("contact"), CONTACT_FIELDS, "contact" in changes, reset=False)
            _merge(lead.preferences, changes.get("preferences"), PREFERENCE_FIELDS, "preferences" in changes)
            _merge(lead.timeline, changes.get("timeline"), TIMELINE_FIELDS, "timeline" in changes)
            _merge(lead, {k: changes[k] for k in LEAD_FIELDS if k in changes}, LEAD_FIELDS, True, reset=False)
            errors = {
                **_reachability_errors({"email": lead.contact.email, "phone": lead.contact.phone}),
                **_preference_errors(
                    {"min_price": lead.preferences.min_price, "max_price": lead.preferences.max_price}
                ),
            }
            if errors:
                raise ValidationFailed(fields=errors)
            if "assigned_to" in changes and getattr(changes["assigned_to"], "pk", None) != lead.assigned_to_id:
                lead.assigned_to = self._check_assignee(changes["assigned_to"])
                lead.team_id = _team_of(lead.assigned_to, None) or lead.team_id
            if changes.get("status"):
                deals.require_closing_deal(write, changes["status"])
                write.change_status(changes["status"])
        return self._reload(lead)

    def add_interaction(
        self, lead_id: str, data: dict[str, Any], *, within_team: bool = False
    ) -> tuple[Lead, Interaction]:
        """Log a call, email, meeting... by the actor; stamps first/last contact times.

        The first outbound contact of a new lead moves it to 'contacted'.
        ``within_team``: the lead may be any of the team's leads, not only one the
        actor sees (an inquiry attached to a duplicate, ``create_or_attach_lead``).
        """
        occurred_at = data.get("occurred_at") or timezone.now()
        try:  # the edges refuse it first; this holds for every caller (commands, tasks, imports)
            validation.not_in_the_future(occurred_at)
        except DjangoValidationError as error:
            raise ValidationFailed(fields={"occurred_at": list(error.messages)}) from None
        with self._write(lead_id, leads=duplicates.team_leads() if within_team else None) as write:
            lead = write.lead
            direction = data.get("direction") or (
                InteractionDirection.INTERNAL if data["type"] == "note" else InteractionDirection.OUTBOUND
            )
            interaction = write.add_interaction(
                type=data["type"],
                direction=direction,
                summary=data["summary"],
                notes=data.get("notes") or "",
                next_steps=data.get("next_steps") or "",
                follow_up_due_at=data.get("follow_up_due_at"),
                occurred_at=occurred_at,
                created_by=self.actor,
            )
            _stamp_contact_times(lead, direction=direction, occurred_at=occurred_at)
            if direction == InteractionDirection.OUTBOUND and lead.status == LeadStatus.NEW:
                write.change_status(LeadStatus.CONTACTED)
        return self._reload(lead), interaction

    def change_status(self, lead_id: str, status: str, *, deal: dict[str, Any] | None = None) -> Lead:
        """Move the lead to ``status``. Closing needs a closed deal: ``deal`` (``DealInput``
        values) is recorded with the move, or the lead has one already."""
        if status not in LeadStatus.values:
            raise ValidationFailed(fields={"status": [f'"{status}" is not a status.']})
        with self._write(lead_id) as write:
            if deal is not None:
                deals.deal_record_in(write, deal, actor=self.actor)
            deals.require_closing_deal(write, status)
            write.change_status(status)
        return self._reload(write.lead)

    def assign(self, lead_id: str, agent: User | None) -> Lead:
        """Give the lead to ``agent`` (None: unassigned). Managers and admins only."""
        permissions.require(permissions.can_reassign, self.actor)
        with self._write(lead_id) as write:
            if agent != write.lead.assigned_to:
                write.lead.assigned_to = self._check_assignee(agent)
                write.lead.team_id = _team_of(agent, None) or write.lead.team_id
        return self._reload(write.lead)

    def archive_lead(self, lead_id: str, *, expected_version: int | None = None) -> None:
        """Soft-delete: the lead disappears from the API, the pages and the
        duplicate checks, and stays restorable in the admin. Managers and admins only."""
        permissions.require(permissions.can_archive, self.actor)
        with self._write(lead_id, expected_version=expected_version) as write:
            now = timezone.now()
            write.lead.archived_at, write.lead.archived_by = now, self.actor
            write.add_event(LeadEventKind.ARCHIVED, audit_entry=("archived_at", None, audit.json_value(now)))

    def restore_lead(self, lead_id: str) -> Lead:
        """Bring an archived lead back. Managers and admins only."""
        permissions.require(permissions.can_restore, self.actor)
        archived = selectors.visible_leads(self.actor, include_archived=True).filter(archived_at__isnull=False)
        with self._write(lead_id, leads=archived) as write:
            archived_at = write.lead.archived_at
            write.lead.archived_at, write.lead.archived_by = None, None
            write.add_event(LeadEventKind.RESTORED, audit_entry=("archived_at", audit.json_value(archived_at), None))
        return self._reload(write.lead)

    # --- helpers -----------------------------------------------------------

    def _check_new_lead(self, data: dict[str, Any]) -> User | None:
        """The rules a new lead must pass; returns its assignee (an agent's own lead is theirs)."""
        errors = {
            **_reachability_errors(data.get("contact") or {}),
            **_preference_errors(data.get("preferences") or {}),
        }
        if errors:
            raise ValidationFailed(fields=errors)
        if "assigned_to" in data:
            return self._check_assignee(data["assigned_to"])
        return None if permissions.can_assign_to(self.actor, None) else self.actor

    def _find_duplicate(self, data: dict[str, Any]) -> duplicates.DuplicateMatch | None:
        """The team's lead this new one duplicates; concurrent creates of the same
        email or phone wait for this transaction to end."""
        contact = data.get("contact") or {}
        email, phone = contact.get("email"), contact.get("phone")
        duplicates.lock_contact_keys(emails=[email], phones=[phone])
        return duplicates.find_duplicate(actor=self.actor, email=email, phone=phone)

    def _write(self, lead_id: str, *, leads: QuerySet[Lead] | None = None, expected_version: int | None = None):
        """``writes.lead_write`` as the actor, on the leads they see (or ``leads``)."""
        return writes.lead_write(lead_id, context=self.audit_context, leads=leads, expected_version=expected_version)

    def _check_assignee(self, assignee: User | None) -> User | None:
        if assignee is not None and not assignee.is_active:
            raise ValidationFailed(fields={"assigned_to": ["This user is not active."]})
        permissions.require(permissions.can_assign_to, self.actor, assignee)
        return assignee

    @staticmethod
    def _reload(lead: Lead) -> Lead:
        return selectors.with_lead_details(Lead.objects.all()).get(pk=lead.pk)


def _new_lead(data: dict[str, Any], *, assignee: User | None, actor: User | None) -> Lead:
    """An unsaved lead from validated values (its id is drawn now), in its agent's team
    (else the team of whoever creates it)."""
    return Lead(
        assigned_to=assignee,
        team_id=_team_of(assignee, actor),
        merged_into_id=None,  # given, so the model need not look up the relations' defaults
        archived_by_id=None,
        status=data.get("status") or LeadStatus.NEW,
        **{name: data[name] for name in LEAD_FIELDS if name in data},
    )


def _team_of(assignee: User | None, actor: User | None) -> int | None:
    """The team a lead belongs to: its agent's, else its creator's."""
    if assignee is not None and assignee.team_id:
        return assignee.team_id
    return getattr(actor, "team_id", None)


def _new_lead_parts(lead: Lead, data: dict[str, Any]) -> list[Contact | Preferences | Timeline]:
    """The lead's unsaved contact, preferences and timeline."""
    return [
        Contact(lead=lead, **_pick(data.get("contact") or {}, CONTACT_FIELDS)),
        Preferences(lead=lead, **_pick(data.get("preferences") or {}, PREFERENCE_FIELDS)),
        Timeline(lead=lead, **_pick(data.get("timeline") or {}, TIMELINE_FIELDS)),
    ]


def _pick(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: data[field] for field in fields if field in data and data[field] is not None}


def _merge(
    instance, values: dict[str, Any] | None, fields: tuple[str, ...], given: bool, *, reset: bool = True
) -> None:
    """Apply the given keys to ``instance``; None for the whole part resets it to defaults."""
    if not given:
        return
    if values is None:
        if not reset:
            return
        values = {field: instance._meta.get_field(field).get_default() for field in fields}
    for field, value in values.items():
        if field in fields:
            setattr(instance, field, value)


def _stamp_contact_times(lead: Lead, *, direction: str, occurred_at) -> None:
    """An interaction that reached the lead is its last contact if it is the latest; an
    outbound one its first contact if it is the earliest."""
    if direction != InteractionDirection.INTERNAL and (
        lead.last_contacted_at is None or occurred_at > lead.last_contacted_at
    ):
        lead.last_contacted_at = occurred_at
    if direction == InteractionDirection.OUTBOUND and (
        lead.first_contacted_at is None or occurred_at < lead.first_contacted_at
    ):
        lead.first_contacted_at = occurred_at


def _reachability_errors(contact: dict[str, Any]) -> dict[str, list[str]]:
    if contact.get("email") or contact.get("phone"):
        return {}
    return {"contact": ["A lead needs an email address or a phone number."]}


def _preference_errors(preferences: dict[str, Any]) -> dict[str, list[str]]:
    return price_range_errors(preferences.get("min_price"), preferences.get("max_price"), prefix="preferences.")
