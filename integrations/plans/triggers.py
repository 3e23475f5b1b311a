"""What starts and pauses plans.

``on_lead_events`` is the plans' subscription to committed lead events (``leads.ports``),
run inside the relay's transaction: a new lead (``lead.created``) starts the active
plans whose source/type/tag filters it matches; a status change to X starts the plans
triggered by X; a save that changed the tags starts the plans of a tag the lead now has;
a reply (an inbound text or email, a connected call) pauses the lead's plans and gives
the agent a "Lead replied" task; a person moving the lead past contacted pauses them
too. Plans' own writes (channel "task") never pause anything. Website activity
(``lead.web_activity``) starts the "web activity" plans of the kinds it brought whose
count is reached within their window ("viewed the same listing 3 times in a week",
"5 listings in 24 hours"): one count query per such plan. ``start_by_time`` (a
periodic job) starts the "no contact for N days" and "N days before a date" plans.

A trigger never enrols a lead twice in the same plan: any earlier enrolment (even a
finished one) counts. Starting again by hand is always possible.
"""

import logging
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.plans import services
from integrations.plans.models import Enrolment, Plan, TriggerKind
from integrations.plans.presenters import web_activity_label
from leads.errors import Conflict
from leads.events.models import LeadEvent, LeadEventKind
from leads.models import AuditChannel, Interaction, Lead, LeadStatus
from leads.webevents.selectors import activity_in_window

logger = logging.getLogger(__name__)

TIME_TRIGGER_BATCH = 1000
CLOSED = (LeadStatus.CLOSED, LeadStatus.LOST)


def on_lead_events(events: list[LeadEvent]) -> None:
    enrolled: list[int] = []
    for event in events:
        enrolled += _react(event)
    if enrolled:
        from integrations.plans.tasks import run_after_commit

        run_after_commit(enrolled)


def _react(event: LeadEvent) -> list[int]:
    if event.kind == LeadEventKind.INTERACTION_ADDED:
        interaction = Interaction.objects.filter(pk=event.data.get("interaction_id")).first()
        if interaction is not None and services.is_reply(interaction):
            services.lead_replied(interaction)
        return []
    if event.kind == LeadEventKind.STATUS_CHANGED:
        to = event.data.get("to")
        if to in services.PAST_CONTACTED and event.channel != AuditChannel.TASK:
            services.pause_for(lead_pk=event.lead_id, why=f"Paused: the lead moved to {to}.", setting="pause_on_status")
        return _start(
            event.lead_id,
            Plan.objects.filter(trigger=TriggerKind.STATUS_CHANGED, trigger_status=to),
            f"Status changed to {to}",
        )
    if event.kind == LeadEventKind.CREATED:
        return _start(event.lead_id, Plan.objects.filter(trigger=TriggerKind.NEW_LEAD), "New lead")
    if event.kind == LeadEventKind.UPDATED and "tags" in event.data.get("changed_fields", []):
        return _start(event.lead_id, Plan.objects.filter(trigger=TriggerKind.TAG_ADDED), "Tag added")
    if event.kind == LeadEventKind.LEAD_WEB_ACTIVITY:
        return _start_on_web_activity(event)
    return []


def _start_on_web_activity(event: LeadEvent) -> list[int]:
    """The "web activity" plans of the event's kinds whose count the lead has now reached
    in the window ending now (the lead never in them yet)."""
    kinds = [kind for kind in event.data.get("kinds", []) if isinstance(kind, str)]
    if not kinds:
        return []
    never_in = ~Exists(Enrolment.objects.filter(plan=OuterRef("pk"), lead_id=event.lead_id))
    plans = Plan.objects.filter(trigger=TriggerKind.WEB_ACTIVITY, trigger_web_kind__in=kinds, is_active=True)
    now = timezone.now()
    reached = [
        plan.pk
        for plan in plans.filter(never_in)
        if plan.trigger_count
        and plan.trigger_window_hours
        and activity_in_window(
            lead_pk=event.lead_id,
            kind=plan.trigger_web_kind,
            since=now - timedelta(hours=plan.trigger_window_hours),
            same_listing=plan.trigger_same_listing,
        )
        >= plan.trigger_count
    ]
    if not reached:
        return []
    return _start(event.lead_id, Plan.objects.filter(pk__in=reached), "Website activity")


