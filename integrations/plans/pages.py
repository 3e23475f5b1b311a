"""The plans pages (namespace "plans", under /plans/): the list and the editor of plans,
a template's preview with a chosen lead and whom a plan would reach now (managers);
starting and stopping a lead's plans and its consent, from the lead page (whoever may
see the lead).

Views check input and access and call ``editing`` / ``services`` / ``selectors``; a bad
form comes back with its errors as a 422 and nothing saved."""

import nh3
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.plans import editing, rules, selectors, services, tasks, templating
from integrations.plans.fields import merge_fields
from integrations.plans.forms import ConsentForm, PlanForm, StepForm
from integrations.plans.lead_section import lead_plans_card
from integrations.plans.models import LIVE_STATES, MESSAGE_KINDS, Channel, EnrolmentState, Plan, PlanStep, StepKind
from integrations.plans.presenters import step_summary
from leads.accounts import permissions
from leads.core.selectors import lead_get, visible_leads
from leads.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from leads.models import Lead, User
from leads.views.common import agent_page, is_htmx

PREVIEW_LEADS = 50
SHOWN_TAGS = {"p", "br", "a", "strong", "em", "b", "i", "ul", "ol", "li"}


def _require_manager(user: User) -> None:
    permissions.require(permissions.can_manage_plans, user)


def _plan_for(request: HttpRequest, plan_id: int) -> Plan:
    return selectors.plan_get(user=request.user, plan_id=plan_id)


def _step_for(plan: Plan, step_id: int) -> PlanStep:
    step = plan.steps.filter(pk=step_id).first()
    if step is None:
        raise Http404("No such step.")
    return step


def _plan_url(plan: Plan, anchor: str = "") -> str:
    return reverse("plans:plan_detail", args=[plan.pk]) + (f"#{anchor}" if anchor else "")


# --- the list and the plan's settings ----------------------------------------------


@require_GET
@agent_page
def plan_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request.user)
    live = Q(enrolments__state__in=LIVE_STATES)
    plans = selectors.plans_for(request.user).annotate(
        step_count=Count("steps", distinct=True), live_count=Count("enrolments", filter=live, distinct=True)
    )
    return render(request, "plans/list.html", {"plans": list(plans.select_related("team"))})


