"""Writes of the plans: starting and stopping a lead's plans, pausing them when the lead
answers, consent, and the lead-side effects of replies (through ``leads.core.writes``)."""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.plans import templating
from integrations.plans.models import (
    LIVE_STATES,
    Consent,
    Enrolment,
    EnrolmentState,
    Plan,
    PlanStep,
)
from leads.audit import history as audit
from leads.core.writes import lead_write
from leads.errors import Conflict, NotFound, ValidationFailed
from leads.models import (
    FollowUpKind,
    FollowUpTask,
    Interaction,
    InteractionDirection,
    InteractionType,
    Lead,
    LeadStatus,
    User,
)

logger = logging.getLogger(__name__)

# Statuses "past contacted": a person moving the lead there pauses plans with pause_on_status.
PAST_CONTACTED = frozenset(
    {
        LeadStatus.QUALIFIED,
        LeadStatus.SHOWING,
        LeadStatus.OFFER,
        LeadStatus.UNDER_CONTRACT,
        LeadStatus.CLOSED,
        LeadStatus.LOST,
    }
)
# What agents log for a call that did not reach the lead (the lead page's quick calls).
NOT_CONNECTED = ("no answer", "left a voicemail", "voicemail", "busy", "wrong number", "not connected")
REPLIED_TASK_TITLE = "Lead replied"


# --- plans and steps ---------------------------------------------------------------


def step_check(step: PlanStep) -> dict[str, list[str]]:
    """The step's errors by field ({} when it may be saved): templates, and what each kind needs."""
    errors: dict[str, list[str]] = {}
    for name in ("subject", "body"):
        try:
            templating.validate(getattr(step, name) or "")
        except templating.TemplateInvalid as error:
            errors.setdefault(name, []).append(str(error))
    needs = {
        "send_email": ("subject", "body"),
        "send_text": ("body",),
        "change_status": ("status",),
        "add_tag": ("tag",),
        "remove_tag": ("tag",),
    }
    for name in needs.get(step.kind, ()):
        if not getattr(step, name):
            errors.setdefault(name, []).append(f"A {step.get_kind_display().lower()} step needs this.")
    if (
        step.kind == "wait"
        and not step.wait_minutes
        and step.wait_until_time is None
        and step.wait_until_weekday is None
    ):
        errors.setdefault("wait_minutes", []).append("Say how long to wait, or until which weekday and time.")
    return errors


# --- enrolments --------------------------------------------------------------------


def enrol(*, lead: Lead, plan: Plan, reason: str, by: User | None = None, now: datetime | None = None) -> Enrolment:
    """Start ``plan`` for ``lead`` from its first step, due now; ``Conflict`` when the lead
    is already in it (active or paused). Queue ``tasks.run_after_commit`` to run it at once."""
    now = now or timezone.now()
    first = plan.steps.order_by("position").values_list("position", flat=True).first()
    if Enrolment.objects.filter(lead=lead, plan=plan, state__in=LIVE_STATES).exists():
        raise Conflict(f'The lead is already in the plan "{plan.name}".')
    try:
        with transaction.atomic():
            return Enrolment.objects.create(
                lead=lead,
                plan=plan,
                next_position=first or 0,
                next_due_at=now,
                started_by=by,
                reason=reason[:200],
                started_at=now,
            )
    except IntegrityError:
        raise Conflict(f'The lead is already in the plan "{plan.name}".') from None


def stop(*, lead: Lead, plan_id: int, by: User | None = None, now: datetime | None = None) -> Enrolment:
    """Stop the lead's live enrolment in the plan; ``NotFound`` when there is none."""
    now = now or timezone.now()
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update()
            .filter(lead=lead, plan_id=plan_id, state__in=LIVE_STATES)
            .select_related("plan")
            .first()
        )
        if enrolment is None:
            raise NotFound("The lead is not in this plan.")
        who = f"by {by.get_username()}" if by else "by the system"
        enrolment.state, enrolment.state_reason = EnrolmentState.STOPPED, f"Stopped {who}."
        enrolment.ended_at, enrolment.next_due_at = now, None
        enrolment.save()
    return enrolment


