"""Follow-up workflows and speed to lead.

After each committed save the pipeline calls ``start_for_leads``; the periodic jobs
call ``mark_sla_breaches`` and ``send_overdue_digest``. Every step is claimed
through a unique ``WorkflowEvent`` key, so running any of them twice, late or in
two workers at once never creates a second task or sends a second message.

A message is sent at most once: its key is claimed, then it is sent; if sending
fails the claim is released so the next run can try again.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.workflows import emails
from integrations.workflows.models import WorkflowEvent, WorkflowEventKind
from integrations.workflows.unsubscribe import OPT_OUT_FIELDS, UnsubscribeTarget, unsubscribe_target
from leads.accounts import availability
from leads.audit import history as audit
from leads.core import bookkeeping
from leads.core.writes import lead_write
from leads.models import (
    FollowUpKind,
    FollowUpTask,
    InteractionDirection,
    InteractionType,
    Lead,
    LeadStatus,
    SlaStatus,
    StatusChange,
    UrgencyLevel,
    User,
)

logger = logging.getLogger(__name__)

ALERT_URGENCIES = (UrgencyLevel.URGENT, UrgencyLevel.HIGH)
ESCALATION_BATCH = 200
DEFAULT_SLA_MINUTES = {"urgent": 5, "high": 60, "normal": 1440, "low": 4320}


def first_contact_sla(urgency: str) -> timedelta:
    """Time allowed from a lead's arrival to its first contact (LEAD_FIRST_CONTACT_SLA_MINUTES)."""
    minutes = {**DEFAULT_SLA_MINUTES, **getattr(settings, "LEAD_FIRST_CONTACT_SLA_MINUTES", {})}
    return timedelta(minutes=minutes.get(urgency, minutes[UrgencyLevel.NORMAL]))


# --- after each save ---------------------------------------------------------------


def start_for_leads(saves: list[tuple[int, str]]) -> None:
    """Run the workflows of a batch of committed saves ``[(lead_pk, reason), ...]``;
    idempotent, safe to run late.

    A new lead (``reason == "created"``, created in status new) gets one
    first-contact task due by its urgency from the moment it arrived, its
    ``sla_due_at``, a welcome email (unless opted out or without email) and, when
    urgent or high and not yet contacted, an alert to its agent. A lead created
    further down the pipeline (imported history, demo data) gets none of these. On
    every save, a contacted lead settles its SLA (met or breached) and completes its
    open first-contact task.

    The leads are read in one query, the tasks planned and the messages claimed in
    one transaction. A message that cannot be sent (an SMTP outage) is logged,
    released for the next run, and does not stop the others."""
    for error in _run(saves):
        logger.error("A workflow message was not sent: %r", error)


def _run(saves: list[tuple[int, str]]) -> list[Exception]:
    leads = _with_parts(Lead.objects.filter(pk__in={lead_pk for lead_pk, _ in saves})).in_bulk()
    batch = [(leads[lead_pk], reason) for lead_pk, reason in saves if lead_pk in leads]
    arrived = list({lead.pk: lead for lead, reason in batch if reason == "created" and _arrived_as_new(lead)}.values())
    try:
        claimed = _plan_and_claim(arrived) if arrived else []
    except IntegrityError:
        # Another run is working on some of these leads: claim one step at a time instead.
        claimed = [claim for lead in arrived for claim in _plan_and_claim_one(lead)]
    failures = _send_claimed(claimed)
    contacted = [lead for lead, _ in batch if lead.first_contacted_at is not None]
    if contacted:
        with transaction.atomic():
            for lead in contacted:
                _settle_first_contact(lead)
    return failures


def _with_parts(leads):
    return leads.select_related("contact", "preferences", "timeline", "assigned_to", "team")


def _arrived_as_new(lead: Lead) -> bool:
    if lead.status == LeadStatus.NEW:
        return True
    return StatusChange.objects.filter(lead=lead, from_status="", to_status=LeadStatus.NEW).exists()


@dataclass
class _Claim:
    event: WorkflowEvent
    build: Callable[[], EmailMultiAlternatives]


