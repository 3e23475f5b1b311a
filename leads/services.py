"""Writes. The API, the agent pages, the admin, commands and tasks all change
leads through ``LeadManagementService``; each write is one transaction and the
after-save work is scheduled only once it commits."""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads import audit, bulk, counts, duplicates, pagination, selectors
from leads.errors import ApplicationError, NotFound, PermissionDenied, PreconditionFailed, ValidationFailed
from leads.filters import LeadFilter
from leads.models import (
    AuditChannel,
    Contact,
    Interaction,
    InteractionDirection,
    Lead,
    LeadStatus,
    Preferences,
    StatusChange,
    Timeline,
    User,
)
from leads.validation import price_range_errors

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_is_valid",
    "preferred_contact_method",
    "best_time_to_contact",
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


def _schedule_after_save(lead: Lead, *, reason: str) -> None:
    """Record the after-save work (market analysis, scoring, CRM sync, workflows) in
    this transaction; it is sent to the workers only once the save commits."""
    from integrations.pipeline import lead_saved

    # New leads start "pending" and ``_bump`` saves it: no extra UPDATE.
    lead_saved(lead, reason=reason, status_saved=True)


def _schedule_after_save_many(leads: list[Lead], *, reason: str) -> None:
    from integrations.pipeline import leads_saved

    leads_saved(leads, reason=reason, status_saved=True)


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
        by page number or, flat at any depth, after a ``cursor`` (``leads.pagination``).
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
        """From the maintained counters when the filters allow (``leads.counts``), else COUNT(*)."""
        total = counts.counted_total(self.actor, lead_filter.form.cleaned_data)
        return total if total is not None else lead_filter.qs.count()

    def _lead_filter(self, filters: dict[str, Any]) -> LeadFilter:
        lead_filter = LeadFilter(
            filters, queryset=selectors.visible_leads(self.actor), request=_ActorRequest(self.actor)
        )
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
        ``reject_duplicates`` a lead the team already has (``leads.duplicates``)
        raises DuplicateLead and nothing is written.
        """
        assignee = self._check_new_lead(data)
        if reject_duplicates:
            match = self._find_duplicate(data)
            if match is not None:
                raise duplicates.DuplicateLead(match)

        lead = _new_lead(data, assignee=assignee)
        lead.save(force_insert=True)
        for part in _new_lead_parts(lead, data):
            part.save(force_insert=True)
        StatusChange.objects.create(
            lead=lead, from_status="", to_status=lead.status, changed_by=self.actor, changed_at=lead.created_at
        )
        audit.record_created(lead, self.audit_context)
        _schedule_after_save(lead, reason="created")
        return selectors.with_lead_details(Lead.objects.all()).get(pk=lead.pk)

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
    def create_leads_batch(self, items: Sequence[dict[str, Any]]) -> list[BatchItemResult]:
        """Create many leads (validated values, as for ``create_lead``) in one transaction.

        Each item is checked like ``create_lead(reject_duplicates=True)``; one that
        fails is reported and the others are still created. A duplicate of a team lead
        or of an earlier item is reported as "duplicate". Rows are written with bulk
        inserts and the after-save work is scheduled once per new lead. Results are
        in input order.
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

        new_leads: list[Lead] = []
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
            lead = _new_lead(data, assignee=assignee)
            new_leads.append(lead)
            results[index] = BatchItemResult(index, BatchItemResult.CREATED, lead_id=lead.public_id)
            # Later items of this batch are duplicates of this one.
            if email:
                by_email.setdefault(duplicates.email_key(email), lead)
            if phone:
                by_phone.setdefault(phone, lead)

        if new_leads:
            bulk.insert(new_leads)
            data_by_lead = [data for index, data, _ in accepted if index not in duplicate_of]
            parts = [
                part for lead, data in zip(new_leads, data_by_lead, strict=True) for part in _new_lead_parts(lead, data)
            ]
            for model in (Contact, Preferences, Timeline):
                bulk.insert([part for part in parts if isinstance(part, model)])
            bulk.insert(
                [
                    StatusChange(
                        lead=lead,
                        from_status="",
                        to_status=lead.status,
                        changed_by=self.actor,
                        changed_at=lead.created_at,
                    )
                    for lead in new_leads
                ]
            )
            audit.record_created_many(new_leads, self.audit_context)
            _schedule_after_save_many(new_leads, reason="created")

        visible = duplicates.visible_to(self.actor, {lead.pk for lead, _ in duplicate_of.values()})
        for index, (lead, fields) in duplicate_of.items():
            match = duplicates.DuplicateMatch(lead.pk, lead.public_id, lead.pk in visible, fields)
            results[index] = BatchItemResult(
                index, BatchItemResult.DUPLICATE, code=duplicates.DuplicateLead.code, errors=fields, existing=match
            )
        return results

    @transaction.atomic
    def update_lead(self, lead_id: str, changes: dict[str, Any], *, expected_version: int | None = None) -> Lead:
        """Merge ``changes`` into the lead: keys left out stay as they are, nested ones too.

        A nested part given as None is reset to its defaults. Raises
        PreconditionFailed when ``expected_version`` is not the current version.
        """
        lead = self._lock(lead_id)
        if expected_version is not None and expected_version != lead.version:
            raise PreconditionFailed(f"The lead is at version {lead.version}, not {expected_version}.")
        tracked = audit.LeadChanges(lead)

        contact, preferences, timeline = lead.contact, lead.preferences, lead.timeline
        parts = (
            ("contact", contact, CONTACT_FIELDS, False),
            ("preferences", preferences, PREFERENCE_FIELDS, True),
            ("timeline", timeline, TIMELINE_FIELDS, True),
        )
        changed_parts = [
            part
            for key, part, fields, reset in parts
            if _merge(part, changes.get(key), fields, key in changes, reset=reset)
        ]
        changed = _merge(lead, {k: changes[k] for k in LEAD_FIELDS if k in changes}, LEAD_FIELDS, True, reset=False)

        errors = {
            **_reachability_errors({"email": contact.email, "phone": contact.phone}),
            **_preference_errors({"min_price": preferences.min_price, "max_price": preferences.max_price}),
        }
        if errors:
            raise ValidationFailed(fields=errors)

        if "assigned_to" in changes and getattr(changes["assigned_to"], "pk", None) != lead.assigned_to_id:
            lead.assigned_to = self._check_assignee(changes["assigned_to"])
            changed.add("assigned_to")
        if changes.get("status") and changes["status"] != lead.status:
            self._record_status(lead, changes["status"])
            changed.add("status")

        for part in changed_parts:
            part.save()
        if changed or changed_parts:
            self._bump(lead)
            tracked.record(self.audit_context)
            # Webhook subscribers tell a move through the pipeline from other edits.
            _schedule_after_save(lead, reason="status_changed" if "status" in changed else "updated")
        return self._reload(lead)

    @transaction.atomic
    def add_interaction(
        self, lead_id: str, data: dict[str, Any], *, within_team: bool = False
    ) -> tuple[Lead, Interaction]:
        """Log a call, email, meeting... by the actor; stamps first/last contact times.

        The first outbound contact of a new lead moves it to 'contacted'.
        ``within_team``: the lead may be any of the team's leads, not only one the
        actor sees (an inquiry attached to a duplicate, ``create_or_attach_lead``).
        """
        lead = self._lock(lead_id, leads=duplicates.team_leads() if within_team else None)
        tracked = audit.LeadChanges(lead)
        occurred_at = data.get("occurred_at") or timezone.now()
        direction = data.get("direction") or (
            InteractionDirection.INTERNAL if data["type"] == "note" else InteractionDirection.OUTBOUND
        )
        interaction = Interaction.objects.create(
            lead=lead,
            type=data["type"],
            direction=direction,
            summary=data["summary"],
            notes=data.get("notes") or "",
            next_steps=data.get("next_steps") or "",
            follow_up_due_at=data.get("follow_up_due_at"),
            occurred_at=occurred_at,
            created_by=self.actor,
        )
        reached_out = direction != InteractionDirection.INTERNAL
        if reached_out and (lead.last_contacted_at is None or occurred_at > lead.last_contacted_at):
            lead.last_contacted_at = occurred_at
        if direction == InteractionDirection.OUTBOUND:
            if lead.first_contacted_at is None or occurred_at < lead.first_contacted_at:
                lead.first_contacted_at = occurred_at
            if lead.status == LeadStatus.NEW:
                self._record_status(lead, LeadStatus.CONTACTED)
        self._bump(lead)
        tracked.add_event(*audit.interaction_added(interaction))
        tracked.record(self.audit_context)
        _schedule_after_save(lead, reason="interaction")
        return self._reload(lead), interaction

    @transaction.atomic
    def change_status(self, lead_id: str, status: str) -> Lead:
        if status not in LeadStatus.values:
            raise ValidationFailed(fields={"status": [f'"{status}" is not a status.']})
        lead = self._lock(lead_id)
        if status != lead.status:
            tracked = audit.LeadChanges(lead)
            self._record_status(lead, status)
            self._bump(lead)
            tracked.record(self.audit_context)
            _schedule_after_save(lead, reason="status_changed")
        return self._reload(lead)

    @transaction.atomic
    def assign(self, lead_id: str, agent: User | None) -> Lead:
        """Give the lead to ``agent`` (None: unassigned). Managers and admins only."""
        if not self.actor.sees_all_leads:
            raise PermissionDenied("Only managers can reassign leads.")
        lead = self._lock(lead_id)
        if agent != lead.assigned_to:
            tracked = audit.LeadChanges(lead)
            lead.assigned_to = self._check_assignee(agent)
            self._bump(lead)
            tracked.record(self.audit_context)
            _schedule_after_save(lead, reason="assigned")
        return self._reload(lead)

    @transaction.atomic
    def archive_lead(self, lead_id: str, *, expected_version: int | None = None) -> None:
        """Soft-delete: the lead disappears from the API, the pages and the
        duplicate checks, and stays restorable in the admin. Managers and admins only."""
        if not self.actor.sees_all_leads:
            raise PermissionDenied("Only managers can archive leads.")
        lead = self._lock(lead_id)
        if expected_version is not None and expected_version != lead.version:
            raise PreconditionFailed(f"The lead is at version {lead.version}, not {expected_version}.")
        now = timezone.now()
        Lead.objects.filter(pk=lead.pk).update(archived_at=now, archived_by=self.actor)
        audit.record(lead, [("archived_at", None, audit.json_value(now))], self.audit_context)

    @transaction.atomic
    def restore_lead(self, lead_id: str) -> Lead:
        """Bring an archived lead back. Managers and admins only."""
        if not self.actor.sees_all_leads:
            raise PermissionDenied("Only managers can restore leads.")
        archived = selectors.visible_leads(self.actor, include_archived=True).filter(archived_at__isnull=False)
        lead = self._lock(lead_id, leads=archived)
        Lead.objects.filter(pk=lead.pk).update(archived_at=None, archived_by=None)
        audit.record(lead, [("archived_at", audit.json_value(lead.archived_at), None)], self.audit_context)
        return self._reload(lead)

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
        return None if self.actor.sees_all_leads else self.actor

    def _find_duplicate(self, data: dict[str, Any]) -> duplicates.DuplicateMatch | None:
        """The team's lead this new one duplicates; concurrent creates of the same
        email or phone wait for this transaction to end."""
        contact = data.get("contact") or {}
        email, phone = contact.get("email"), contact.get("phone")
        duplicates.lock_contact_keys(emails=[email], phones=[phone])
        return duplicates.find_duplicate(actor=self.actor, email=email, phone=phone)

    def _lock(self, lead_id: str, *, leads: QuerySet[Lead] | None = None) -> Lead:
        """The visible lead (or one of ``leads``), row-locked until the transaction
        ends (serialises writers)."""
        if not selectors.is_lead_id(lead_id):
            raise NotFound("Lead not found.")
        try:
            return (
                (selectors.visible_leads(self.actor) if leads is None else leads)
                .select_for_update(of=("self",))
                .select_related("contact", "preferences", "timeline")
                .get(public_id=lead_id)
            )
        except Lead.DoesNotExist:
            raise NotFound("Lead not found.") from None

    def _check_assignee(self, assignee: User | None) -> User | None:
        if assignee is not None and not assignee.is_active:
            raise ValidationFailed(fields={"assigned_to": ["This user is not active."]})
        if assignee != self.actor and not self.actor.sees_all_leads:
            raise PermissionDenied("Agents can only assign leads to themselves.")
        return assignee

    def _record_status(self, lead: Lead, status: str) -> None:
        StatusChange.objects.create(
            lead=lead, from_status=lead.status, to_status=status, changed_by=self.actor, changed_at=timezone.now()
        )
        lead.status = status

    @staticmethod
    def _bump(lead: Lead) -> None:
        """Save the lead as its next version. Callers hold the row lock (``_lock``;
        on SQLite the IMMEDIATE transaction), so the increment cannot race."""
        from integrations.pipeline import mark_pending

        lead.version += 1
        mark_pending(lead)
        lead.save()

    @staticmethod
    def _reload(lead: Lead) -> Lead:
        return selectors.with_lead_details(Lead.objects.all()).get(pk=lead.pk)


