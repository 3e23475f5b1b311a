"""Deals (a lead's purchase or sale, and the commission it earns the team) and the
money spent on each lead source per month. Rules live in ``leads.deals.services``."""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from leads.accounts.models import Team, User
from leads.core.models import Lead, LeadSource, TimestampedModel


class DealStage(models.TextChoices):
    UNDER_CONTRACT = "under_contract", "Under contract"
    CLOSED = "closed", "Closed"
    FELL_THROUGH = "fell_through", "Fell through"


class Deal(TimestampedModel):
    """One transaction of a lead (a buyer can buy twice). The commission is given as a
    rate of the price or as an amount; ``team_commission`` (the team's split of it) is
    computed by the service when the deal is saved, so reports sum one column."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="deals")
    agent = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals", help_text="Credited agent"
    )
    property_address = models.CharField(max_length=300)
    price = models.DecimalField(max_digits=14, decimal_places=2)
    commission_rate = models.DecimalField(
        max_digits=5, decimal_places=3, null=True, blank=True, help_text="Percent of the price"
    )
    commission_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    team_split = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("100"), help_text="The team's share of the commission, percent"
    )
    team_commission = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), editable=False)
    stage = models.CharField(max_length=16, choices=DealStage.choices, default=DealStage.UNDER_CONTRACT)
    contract_date = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["stage", "closed_on"], name="deal_stage_closed_on")]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="deal_price_gte_0"),
            models.CheckConstraint(
                condition=Q(commission_rate__isnull=False) | Q(commission_amount__isnull=False),
                name="deal_commission_given",
            ),
            models.CheckConstraint(
                condition=Q(commission_rate__isnull=True) | Q(commission_rate__gte=0, commission_rate__lte=100),
                name="deal_rate_0_100",
            ),
            models.CheckConstraint(
                condition=Q(commission_amount__isnull=True) | Q(commission_amount__gte=0), name="deal_amount_gte_0"
            ),
            models.CheckConstraint(condition=Q(team_split__gte=0, team_split__lte=100), name="deal_split_0_100"),
            models.CheckConstraint(
                condition=~Q(stage=DealStage.CLOSED) | Q(closed_on__isnull=False), name="deal_closed_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.property_address} ({self.get_stage_display()})"

    @property
    def gross_commission(self) -> Decimal:
        """The whole commission: the amount when given, else the rate of the price."""
        if self.commission_amount is not None:
            return self.commission_amount
        return (self.price * (self.commission_rate or 0) / 100).quantize(Decimal("0.01"))


class SourceSpend(TimestampedModel):
    """What a team spent on one lead source in one month (``month`` is its first day)."""

    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="source_spend")
    source = models.CharField(max_length=24, choices=LeadSource.choices)
    month = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    recorded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-month", "source"]
        constraints = [
            models.UniqueConstraint(fields=["team", "source", "month"], name="spend_team_source_month"),
            models.UniqueConstraint(
                fields=["source", "month"], condition=Q(team__isnull=True), name="spend_source_month_no_team"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.month:%Y-%m}: {self.amount}"
