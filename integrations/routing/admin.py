"""Back office of the routing: rules with their groups (validated by the rule's
``clean``, so a rule that could never match is refused with a field error; the
catch-all can be edited but neither deleted nor deactivated), agents' routing
profiles, and read-only decisions (the trace), offers, pond entries and pending routes."""

from django.contrib import admin
from django.http import HttpRequest

from integrations.routing.models import (
    AgentRoutingProfile,
    Offer,
    PendingRoute,
    PondEntry,
    RoutingDecision,
    RoutingRule,
    RuleMember,
)
from leads.admin.read_only import ReadOnlyAdminMixin


class RuleMemberInline(admin.TabularInline):
    model = RuleMember
    extra = 1
    autocomplete_fields = ["agent"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "position", "method", "is_active", "is_catch_all", "fallback", "updated_at")
    list_filter = ("team", "method", "is_active", "is_catch_all")
    ordering = ("team", "is_catch_all", "position", "pk")
    search_fields = ("name",)
    inlines = [RuleMemberInline]
    autocomplete_fields = ["fixed_agent", "fallback_agent"]
    readonly_fields = ("is_catch_all", "created_at", "updated_at")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.is_catch_all:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(AgentRoutingProfile)
class AgentRoutingProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "paused", "capacity", "pond_daily_limit", "updated_at")
    list_filter = ("paused",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ["user"]


class ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


class OfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Offer
    fields = ("agent_name", "state", "offered_at", "expires_at", "answered_at")
    readonly_fields = fields
    extra = 0


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ReadOnly):
    list_display = ("created_at", "lead", "rule_name", "trigger", "outcome", "assignee")
    list_filter = ("trigger", "outcome", "method")
    search_fields = ("lead__public_id", "rule_name")
    list_select_related = ("lead__contact", "assignee")
    raw_id_fields = ("lead", "rule", "assignee")
    inlines = [OfferInline]


@admin.register(Offer)
class OfferAdmin(ReadOnly):
    list_display = ("offered_at", "lead", "agent_name", "state", "expires_at", "answered_at")
    list_filter = ("state",)
    search_fields = ("lead__public_id", "agent_name")
    list_select_related = ("lead__contact",)
    raw_id_fields = ("lead", "decision", "agent")


@admin.register(PondEntry)
class PondEntryAdmin(ReadOnly):
    list_display = ("entered_at", "lead", "team", "status", "taken_by", "taken_at", "reason")
    list_filter = ("status", "team")
    search_fields = ("lead__public_id",)
    list_select_related = ("lead__contact", "team", "taken_by")
    raw_id_fields = ("lead", "decision", "taken_by")


@admin.register(PendingRoute)
class PendingRouteAdmin(ReadOnly):
    list_display = ("created_at", "lead", "attempts", "dispatched_at", "last_error")
    raw_id_fields = ("lead",)