def matches(plan: Plan, lead: Lead) -> bool:
    """Whether the lead fits the plan's team and filters (not whether it is enrolled)."""
    if plan.team_id is not None and plan.team_id != lead.team_id:
        return False
    tags = set(lead.tags or [])
    if plan.trigger == TriggerKind.NEW_LEAD:
        return (
            (not plan.trigger_sources or lead.source in plan.trigger_sources)
            and (not plan.trigger_lead_types or lead.lead_type in plan.trigger_lead_types)
            and (not plan.trigger_tags or bool(tags & set(plan.trigger_tags)))
        )
    if plan.trigger == TriggerKind.TAG_ADDED:
        return bool(tags & set(plan.trigger_tags))
    if plan.trigger == TriggerKind.STATUS_CHANGED:
        return lead.status == plan.trigger_status
    return True


def _start(lead_pk: int, plans, reason: str) -> list[int]:
    lead = Lead.objects.filter(pk=lead_pk, archived_at__isnull=True).select_related("team").first()
    if lead is None:
        return []
    started = []
    never_in = ~Exists(Enrolment.objects.filter(plan=OuterRef("pk"), lead_id=lead_pk))
    for plan in plans.filter(is_active=True).filter(never_in):
        if matches(plan, lead):
            try:
                web = plan.trigger == TriggerKind.WEB_ACTIVITY
                label = web_activity_label(plan) if web else plan.get_trigger_display()
                enrolment = services.enrol(lead=lead, plan=plan, reason=f"{reason}: {label}"[:200])
            except Conflict:
                continue  # started by hand (or by another relay) meanwhile
            started.append(enrolment.pk)
    return started


def start_by_time(now: datetime | None = None) -> int:
    """Periodic: enrol the leads of the "no contact for N days" and date plans; returns how many."""
    now = now or timezone.now()
    started = []
    for plan in Plan.objects.filter(is_active=True, trigger__in=[TriggerKind.NO_CONTACT, TriggerKind.DATE_FIELD]):
        for lead in time_candidates(plan, now)[:TIME_TRIGGER_BATCH]:
            reason = (
                f"No contact for {plan.trigger_days} days"
                if plan.trigger == TriggerKind.NO_CONTACT
                else f"{plan.trigger_days} days before the target move date"
            )
            started.append(services.enrol(lead=lead, plan=plan, reason=reason, now=now).pk)
    if started:
        from integrations.plans.tasks import run_after_commit

        run_after_commit(started)
    return len(started)


def time_candidates(plan: Plan, now: datetime):
    """The leads a time-triggered plan would enrol now (never enrolled in it, not archived,
    not closed or lost, in the plan's team)."""
    leads = Lead.objects.filter(archived_at__isnull=True).exclude(status__in=CLOSED)
    leads = leads.exclude(Exists(Enrolment.objects.filter(plan=plan, lead=OuterRef("pk"))))
    if plan.team_id is not None:
        leads = leads.filter(team_id=plan.team_id)
    days = timedelta(days=plan.trigger_days or 0)
    if plan.trigger == TriggerKind.NO_CONTACT:
        cutoff = now - days
        leads = leads.filter(
            Q(last_contacted_at__lte=cutoff) | Q(last_contacted_at__isnull=True, created_at__lte=cutoff)
        )
    else:
        today = now.date()
        leads = leads.filter(timeline__target_move_date__gte=today, timeline__target_move_date__lte=today + days)
    return leads.select_related("team").order_by("pk")
