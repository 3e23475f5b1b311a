"""Teams (offices) inside one brokerage: who sees and assigns which leads, which team a
lead belongs to, and the counts each viewer gets; an install without teams unchanged."""

import pytest

from leads.accounts import permissions
from leads.core.selectors import visible_leads
from leads.core.services import LeadManagementService
from leads.errors import PermissionDenied
from leads.models import Role, Team
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offices():
    """Two offices, each with a manager and an agent, and a broker (admin) over both."""
    north, south = Team.objects.create(name="North", time_zone="America/Chicago"), Team.objects.create(name="South")
    people = {
        "north_manager": UserFactory(username="north_manager", role=Role.MANAGER, team=north),
        "north_agent": UserFactory(username="north_agent", role=Role.AGENT, team=north),
        "south_manager": UserFactory(username="south_manager", role=Role.MANAGER, team=south),
        "south_agent": UserFactory(username="south_agent", role=Role.AGENT, team=south),
        "broker": UserFactory(username="broker", role=Role.ADMIN),
    }
    return north, south, people


def lead_input(email: str, **extra) -> dict:
    return {"contact": {"first_name": "Ada", "email": email}, "lead_type": "buyer", **extra}


def test_a_manager_sees_the_leads_of_their_team_and_a_broker_sees_every_team(offices):
    north, south, people = offices
    north_lead = LeadFactory(team=north, assigned_to=people["north_agent"])
    south_lead = LeadFactory(team=south, assigned_to=None)

    def seen(user) -> set:
        return set(visible_leads(user).values_list("pk", flat=True))

    assert seen(people["north_manager"]) == {north_lead.pk}
    assert seen(people["south_manager"]) == {south_lead.pk}
    assert seen(people["broker"]) == {north_lead.pk, south_lead.pk}
    assert seen(people["north_agent"]) == {north_lead.pk}
    assert seen(people["south_agent"]) == set()
    # and the one-lead check agrees with the list
    assert permissions.can_view_lead(people["north_manager"], north_lead)
    assert not permissions.can_view_lead(people["north_manager"], south_lead)


def test_without_teams_a_manager_still_sees_every_lead(manager, agent):
    leads = [*LeadFactory.create_batch(2, assigned_to=agent), LeadFactory(assigned_to=None)]

    assert set(visible_leads(manager).values_list("pk", flat=True)) == {lead.pk for lead in leads}
    assert permissions.can_view_all_leads(manager)


def test_a_lead_belongs_to_its_agents_team_else_its_creators(offices):
    north, south, people = offices

    made_by_north = LeadManagementService(people["north_manager"]).create_lead(lead_input("a@example.com"))
    given_to_south = LeadManagementService(people["broker"]).create_lead(
        lead_input("b@example.com", assigned_to=people["south_agent"])
    )
    made_by_broker = LeadManagementService(people["broker"]).create_lead(lead_input("c@example.com"))

    assert (made_by_north.team, given_to_south.team, made_by_broker.team) == (north, south, None)


def test_a_manager_assigns_only_within_their_team_and_a_broker_moves_leads_across(offices):
    north, south, people = offices
    lead = LeadManagementService(people["north_manager"]).create_lead(lead_input("d@example.com"))

    with pytest.raises(PermissionDenied):
        LeadManagementService(people["north_manager"]).assign(lead.public_id, people["south_agent"])
    kept = LeadManagementService(people["north_manager"]).assign(lead.public_id, people["north_agent"])
    moved = LeadManagementService(people["broker"]).assign(lead.public_id, people["south_agent"])

    assert (kept.assigned_to, kept.team) == (people["north_agent"], north)
    assert (moved.assigned_to, moved.team) == (people["south_agent"], south)
    # the north manager no longer sees it; the south manager does
    assert not visible_leads(people["north_manager"]).filter(pk=lead.pk).exists()
    assert visible_leads(people["south_manager"]).filter(pk=lead.pk).exists()


def test_the_lists_count_what_each_viewer_sees(offices, api_client):
    north, south, people = offices
    LeadFactory.create_batch(3, team=north, assigned_to=people["north_agent"], status="new")
    LeadFactory.create_batch(2, team=south, assigned_to=None, status="new")

    def total(user, **query) -> int:
        response = api_client(user).get("/api/v2/leads", {"status": "new", **query})
        assert response.status_code == 200
        return response.json()["total_count"]

    assert total(people["north_manager"]) == 3
    assert total(people["south_manager"]) == 2
    assert total(people["broker"]) == 5
    assert total(people["north_agent"]) == 3
    assert total(people["north_manager"], assigned_to="none") == 0
