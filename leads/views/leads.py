"""The leads list, a lead's page, and the forms that change a lead."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadmgmt.replica import reads_from_replica
from leads.accounts import permissions
from leads.core import followups, selectors
from leads.core.duplicates import DuplicateLead
from leads.core.lead_page import lead_page_data
from leads.core.services import LeadManagementService
from leads.deals import selectors as deal_selectors
from leads.deals.forms import ClosingDealForm
from leads.errors import ApplicationError, PreconditionFailed, ValidationFailed
from leads.forms import (
    AssignForm,
    BulkActionForm,
    FollowUpForm,
    InteractionForm,
    LeadForm,
    SavedFilterForm,
    StatusForm,
)
from leads.imports import services as imports
from leads.models import AuditChannel, Lead, LeadSource, LeadStatus, LeadType, UrgencyLevel
from leads.reporting import saved_filters
from leads.views.common import agent_page, assignable_users, render_invalid, safe_next

PAGE_SIZE = 25
QUICK_CALLS = ["Spoke with the lead", "Left a voicemail", "No answer"]


# --- list ------------------------------------------------------------------


class CountedPaginator(Paginator):
    """A Paginator given the exact total (the service's, often from the maintained
    counters) instead of running its own COUNT(*) over every matching lead."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count  # Paginator.count is a cached_property


@require_GET
@agent_page
@reads_from_replica
def lead_list(request):
    user = request.user
    filters = saved_filters.filter_params(request.GET)
    filter_errors = {}
    try:
        leads, total = LeadManagementService(user).filtered_leads_with_total(filters)
    except ValidationFailed as exc:
        filter_errors, leads, total = exc.fields, Lead.objects.none(), 0
    rows = leads.select_related("contact", "timeline", "assigned_to")
    page = CountedPaginator(rows, PAGE_SIZE, count=total).get_page(request.GET.get("page"))
    may_bulk_edit = permissions.can_bulk_edit_leads(user)
    agents = assignable_users() if may_bulk_edit or permissions.can_view_team_leads(user) else []
    context = {
        "page": page,
        "filters": filters,
        "selected": {key: filters.getlist(key) for key in ("status", "lead_type", "source", "urgency")},
        "filter_errors": filter_errors,
        "active_filter_count": sum(1 for key in filters if key not in ("ordering",)),
        "ordering": filters.get("ordering", ""),
        "query_string": filters.urlencode(),
        "saved_filters": saved_filters.saved_filter_list(owner=user),
        "saved_filter_form": SavedFilterForm(),
        "bulk_form": BulkActionForm(agents=agents) if may_bulk_edit else None,
        "agents": agents,
        "choices": {
            "status": LeadStatus.choices,
            "lead_type": LeadType.choices,
            "source": LeadSource.choices,
            "urgency": UrgencyLevel.choices,
        },
    }
    return render(request, "leads/list.html", context, status=400 if filter_errors else 200)


@require_GET
@agent_page
@reads_from_replica
def lead_export(request):
    """The filtered list as CSV, streamed (constant memory at any size)."""
    leads = LeadManagementService(request.user).filtered_leads(saved_filters.filter_params(request.GET))
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in imports.export_rows(leads)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_POST
@agent_page
def lead_bulk_action(request):
    """Managers: assign or change the status of the selected leads."""
    user = request.user
    back = safe_next(request, reverse("leads:lead_list"))
    if not permissions.can_bulk_edit_leads(user):
        messages.error(request, permissions.refusal(permissions.can_bulk_edit_leads))
        return HttpResponseRedirect(back, status=303)
    form = BulkActionForm(request.POST, agents=assignable_users())
    lead_ids = [value for value in request.POST.getlist("lead_ids") if selectors.is_lead_id(value)][:200]
    if not form.is_valid() or not lead_ids:
        messages.error(request, "Select some leads and an action.")
        return HttpResponseRedirect(back, status=303)
    service, action = LeadManagementService(user, channel=AuditChannel.PAGE), form.cleaned_data["action"]
    done, failed = 0, 0
    for lead_id in lead_ids:
        try:
            if action == "assign":
                username = form.cleaned_data["agent"]
                agent = selectors.agent_get(identifier=username) if username else None
                if username and agent is None:
                    raise ValidationFailed(fields={"agent": ["No active user with this username or id."]})
                service.assign(lead_id, agent)
            else:
                service.change_status(lead_id, form.cleaned_data["status"])
            done += 1
        except ApplicationError:
            failed += 1
    verb = "Assigned" if action == "assign" else "Updated the status of"
    messages.success(request, f"{verb} {done} lead{'s' if done != 1 else ''}.")
    if failed:
        messages.error(request, f"{failed} lead{'s' if failed != 1 else ''} could not be changed.")
    return HttpResponseRedirect(back, status=303)


