"""Back office view of market data. Read-mostly: rows come from the import commands
(``import_market_data``, ``import_listings``, ``seed_market_demo``), so the admin
can look, filter and delete bad rows, but not add or edit them by hand. Who may do
which is Django's model permissions alone (``leads.accounts.permissions``, rule 4)."""

from django.contrib import admin

from integrations.market.models import Listing, MarketSnapshot


class ReadMostlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MarketSnapshot)
class MarketSnapshotAdmin(ReadMostlyAdmin):
    list_display = (
        "location",
        "month",
        "median_sale_price",
        "median_list_price",
        "price_per_sqft",
        "active_listings",
        "median_days_on_market",
        "source",
    )
    list_filter = ("source", "month")
    search_fields = ("location", "location_key")
    date_hierarchy = "month"
    ordering = ("location_key", "-month")
    list_per_page = 100


@admin.register(Listing)
class ListingAdmin(ReadMostlyAdmin):
    list_display = (
        "external_id",
        "location",
        "property_type",
        "status",
        "price",
        "beds",
        "baths",
        "square_feet",
        "listed_at",
        "source",
    )
    list_filter = ("status", "property_type", "source")
    search_fields = ("external_id", "location", "location_key")
    date_hierarchy = "listed_at"
    ordering = ("location_key", "price")
    list_per_page = 100
