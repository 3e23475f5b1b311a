"""The back office. Every write goes through ``LeadManagementService``, exactly as
the API's do: the admin's forms only check input and translate it.

How a lead's change page saves: the lead form and its inline forms are validated
with the rules of ``leads.validation``; ``save_model`` writes nothing, and
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
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework.authtoken.models import Token

from leads import audit, permissions, selectors, validation
from leads.errors import ApplicationError
from leads.merge_admin import merge_leads
from leads.models import (
    AuditChannel,
    AuditEntry,
    Contact,
    FollowUpTask,
    Interaction,
    InteractionDirection,
    Lead,
    LeadStatus,
    Preferences,
    PropertyType,
    Role,
    StatusChange,
    Timeline,
    User,
)
from leads.services import CONTACT_FIELDS, LEAD_FIELDS, PREFERENCE_FIELDS, TIMELINE_FIELDS, LeadManagementService

INTERACTION_FIELDS = ("type", "direction", "summary", "notes", "next_steps", "occurred_at", "follow_up_due_at")
ADMIN_HISTORY_ROWS = 50
# The request attribute that carries a service refusal into the second rendering.
_REFUSAL = "_lead_admin_refusal"


# --- form fields ---------------------------------------------------------------


class LineListField(forms.CharField):
    """A list of short strings, edited one per line; blank lines and repeats dropped."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *, normalize=validation.clean_text, max_items: int = 20, item_max_length: int = 100, **kwargs):
        self.normalize, self.max_items, self.item_max_length = normalize, max_items, item_max_length
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One per line.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        lines = (self.normalize(line) for line in super().to_python(value).splitlines())
        return list(dict.fromkeys(line for line in lines if line))

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} lines.")
        if any(len(item) > self.item_max_length for item in value):
            raise ValidationError(f"Each line must be at most {self.item_max_length} characters.")

    def has_changed(self, initial, data) -> bool:
        try:
            return (initial or []) != self.to_python(data)
        except ValidationError:
            return True


def _not_negative(form: forms.Form, *names: str) -> None:
    for name in names:
        if name in form.fields:
            form.fields[name].validators.append(MinValueValidator(0, "Must be zero or more."))


def _clean_text_field(form: forms.Form, name: str, *, multiline: bool = False) -> str:
    value = validation.clean_text(form.cleaned_data[name], multiline=multiline)
    if not value and form.fields[name].required:
        raise ValidationError("This field is required.", code="required")
    return value


# --- forms ---------------------------------------------------------------------


class LeadForm(forms.ModelForm):
    """The lead's own fields. ``expected_version`` guards against overwriting a
    change made by someone else since the page was opened."""

    tags = LineListField(item_max_length=50)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    # Set by LeadAdmin.get_form on the second rendering after a service refusal.
    refusal: ApplicationError | None = None

    class Meta:
        model = Lead
        fields = ("lead_type", "source", "status", "assigned_to", "tags")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["expected_version"] = self.instance.version
        if "assigned_to" in self.fields:
            self.fields["assigned_to"].queryset = User.objects.filter(
                Q(is_active=True) | Q(pk=self.instance.assigned_to_id)
            ).order_by("first_name", "last_name", "username")

    def clean(self):
        cleaned = super().clean()
        if self.refusal is not None:
            self._show_refusal(self.refusal)
        return cleaned

    def _show_refusal(self, refusal: ApplicationError) -> None:
        if not refusal.fields:
            self.add_error(None, f"Nothing was saved: {refusal.message}")
        for key, problems in refusal.fields.items():
            if key in self.fields:
                self.add_error(key, problems)
            else:
                label = key.replace(".", " / ").replace("_", " ").capitalize()
                self.add_error(None, [f"{label}: {problem}" for problem in problems])


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = tuple(field for field in CONTACT_FIELDS if field != "phone_is_valid")

    def clean_first_name(self):
        return _clean_text_field(self, "first_name")

    def clean_last_name(self):
        return _clean_text_field(self, "last_name")

    def clean_best_time_to_contact(self):
        return _clean_text_field(self, "best_time_to_contact")

    def clean_email(self):
        return validation.normalize_email(self.cleaned_data["email"])

    def clean_phone(self):
        phone, self.cleaned_data["phone_is_valid"] = validation.normalize_phone(self.cleaned_data["phone"])
        return phone

    def clean(self):
        cleaned = super().clean()
        if "email" in cleaned and "phone" in cleaned and not (cleaned["email"] or cleaned["phone"]):
            # On the field, so the model's reachability constraint is not reported twice.
            self.add_error("email", "A lead needs an email address or a phone number.")
        return cleaned


