"""The back office. Every write goes through ``LeadManagementService``, exactly as
the API's do: the admin's forms only check input and translate it.

How a lead's change page saves: the lead form and its inline forms are validated
with the rules of ``leads.core.validation``; ``save_model`` writes nothing, and
``save_related`` makes one service call with what the forms hold (create_lead,
or update_lead with only the changed values), then one add_interaction per new
interaction row. A refusal by the service (an ``ApplicationError``) rolls the
admin's transaction back and the page is shown again with the refusal on it.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse

from leads.accounts import permissions
from leads.admin.forms import (
    INTERACTION_FIELDS,
    AssignLeadsForm,
    ChangeStatusForm,
    ContactForm,
    InteractionForm,
    LeadForm,
    PreferencesForm,
    TimelineForm,
)
from leads.audit import history as audit
from leads.core import selectors, validation
from leads.core.services import CONTACT_FIELDS, LEAD_FIELDS, PREFERENCE_FIELDS, TIMELINE_FIELDS, LeadManagementService
from leads.errors import ApplicationError
from leads.merges.admin import merge_leads
from leads.models import (
    AuditChannel,
    Contact,
    FollowUpTask,
    Interaction,
    Lead,
    LeadStatus,
    Preferences,
    StatusChange,
    Timeline,
)

ADMIN_HISTORY_ROWS = 50
# The request attribute that carries a service refusal into the second rendering.
_REFUSAL = "_lead_admin_refusal"


# --- inlines -------------------------------------------------------------------


class LeadPartInline(admin.options.InlineModelAdmin):
    """A row that belongs to the lead: editable wherever the lead is, never deleted
    on its own (rows are written by the service together with the lead)."""

    can_delete = False

    def _lead_admin(self) -> admin.ModelAdmin:
        return self.admin_site.get_model_admin(Lead)

    def has_view_permission(self, request, obj=None):
        return self._lead_admin().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        lead_admin = self._lead_admin()
        return lead_admin.has_change_permission(request, obj) if obj else lead_admin.has_add_permission(request)

    def has_add_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class OneToOneInline(LeadPartInline, admin.StackedInline):
    min_num = 0
    max_num = 1
    extra = 1


class ContactInline(OneToOneInline):
    model = Contact
    form = ContactForm
    min_num = 1
    extra = 0
    readonly_fields = ("phone_is_valid",)


class PreferencesInline(OneToOneInline):
    model = Preferences
    form = PreferencesForm


class TimelineInline(OneToOneInline):
    model = Timeline
    form = TimelineForm


class InteractionInline(LeadPartInline, admin.TabularInline):
    """Logged interactions are history: shown read-only; new rows are added
    through the service, with the signed-in user as author."""

    model = Interaction
    form = InteractionForm
    extra = 1
    readonly_fields = ("created_by",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return super().has_change_permission(request, obj)


class ReadOnlyInline(LeadPartInline, admin.TabularInline):
    extra = 0

    def has_change_permission(self, request, obj=None):
        return False


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = readonly_fields = ("changed_at", "from_status", "to_status", "changed_by")
    verbose_name_plural = "status history"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class FollowUpTaskInline(ReadOnlyInline):
    """Follow-ups are created by the communication workflows; shown here for context."""

    model = FollowUpTask
    fields = readonly_fields = ("kind", "title", "due_at", "assigned_to", "completed_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assigned_to")


# --- the lead admin ------------------------------------------------------------


class ArchivedFilter(admin.SimpleListFilter):
    """Archived leads (DELETE through the API) are listed here to be restored."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return (("no", "Not archived"), ("yes", "Archived"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(archived_at__isnull=self.value() == "no")
        return queryset


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = LeadForm
    inlines = (
        ContactInline,
        PreferencesInline,
        TimelineInline,
        InteractionInline,
        StatusChangeInline,
        FollowUpTaskInline,
    )
    list_display = (
        "public_id",
        "name",
        "contact__email",
        "contact__phone",
        "lead_type",
        "source",
        "status",
        "timeline__urgency_level",
        "assigned_to",
        "score",
        "created_at",
    )
    list_select_related = ("contact", "timeline", "assigned_to")
    list_filter = (
        "status",
        "lead_type",
        "source",
        "timeline__urgency_level",
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
        ArchivedFilter,
    )
    search_fields = ("contact__first_name", "contact__last_name", "contact__email", "contact__phone", "public_id")
    search_help_text = "Name, email, phone or lead id."
    actions = ("assign_to_agent", "change_status", "restore", merge_leads)
    readonly_fields = (
        "public_id",
        "score",
        "score_breakdown",
        "metadata",
        "custom_fields",
        "first_contacted_at",
        "last_contacted_at",
        "sla_due_at",
        "sla_status",
        "version",
        "processing_status",
        "processed_version",
        "processing_error",
        "created_at",
        "updated_at",
        "archived_at",
        "archived_by",
        "audit_history",
    )
    fieldsets = (
        (None, {"fields": ("public_id", "lead_type", "source", "status", "assigned_to", "tags", "expected_version")}),
        ("Score and insights", {"classes": ("collapse",), "fields": ("score", "score_breakdown", "metadata")}),
        ("Speed to lead", {"fields": ("first_contacted_at", "last_contacted_at", "sla_due_at", "sla_status")}),
        (
            "Record",
            {
                "classes": ("collapse",),
                "fields": (
                    "custom_fields",
                    "version",
                    "processing_status",
                    "processed_version",
                    "processing_error",
                    "created_at",
                    "updated_at",
                    "archived_at",
                    "archived_by",
                ),
            },
        ),
        ("History", {"fields": ("audit_history",)}),
    )

    @admin.display(description="latest changes")
    def audit_history(self, lead: Lead) -> str:
        """The lead's latest audit entries, newest first, and a link to all of them."""
        lines = audit.history_lines(audit.recent_entries(lead, limit=ADMIN_HISTORY_ROWS))
        all_url = f"{reverse('admin:leads_auditentry_changelist')}?lead__id__exact={lead.pk}"
        return render_to_string("admin/leads/lead/audit_history.html", {"lines": lines, "all_url": all_url})

    @admin.display(description="name", ordering="contact__last_name")
    def name(self, lead: Lead) -> str:
        contact = getattr(lead, "contact", None)
        return contact.full_name if contact else ""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "assigned_to":
            # Users are managed on their own page, not from inside a lead.
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = widget.can_delete_related = False
        return formfield

    # --- who sees what ---

    def get_queryset(self, request):
        # Archived leads stay listed (see ArchivedFilter) so they can be restored.
        return selectors.visible_leads(request.user, include_archived=True)

    # The role's rights (leads.accounts.permissions); a Django model permission adds to them.

    def has_module_permission(self, request):
        return permissions.can_use_lead_admin(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return permissions.can_use_lead_admin(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return permissions.can_use_lead_admin(request.user) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.archived_at is not None:
            return False  # read-only until restored (the services do not write archived leads)
        return permissions.can_use_lead_admin(request.user) or super().has_change_permission(request, obj)

    def has_merge_permission(self, request):
        """Merging leads is a manager's job (``leads.merges.services`` enforces it too)."""
        return permissions.can_merge(request.user)

    def has_restore_permission(self, request):
        """Restoring is a manager's job (the service enforces it too)."""
        return permissions.can_restore(request.user)

    def has_delete_permission(self, request, obj=None):
        """No service deletes a lead (the CRM would never hear of it): mark it lost instead."""
        return False

    def has_assign_permission(self, request):
        """Reassigning is a manager's job (the service enforces it too)."""
        return permissions.can_reassign(request.user)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if permissions.can_reassign(request.user) else (*readonly, "assigned_to")

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return super().get_fieldsets(request, obj)
        return ((None, {"fields": ("lead_type", "source", "status", "assigned_to", "tags")}),)

    def get_inlines(self, request, obj):
        if obj is None:
            return (ContactInline, PreferencesInline, TimelineInline, InteractionInline)
        return self.inlines

    def get_search_results(self, request, queryset, search_term):
        """Also find a phone typed the way people write it: '(415) 555-0100'."""
        leads, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone, _ = validation.normalize_phone(search_term)
        except ValidationError:
            phone = ""
        if phone and phone != search_term.strip():
            leads |= queryset.filter(contact__phone=phone)
        return leads, may_have_duplicates

    # --- saving through the service ---

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.refusal = getattr(request, _REFUSAL, None)  # a fresh class per call
        return form_class

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as refusal:
            # The service said no and the admin's transaction has rolled back:
            # render the same form again, with the refusal as its errors.
            setattr(request, _REFUSAL, refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """Nothing to do yet: save_related writes the lead together with its parts."""

    def save_related(self, request, form, formsets, change):
        service = LeadManagementService(request.user, channel=AuditChannel.ADMIN)
        parts = {formset.model: formset for formset in formsets}
        lead = form.instance
        if not change:
            created = service.create_lead(self._new_lead(form, parts))
            lead.pk, lead.public_id = created.pk, created.public_id
        elif changes := self._changes(form, parts):
            service.update_lead(lead.public_id, changes, expected_version=form.cleaned_data["expected_version"])
        new_interactions = [
            service.add_interaction(lead.public_id, values)[1]
            for values in _new_rows(parts.get(Interaction), INTERACTION_FIELDS)
        ]
        lead.refresh_from_db()
        self._note_inline_changes(formsets, change, new_interactions)

    @staticmethod
    def _new_lead(form, parts) -> dict[str, Any]:
        data = _pick(form.cleaned_data, (*LEAD_FIELDS, "status", "assigned_to"))
        for key, model, fields in _PARTS:
            rows = [form.cleaned_data for form in _filled_forms(parts.get(model))]
            if rows:
                data[key] = _pick(rows[0], fields)
        return data

    @staticmethod
    def _changes(form, parts) -> dict[str, Any]:
        """Only what the user changed, in update_lead's merge format."""
        changes = _pick(form.cleaned_data, (*LEAD_FIELDS, "status", "assigned_to"), only=form.changed_data)
        for key, model, fields in _PARTS:
            for part_form in _filled_forms(parts.get(model)):
                changed = _pick(part_form.cleaned_data, fields, only=part_form.changed_data)
                if "phone" in changed:
                    changed["phone_is_valid"] = part_form.cleaned_data["phone_is_valid"]
                if changed:
                    changes[key] = changed
        return changes

    @staticmethod
    def _note_inline_changes(formsets, change: bool, new_interactions: list[Interaction]) -> None:
        """Fill in what formset.save() would have, for the admin's history log."""
        for formset in formsets:
            formset.new_objects = new_interactions if formset.model is Interaction else []
            formset.changed_objects = []
            formset.deleted_objects = []
            if change and formset.model in (Contact, Preferences, Timeline):
                formset.changed_objects = [(form.instance, form.changed_data) for form in _filled_forms(formset)]

    # --- bulk actions ---

    @admin.action(description="Assign to agent…", permissions=["assign"])
    def assign_to_agent(self, request, queryset):
        form = AssignLeadsForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._bulk_page(request, queryset, form, action="assign_to_agent", title="Assign leads to an agent")
        agent = form.cleaned_data["agent"]
        changed = self._apply_to_each(request, queryset, lambda service, lead: service.assign(lead.public_id, agent))
        if changed is not None:
            self.message_user(request, f"Assigned {changed} {model_ngettext(self.opts, changed)} to {agent}.")
        return None

    @admin.action(description="Change status…", permissions=["change"])
    def change_status(self, request, queryset):
        form = ChangeStatusForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._bulk_page(request, queryset, form, action="change_status", title="Change the status of leads")
        status = form.cleaned_data["status"]
        changed = self._apply_to_each(
            request, queryset, lambda service, lead: service.change_status(lead.public_id, status)
        )
        if changed is not None:
            label = LeadStatus(status).label
            self.message_user(request, f"Moved {changed} {model_ngettext(self.opts, changed)} to “{label}”.")
        return None

    @admin.action(description="Restore archived leads", permissions=["restore"])
    def restore(self, request, queryset):
        service = LeadManagementService(request.user, channel=AuditChannel.ADMIN)
        archived = [lead.public_id for lead in queryset if lead.archived_at is not None]
        try:
            with transaction.atomic():
                for lead_id in archived:
                    service.restore_lead(lead_id)
        except ApplicationError as refusal:
            self.message_user(request, f"Nothing was restored: {refusal.message}", messages.ERROR)
            return
        self.message_user(request, f"Restored {len(archived)} {model_ngettext(self.opts, len(archived))}.")

    def _apply_to_each(self, request, queryset, operation) -> int | None:
        """Run ``operation`` on every selected lead, all or nothing; the number changed."""
        service = LeadManagementService(request.user, channel=AuditChannel.ADMIN)
        leads = list(queryset)
        try:
            with transaction.atomic():
                return sum(operation(service, lead).version != lead.version for lead in leads)
        except ApplicationError as refusal:
            self.message_user(request, f"Nothing was changed: {refusal.message}", messages.ERROR)
            return None

    def _bulk_page(self, request, queryset, form, *, action: str, title: str):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "leads": queryset.select_related("contact"),
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/leads/lead/bulk_action.html", context)


_PARTS = (
    ("contact", Contact, CONTACT_FIELDS),
    ("preferences", Preferences, PREFERENCE_FIELDS),
    ("timeline", Timeline, TIMELINE_FIELDS),
)


def _filled_forms(formset) -> list[forms.ModelForm]:
    """The forms of ``formset`` that hold something to save."""
    if formset is None:
        return []
    return [form for form in formset.forms if form.has_changed() and form.cleaned_data]


def _new_rows(formset, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    if formset is None:
        return []
    return [_pick(form.cleaned_data, fields) for form in formset.extra_forms if form.has_changed()]


def _pick(values: dict[str, Any], fields: tuple[str, ...], *, only=None) -> dict[str, Any]:
    return {field: values[field] for field in fields if field in values and (only is None or field in only)}


# --- audit history ---------------------------------------------------------------
