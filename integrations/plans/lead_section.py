"""The lead page's "Plans" card (``leads.ports.provide_lead_page_section``): the lead's
enrolments, the plans one may start for it, its consent per channel, and what will
happen (``selectors.what_will_happen``), times in the lead's zone."""

from django.conf import settings
from django.utils import timezone

from integrations.plans import rules, selectors
from integrations.plans.models import LIVE_STATES, Channel, Consent, Plan
from integrations.plans.presenters import step_summary, verdict_tone
from leads.models import Lead

RECENT_ENROLMENTS = 10


def lead_plans_section(lead: Lead) -> dict:
    now = timezone.now()
    zone = rules.lead_zone(lead)
    enrolments = list(selectors.enrolments_of(lead)[:RECENT_ENROLMENTS])
    live = {enrolment.plan_id for enrolment in enrolments if enrolment.state in LIVE_STATES}
    plans = Plan.objects.filter(team__isnull=True)
    if lead.team_id:
        plans = plans | Plan.objects.filter(team_id=lead.team_id)
    startable = [plan for plan in plans.order_by("name", "pk") if plan.pk not in live]
    forecasts = selectors.what_will_happen(lead, now)
    steps_by_plan = {}
    for forecast in forecasts:
        by_position = {step.position: step for step in forecast.plan.steps.all()}
        steps_by_plan[forecast.plan.pk] = [
            {
                "forecast": item,
                "summary": step_summary(by_position[item.position]) if item.position in by_position else "",
                "tone": verdict_tone(item.verdict),
            }
            for item in forecast.steps
        ]
    return {
        "template": "plans/_lead_section.html",
        "zone": zone,
        "zone_name": str(zone),
        "enrolments": enrolments,
        "startable": startable,
        "forecasts": [{"forecast": forecast, "steps": steps_by_plan[forecast.plan.pk]} for forecast in forecasts],
        "consents": consent_rows(lead),
    }


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
