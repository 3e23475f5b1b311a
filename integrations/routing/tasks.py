"""Thin Celery tasks around routing, and its subscription to lead events."""

from leads.events.models import LeadEvent


def on_lead_events(events: list[LeadEvent]) -> None:
    """The routing's subscription: leads that arrived unassigned are routed once the relay commits."""
    from integrations.routing import engine

    engine.route_new_leads(events)
