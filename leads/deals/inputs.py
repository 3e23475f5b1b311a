"""Input serializers of deals and source spend, shared by the API, the pages and the
CSV import: values in, typed values (or field errors) out."""

from datetime import date
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from leads.core.inputs import AssigneeField, Choice, DateOrDateTime, Money, Text
from leads.deals.models import DealStage
from leads.models import LeadSource


class PercentField(serializers.DecimalField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(max_digits=6, decimal_places=3, min_value=0, max_value=100, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class DealInput(serializers.Serializer):
    """A deal to record on a lead. The commission is a rate of the price or an amount
    (exactly one); a closed deal without ``closed_on`` closed today."""

    property_address = Text(max_length=300, allow_blank=False, allow_null=False)
    price = Money(allow_null=False)
    commission_rate = PercentField(required=False)
    commission_amount = Money(required=False)
    team_split = PercentField(required=False, allow_null=False, default=Decimal("100"))
    stage = Choice(DealStage.choices, required=False, default=DealStage.UNDER_CONTRACT)
    contract_date = DateOrDateTime(required=False, allow_null=True)
    closed_on = DateOrDateTime(required=False, allow_null=True)
    agent = AssigneeField(required=False)

    def validate(self, attrs):
        rate, amount = attrs.get("commission_rate"), attrs.get("commission_amount")
        if (rate is None) == (amount is None):
            raise serializers.ValidationError(
                {"commission_rate": ["Give the commission as a rate (percent of the price) or as an amount, not both."]}
            )
        today = timezone.localdate()
        for name in ("contract_date", "closed_on"):
            if attrs.get(name) and attrs[name] > today:
                raise serializers.ValidationError({name: ["This date is in the future."]})
        if attrs.get("stage") == DealStage.CLOSED and not attrs.get("closed_on"):
            attrs["closed_on"] = today
        if attrs.get("stage") != DealStage.CLOSED and attrs.get("closed_on"):
            raise serializers.ValidationError({"closed_on": ["Only a closed deal has a closing date."]})
        return attrs


class SpendInput(serializers.Serializer):
    """One month's spend on one source: ``month`` as YYYY-MM (or any date of it)."""

    source = Choice(LeadSource.choices)
    month = serializers.CharField(max_length=10)
    amount = Money(allow_null=False)

    def validate_month(self, value: str):
        parts = value.strip().split("-")
        try:
            year, month = int(parts[0]), int(parts[1])
            first = date(year, month, 1)
        except (ValueError, IndexError):
            raise serializers.ValidationError("Enter a month as YYYY-MM.") from None
        if not 2000 <= year <= 2100:
            raise serializers.ValidationError("Enter a month as YYYY-MM.")
        return first
