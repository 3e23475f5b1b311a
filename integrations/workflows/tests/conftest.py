from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead
from leads.tests.factories import LeadFactory


@pytest.fixture
def team(agent, manager):
    """An agent with an email, reporting to a manager with an email."""
    agent.manager = manager
    agent.save(update_fields=["manager"])
    return agent


@pytest.fixture
def new_lead(team):
    """``new_lead(minutes_ago=0, **factory fields)``: a lead of ``team`` that arrived then."""

    def make(minutes_ago: float = 0, **fields) -> Lead:
        fields.setdefault("assigned_to", team)
        lead = LeadFactory(**fields)
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
        lead.refresh_from_db()
        return lead

    return make