# --- saved filters ("smart lists") -----------------------------------------


@require_POST
@agent_page
def saved_filter_create(request):
    form = SavedFilterForm(request.POST)
    query = QueryDict(request.POST.get("query", ""))
    if form.is_valid():
        try:
            saved = saved_filters.saved_filter_create(owner=request.user, name=form.cleaned_data["name"], query=query)
        except ValidationFailed as exc:
            for messages_list in exc.fields.values():
                for message in messages_list:
                    messages.error(request, message)
        else:
            messages.success(request, f"Saved “{saved.name}”.")
            return HttpResponseRedirect(f"{reverse('leads:lead_list')}?{saved.query}", status=303)
    else:
        messages.error(request, "Give the smart list a name.")
    return HttpResponseRedirect(f"{reverse('leads:lead_list')}?{query.urlencode()}", status=303)


@require_POST
@agent_page
def saved_filter_delete(request, filter_id: int):
    saved_filters.saved_filter_delete(owner=request.user, filter_id=filter_id)
    messages.success(request, "Smart list removed.")
    return HttpResponseRedirect(reverse("leads:lead_list"), status=303)


# --- one lead ----------------------------------------------------------------


@require_GET
@agent_page
def lead_detail(request, lead_id: str):
    return _lead_page(request, lead_id)


def _lead_page(request, lead_id: str, status: int = 200, **forms):
    """The lead's page; ``forms`` replaces a blank form by one with errors."""
    user = request.user
    lead = selectors.lead_get(user=user, lead_id=lead_id)
    may_reassign = permissions.can_reassign(user)
    agents = assignable_users() if may_reassign else []
    context = {
        "lead": lead,
        **lead_page_data(lead),
        "follow_ups": followups.lead_follow_ups(lead=lead),
        "interaction_form": forms.get("interaction_form") or InteractionForm(initial={"type": "call"}),
        "status_form": forms.get("status_form") or StatusForm(initial={"status": lead.status}),
        "deal_form": forms.get("deal_form") or ClosingDealForm(initial={"team_split": "100"}),
        "deals": deal_selectors.deals_of(lead),
        "assign_form": (
            forms.get("assign_form")
            or AssignForm(agents=agents, initial={"agent": lead.assigned_to.username if lead.assigned_to else ""})
        )
        if may_reassign
        else None,
        "follow_up_form": forms.get("follow_up_form") or FollowUpForm(),
        "quick_calls": QUICK_CALLS,
        "snooze_choices": followups.SNOOZE_CHOICES,
        "now": timezone.now(),
    }
    return render(request, "leads/detail.html", context, status=status)


def _back_to_lead(lead_id: str):
    return HttpResponseRedirect(reverse("leads:lead_detail", args=[lead_id]), status=303)


@require_POST
@agent_page
def lead_log_interaction(request, lead_id: str):
    selectors.lead_get(user=request.user, lead_id=lead_id)  # 404 before 422
    form = InteractionForm(request.POST)
    if form.is_valid():
        try:
            LeadManagementService(request.user, channel=AuditChannel.PAGE).add_interaction(lead_id, form.validated_data)
        except ValidationFailed as exc:
            form.add_api_errors(exc.fields)
        else:
            messages.success(request, f"{form.validated_data['type'].capitalize()} logged.")
            return _back_to_lead(lead_id)
    return _lead_page(request, lead_id, status=422, interaction_form=form)


@require_POST
@agent_page
def lead_change_status(request, lead_id: str):
    """Change the status; closing records the deal given with it (or needs one already)."""
    form, deal_form = StatusForm(request.POST), ClosingDealForm(request.POST)
    if form.is_valid():
        closing = form.cleaned_data["status"] == LeadStatus.CLOSED and deal_form.filled
        deal = deal_form.deal_values() if closing else None
        if not closing or deal is not None:
            try:
                lead = LeadManagementService(request.user, channel=AuditChannel.PAGE).change_status(
                    lead_id, form.cleaned_data["status"], deal=deal
                )
            except ValidationFailed as exc:
                _add_domain_errors(form, "status", exc)
            else:
                messages.success(request, f"Status: {lead.get_status_display()}.")
                return _back_to_lead(lead_id)
    return _lead_page(request, lead_id, status=422, status_form=form, deal_form=deal_form)


