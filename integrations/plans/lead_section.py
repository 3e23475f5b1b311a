"""The lead page's "Plans" card (``leads.ports.provide_lead_page_section``): the lead's
enrolments, the plans one may start for it, its consent per channel, and what will
happen (``selectors.what_will_happen``), times in the lead's zone.

The lead page itself only places the card (no query): its body is loaded from
``pages.lead_plans`` once the page is shown, so the dry run, whose cost grows with the
plans and the lead's enrolments, never slows the page agents live in."""

from django.conf import settings
from django.template import TemplateSyntaxError
from django.utils import timezone

from integrations.plans import rules, selectors, templating
from integrations.plans.fields import merge_fields
from integrations.plans.models import LIVE_STATES, Channel, Consent, Plan, PlanStep, StepKind
from integrations.plans.presenters import step_summary, verdict_tone
from leads.models import Lead

RECENT_ENROLMENTS = 10


def lead_plans_section(lead: Lead) -> dict:
    """What the lead page needs to place the card (its body loads on its own)."""
    return {"template": "plans/_lead_placeholder.html", "lead_id": lead.public_id}


def lead_plans_card(lead: Lead) -> dict:
    """The card's body: enrolments, plans to start, what will happen, consent."""
    now = timezone.now()
    zone = rules.lead_zone(lead)
    enrolments = list(selectors.enrolments_of(lead)[:RECENT_ENROLMENTS])
    live = {enrolment.plan_id for enrolment in enrolments if enrolment.state in LIVE_STATES}
    plans = Plan.objects.filter(team__isnull=True)
    if lead.team_id:
        plans = plans | Plan.objects.filter(team_id=lead.team_id)
    startable = [plan for plan in plans.order_by("name", "pk") if plan.pk not in live]
    forecasts = selectors.what_will_happen(lead, now)
    titles = _Titles(lead)
    steps_by_plan = {}
    for forecast in forecasts:
        by_position = {step.position: step for step in forecast.plan.steps.all()}
        steps_by_plan[forecast.plan.pk] = [
            {
                "forecast": item,
                "summary": titles.summary(by_position[item.position], item.preview)
                if item.position in by_position
                else "",
                "tone": verdict_tone(item.verdict),
            }
            for item in forecast.steps
        ]
    return {
        "zone": zone,
        "zone_name": str(zone),
        "enrolments": enrolments,
        "startable": startable,
        "forecasts": [{"forecast": forecast, "steps": steps_by_plan[forecast.plan.pk]} for forecast in forecasts],
        "consents": consent_rows(lead),
    }


class _Titles:
    """A task's or a manager's note's title filled in for the lead (as the step will
    write it); the lead's merge fields are read once, when first needed."""

    def __init__(self, lead: Lead):
        self.lead, self.fields = lead, None

    def summary(self, step: PlanStep, preview: str = "") -> str:
        if preview and step.kind == StepKind.SEND_EMAIL:
            return f"Email: {preview.splitlines()[0]}"
        if preview and step.kind == StepKind.SEND_TEXT:
            text = " ".join(preview.split())
            return f"Text: {text[:80]}{'…' if len(text) > 80 else ''}"
        if step.kind in (StepKind.CREATE_TASK, StepKind.NOTIFY_MANAGER) and "{" in step.subject:
            if self.fields is None:
                lead = Lead.objects.select_related("contact", "preferences", "team", "assigned_to").get(pk=self.lead.pk)
                self.fields = merge_fields(lead)
            try:
                title = templating.render_text(step.subject, self.fields)
                filled = PlanStep(kind=step.kind, subject=title, task_channel=step.task_channel)
            except (TemplateSyntaxError, templating.TemplateInvalid):
                return step_summary(step)
            return step_summary(filled)
        return step_summary(step)


def consent_rows(lead: Lead) -> list[dict]:
    """Each channel: granted / refused / implied / none, its source and time, and the opt-out."""
    found = {consent.channel: consent for consent in Consent.objects.filter(lead=lead)}
    rows = []
    for channel in Channel:
        consent = found.get(channel.value)
        opted_out = bool(getattr(lead.contact, rules.OPT_OUT_FIELDS[channel.value]))
        if consent is not None:
            state = "granted" if consent.granted else "refused"
        else:
            state = "implied" if channel.value in settings.PLANS_IMPLIED_CONSENT else "none"
        rows.append(
            {
                "channel": channel.value,
                "label": channel.label,
                "state": state,
                "consent": consent,
                "opted_out": opted_out,
            }
        )
    return rows
