"""Back office view of the CRM sync outbox: find failures, read why, replay them.
Records are written by the sync services only; the admin reads and replays."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from integrations.crm import tasks
from integrations.crm.models import CrmSyncRecord
from leads.accounts import permissions


@admin.register(CrmSyncRecord)
class CrmSyncRecordAdmin(admin.ModelAdmin):
    list_display = (
        "lead_public_id",
        "contact_email",
        "target",
        "status",
        "attempts",
        "wanted_version",
        "synced_version",
        "last_attempt_at",
        "next_attempt_at",
        "short_last_error",
    )
    list_filter = ("status", "target")
    search_fields = ("lead__public_id", "lead__contact__email", "idempotency_key", "external_id")
    list_select_related = ("lead", "lead__contact")
    ordering = ("-updated_at", "-id")
    actions = ("replay_selected",)
    fields = (
        "lead",
        "target",
        "status",
        "attempts",
        "wanted_version",
        "synced_version",
        "idempotency_key",
        "external_id",
        "last_error",
        "last_attempt_at",
        "next_attempt_at",
        "claimed_until",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CrmSyncRecord | None = None) -> bool:
        # Viewing only; the "Replay selected" action is the one way to act on a record.
        return False

    @admin.display(description="Lead", ordering="lead__public_id")
    def lead_public_id(self, record: CrmSyncRecord) -> str:
        return record.lead.public_id

    @admin.display(description="Email", ordering="lead__contact__email")
    def contact_email(self, record: CrmSyncRecord) -> str:
        contact = getattr(record.lead, "contact", None)
        return contact.email if contact else ""

    @admin.display(description="Last error")
    def short_last_error(self, record: CrmSyncRecord) -> str:
        return Truncator(record.last_error).chars(120)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return permissions.can_replay_crm_sync(request.user)

    @admin.action(description="Replay selected", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[CrmSyncRecord]) -> None:
        count = tasks.replay(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} record(s) for delivery again.", messages.SUCCESS)
