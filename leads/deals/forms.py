"""The deal a lead is closed with, on the lead page's status form: plain text inputs,
checked by the API's ``DealInput`` (one set of rules for both)."""

from django import forms

from leads.core.inputs import flatten_errors
from leads.deals.inputs import DealInput
from leads.deals.models import DealStage

DEAL_FIELDS = ("property_address", "price", "commission_rate", "commission_amount", "team_split", "closed_on")


def _input(label: str, *, input_type: str = "text", **attrs) -> forms.CharField:
    widget = forms.TextInput(attrs={"autocomplete": "off", **attrs})
    widget.input_type = input_type
    return forms.CharField(label=label, required=False, widget=widget)


class ClosingDealForm(forms.Form):
    prefix = "deal"

    property_address = _input("Property address")
    price = _input("Price ($)", input_type="number", min="0", step="0.01", inputmode="decimal")
    commission_rate = _input("Commission rate (%)", input_type="number", min="0", max="100", step="0.001")
    commission_amount = _input("or commission amount ($)", input_type="number", min="0", step="0.01")
    team_split = _input("Team split (%)", input_type="number", min="0", max="100", step="0.01")
    closed_on = _input("Closed on", input_type="date")

    @property
    def filled(self) -> bool:
        """Whether a deal was given (the split alone, prefilled, is not one)."""
        given = [name for name in DEAL_FIELDS if name != "team_split"]
        return self.is_bound and any((self.data.get(self.add_prefix(name)) or "").strip() for name in given)

    def deal_values(self) -> dict | None:
        """The closed deal's values (``DealInput``), None with the errors added to the form."""
        if not self.is_valid():
            return None
        data = {name: value.strip() for name, value in self.cleaned_data.items() if value and value.strip()}
        data["stage"] = DealStage.CLOSED
        serializer = DealInput(data=data)
        if serializer.is_valid():
            return dict(serializer.validated_data)
        for path, messages in flatten_errors(serializer.errors).items():
            field = path if path in self.fields else None
            for message in messages:
                self.add_error(field, message)
        return None