def pause_for(*, lead_pk: int, why: str, setting: str, now: datetime | None = None) -> int:
    """Pause the lead's active enrolments whose plan has ``setting`` (``pause_on_reply``
    or ``pause_on_status``) on; returns how many were paused."""
    now = now or timezone.now()
    return Enrolment.objects.filter(lead_id=lead_pk, state=EnrolmentState.ACTIVE, **{f"plan__{setting}": True}).update(
        state=EnrolmentState.PAUSED, state_reason=why[:200], updated_at=now
    )


def is_reply(interaction: Interaction) -> bool:
    """A text or email from the lead, an inbound call, or a call the agent logged that
    connected (not "No answer", "Left a voicemail", ...)."""
    if interaction.direction == InteractionDirection.INBOUND:
        return interaction.type in (InteractionType.TEXT, InteractionType.EMAIL, InteractionType.CALL)
    if interaction.type == InteractionType.CALL and interaction.direction == InteractionDirection.OUTBOUND:
        summary = interaction.summary.casefold()
        return not any(words in summary for words in NOT_CONNECTED)
    return False


def lead_replied(interaction: Interaction, *, now: datetime | None = None) -> int:
    """The lead answered (``is_reply``): pause its plans that pause on a reply and, when
    the lead itself wrote or called, give the agent a task "Lead replied", due now (once
    per interaction). A reply a person logged by hand needs no task unless it stopped a
    plan: whoever logged it already knows. Returns how many enrolments were paused."""
    now = now or timezone.now()
    paused = pause_for(
        lead_pk=interaction.lead_id,
        why=f"Paused: the lead replied ({interaction.get_type_display().lower()}).",
        setting="pause_on_reply",
        now=now,
    )
    arrived_by_itself = interaction.created_by_id is None
    if interaction.direction == InteractionDirection.INBOUND and (arrived_by_itself or paused):
        lead = Lead.objects.only("pk", "assigned_to_id").get(pk=interaction.lead_id)
        title = f"{REPLIED_TASK_TITLE} ({interaction.get_type_display().lower()}): {interaction.summary}"[:200]
        FollowUpTask.objects.get_or_create(
            lead_id=lead.pk,
            kind=FollowUpKind.FOLLOW_UP,
            title=title,
            defaults={"assigned_to_id": lead.assigned_to_id, "due_at": now},
        )
    return paused


def resume(*, enrolment: Enrolment, now: datetime | None = None) -> Enrolment:
    """Resume a paused enrolment from where it stopped, due now."""
    if enrolment.state != EnrolmentState.PAUSED:
        raise Conflict("Only a paused plan can be resumed.")
    enrolment.state, enrolment.state_reason, enrolment.next_due_at = EnrolmentState.ACTIVE, "", now or timezone.now()
    enrolment.save()
    return enrolment


# --- consent and the lead's own words ------------------------------------------------


def set_consent(*, lead: Lead, channel: str, granted: bool, source: str, by: User | None = None, at=None) -> Consent:
    if channel not in ("email", "text", "call"):
        raise ValidationFailed(fields={"channel": [f'"{channel}" is not a channel (email, text, call).']})
    consent, _ = Consent.objects.update_or_create(
        lead=lead,
        channel=channel,
        defaults={"granted": granted, "source": source[:100], "at": at or timezone.now(), "recorded_by": by},
    )
    return consent


def log_inbound(
    *, lead: Lead, type: str, summary: str, notes: str = "", sms_opt_out: bool | None = None, at=None
) -> Interaction:
    """Log what the lead sent as an inbound interaction (the lead's own write: the system's
    channel, no user), and set or clear its SMS opt-out (STOP, START) in the same write."""
    at = at or timezone.now()
    with lead_write(lead.public_id, context=audit.SYSTEM, leads=Lead.objects.filter(archived_at__isnull=True)) as write:
        interaction = write.add_interaction(
            type=type,
            direction=InteractionDirection.INBOUND,
            summary=summary[:500],
            notes=notes,
            occurred_at=at,
        )
        if write.lead.last_contacted_at is None or at > write.lead.last_contacted_at:
            write.lead.last_contacted_at = at
        if sms_opt_out is not None:
            write.lead.contact.sms_opt_out = sms_opt_out
    return interaction
