"""Back office view of property matches: read-only (matches are written by the matching
alone, ``integrations.matches.services``); filter by reason and whether current, find a
lead's or a listing's matches."""

from django.contrib import admin

from integrations.matches.models import ListingMatch


@admin.register(ListingMatch)
class ListingMatchAdmin(admin.ModelAdmin):
    list_display = ("lead", "listing", "score", "reason", "price", "is_current", "matched_at", "alerted_at")
    list_filter = ("is_current", "reason")
    search_fields = ("lead__public_id", "listing__external_id", "listing__address")
    list_select_related = ("lead", "lead__contact", "listing")
    raw_id_fields = ("lead", "listing")
    ordering = ("-matched_at",)
    list_per_page = 100

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
