"""REST API v2: who sees and changes which leads. Agents work their own leads;
managers and admins see all; a lead outside your view answers 404."""

import pytest

from leads.models import Lead
from leads.tests.api_assertions import LEADS_URL, assert_error, db_snapshot, lead_url
from leads.tests.factories import LeadFactory, seed_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads_of_a_and_b(agent, other_agent):
    """Agent A (agent_smith) has two leads, agent B (agent_jones) one."""
    return LeadFactory.create_batch(2, assigned_to=agent), LeadFactory(assigned_to=other_agent)


def test_an_agent_cannot_read_another_agents_lead(api_client, agent, leads_of_a_and_b):
    _, theirs = leads_of_a_and_b

    assert_error(api_client(agent).get(lead_url(theirs.public_id)), 404, "not_found")
    assert_error(api_client(agent).get(lead_url(theirs.public_id, interactions=True)), 404, "not_found")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_agent_cannot_update_another_agents_lead(api_client, agent, leads_of_a_and_b, method):
    _, theirs = leads_of_a_and_b
    before = db_snapshot()

    response = getattr(api_client(agent), method)(lead_url(theirs.public_id), {"status": "lost"}, format="json")

    assert_error(response, 404, "not_found")
    assert db_snapshot() == before


def test_an_agent_cannot_log_an_interaction_on_another_agents_lead(api_client, agent, leads_of_a_and_b):
    _, theirs = leads_of_a_and_b
    before = db_snapshot()

    response = api_client(agent).post(
        lead_url(theirs.public_id, interactions=True), {"type": "call", "summary": "Sneaky"}, format="json"
    )

    assert_error(response, 404, "not_found")
    assert db_snapshot() == before


def test_the_list_shows_an_agent_only_their_own_leads(api_client, agent, leads_of_a_and_b):
    mine, _ = leads_of_a_and_b

    body = api_client(agent).get(LEADS_URL).json()

    assert body["total_count"] == 2
    assert {lead["id"] for lead in body["leads"]} == {lead.public_id for lead in mine}


@pytest.mark.parametrize("identifier", ["username", "pk"])
def test_filtering_by_another_agent_shows_nothing(api_client, agent, other_agent, leads_of_a_and_b, identifier):
    body = api_client(agent).get(f"{LEADS_URL}?assigned_to={getattr(other_agent, identifier)}").json()

    assert (body["total_count"], body["leads"]) == (0, [])


def test_searching_cannot_reach_another_agents_lead(api_client, agent, leads_of_a_and_b):
    _, theirs = leads_of_a_and_b

    body = api_client(agent).get(f"{LEADS_URL}?search={theirs.contact.email}").json()

    assert body["total_count"] == 0


def test_unassigned_leads_are_invisible_to_agents(api_client, agent):
    unassigned = LeadFactory(assigned_to=None)

    assert_error(api_client(agent).get(lead_url(unassigned.public_id)), 404, "not_found")
    assert api_client(agent).get(f"{LEADS_URL}?assigned_to=unassigned").json()["total_count"] == 0


@pytest.mark.parametrize("user_fixture", ["manager", "admin_user"])
def test_managers_and_admins_see_every_lead(api_client, request, leads_of_a_and_b, user_fixture):
    user = request.getfixturevalue(user_fixture)
    unassigned = LeadFactory(assigned_to=None)
    client = api_client(user)

    body = client.get(LEADS_URL).json()

    assert body["total_count"] == 4
    for lead in Lead.objects.all():
        assert client.get(lead_url(lead.public_id)).status_code == 200
    assert client.get(f"{LEADS_URL}?assigned_to=unassigned").json()["leads"][0]["id"] == unassigned.public_id


def test_a_manager_can_update_and_log_on_any_lead(api_client, manager, leads_of_a_and_b):
    _, theirs = leads_of_a_and_b
    client = api_client(manager)

    updated = client.patch(lead_url(theirs.public_id), {"status": "qualified"}, format="json")
    logged = client.post(
        lead_url(theirs.public_id, interactions=True), {"type": "call", "summary": "Hi"}, format="json"
    )

    assert (updated.status_code, logged.status_code) == (200, 201)
    assert logged.json()["lead"]["interactions"][0]["created_by"] == manager.username


def test_a_lead_created_with_an_agents_token_is_assigned_to_that_agent(api_client, agent):
    response = api_client(agent).post(LEADS_URL, seed_payload(), format="json")

    assert response.json()["lead"]["assigned_to"] == agent.username
    assert Lead.objects.get(public_id=response.json()["lead"]["id"]).assigned_to == agent


def test_an_agent_may_name_themselves_as_assignee(api_client, agent):
    response = api_client(agent).post(LEADS_URL, seed_payload(assigned_to=agent.username), format="json")

    assert response.status_code == 201
    assert response.json()["lead"]["assigned_to"] == agent.username


@pytest.mark.parametrize("assignee", ["other", None])
def test_an_agent_naming_another_assignee_gets_a_403(api_client, agent, other_agent, assignee):
    before = db_snapshot()
    name = other_agent.username if assignee == "other" else None

    response = api_client(agent).post(LEADS_URL, seed_payload(assigned_to=name), format="json")

    assert_error(response, 403, "permission_denied")
    assert db_snapshot() == before


@pytest.mark.parametrize("identifier", ["username", "pk"])
def test_a_manager_can_name_the_assignee(api_client, manager, agent, identifier):
    response = api_client(manager).post(LEADS_URL, seed_payload(assigned_to=getattr(agent, identifier)), format="json")

    assert response.status_code == 201
    assert Lead.objects.get(public_id=response.json()["lead"]["id"]).assigned_to == agent


def test_a_lead_created_by_a_manager_without_an_assignee_stays_unassigned(api_client, manager):
    response = api_client(manager).post(LEADS_URL, seed_payload(), format="json")

    assert response.json()["lead"]["assigned_to"] is None


def test_after_a_manager_reassigns_a_lead_the_old_agent_no_longer_sees_it(api_client, manager, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)

    api_client(manager).patch(lead_url(lead.public_id), {"assigned_to": other_agent.username}, format="json")

    assert_error(api_client(agent).get(lead_url(lead.public_id)), 404, "not_found")
    assert api_client(other_agent).get(lead_url(lead.public_id)).status_code == 200