@require_http_methods(["GET", "POST"])
@agent_page
def plan_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request.user)
    form = PlanForm(request.POST or None, initial={"pause_on_reply": True, "pause_on_status": True})
    if request.method == "POST":
        if form.is_valid():
            try:
                plan = editing.plan_save(plan=form.apply_to(Plan()), actor=request.user)
            except ValidationFailed as error:
                form.add_domain_errors(error.fields, error.message)
            else:
                messages.success(
                    request, f"Plan “{plan.name}” created. Add its steps below; it is off until you switch it on."
                )
                return HttpResponseRedirect(_plan_url(plan, "steps"), status=303)
        return render(request, "plans/plan_new.html", {"form": form}, status=422)
    return render(request, "plans/plan_new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@agent_page
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    form = PlanForm(request.POST or None, plan=plan)
    if request.method == "POST":
        if form.is_valid():
            try:
                with transaction.atomic():
                    editing.plan_save(plan=form.apply_to(plan), actor=request.user)
            except ValidationFailed as error:
                form.add_domain_errors(error.fields, error.message)
            else:
                state = "on" if plan.is_active else "off"
                messages.success(request, f"Plan “{plan.name}” saved. It is {state}.")
                return HttpResponseRedirect(_plan_url(plan), status=303)
        plan.refresh_from_db()
        return _editor(request, plan, plan_form=form, status=422)
    return _editor(request, plan, plan_form=form)


def _editor(request, plan: Plan, *, plan_form=None, step_form=None, status: int = 200) -> HttpResponse:
    steps = list(plan.steps.order_by("position", "pk").annotate(run_count=Count("runs")))
    context = {
        "plan": plan,
        "form": plan_form or PlanForm(plan=plan),
        "step_form": step_form or StepForm(initial={"kind": StepKind.SEND_EMAIL, "wait_unit": "days"}),
        "steps": [{"step": step, "summary": step_summary(step)} for step in steps],
        "live_count": plan.enrolments.filter(state__in=LIVE_STATES).count(),
        "merge_fields": templating.MERGE_FIELDS,
        "has_messages": any(step.kind in MESSAGE_KINDS for step in steps),
    }
    return render(request, "plans/plan.html", context, status=status)


# --- steps -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_page
def step_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    return _step_page(request, plan, step=None)


@require_http_methods(["GET", "POST"])
@agent_page
def step_edit(request: HttpRequest, plan_id: int, step_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    return _step_page(request, plan, step=_step_for(plan, step_id))


def _step_page(request: HttpRequest, plan: Plan, *, step: PlanStep | None) -> HttpResponse:
    if step is None:
        initial = {"kind": request.GET.get("kind") or StepKind.SEND_EMAIL, "wait_unit": "days"}
        form = StepForm(request.POST or None, initial=initial)
    else:
        form = StepForm(request.POST or None, step=step)
    if request.method == "POST":
        if form.is_valid():
            target = step or PlanStep(plan=plan)
            try:
                saved = editing.step_save(step=form.apply_to(target))
            except ValidationFailed as error:
                form.add_domain_errors(error.fields, error.message)
            else:
                verb = "saved" if step else "added"
                messages.success(request, f"Step {saved.get_kind_display().lower()} {verb}.")
                return HttpResponseRedirect(_plan_url(plan, f"step-{saved.pk}"), status=303)
        if step is None and request.POST.get("from") == "editor":
            return _editor(request, plan, step_form=form, status=422)
        return _step_form_page(request, plan, step, form, status=422)
    return _step_form_page(request, plan, step, form)


def _step_form_page(request, plan, step, form, *, status: int = 200) -> HttpResponse:
    context = {
        "plan": plan,
        "step": step,
        "form": form,
        "merge_fields": templating.MERGE_FIELDS,
        "has_run": bool(step and step.runs.exists()),
    }
    return render(request, "plans/step_form.html", context, status=status)


@require_POST
@agent_page
def step_delete(request: HttpRequest, plan_id: int, step_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    step = _step_for(plan, step_id)
    label = step.get_kind_display().lower()
    editing.step_delete(step=step)
    messages.success(request, f"Step {label} deleted. Leads already past it are not affected.")
    return HttpResponseRedirect(_plan_url(plan, "steps"), status=303)


@require_POST
@agent_page
def step_move(request: HttpRequest, plan_id: int, step_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    step = _step_for(plan, step_id)
    direction = request.POST.get("direction", "")
    try:
        moved = editing.step_move(step=step, direction=direction)
    except ValidationFailed:
        return HttpResponse('Say direction "up" or "down".', status=400, content_type="text/plain")
    if moved:
        messages.success(request, f"Step {step.get_kind_display().lower()} moved {direction}.")
    return HttpResponseRedirect(_plan_url(plan, f"step-{step.pk}"), status=303)


# --- preview and who would get it ------------------------------------------------


@require_GET
@agent_page
def plan_preview(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    steps = [step for step in plan.steps.order_by("position", "pk") if step.kind in MESSAGE_KINDS or step.body]
    leads = list(visible_leads(request.user).select_related("contact").order_by("-updated_at", "-pk")[:PREVIEW_LEADS])
    errors: dict[str, str] = {}
    lead, step, rendered = None, None, None
    wanted_lead, wanted_step = request.GET.get("lead", ""), request.GET.get("step", "")
    if wanted_lead:
        try:
            lead = lead_get(user=request.user, lead_id=wanted_lead)
        except NotFound:
            errors["lead"] = "No lead you can see has this id."
        else:
            if lead.pk not in {item.pk for item in leads}:
                leads.insert(0, lead)
    elif leads:
        lead = leads[0]
    if wanted_step:
        step = next((item for item in steps if str(item.pk) == wanted_step), None)
        if step is None:
            errors["step"] = "This plan has no such step with a message."
    elif steps:
        step = steps[0]
    if lead is not None and step is not None and not errors:
        rendered = _render(step, lead)
    context = {
        "plan": plan,
        "steps": steps,
        "leads": leads,
        "lead": lead,
        "step": step,
        "rendered": rendered,
        "errors": errors,
    }
    return render(request, "plans/preview.html", context, status=400 if errors else 200)


def _render(step: PlanStep, lead: Lead) -> dict:
    channel = rules.STEP_CHANNELS.get(step.kind, "email")
    lead = Lead.objects.select_related("contact", "preferences", "team", "assigned_to").get(pk=lead.pk)
    fields = merge_fields(lead, channel=channel)
    try:
        if step.kind == StepKind.SEND_EMAIL:
            email = templating.render_email(subject=step.subject, body=step.body, fields=fields)
            return {
                "kind": "email",
                "subject": email.subject,
                "text": email.text,
                "html": email.html,
                # shown in the page: only simple markup, no styles or scripts a template might hold
                "safe_html": nh3.clean(email.html, tags=SHOWN_TAGS, attributes={"a": {"href"}}),
                "to": lead.contact.email,
            }
        text = templating.render_text(step.body, fields)
        subject = templating.render_text(step.subject, fields) if step.subject else ""
        return {"kind": "text", "subject": subject, "text": text, "html": "", "to": lead.contact.phone}
    except Exception as error:  # a template saved around the checks (the admin, an old row)
        return {"kind": "error", "error": f"The template does not render: {error}"}


@require_GET
@agent_page
def plan_who(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_manager(request.user)
    plan = _plan_for(request, plan_id)
    recipients, total = selectors.who_would_get(plan, timezone.now(), user=request.user)
    context = {"plan": plan, "recipients": recipients, "total": total, "limit": selectors.DRY_RUN_LEAD_LIMIT}
    template = "plans/_who.html" if is_htmx(request) else "plans/who.html"
    return render(request, template, context)


# --- from the lead page --------------------------------------------------------------


def _lead_url(lead: Lead) -> str:
    return reverse("leads:lead_detail", args=[lead.public_id]) + "#plans-title"


@require_GET
@agent_page
def lead_plans(request: HttpRequest, lead_id: str) -> HttpResponse:
    """The lead page's Plans card (HTMX, loaded into the page), or the same on its own page."""
    lead = lead_get(user=request.user, lead_id=lead_id)
    context = {"lead": lead, "section": lead_plans_card(lead)}
    return render(request, "plans/_lead_section.html" if is_htmx(request) else "plans/lead_plans.html", context)


@require_POST
@agent_page
def lead_plan_start(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(user=request.user, lead_id=lead_id)
    try:
        plan = selectors.plan_get(user=request.user, plan_id=request.POST.get("plan", ""))
    except NotFound:
        messages.error(request, "Choose a plan to start.")
        return HttpResponseRedirect(_lead_url(lead), status=303)
    try:
        with transaction.atomic():
            enrolment = services.enrol(
                lead=lead, plan=plan, reason=f"Started by {request.user.get_username()}", by=request.user
            )
            tasks.run_after_commit([enrolment.pk])
    except Conflict as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Plan “{plan.name}” started for {lead.contact.full_name}.")
    return HttpResponseRedirect(_lead_url(lead), status=303)


@require_POST
@agent_page
def lead_plan_stop(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(user=request.user, lead_id=lead_id)
    try:
        plan = selectors.plan_get(user=request.user, plan_id=request.POST.get("plan", ""))
        services.stop(lead=lead, plan_id=plan.pk, by=request.user)
    except NotFound:
        messages.error(request, "The lead is not in this plan any more.")
    else:
        messages.success(request, f"Plan “{plan.name}” stopped. Steps already done stay done.")
    return HttpResponseRedirect(_lead_url(lead), status=303)


@require_POST
@agent_page
def lead_plan_resume(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(user=request.user, lead_id=lead_id)
    try:
        plan = selectors.plan_get(user=request.user, plan_id=request.POST.get("plan", ""))
    except NotFound:
        plan = None
    paused = selectors.enrolments_of(lead).filter(plan=plan, state=EnrolmentState.PAUSED).first() if plan else None
    if paused is None:
        messages.error(request, "The plan is not paused for this lead any more.")
        return HttpResponseRedirect(_lead_url(lead), status=303)
    with transaction.atomic():
        services.resume(enrolment=paused)
        tasks.run_after_commit([paused.pk])
    messages.success(request, f"Plan “{plan.name}” resumed from where it paused.")
    return HttpResponseRedirect(_lead_url(lead), status=303)


@require_POST
@agent_page
def lead_consent(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(user=request.user, lead_id=lead_id)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Consent not saved: choose a channel and granted or refused.")
        return HttpResponseRedirect(_lead_url(lead), status=303)
    data = form.cleaned_data
    source = data["source"].strip() or f"agent: {request.user.get_username()} {timezone.localdate():%Y-%m-%d}"
    try:
        services.set_consent(
            lead=lead, channel=data["channel"], granted=data["granted"], source=source, by=request.user
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        word = "granted" if data["granted"] else "refused"
        messages.success(request, f"Consent for {Channel(data['channel']).label.lower()}s {word}.")
    return HttpResponseRedirect(_lead_url(lead), status=303)
