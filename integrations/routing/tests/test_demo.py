"""Routing's part of ``seed_demo``: a team with a zone and working hours, three rules
(one first to claim) and the catch-all, a month of trace behind the agents' leads (so
the lead pages and the fairness ledger show data), offers to claim and a pond."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.routing import selectors
from integrations.routing.models import (
    Offer,
    OfferState,
    PondEntry,
    PondStatus,
    RoutingDecision,
    RoutingMethod,
    RoutingRule,
)
from leads.models import Lead, User, WorkingHours

pytestmark = pytest.mark.django_db(transaction=True)  # the leads arriving now route after their commit


@pytest.fixture
def seeded():
    call_command("seed_demo", "--leads", "30", stdout=StringIO())
    return User.objects.get(username="manager")


def test_the_demo_team_has_a_zone_working_hours_and_its_agents(seeded):
    team = seeded.team

    assert team.time_zone == "America/Chicago"
    assert WorkingHours.objects.filter(team=team).exists()
    assert set(User.objects.filter(team=team).values_list("username", flat=True)) == {
        "manager",
        "alice",
        "bob",
        "carmen",
    }
    assert all(WorkingHours.objects.filter(user__username=name).exists() for name in ("alice", "bob", "carmen"))


def test_the_demo_has_three_rules_one_first_to_claim_a_catch_all_and_a_warning(seeded):
    views = selectors.rules_in_order(seeded.team)

    assert len(views) == 4 and views[-1].rule.is_catch_all
    assert [view.rule.method for view in views[:3]].count(RoutingMethod.FIRST_TO_CLAIM) == 1
    assert all(view.members for view in views)
    assert any("overlaps" in warning for view in views for warning in view.warnings)


def test_the_demo_leads_have_a_trace_and_the_ledger_has_figures(seeded):
    now = timezone.now()
    rows = selectors.fairness_ledger(seeded.team, now - timedelta(days=30), now + timedelta(minutes=1))

    assert RoutingDecision.objects.filter(lead__team=seeded.team).count() > 10
    assert {row.agent.username for row in rows} >= {"alice", "bob", "carmen"}
    assert sum(row.assigned for row in rows) > 0 and sum(row.offered for row in rows) > 0
    assert Offer.objects.filter(state=OfferState.CLAIMED).exists()


def test_the_demo_leaves_offers_to_claim_and_leads_in_the_pond(seeded):
    open_entries = PondEntry.objects.filter(status=PondStatus.OPEN, lead__team=seeded.team)
    open_offers = Offer.objects.filter(state=OfferState.OPEN, expires_at__gt=timezone.now())

    assert open_entries.count() >= 2
    assert all(entry.lead.assigned_to_id is None for entry in open_entries)
    # offers stay open when agents are working at seed time; with nobody working, the leads are in the pond
    assert open_offers.exists() or open_entries.count() >= 4


def test_seeding_again_adds_no_rules_trace_or_leads(seeded):
    counts = (RoutingRule.objects.count(), RoutingDecision.objects.count(), Lead.objects.count())

    call_command("seed_demo", "--leads", "30", stdout=StringIO())

    assert (RoutingRule.objects.count(), RoutingDecision.objects.count(), Lead.objects.count()) == counts
