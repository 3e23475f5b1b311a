from django.contrib import admin

from integrations.property_alerts.models import AlertMessage, AlertSubscription


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    """Read-only: settings change through the lead page, the API or the lead's link."""

    list_display = ("lead", "frequency", "effective_frequency", "paused_at", "consecutive_unopened", "last_run_at")
    list_filter = ("frequency", "effective_frequency")
    search_fields = ("lead__public_id", "lead__contact__email")
    raw_id_fields = ("lead", "set_by_user")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertMessage)
class AlertMessageAdmin(admin.ModelAdmin):
    list_display = ("lead", "sent_at", "frequency", "status", "listing_count", "opened_at", "clicked_at")
    list_filter = ("status", "frequency")
    search_fields = ("lead__public_id", "message_id")
    raw_id_fields = ("lead",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
