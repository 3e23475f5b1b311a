"""The agents' side (namespace "property_alerts"): the lead page's card (HTMX, or on its
own page) and its form. Whoever may see a lead may change its alerts (agents their own
leads, managers their team's: ``leads.core.selectors.lead_get``); another agent's lead is a 404."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from integrations.property_alerts import control, services
from integrations.property_alerts.forms import AgentFrequencyForm
from integrations.property_alerts.lead_section import lead_alerts_card
from integrations.property_alerts.models import SetBy
from leads.core.selectors import lead_get
from leads.views.common import agent_page, is_htmx


def _lead_url(lead) -> str:
    return reverse("leads:lead_detail", args=[lead.public_id]) + "#property-alerts-title"


@require_GET
@agent_page
def lead_alerts(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(user=request.user, lead_id=lead_id)
    context = {"lead": lead, "section": lead_alerts_card(lead)}
    template = "property_alerts/_lead_section.html" if is_htmx(request) else "property_alerts/lead_alerts.html"
    return render(request, template, context)


@require_POST
@agent_page
def lead_frequency(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(user=request.user, lead_id=lead_id)
    form = AgentFrequencyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Alerts not changed: choose instant, daily, weekly or off.")
        return HttpResponseRedirect(_lead_url(lead), status=303)
    subscription = services.set_frequency(
        lead=lead, frequency=form.cleaned_data["frequency"], by=SetBy.AGENT, user=request.user
    )
    messages.success(request, f"Property alerts set to {control.WORDS[subscription.frequency]}.")
    return HttpResponseRedirect(_lead_url(lead), status=303)
