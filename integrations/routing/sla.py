"""A first-contact SLA breach, per the lead's rule: alert the manager (as before), send the lead back
to the pond, or give it to another agent."""

from datetime import datetime

from leads.models import Lead


def on_sla_breach(lead: Lead, *, now: datetime | None = None) -> str:
    """Apply the rule's sla_breach_action to the breached lead; returns the action taken."""
    raise NotImplementedError
