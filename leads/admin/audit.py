"""The audit history in the back office: read-only, written by the services."""

from django.contrib import admin

from leads.accounts import permissions
from leads.admin.read_only import ReadOnlyAdminMixin
from leads.core import selectors
from leads.models import (
    AuditEntry,
)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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


# --- users ---------------------------------------------------------------------
