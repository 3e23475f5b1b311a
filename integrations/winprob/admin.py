"""Back office view of the chance-to-close models: read-only (training writes them; a
manager rolls back on /scoring/model/, which checks the guard)."""

from django.contrib import admin
from django.http import HttpRequest

from integrations.winprob.models import WinModel


@admin.register(WinModel)
class WinModelAdmin(admin.ModelAdmin):
    list_display = ("version", "status", "trained_at", "rows", "won_rows", "holdout_rows", "training_seconds")
    list_filter = ("status",)
    exclude = ("parameters",)
    readonly_fields = [field.name for field in WinModel._meta.fields if field.name != "parameters"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WinModel | None = None) -> bool:
        return False
