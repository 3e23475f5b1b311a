"""Back office view of market data. Read-mostly: rows come from the import commands
(``import_market_data``, ``import_listings``, ``seed_market_demo``), so the admin
can look, filter and delete bad rows, but not add or edit them by hand. Who may do
which is Django's model permissions alone (``leads.accounts.permissions``, rule 4)."""

from django.contrib import admin

from integrations.market.models import Listing, ListingChange, MarketSnapshot


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


class ListingChangeInline(admin.TabularInline):
    """The listing's price and status history, as the imports recorded it."""

    model = ListingChange
    verbose_name_plural = "Price history"
    extra = 0
    can_delete = False
    ordering = ("-changed_at", "-id")
    fields = ("changed_at", "kind", "old_price", "new_price", "old_status", "new_status", "matched_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Listing)
class ListingAdmin(ReadMostlyAdmin):
    list_display = (
        "external_id",
        "address",
        "location",
        "postal_code",
        "property_type",
        "status",
        "price",
        "beds",
        "baths",
        "square_feet",
        "listed_at",
        "modified_at",
        "source",
    )
    list_filter = ("status", "property_type", "source")
    search_fields = ("external_id", "location", "location_key", "address", "postal_code")
    inlines = (ListingChangeInline,)
    fields = (
        ("source", "external_id"),
        ("status", "property_type"),
        ("price", "beds", "baths", "square_feet"),
        "address",
        ("city", "postal_code"),
        ("location", "location_key"),
        "features",
        "photo_urls",
        ("listed_at", "modified_at"),
        ("created_at", "updated_at"),
    )
    readonly_fields = ("location_key", "created_at", "updated_at")
    date_hierarchy = "listed_at"
    ordering = ("location_key", "price")
    list_per_page = 100