@transaction.atomic
def _plan_and_claim(leads: list[Lead]) -> list[_Claim]:
    """Plan each new lead's first contact (task, ``sla_due_at``) and claim its
    messages, in one transaction; returns the claims whose messages are to be sent.
    Raises IntegrityError (writing nothing) when another run claimed one of the steps first."""
    done = set(
        WorkflowEvent.objects.filter(
            key__in=[f"{step}:{lead.pk}" for lead in leads for step in ("first-contact", "welcome", "agent-alert")]
        ).values_list("key", flat=True)
    )
    events, tasks, due = [], [], {}
    for lead in leads:
        if f"first-contact:{lead.pk}" in done:
            continue
        events.append(
            WorkflowEvent(key=f"first-contact:{lead.pk}", kind=WorkflowEventKind.FIRST_CONTACT_PLANNED, lead=lead)
        )
        tasks.append(_first_contact_task(lead))
        if lead.sla_due_at is None:
            lead.sla_due_at = due[lead.pk] = tasks[-1].due_at
    claims = [
        _Claim(WorkflowEvent(key=key, kind=kind, lead=lead), build)
        for lead in leads
        for key, kind, build in _messages(lead)
        if key not in done
    ]
    WorkflowEvent.objects.bulk_create(events + [claim.event for claim in claims])
    FollowUpTask.objects.bulk_create(tasks)
    # A deadline is the workflow's bookkeeping, not a new version of the lead.
    bookkeeping.set_sla_due(due)
    return claims


def _plan_and_claim_one(lead: Lead) -> list[_Claim]:
    """``_plan_and_claim`` for one lead, step by step (get_or_create on each key)."""
    with transaction.atomic():
        _, planned_now = WorkflowEvent.objects.get_or_create(
            key=f"first-contact:{lead.pk}", defaults={"kind": WorkflowEventKind.FIRST_CONTACT_PLANNED, "lead": lead}
        )
        if planned_now:
            task = _first_contact_task(lead)
            task.save()
            bookkeeping.set_sla_due({lead.pk: task.due_at})
    lead.refresh_from_db(fields=["sla_due_at", "sla_status"])
    claims = []
    for key, kind, build in _messages(lead):
        event, claimed = WorkflowEvent.objects.get_or_create(key=key, defaults={"kind": kind, "lead": lead})
        if claimed:
            claims.append(_Claim(event, build))
    return claims


def _first_contact_task(lead: Lead) -> FollowUpTask:
    return FollowUpTask(
        lead=lead,
        assigned_to=lead.assigned_to,
        kind=FollowUpKind.FIRST_CONTACT,
        title=f"First contact with {lead.contact.full_name}",
        due_at=first_contact_due(lead),
    )


def first_contact_due(lead: Lead) -> datetime:
    """When the lead's first contact is due: its arrival plus the SLA of its urgency, counted
    in its team's opening hours when the team chose business-hours SLAs (a lead arriving at
    22:00 with one hour is due an hour after the next opening)."""
    allowed = first_contact_sla(lead.timeline.urgency_level)
    team = lead.team
    if team is None or not team.business_hours_sla:
        return lead.created_at + allowed
    return availability.add_working_time(
        lead.created_at, allowed, hours=availability.team_shifts(team), tz=availability.team_zone(team)
    )


def _messages(lead: Lead) -> list[tuple[str, str, Callable[[], EmailMultiAlternatives]]]:
    """The messages a new lead is due: (key, kind, build); reads ``lead.sla_due_at``."""
    messages = []
    contact = lead.contact
    if contact.email and not contact.email_opt_out:
        messages.append((f"welcome:{lead.pk}", WorkflowEventKind.WELCOME_EMAIL, lambda: emails.welcome_message(lead)))
    agent = lead.assigned_to
    if (
        lead.timeline.urgency_level in ALERT_URGENCIES
        and lead.first_contacted_at is None
        and agent is not None
        and agent.is_active
        and agent.email
        and lead.sla_due_at is not None
    ):
        messages.append(
            (
                f"agent-alert:{lead.pk}",
                WorkflowEventKind.AGENT_ALERT,
                lambda: emails.agent_alert_message(lead, due_at=lead.sla_due_at),
            )
        )
    return messages


def _send_claimed(claims: list[_Claim]) -> list[Exception]:
    """Build and send each claimed message; a failed one releases its claim (the next
    run tries again). Returns the failures."""
    sent, failures = [], []
    for claim in claims:
        try:
            message = claim.build()
            claim.event.recipient = ", ".join(message.to)[:254]
            message.send()
        except Exception as error:
            claim.event.delete()
            failures.append(error)
            continue
        sent.append(claim.event)
        logger.info("Sent %s to %s", claim.event.key, claim.event.recipient)
    WorkflowEvent.objects.bulk_update(sent, ["recipient"])
    return failures


def _settle_first_contact(lead: Lead) -> None:
    if lead.first_contacted_at is None:
        return
    bookkeeping.settle_sla(lead)
    FollowUpTask.objects.filter(lead=lead, kind=FollowUpKind.FIRST_CONTACT, completed_at__isnull=True).update(
        completed_at=lead.first_contacted_at
    )


# --- periodic ----------------------------------------------------------------------


