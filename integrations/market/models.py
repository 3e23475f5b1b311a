"""Market data: monthly figures per location, and the listings on the market.

Rows are written only by the import services (``integrations.market.imports``),
whatever the provider (CSV file, demo data, a RESO Web API feed in ``integrations.feeds``).
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from leads.models import PropertyType


class MarketSnapshot(models.Model):
    """One location's market in one month (``month`` is the first day of that month)."""

    location = models.CharField(max_length=100, help_text="City name or ZIP code, as imported")
    location_key = models.CharField(max_length=100, editable=False, help_text="Case-folded lookup key")
    month = models.DateField(help_text="First day of the month")
    median_list_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    median_sale_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    price_per_sqft = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    active_listings = models.PositiveIntegerField(null=True, blank=True)
    median_days_on_market = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=100, help_text='Where the figures came from: "demo", "csv:<file>", ...')
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["location_key", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["location_key", "month"], name="market_snapshot_location_month"),
            models.CheckConstraint(
                condition=Q(median_list_price__isnull=False) | Q(median_sale_price__isnull=False),
                name="market_snapshot_has_a_median",
            ),
            models.CheckConstraint(
                condition=Q(median_list_price__isnull=True) | Q(median_list_price__gte=0),
                name="market_snapshot_list_price_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(median_sale_price__isnull=True) | Q(median_sale_price__gte=0),
                name="market_snapshot_sale_price_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(price_per_sqft__isnull=True) | Q(price_per_sqft__gte=0),
                name="market_snapshot_ppsf_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location} {self.month:%Y-%m}"


class ListingStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    SOLD = "sold", "Sold"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Listing(models.Model):
    """A home on the market, identified by ``external_id`` within its ``source``."""

    source = models.CharField(max_length=100, help_text='Where the listing came from: "demo", "csv:<file>", ...')
    external_id = models.CharField(max_length=100, help_text="The listing's id in its source (MLS number, ...)")
    location = models.CharField(max_length=100, help_text="City name or ZIP code, as imported")
    location_key = models.CharField(max_length=100, editable=False, help_text="Case-folded lookup key")
    price = models.DecimalField(max_digits=14, decimal_places=2)
    beds = models.PositiveSmallIntegerField(null=True, blank=True)
    baths = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    square_feet = models.PositiveIntegerField(null=True, blank=True)
    property_type = models.CharField(max_length=16, choices=PropertyType.choices)
    status = models.CharField(max_length=12, choices=ListingStatus.choices, default=ListingStatus.ACTIVE)
    listed_at = models.DateField(null=True, blank=True)
    address = models.CharField(max_length=200, blank=True, help_text="Street address")
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=10, blank=True, help_text="ZIP code")
    features = models.JSONField(
        default=list, blank=True, help_text="Case-folded features (pool, garage, ...), matched to must-haves"
    )
    photo_urls = models.JSONField(default=list, blank=True, help_text="Photo addresses, the first one is the cover")
    modified_at = models.DateTimeField(
        null=True, blank=True, help_text="The source's own modification time (RESO ModificationTimestamp)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["location_key", "price", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="listing_source_external_id"),
            models.CheckConstraint(condition=Q(price__gt=0), name="listing_price_gt_0"),
            models.CheckConstraint(
                condition=Q(square_feet__isnull=True) | Q(square_feet__gt=0), name="listing_square_feet_gt_0"
            ),
            models.CheckConstraint(condition=Q(baths__isnull=True) | Q(baths__gte=0), name="listing_baths_gte_0"),
        ]
        indexes = [
            # The lead analysis filters on exactly these, in this order of selectivity.
            models.Index(fields=["location_key", "status", "property_type", "price"], name="listing_match"),
            # A lead's places may be ZIP codes or cities (integrations.matches: active listings by place).
            models.Index(fields=["postal_code", "price"], name="listing_active_zip", condition=Q(status="active")),
            models.Index(Upper("city"), "price", name="listing_active_city", condition=Q(status="active")),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.location}, {self.get_property_type_display()})"


class ListingChangeKind(models.TextChoices):
    NEW = "new", "New listing"
    PRICE_DROP = "price_drop", "Price drop"
    PRICE_INCREASE = "price_increase", "Price increase"
    BACK_ON_MARKET = "back_on_market", "Back on market"
    OFF_MARKET = "off_market", "Off market"
    DETAILS = "details", "Details changed"


class ListingChange(models.Model):
    """What one import did to a listing, written in the import's transaction: the listing's
    price and status history, and the outbox the property matching takes new work from
    (rows with ``matched_at`` null)."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=16, choices=ListingChangeKind.choices)
    old_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    new_price = models.DecimalField(max_digits=14, decimal_places=2)
    old_status = models.CharField(max_length=12, choices=ListingStatus.choices, blank=True)
    new_status = models.CharField(max_length=12, choices=ListingStatus.choices)
    changed_at = models.DateTimeField(db_index=True)
    matched_at = models.DateTimeField(null=True, blank=True, help_text="When the property matching took it")

    class Meta:
        ordering = ["listing", "changed_at", "id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(matched_at__isnull=True), name="listing_change_unmatched"),
        ]

    def __str__(self) -> str:
        return f"{self.listing_id} {self.kind} at {self.changed_at:%Y-%m-%d %H:%M}"
