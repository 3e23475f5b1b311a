"""Property matches: which listings fit which open lead's preferences, and how well."""

from django.db import models
from django.db.models import Q

from integrations.market.models import Listing
from leads.models import Lead


class MatchReason(models.TextChoices):
    """Why the listing became a match (again): what the alert says about it."""

    NEW = "new", "New listing"
    PRICE_DROP = "price_drop", "Price drop"
    BACK_ON_MARKET = "back_on_market", "Back on market"
    PREFERENCES = "preferences", "Fits the changed preferences"


class ListingMatch(models.Model):
    """One listing that fits one lead. Written only by ``integrations.matches.services``.

    ``matched_at`` moves when the listing matches again for a reason worth telling the lead
    (a price drop, back on market); the alerts send a match whose ``matched_at`` is after its
    ``alerted_at``, and never the same listing twice unless its price dropped below
    ``alerted_price``."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="listing_matches")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="lead_matches")
    score = models.PositiveSmallIntegerField(help_text="How well the listing fits, 0-100")
    reasons = models.JSONField(default=list, blank=True, help_text="What fits and what does not, in plain words")
    reason = models.CharField(max_length=16, choices=MatchReason.choices, default=MatchReason.NEW)
    price = models.DecimalField(max_digits=14, decimal_places=2, help_text="The listing's price when it matched")
    first_matched_at = models.DateTimeField()
    matched_at = models.DateTimeField()
    is_current = models.BooleanField(
        default=True, help_text="Off when the listing left the market or no longer fits the lead"
    )
    alerted_at = models.DateTimeField(null=True, blank=True)
    alerted_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["lead", "-score", "-matched_at"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "listing"], name="listing_match_lead_listing"),
            models.CheckConstraint(condition=Q(score__lte=100), name="listing_match_score_lte_100"),
        ]
        indexes = [
            models.Index(fields=["lead", "-score"], condition=Q(is_current=True), name="listing_match_lead_current"),
            models.Index(fields=["matched_at"], condition=Q(is_current=True), name="listing_match_to_alert"),
        ]

    def __str__(self) -> str:
        return f"{self.listing_id} for {self.lead_id} ({self.score})"


class PreferenceIndex(models.Model):
    """One row per open lead per preferred location key: the lead's preferences as the
    matching searches them (``integrations.matches.index`` keeps it in step with the lead
    events). A changed listing looks up the rows of its location whose price band holds its
    price, then checks the rest. ``price_low``/``price_high`` are whole dollars with the
    tolerance applied; 0 (and ``fit.NO_MAX_PRICE``) stand for "no minimum" ("no maximum")."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    location_key = models.CharField(max_length=100)
    price_low = models.BigIntegerField()
    price_high = models.BigIntegerField()
    min_beds = models.PositiveSmallIntegerField(default=0)
    min_baths = models.DecimalField(max_digits=4, decimal_places=1, default=0)
    min_square_feet = models.PositiveIntegerField(default=0)
    types_mask = models.PositiveIntegerField(default=0, help_text="Bit per wanted property type; 0: any")
    # The rest of the preferences, for the must-have check and the score (no join needed).
    min_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    max_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    must_have = models.JSONField(default=list, blank=True)
    nice_to_have = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "location_key"], name="preference_index_lead_location"),
        ]
        indexes = [
            models.Index(fields=["location_key", "price_low", "price_high"], name="preference_index_band"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.location_key} ({self.price_low}-{self.price_high})"


class PendingLeadMatch(models.Model):
    """A lead whose preferences or status changed and that is still to be matched against
    the active listings: written in the lead-event relay's transaction, deleted once
    matched, so a lost task message is picked up by the periodic sweep."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="+")
    requested_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.lead_id} since {self.requested_at:%Y-%m-%d %H:%M:%S}"
