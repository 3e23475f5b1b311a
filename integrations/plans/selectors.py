"""Reads of the plans: a lead's enrolments, plans a user may use, and the dry runs.

The dry runs apply the scheduler's own send-time rules (``scheduler.message_hold``,
``rules``) to each coming step, from when it is due, without writing anything."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, QuerySet

from integrations.plans import rules, templating, triggers
from integrations.plans.fields import merge_fields
from integrations.plans.models import (
    LIVE_STATES,
    MESSAGE_KINDS,
    Channel,
    Consent,
    Enrolment,
    EnrolmentState,
    Plan,
    PlanStep,
    StepKind,
    TriggerKind,
)
from integrations.plans.scheduler import messages_today
from leads.core.selectors import visible_leads
from leads.errors import NotFound
from leads.models import Lead, LeadStatus, User

DRY_RUN_LEAD_LIMIT = 50
TAG_SCAN_LIMIT = 20_000


def enrolments_of(lead: Lead) -> QuerySet[Enrolment]:
    return (
        Enrolment.objects.filter(lead=lead)
        .select_related("plan", "started_by")
        .annotate(steps_done=Count("runs"))
        .order_by("-started_at", "-pk")
    )


def plans_for(user: User) -> QuerySet[Plan]:
    """The plans ``user`` may start: every team's, and their own team's."""
    plans = Plan.objects.all()
    if getattr(user, "team_id", None):
        plans = plans.filter(team__isnull=True) | plans.filter(team_id=user.team_id)
    return plans.order_by("name", "pk")


def plan_get(*, user: User, plan_id) -> Plan:
    try:
        plan_pk = int(plan_id)
    except (TypeError, ValueError):
        raise NotFound("No such plan.") from None
    plan = plans_for(user).filter(pk=plan_pk).first()
    if plan is None:
        raise NotFound("No such plan.")
    return plan


# --- what will happen to a lead ----------------------------------------------------


@dataclass
class StepForecast:
    position: int
    kind: str
    due_at: datetime
    will_send: bool
    verdict: str  # "will send", "will run", "skipped: …", "waits: …", "paused: …"
    preview: str = ""


@dataclass
class PlanForecast:
    plan: Plan
    enrolment: Enrolment | None
    state: str  # the enrolment's state, or "would start"
    reason: str
    steps: list[StepForecast] = field(default_factory=list)


def what_will_happen(lead: Lead, now: datetime) -> list[PlanForecast]:
    """Every plan the lead is in (active or paused) or would be enrolled in now, each
    coming step with its due time and whether it will send, or why not."""
    lead = Lead.objects.select_related("contact", "preferences", "team", "assigned_to__manager").get(pk=lead.pk)
    consents = {consent.channel: consent for consent in Consent.objects.filter(lead=lead)}
    forecasts = []
    sent_today = {"count": messages_today(lead, now), "day": now.astimezone(rules.lead_zone(lead)).date()}
    for enrolment in enrolments_of(lead).filter(state__in=LIVE_STATES):
        forecast = PlanForecast(enrolment.plan, enrolment, enrolment.state, enrolment.reason)
        steps = coming_steps(enrolment.plan, after=enrolment)
        start = max(enrolment.next_due_at or now, now)
        paused = enrolment.state_reason or "paused" if enrolment.state == EnrolmentState.PAUSED else None
        forecast.steps = _forecast(lead, steps, start, now, consents, sent_today, paused=paused)
        forecasts.append(forecast)
    for plan in plans_it_would_start(lead, now):
        forecast = PlanForecast(plan, None, "would start", f"Trigger: {plan.get_trigger_display()}")
        forecast.steps = _forecast(lead, list(plan.steps.order_by("position")), now, now, consents, sent_today)
        forecasts.append(forecast)
    return forecasts


def coming_steps(plan: Plan, *, after: Enrolment) -> list[PlanStep]:
    return list(
        plan.steps.filter(position__gte=after.next_position).exclude(runs__enrolment=after).order_by("position", "pk")
    )


def plans_it_would_start(lead: Lead, now: datetime) -> list[Plan]:
    """The active plans the lead has never been in whose trigger it meets now."""
    never_in = ~Exists(Enrolment.objects.filter(plan=OuterRef("pk"), lead=lead))
    found = []
    for plan in Plan.objects.filter(is_active=True).exclude(trigger=TriggerKind.MANUAL).filter(never_in):
        if plan.trigger in (TriggerKind.NO_CONTACT, TriggerKind.DATE_FIELD):
            if triggers.time_candidates(plan, now).filter(pk=lead.pk).exists():
                found.append(plan)
        elif triggers.matches(plan, lead) and (plan.trigger != TriggerKind.NEW_LEAD or lead.status == LeadStatus.NEW):
            found.append(plan)
    return found


def _forecast(lead, steps, start, now, consents, sent_today, *, paused: str | None = None) -> list[StepForecast]:
    tz = rules.lead_zone(lead)
    at = start
    out = []
    for step in steps:
        if paused:
            out.append(StepForecast(step.position, step.kind, at.astimezone(tz), False, f"paused: {paused}"))
            continue
        if step.kind == StepKind.WAIT:
            end = rules.wait_end(step, now=at, tz=tz)
            out.append(
                StepForecast(
                    step.position,
                    step.kind,
                    at.astimezone(tz),
                    False,
                    f"will run: waits until {end.astimezone(tz):%a %d %b %H:%M %Z}",
                )
            )
            at = end
            continue
        if step.kind not in MESSAGE_KINDS:
            out.append(StepForecast(step.position, step.kind, at.astimezone(tz), False, "will run"))
            continue
        channel = rules.STEP_CHANNELS[step.kind]
        refusal = rules.refusal(lead, channel, consents)
        if refusal:
            out.append(StepForecast(step.position, step.kind, at.astimezone(tz), False, f"skipped: {refusal}"))
            continue
        waits = []
        if channel == Channel.TEXT and (until := rules.quiet_until(at, tz)):
            waits.append(f"quiet hours until {until.astimezone(tz):%H:%M %Z}")
            at = until
        day = at.astimezone(tz).date()
        if day != sent_today["day"]:
            sent_today.update(day=day, count=0)
        if sent_today["count"] >= settings.PLANS_DAILY_MESSAGE_CAP:
            at = rules.next_day_opening(at, tz)
            waits.append(f"daily cap, until {at.astimezone(tz):%a %H:%M %Z}")
            sent_today.update(day=at.astimezone(tz).date(), count=0)
        sent_today["count"] += 1
        verdict = "will send" + (f" (waits: {'; '.join(waits)})" if waits else "")
        out.append(StepForecast(step.position, step.kind, at.astimezone(tz), True, verdict, preview(step, lead)))
    return out


def preview(step: PlanStep, lead: Lead) -> str:
    """The step's message as the lead would get it now (subject and text)."""
    fields = merge_fields(lead, channel=rules.STEP_CHANNELS.get(step.kind, "email"))
    if step.kind == StepKind.SEND_EMAIL:
        rendered = templating.render_email(subject=step.subject, body=step.body, fields=fields)
        return f"{rendered.subject}\n\n{rendered.text}"
    return templating.render_text(step.body, fields)


