"""The pond: who may take which leads, the daily limit in the agent's own day, and a
lead taken twice."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from integrations.routing import selectors, services
from integrations.routing.errors import PondLimitReached, RoutingConflict
from integrations.routing.models import PondEntry, PondStatus, RoutingDecision, RoutingOutcome, RoutingTrigger
from integrations.routing.tests.factories import AgentRoutingProfileFactory, PondEntryFactory, TeamFactory
from leads.errors import PermissionDenied
from leads.models import Role
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def pond_lead(team=None, **values):
    lead = LeadFactory(assigned_to=None, team=team, **values)
    PondEntryFactory(lead=lead, team=team)
    return lead


def test_an_agent_takes_a_pond_lead_through_the_lead_write_path(agent):
    lead = pond_lead()
    version = lead.version

    taken = services.take_from_pond(lead, agent)

    assert (taken.assigned_to, taken.version) == (agent, version + 1)
    entry = PondEntry.objects.get(lead=lead)
    assert (entry.status, entry.taken_by) == (PondStatus.TAKEN, agent)
    last = RoutingDecision.objects.get(lead=lead)
    assert (last.trigger, last.outcome, last.assignee) == (RoutingTrigger.POND_TAKE, RoutingOutcome.ASSIGNED, agent)


def test_a_lead_taken_already_is_a_conflict(agent, other_agent):
    lead = pond_lead()
    services.take_from_pond(lead, agent)

    with pytest.raises(RoutingConflict, match="someone took it"):
        services.take_from_pond(lead, other_agent)
    with pytest.raises(RoutingConflict):
        selectors.pond_lead_for(other_agent, lead.public_id)


def test_the_daily_limit_holds_and_says_so(agent):
    AgentRoutingProfileFactory(user=agent, pond_daily_limit=2)
    leads = [pond_lead() for _ in range(3)]

    services.take_from_pond(leads[0], agent)
    services.take_from_pond(leads[1], agent)
    with pytest.raises(PondLimitReached, match="2 pond leads today"):
        services.take_from_pond(leads[2], agent)

    assert PondEntry.objects.get(lead=leads[2]).status == PondStatus.OPEN
    assert selectors.pond_takes_today(agent) == 2


def test_the_daily_limit_counts_the_agents_own_day(agent):
    agent.time_zone = "America/Los_Angeles"
    agent.save()
    AgentRoutingProfileFactory(user=agent, pond_daily_limit=1)
    # 07:00 UTC is 23:00 the day before in Los Angeles
    yesterday_evening = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    PondEntryFactory(status=PondStatus.TAKEN, taken_by=agent, taken_at=yesterday_evening)

    # still that evening in Los Angeles; then past its midnight (08:00 UTC), though the same UTC day
    assert selectors.pond_takes_today(agent, now=datetime(2026, 12, 7, 7, 30, tzinfo=UTC)) == 1
    assert selectors.pond_takes_today(agent, now=datetime(2026, 12, 7, 8, 30, tzinfo=UTC)) == 0


def test_agents_see_and_take_only_their_teams_pond():
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    north_agent = UserFactory(team=north)
    admin = UserFactory(role=Role.ADMIN)
    ours, theirs = pond_lead(team=north), pond_lead(team=south)
    pond_lead()  # the install without teams: nobody in a team sees it

    assert [entry.lead for entry in selectors.pond_entries(north_agent)] == [ours]
    assert {entry.lead for entry in selectors.pond_entries(admin)} >= {ours, theirs}
    with pytest.raises(PermissionDenied, match="another team"):
        services.take_from_pond(theirs, north_agent)


def test_a_paused_agent_cannot_take_from_the_pond(agent):
    AgentRoutingProfileFactory(user=agent, paused=True)

    with pytest.raises(PermissionDenied, match="paused"):
        services.take_from_pond(pond_lead(), agent)


def test_a_lead_assigned_elsewhere_leaves_the_pond(manager):
    from integrations.routing import arrivals
    from leads.core.services import LeadManagementService
    from leads.events.models import LeadEvent

    lead = pond_lead()
    LeadManagementService(manager).assign(lead.public_id, manager)
    arrivals.plan_routes(list(LeadEvent.objects.filter(lead=lead)))

    assert PondEntry.objects.get(lead=lead).status == PondStatus.LEFT
    assert not selectors.pond_entries(manager).exists()


def test_an_archived_lead_is_not_listed_in_the_pond(agent):
    pond_lead(archived_at=timezone.now() - timedelta(minutes=1))

    assert not selectors.pond_entries(agent).exists()