@require_POST
@agent_page
def lead_assign(request, lead_id: str):
    service = LeadManagementService(request.user, channel=AuditChannel.PAGE)
    service.get_lead(lead_id)
    form = AssignForm(request.POST, agents=assignable_users())
    if form.is_valid():
        username = form.cleaned_data["agent"]
        agent = selectors.agent_get(identifier=username) if username else None
        if username and agent is None:
            form.add_error("agent", "No active user with this username or id.")
        else:
            try:
                lead = service.assign(lead_id, agent)
            except ValidationFailed as exc:
                _add_domain_errors(form, "agent", exc)
            else:
                messages.success(request, f"Assigned to {lead.assigned_to or 'nobody'}.")
                return _back_to_lead(lead_id)
    return _lead_page(request, lead_id, status=422, assign_form=form)


@require_POST
@agent_page
def lead_add_follow_up(request, lead_id: str):
    selectors.lead_get(user=request.user, lead_id=lead_id)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            data = form.cleaned_data
            followups.follow_up_create(actor=request.user, lead_id=lead_id, title=data["title"], due_at=data["due_at"])
        except ValidationFailed as exc:
            for name, message_list in exc.fields.items():
                for message in message_list:
                    form.add_error(name if name in form.fields else None, message)
        else:
            messages.success(request, "Follow-up added.")
            return _back_to_lead(lead_id)
    return _lead_page(request, lead_id, status=422, follow_up_form=form)


# --- create and edit ---------------------------------------------------------


@agent_page
def lead_create(request):
    user = request.user
    agents = assignable_users() if permissions.can_reassign(user) else None
    if request.method == "POST":
        form = LeadForm(request.POST, actor=user, agents=agents)
        if form.is_valid():
            try:
                lead = LeadManagementService(user, channel=AuditChannel.PAGE).create_lead(
                    form.validated_data, reject_duplicates=True
                )
            except DuplicateLead as exc:
                existing = (
                    selectors.visible_leads(user).select_related("contact").filter(pk=exc.match.pk).first()
                    if exc.match.visible
                    else None
                )
                form.add_duplicate_error(exc, existing=existing)
            except ApplicationError as exc:
                form.add_api_errors(exc.fields or {"": [exc.message]})
            else:
                messages.success(request, f"Lead {lead.contact.full_name} created.")
                return _back_to_lead(lead.public_id)
        return render_invalid(request, "leads/form.html", {"form": form, "lead": None})
    form = LeadForm(actor=user, agents=agents)
    return render(request, "leads/form.html", {"form": form, "lead": None})


@agent_page
def lead_edit(request, lead_id: str):
    user = request.user
    service = LeadManagementService(user, channel=AuditChannel.PAGE)
    lead = service.get_lead(lead_id)
    agents = assignable_users() if permissions.can_reassign(user) else None
    initial = LeadForm.initial_for(lead)
    if request.method == "POST":
        form = LeadForm(request.POST, actor=user, agents=agents, initial=initial, partial=True)
        if form.is_valid():
            version = request.POST.get("version", "")
            try:
                service.update_lead(
                    lead_id, form.validated_data, expected_version=int(version) if version.isdigit() else None
                )
            except PreconditionFailed:
                form.add_error(None, "Someone changed this lead while you were editing. Reload to see their changes.")
            except ApplicationError as exc:
                form.add_api_errors(exc.fields or {"": [exc.message]})
            else:
                messages.success(request, "Lead saved.")
                return _back_to_lead(lead_id)
        return render_invalid(request, "leads/form.html", {"form": form, "lead": lead})
    form = LeadForm(actor=user, agents=agents, initial=initial, partial=True)
    return render(request, "leads/form.html", {"form": form, "lead": lead})


def _add_domain_errors(form, field: str, error: ValidationFailed) -> None:
    """Show a service's validation messages on the one input the small form has."""
    for messages_of_field in error.fields.values():
        for message in messages_of_field:
            form.add_error(field, message)