# --- who a plan would reach ----------------------------------------------------------


@dataclass
class Recipient:
    lead: Lead
    first_message: StepForecast | None


def who_would_get(plan: Plan, now: datetime, *, user: User) -> tuple[list[Recipient], int]:
    """The leads (that ``user`` may see) the plan would enrol now, with the first message
    each would get and its verdict, at most DRY_RUN_LEAD_LIMIT; and how many in all."""
    leads = candidates(plan, now).filter(pk__in=visible_leads(user).values("pk"))
    total = leads.count()
    # The steps up to the first message: the waits before it decide when it goes.
    steps = list(plan.steps.order_by("position", "pk"))
    first = next((index for index, step in enumerate(steps) if step.kind in MESSAGE_KINDS), None)
    recipients = []
    for lead in leads.select_related("contact", "preferences", "team", "assigned_to__manager")[:DRY_RUN_LEAD_LIMIT]:
        forecast = None
        if first is not None:
            consents = {consent.channel: consent for consent in Consent.objects.filter(lead=lead)}
            sent = {"count": messages_today(lead, now), "day": now.astimezone(rules.lead_zone(lead)).date()}
            forecast = _forecast(lead, steps[: first + 1], now, now, consents, sent)[-1]
        recipients.append(Recipient(lead, forecast))
    return recipients, total


def candidates(plan: Plan, now: datetime) -> QuerySet[Lead]:
    """The leads the plan's trigger selects now, never enrolled in it (for a new-lead
    plan: the leads still new that fit its filters)."""
    if plan.trigger in (TriggerKind.NO_CONTACT, TriggerKind.DATE_FIELD):
        return triggers.time_candidates(plan, now)
    leads = Lead.objects.filter(archived_at__isnull=True).exclude(
        Exists(Enrolment.objects.filter(plan=plan, lead=OuterRef("pk")))
    )
    if plan.team_id is not None:
        leads = leads.filter(team_id=plan.team_id)
    if plan.trigger == TriggerKind.NEW_LEAD:
        leads = leads.filter(status=LeadStatus.NEW)
        if plan.trigger_sources:
            leads = leads.filter(source__in=plan.trigger_sources)
        if plan.trigger_lead_types:
            leads = leads.filter(lead_type__in=plan.trigger_lead_types)
    elif plan.trigger == TriggerKind.STATUS_CHANGED:
        leads = leads.filter(status=plan.trigger_status)
    elif plan.trigger == TriggerKind.MANUAL:
        return leads.none()
    if plan.trigger == TriggerKind.TAG_ADDED or plan.trigger_tags:
        # Tags are a JSON list: matched here, the same way on SQLite and PostgreSQL.
        ids = [lead.pk for lead in leads.only("pk", "tags")[:TAG_SCAN_LIMIT] if _tag_fit(plan, lead)]
        leads = Lead.objects.filter(pk__in=ids)
    return leads.order_by("-created_at", "-pk")


def _tag_fit(plan: Plan, lead: Lead) -> bool:
    if plan.trigger == TriggerKind.TAG_ADDED or (plan.trigger == TriggerKind.NEW_LEAD and plan.trigger_tags):
        return bool(set(lead.tags or []) & set(plan.trigger_tags))
    return True
