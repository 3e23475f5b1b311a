"""Back office view of outbound webhooks: the subscriptions (pause/resume) and the
delivery log (find failures, read why, replay). Rows are written by the webhook
services only; the admin reads and acts through them. Secrets are never shown."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from integrations.webhooks import services, tasks
from integrations.webhooks.models import WebhookDelivery, WebhookSubscription
from leads.accounts import permissions


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "url", "event_list", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url", "owner__username", "public_id")
    list_select_related = ("owner",)
    ordering = ("-created_at", "-id")
    actions = ("pause_selected", "resume_selected")
    fields = ("public_id", "name", "owner", "url", "events", "active", "created_at", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the API, which shows the secret once

    def has_change_permission(self, request: HttpRequest, obj: WebhookSubscription | None = None) -> bool:
        # Viewing only; pausing and resuming are the actions. Kept for the actions' permission check.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="Events")
    def event_list(self, subscription: WebhookSubscription) -> str:
        return ", ".join(subscription.events)

    @admin.action(description="Pause selected", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        count = services.subscriptions_set_active(list(queryset.values_list("pk", flat=True)), active=False)
        self.message_user(request, f"Paused {count} webhook(s).", messages.SUCCESS)

    @admin.action(description="Resume selected", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        count = services.subscriptions_set_active(list(queryset.values_list("pk", flat=True)), active=True)
        self.message_user(request, f"Resumed {count} webhook(s).", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_id",
        "subscription",
        "event",
        "lead_public_id",
        "status",
        "attempts",
        "response_status",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "short_last_error",
    )
    list_filter = ("status", "event", "subscription")
    search_fields = ("lead_public_id", "event_id")
    list_select_related = ("subscription",)
    ordering = ("-created_at", "-id")
    actions = ("replay_selected",)
    fields = (
        "event_id",
        "subscription",
        "event",
        "lead_public_id",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "payload",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "claimed_until",
        "delivered_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        # Viewing only; the "Replay selected" action is the one way to act on a delivery.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False  # the log stays whole; deleting its subscription removes it

    @admin.display(description="Last error")
    def short_last_error(self, delivery: WebhookDelivery) -> str:
        return Truncator(delivery.last_error).chars(120)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return permissions.can_replay_webhook_deliveries(request.user)

    @admin.action(description="Replay selected", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        count = tasks.replay_deliveries(selected)
        message = f"Queued {count} delivery(ies) again."
        if count < len(selected):
            message += f" {len(selected) - count} skipped: their webhook is paused."
        self.message_user(request, message, messages.SUCCESS if count else messages.WARNING)
