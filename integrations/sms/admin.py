"""Back office view of the texts sent: read-only, written by ``services`` only."""

from django.contrib import admin
from django.http import HttpRequest

from integrations.sms.models import SmsMessage


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "purpose", "to", "status", "provider_sid", "error_code", "status_changed_at")
    list_filter = ("status", "purpose")
    search_fields = ("to", "provider_sid", "public_id")
    ordering = ("-created_at", "-id")
    fields = (
        "public_id",
        "purpose",
        "to",
        "body",
        "status",
        "provider_sid",
        "error_code",
        "error",
        "created_at",
        "sent_at",
        "status_changed_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SmsMessage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SmsMessage | None = None) -> bool:
        return False
