from django import forms

from integrations.property_alerts.models import Frequency

LEAD_CHOICES = [
    (Frequency.INSTANT, "As soon as a home matches"),
    (Frequency.DAILY, "Once a day"),
    (Frequency.WEEKLY, "Once a week"),
    (Frequency.OFF, "Never (stop these alerts)"),
]


class LeadFrequencyForm(forms.Form):
    """The lead's choice on the public page."""

    frequency = forms.ChoiceField(
        choices=LEAD_CHOICES,
        widget=forms.RadioSelect,
        label="How often do you want new homes by email?",
        error_messages={"required": "Choose how often.", "invalid_choice": "Choose one of the options."},
    )


class AgentFrequencyForm(forms.Form):
    """The agent's choice on the lead page."""

    frequency = forms.ChoiceField(
        choices=Frequency.choices,
        label="Alert frequency",
        error_messages={"required": "Choose a frequency.", "invalid_choice": "Choose one of the frequencies."},
    )
