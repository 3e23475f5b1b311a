"""Merging leads in the back office: the lead list's "Merge two leads…" action (a
confirm page where each differing field's winner is picked) and the list of merges,
with undo. Both call ``leads.merges.services``, as the API does."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from leads.accounts import permissions
from leads.admin.read_only import ReadOnlyAdminMixin
from leads.audit import history as audit
from leads.errors import ApplicationError
from leads.merges import services as merges
from leads.models import AuditChannel, Lead, LeadMerge, User


def _admin_context(request) -> audit.AuditContext:
    return audit.AuditContext(actor=request.user, channel=AuditChannel.ADMIN)


def _refusal_text(refusal: ApplicationError) -> str:
    details = "; ".join(f"{field}: {' '.join(problems)}" for field, problems in refusal.fields.items())
    return f"{refusal.message} {details}".strip()


class MergeLeadsForm(forms.Form):
    """Which of two leads is kept, and for each field they disagree on, whose value
    it takes ("a" or "b": the two leads in the order shown). The choices start at
    the merge's defaults for keeping the first (older) lead."""

    keep = forms.ChoiceField(widget=forms.RadioSelect, label="Keep this lead (the other is archived)")

    def __init__(self, *args, leads: tuple[Lead, Lead], **kwargs):
        super().__init__(*args, **kwargs)
        self.leads = leads
        first, second = leads
        self.fields["keep"].choices = [
            ("a", f"{first} — created {first.created_at:%Y-%m-%d}"),
            ("b", f"{second} — created {second.created_at:%Y-%m-%d}"),
        ]
        self.fields["keep"].initial = "a"
        self.choices = merges.merge_choices(first, second)
        for choice in self.choices:
            self.fields[self.field_name(choice.path)] = forms.ChoiceField(
                label=choice.label,
                widget=forms.RadioSelect,
                choices=[
                    ("a", audit.value_text(_shown(choice.primary))),
                    ("b", audit.value_text(_shown(choice.duplicate))),
                ],
                initial="a" if choice.default == merges.PRIMARY else "b",
            )

    @staticmethod
    def field_name(path: str) -> str:
        return "take__" + path.replace(".", "__")

    def rows(self):
        """(label, bound field) per differing field, for the template."""
        return [(choice.label, self[self.field_name(choice.path)]) for choice in self.choices]

    def merge_arguments(self) -> tuple[Lead, Lead, dict[str, str]]:
        """(primary, duplicate, prefer) for ``leads.merges.services.lead_merge``."""
        keep = self.cleaned_data["keep"]
        by_key = dict(zip(("a", "b"), self.leads, strict=True))
        primary, duplicate = by_key[keep], by_key["b" if keep == "a" else "a"]
        prefer = {
            choice.path: merges.PRIMARY if self.cleaned_data[self.field_name(choice.path)] == keep else merges.DUPLICATE
            for choice in self.choices
        }
        return primary, duplicate, prefer


def _shown(value):
    return str(value) if isinstance(value, User) else audit.json_value(value)


@admin.action(description="Merge two leads…", permissions=["merge"])
def merge_leads(modeladmin, request, queryset):
    leads = list(
        queryset.select_related("contact", "preferences", "timeline", "assigned_to").order_by("created_at", "pk")[:3]
    )
    if len(leads) != 2:
        modeladmin.message_user(request, "Select exactly two leads to merge.", messages.WARNING)
        return None
    form = MergeLeadsForm(request.POST if "apply" in request.POST else None, leads=tuple(leads))
    if not form.is_valid():
        context = {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.opts,
            "title": "Merge two leads",
            "leads": leads,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/leads/lead/merge_confirm.html", context)
    primary, duplicate, prefer = form.merge_arguments()
    try:
        merge = merges.lead_merge(
            actor=request.user,
            primary_id=primary.public_id,
            duplicate_id=duplicate.public_id,
            prefer=prefer,
            context=_admin_context(request),
        )
    except ApplicationError as refusal:
        modeladmin.message_user(request, f"Nothing was merged: {_refusal_text(refusal)}", messages.ERROR)
        return None
    undo_url = reverse("admin:leads_leadmerge_change", args=[merge.pk])
    modeladmin.message_user(
        request,
        format_html(
            'Merged {} into {}. It can be undone from <a href="{}">the merge {}</a>.',
            duplicate,
            primary,
            undo_url,
            merge.public_id,
        ),
    )
    return None


@admin.register(LeadMerge)
class LeadMergeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Merges, read-only; the actions undo them through ``leads.merges.services``."""

    list_display = ("public_id", "primary", "duplicate", "merged_by", "merged_at", "undone_at")
    list_select_related = ("primary__contact", "duplicate__contact", "merged_by")
    list_filter = (("undone_at", admin.EmptyFieldListFilter),)
    search_fields = ("public_id", "primary__public_id", "duplicate__public_id")
    fields = readonly_fields = (
        "public_id",
        "primary",
        "duplicate",
        "merged_by",
        "merged_at",
        "prefer",
        "primary_version",
        "duplicate_version",
        "undone_by",
        "undone_at",
        "snapshot",
    )
    actions = ("undo", "undo_force")

    def has_module_permission(self, request):
        return permissions.can_merge(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return permissions.can_merge(request.user) or super().has_view_permission(request, obj)

    def has_undo_permission(self, request):
        return permissions.can_merge(request.user)

    @admin.action(description="Undo the selected merges", permissions=["undo"])
    def undo(self, request, queryset):
        self._undo(request, queryset, force=False)

    @admin.action(description="Undo the selected merges, even over later changes", permissions=["undo"])
    def undo_force(self, request, queryset):
        self._undo(request, queryset, force=True)

    def _undo(self, request, queryset, *, force: bool) -> None:
        for merge in queryset:
            try:
                merges.lead_merge_undo(
                    actor=request.user, merge_id=merge.public_id, force=force, context=_admin_context(request)
                )
            except ApplicationError as refusal:
                self.message_user(
                    request, f"{merge.public_id} was not undone: {_refusal_text(refusal)}", messages.ERROR
                )
            else:
                self.message_user(request, f"Undid {merge.public_id}: {merge.duplicate} is back.")