class _ActorRequest:
    """The bit of a request that LeadFilter reads (``assigned_to=me``)."""

    def __init__(self, user: User):
        self.user = user


def _new_lead(data: dict[str, Any], *, assignee: User | None) -> Lead:
    """An unsaved lead from validated values (its id is drawn now)."""
    return Lead(
        assigned_to=assignee,
        status=data.get("status") or LeadStatus.NEW,
        **{name: data[name] for name in LEAD_FIELDS if name in data},
    )


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
) -> set[str]:
    """Apply the given keys to ``instance``; None for the whole part resets it to defaults."""
    if not given:
        return set()
    if values is None:
        if not reset:
            return set()
        values = {field: instance._meta.get_field(field).get_default() for field in fields}
    changed = set()
    for field, value in values.items():
        if field in fields and getattr(instance, field) != value:
            setattr(instance, field, value)
            changed.add(field)
    return changed


def _reachability_errors(contact: dict[str, Any]) -> dict[str, list[str]]:
    if contact.get("email") or contact.get("phone"):
        return {}
    return {"contact": ["A lead needs an email address or a phone number."]}


def _preference_errors(preferences: dict[str, Any]) -> dict[str, list[str]]:
    return price_range_errors(preferences.get("min_price"), preferences.get("max_price"), prefix="preferences.")
