"""Deals in the back office: listed and edited by whoever may use the lead admin, on
the leads they may see. Saving goes through ``services.deal_save`` (the commission
recomputed; a closed deal closes its lead through the lead's write)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from leads.accounts import permissions
from leads.core.selectors import visible_leads
from leads.deals import services
from leads.deals.models import Deal, SourceSpend
from leads.errors import ApplicationError


class _LeadAdminOnly:
    def has_module_permission(self, request):
        return permissions.can_use_lead_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_use_lead_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return permissions.can_use_lead_admin(request.user)

    def has_add_permission(self, request):
        return permissions.can_use_lead_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return permissions.can_use_lead_admin(request.user)


@admin.register(Deal)
class DealAdmin(_LeadAdminOnly, admin.ModelAdmin):
    list_display = ("property_address", "lead", "stage", "price", "team_commission", "agent", "closed_on")
    list_filter = ("stage",)
    search_fields = ("property_address", "lead__public_id", "lead__contact__last_name")
    raw_id_fields = ("lead", "agent")
    readonly_fields = ("team_commission", "created_by", "created_at", "updated_at")
    fields = (
        "lead",
        "agent",
        "property_address",
        "price",
        "commission_rate",
        "commission_amount",
        "team_split",
        "team_commission",
        "stage",
        "contract_date",
        "closed_on",
        "created_by",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).filter(lead__in=visible_leads(request.user)).select_related("lead")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "lead":
            kwargs["queryset"] = visible_leads(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        try:
            services.deal_save(obj, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
            raise PermissionDenied(error.message) from None


@admin.register(SourceSpend)
class SourceSpendAdmin(_LeadAdminOnly, admin.ModelAdmin):
    list_display = ("month", "source", "amount", "team")
    list_filter = ("source", "team")
    readonly_fields = ("recorded_by",)
