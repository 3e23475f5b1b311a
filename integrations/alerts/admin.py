"""Back office view of agent alerts: each alert with its deliveries (channel by channel,
why one failed), read-only, with replays; and who subscribed which browser. Rows are
written by the alert services only; the admin reads and acts through them.

Replaying needs Django's change permission on the model (admins hold it): the rows
themselves stay read-only."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from integrations.alerts import tasks
from integrations.alerts.models import AgentAlert, AlertDelivery, AlertPreference, PushSubscription

DELIVERY_FIELDS = (
    "channel",
    "position",
    "status",
    "attempts",
    "response_status",
    "last_error",
    "sent_at",
    "delivered_at",
    "next_attempt_at",
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Viewing only: the change permission is asked for the replay actions, never for a form.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    fields = readonly_fields = DELIVERY_FIELDS
    extra = 0
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AgentAlert)
class AgentAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "lead", "reason", "status", "delivered_via", "title")
    list_filter = ("status", "reason", "delivered_via")
    search_fields = ("user__username", "lead__public_id", "key")
    list_select_related = ("user", "lead", "lead__contact")
    ordering = ("-created_at", "-id")
    actions = ("replay_selected",)
    fields = ("user", "lead", "reason", "status", "delivered_via", "key", "payload", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (AlertDeliveryInline,)

    @admin.display(description="Title")
    def title(self, alert: AgentAlert) -> str:
        return Truncator(alert.payload.get("title", "")).chars(80)

    @admin.action(description="Replay selected (from the first channel)", permissions=["change"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[AgentAlert]) -> None:
        count = tasks.replay_alerts(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} alert delivery(ies) again.", messages.SUCCESS)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "alert",
        "channel",
        "position",
        "status",
        "attempts",
        "response_status",
        "created_at",
        "sent_at",
        "delivered_at",
        "next_attempt_at",
        "short_last_error",
    )
    list_filter = ("status", "channel")
    search_fields = ("alert__user__username", "alert__lead__public_id")
    list_select_related = ("alert", "alert__user")
    ordering = ("-created_at", "-id")
    actions = ("replay_selected",)
    fields = ("alert", *DELIVERY_FIELDS, "sms_message", "detail", "created_at", "last_attempt_at", "claimed_until")
    readonly_fields = fields

    @admin.display(description="Last error")
    def short_last_error(self, delivery: AlertDelivery) -> str:
        return Truncator(delivery.last_error).chars(120)

    @admin.action(description="Replay selected", permissions=["change"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[AlertDelivery]) -> None:
        count = tasks.replay_deliveries(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} delivery(ies) again.", messages.SUCCESS)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers that get pushes; deleting one stops its pushes (the user can subscribe again)."""

    list_display = ("user", "short_user_agent", "created_at", "last_success_at")
    search_fields = ("user__username", "endpoint")
    list_select_related = ("user",)
    fields = ("user", "endpoint", "user_agent", "created_at", "last_success_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Browser")
    def short_user_agent(self, subscription: PushSubscription) -> str:
        return Truncator(subscription.user_agent).chars(60)


@admin.register(AlertPreference)
class AlertPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "channels", "sms_number", "sms_opted_in_at", "updated_at")
    search_fields = ("user__username", "sms_number")
    list_select_related = ("user",)
    fields = ("user", "channels", "sms_number", "sms_opted_in_at", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
