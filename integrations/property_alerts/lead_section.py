"""The lead page's "Property alerts" card (``leads.ports.provide_lead_page_section``):
the chosen and the effective frequency, frequency control's note, the last alerts sent,
and the agent's form. The page only places the card (no query); its body loads from
``pages.lead_alerts``."""

from django.utils import timezone

from integrations.property_alerts import control, selectors
from integrations.property_alerts.models import AlertSubscription, Frequency, SetBy
from leads.models import Lead


def lead_alerts_section(lead: Lead) -> dict:
    return {"template": "property_alerts/_lead_placeholder.html", "lead_id": lead.public_id}


def lead_alerts_card(lead: Lead) -> dict:
    """Two queries: the settings row (with who set it) and the recent alerts."""
    subscription = selectors.subscription_of(lead)
    if subscription is None:  # what the lead would start with, not saved
        frequency = selectors.default_frequency(lead)
        subscription = AlertSubscription(
            lead=lead, frequency=frequency, effective_frequency=frequency, set_at=timezone.now(), set_by=SetBy.DEFAULT
        )
        is_default = True
    else:
        is_default = False
    messages = selectors.recent_messages(lead)
    return {
        "subscription": subscription,
        "is_default": is_default,
        "chosen": control.WORDS[subscription.frequency],
        "effective": "paused" if subscription.paused_at else control.WORDS[subscription.effective_frequency],
        "is_slowed": subscription.paused_at is not None or subscription.effective_frequency != subscription.frequency,
        "messages": messages,
        "choices": Frequency.choices,
    }
