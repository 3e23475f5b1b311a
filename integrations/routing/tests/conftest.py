"""Routing test helpers: a team's rules as a manager would set them, leads that arrive
unassigned, and routing them the way the after-save path does."""

import pytest

from integrations.routing import engine
from integrations.routing.models import RoutingRule
from leads.models import Lead
from leads.tests.factories import LeadFactory


@pytest.fixture
def catch_all(db) -> RoutingRule:
    """The install's catch-all (made by the data migration)."""
    return engine.ensure_catch_all(None)


def new_lead(**values) -> Lead:
    """An unassigned lead; ``contact__``, ``preferences__``, ``timeline__`` values reach its parts."""
    values.setdefault("assigned_to", None)
    return LeadFactory(**values)


def route(lead: Lead, **options):
    """Route the lead now; returns the final decision and the lead re-read."""
    decision = engine.route_lead(lead.pk, **options)
    return decision, Lead.objects.select_related("assigned_to").get(pk=lead.pk)
