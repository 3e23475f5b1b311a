"""Writes. The API, the agent pages, the admin, commands and tasks all change
leads through ``LeadManagementService``; each write is one transaction and the
after-save work is scheduled only once it commits."""

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads import selectors
from leads.errors import NotFound, PermissionDenied, PreconditionFailed, ValidationFailed
from leads.filters import LeadFilter
from leads.models import (
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
    page: int
    page_size: int


def _schedule_after_save(lead: Lead, *, reason: str) -> None:
    """Record the after-save work (market analysis, scoring, CRM sync, workflows) in
    this transaction; it is sent to the workers only once the save commits."""
    from integrations.pipeline import lead_saved

    lead_saved(lead, reason=reason)


class LeadManagementService:
    """Lead operations performed by ``actor`` (the authenticated user)."""

    def __init__(self, actor: User):
        self.actor = actor

    # --- reads -------------------------------------------------------------

    def get_lead(self, lead_id: str) -> Lead:
        return selectors.lead_get(user=self.actor, lead_id=lead_id)

    def list_leads(self, *, filters: dict[str, Any], page: int = 1, page_size: int = 20) -> LeadPage:
        """One page of the visible leads matching ``filters`` (LeadFilter's parameters)."""
        leads = self.filtered_leads(filters)
        paginator = Paginator(leads, page_size)
        total_count = paginator.count
        offset = (page - 1) * page_size
        rows = list(selectors.with_lead_details(leads)[offset : offset + page_size]) if offset < total_count else []
        return LeadPage(leads=rows, total_count=total_count, page=page, page_size=page_size)

    def filtered_leads(self, filters: dict[str, Any]) -> QuerySet[Lead]:
        lead_filter = LeadFilter(
            filters, queryset=selectors.visible_leads(self.actor), request=_ActorRequest(self.actor)
        )
        if not lead_filter.is_valid():
            raise ValidationFailed(
                "Some filters are invalid.",
                fields={name: [str(message) for message in messages] for name, messages in lead_filter.errors.items()},
            )
        return lead_filter.qs

    # --- writes ------------------------------------------------------------

    @transaction.atomic
    def create_lead(self, data: dict[str, Any]) -> Lead:
        """Create a lead with its contact, preferences and timeline.

        ``data`` holds validated values: contact, lead_type, source, optional status,
        assigned_to (a User), preferences, timeline, tags and custom_fields.
        """
        contact_data = data.get("contact") or {}
        preferences_data = data.get("preferences") or {}
        timeline_data = data.get("timeline") or {}
        errors = {**_reachability_errors(contact_data), **_preference_errors(preferences_data)}
        if errors:
            raise ValidationFailed(fields=errors)

        if "assigned_to" in data:
            assignee = self._check_assignee(data["assigned_to"])
        else:
            assignee = None if self.actor.sees_all_leads else self.actor

        status = data.get("status") or LeadStatus.NEW
        lead = Lead.objects.create(
            assigned_to=assignee,
            status=status,
            **{field: data[field] for field in LEAD_FIELDS if field in data},
        )
        Contact.objects.create(lead=lead, **_pick(contact_data, CONTACT_FIELDS))
        Preferences.objects.create(lead=lead, **_pick(preferences_data, PREFERENCE_FIELDS))
        Timeline.objects.create(lead=lead, **_pick(timeline_data, TIMELINE_FIELDS))
        StatusChange.objects.create(
            lead=lead, from_status="", to_status=status, changed_by=self.actor, changed_at=lead.created_at
        )
        _schedule_after_save(lead, reason="created")
        return selectors.with_lead_details(Lead.objects.all()).get(pk=lead.pk)

    @transaction.atomic
    def update_lead(self, lead_id: str, changes: dict[str, Any], *, expected_version: int | None = None) -> Lead:
        """Merge ``changes`` into the lead: keys left out stay as they are, nested ones too.

        A nested part given as None is reset to its defaults. Raises
        PreconditionFailed when ``expected_version`` is not the current version.
        """
        lead = self._lock(lead_id)
        if expected_version is not None and expected_version != lead.version:
            raise PreconditionFailed(f"The lead is at version {lead.version}, not {expected_version}.")

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
            _schedule_after_save(lead, reason="updated")
        return self._reload(lead)

    @transaction.atomic
    def add_interaction(self, lead_id: str, data: dict[str, Any]) -> tuple[Lead, Interaction]:
        """Log a call, email, meeting... by the actor; stamps first/last contact times.

        The first outbound contact of a new lead moves it to 'contacted'.
        """
        lead = self._lock(lead_id)
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
        _schedule_after_save(lead, reason="interaction")
        return self._reload(lead), interaction

    @transaction.atomic
    def change_status(self, lead_id: str, status: str) -> Lead:
        if status not in LeadStatus.values:
            raise ValidationFailed(fields={"status": [f'"{status}" is not a status.']})
        lead = self._lock(lead_id)
        if status != lead.status:
            self._record_status(lead, status)
            self._bump(lead)
            _schedule_after_save(lead, reason="status_changed")
        return self._reload(lead)

    @transaction.atomic
    def assign(self, lead_id: str, agent: User | None) -> Lead:
        """Give the lead to ``agent`` (None: unassigned). Managers and admins only."""
        if not self.actor.sees_all_leads:
            raise PermissionDenied("Only managers can reassign leads.")
        lead = self._lock(lead_id)
        if agent != lead.assigned_to:
            lead.assigned_to = self._check_assignee(agent)
            self._bump(lead)
            _schedule_after_save(lead, reason="assigned")
        return self._reload(lead)

    # --- helpers -----------------------------------------------------------

    def _lock(self, lead_id: str) -> Lead:
        """The visible lead, row-locked until the transaction ends (serialises writers)."""
        if not selectors.is_lead_id(lead_id):
            raise NotFound("Lead not found.")
        try:
            return (
                selectors.visible_leads(self.actor)
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
        lead.version += 1
        lead.save()

    @staticmethod
    def _reload(lead: Lead) -> Lead:
        return selectors.with_lead_details(Lead.objects.all()).get(pk=lead.pk)


class _ActorRequest:
    """The bit of a request that LeadFilter reads (``assigned_to=me``)."""

    def __init__(self, user: User):
        self.user = user


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