class PreferencesForm(forms.ModelForm):
    property_types = forms.MultipleChoiceField(
        choices=PropertyType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    preferred_locations = LineListField(normalize=validation.normalize_location, help_text="City or ZIP, one per line.")
    must_have_features = LineListField(max_items=30)
    nice_to_have_features = LineListField(max_items=30)

    class Meta:
        model = Preferences
        fields = PREFERENCE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _not_negative(self, "min_bathrooms")

    def clean(self):
        cleaned = super().clean()
        price_errors = validation.price_range_errors(cleaned.get("min_price"), cleaned.get("max_price"))
        for field, problems in price_errors.items():
            self.add_error(field, problems)
        return cleaned


class TimelineForm(forms.ModelForm):
    class Meta:
        model = Timeline
        fields = TIMELINE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _not_negative(self, "pre_approval_amount")


class InteractionForm(forms.ModelForm):
    # Left empty, the service decides: notes are internal, everything else outbound.
    direction = forms.ChoiceField(choices=[("", "By type"), *InteractionDirection.choices], required=False, initial="")

    class Meta:
        model = Interaction
        fields = INTERACTION_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 2}), "next_steps": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].required = False
        self.fields["occurred_at"].help_text = "Empty: now."

    def clean_occurred_at(self):
        return validation.not_in_the_future(self.cleaned_data.get("occurred_at"))

    def clean_summary(self):
        return _clean_text_field(self, "summary")

    def clean_notes(self):
        return _clean_text_field(self, "notes", multiline=True)

    def clean_next_steps(self):
        return _clean_text_field(self, "next_steps", multiline=True)


class AssignLeadsForm(forms.Form):
    agent = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("first_name", "last_name", "username"),
        help_text="Only active users are listed.",
    )


class ChangeStatusForm(forms.Form):
    status = forms.ChoiceField(choices=LeadStatus.choices)


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

    # The role's rights (leads.permissions); a Django model permission adds to them.

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
        """Merging leads is a manager's job (``leads.merge`` enforces it too)."""
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


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Every recorded change, read-only: written by the services, never by hand."""

    list_display = ("at", "lead", "field", "old_value", "new_value", "actor", "channel", "request_id")
    list_select_related = ("lead__contact", "actor")
    list_filter = ("channel",)
    search_fields = ("lead__public_id", "field", "request_id", "changeset")
    search_help_text = "Lead id, field, request id or changeset."
    date_hierarchy = "at"
    raw_id_fields = ("lead",)

    def get_queryset(self, request):
        leads = selectors.visible_leads(request.user, include_archived=True)
        return super().get_queryset(request).filter(lead__in=leads)

    def has_module_permission(self, request):
        return permissions.can_use_lead_admin(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return permissions.can_use_lead_admin(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- users ---------------------------------------------------------------------


@admin.register(User)
class TeamUserAdmin(UserAdmin):
    """Django's user admin plus the team fields; token presence at a glance
    (tokens themselves are managed under "Auth Token")."""

    fieldsets = (*UserAdmin.fieldsets, ("Team", {"fields": ("role", "manager")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Team", {"classes": ("wide",), "fields": ("role", "manager")}))
    list_display = ("username", "email", "first_name", "last_name", "role", "manager", "is_staff", "has_api_token")
    list_filter = ("role", "is_staff", "is_superuser", "is_active")
    list_select_related = ("manager",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(api_token=Exists(Token.objects.filter(user=OuterRef("pk"))))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "manager":
            kwargs["queryset"] = User.objects.filter(role__in=(Role.MANAGER, Role.ADMIN))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(boolean=True, description="API token", ordering="api_token")
    def has_api_token(self, user: User) -> bool:
        return user.api_token