def mark_sla_breaches(now: datetime | None = None) -> dict[str, int]:
    """Settle pending SLAs: contacted leads become met or breached; leads past due
    with no contact become breached and are escalated to their agent's manager
    (once per lead). Archived leads are left alone (a restored one is settled on the
    next run). Returns counts: met, breached, escalated."""
    now = now or timezone.now()
    met, breached = bookkeeping.settle_due_slas(now)
    escalated = 0
    for lead in _leads_to_escalate()[:ESCALATION_BATCH]:
        manager = lead.assigned_to.manager
        escalated += _send_once(
            key=f"sla-escalation:{lead.pk}",
            kind=WorkflowEventKind.SLA_ESCALATION,
            lead=lead,
            build=lambda lead=lead, manager=manager: emails.sla_escalation_message(lead, manager=manager),
        )
    return {"met": met, "breached": breached, "escalated": escalated}


def _leads_to_escalate():
    """Breached, still uncontacted, not archived leads whose agent has a manager with
    an email, not escalated yet."""
    escalations = WorkflowEvent.objects.filter(lead=OuterRef("pk"), kind=WorkflowEventKind.SLA_ESCALATION)
    return (
        Lead.objects.filter(
            sla_status=SlaStatus.BREACHED,
            first_contacted_at__isnull=True,
            archived_at__isnull=True,
            assigned_to__manager__is_active=True,
        )
        .exclude(assigned_to__manager__email="")
        .exclude(Exists(escalations))
        .select_related("contact", "timeline", "assigned_to__manager")
        .order_by("sla_due_at", "pk")
    )


def send_overdue_digest(now: datetime | None = None) -> int:
    """Email each active agent the open follow-ups past due (theirs, or unassigned on
    their leads), once per agent per UTC day; tasks on archived leads are left out.
    Returns how many digests were sent."""
    now = now or timezone.now()
    tasks = (
        FollowUpTask.objects.filter(completed_at__isnull=True, due_at__lt=now, lead__archived_at__isnull=True)
        .filter(Q(assigned_to__isnull=False) | Q(lead__assigned_to__isnull=False))
        .select_related("lead__contact", "lead__assigned_to", "assigned_to")
        .order_by("due_at", "pk")
    )
    by_agent: dict[User, list[FollowUpTask]] = defaultdict(list)
    for task in tasks:
        agent = task.assigned_to or task.lead.assigned_to
        if agent.is_active and agent.email:
            by_agent[agent].append(task)
    sent = 0
    for agent, agent_tasks in by_agent.items():
        sent += _send_once(
            key=f"overdue-digest:{agent.pk}:{now.date().isoformat()}",
            kind=WorkflowEventKind.OVERDUE_DIGEST,
            lead=None,
            build=lambda agent=agent, agent_tasks=agent_tasks: emails.overdue_digest_message(
                agent, tasks=agent_tasks, now=now
            ),
        )
    return sent


# --- opt-out -------------------------------------------------------------------------


def record_opt_out(*, token: str) -> UnsubscribeTarget:
    """Opt the token's lead out of the token's channel; InvalidUnsubscribeLink for a
    bad or expired token. Saying it twice changes nothing the second time.

    The opt-out is a change to the lead (``leads.core.writes``): its version moves on, the
    after-save work runs (the CRM learns of it) and a note tells the agent why
    messages stopped. The lead itself asked, through the link: no user, the system's channel.
    """
    target = unsubscribe_target(token=token)
    field = OPT_OUT_FIELDS[target.channel]
    with lead_write(target.lead.public_id, context=audit.SYSTEM, leads=Lead.objects.all()) as write:
        if not getattr(write.lead.contact, field):
            setattr(write.lead.contact, field, True)
            write.add_interaction(
                type=InteractionType.NOTE,
                direction=InteractionDirection.INTERNAL,
                summary=f"Unsubscribed from {target.channel_label} through the link in a message.",
                occurred_at=timezone.now(),
            )
    target.lead.contact.refresh_from_db()
    return target


# --- sending -------------------------------------------------------------------------


def _send_once(*, key: str, kind: str, lead: Lead | None, build) -> bool:
    """Claim ``key``, then build and send the message; False when already claimed.

    ``build`` is only called once the claim is won, so nothing is rendered for a
    message already sent. A failed send releases the claim and re-raises.
    """
    event, claimed = WorkflowEvent.objects.get_or_create(key=key, defaults={"kind": kind, "lead": lead})
    if not claimed:
        return False
    try:
        message: EmailMultiAlternatives = build()
        event.recipient = ", ".join(message.to)[:254]
        message.send()
    except Exception:
        event.delete()
        raise
    event.save(update_fields=["recipient"])
    logger.info("Sent %s to %s", key, event.recipient)
    return True
