"""The plans endpoints of the v2 API: auth, object permissions, bad input."""

import pytest

from integrations.plans.models import Enrolment, EnrolmentState, StepKind
from integrations.plans.tests.conftest import plan_with
from leads.models import Team
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def plans_url(lead, suffix=""):
    return f"/api/v2/leads/{lead.public_id}/plans{suffix}"


@pytest.fixture
def plan(db):
    return plan_with({"kind": StepKind.WAIT, "wait_minutes": 60}, name="Nurture")


def test_the_agent_starts_lists_and_stops_a_plan_on_their_lead(
    api_client, agent, plan, django_capture_on_commit_callbacks
):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(plans_url(lead), {"plan": plan.pk}, format="json")
    assert started.status_code == 201, started.content
    body = started.json()["enrolment"]
    assert (body["plan"], body["state"], body["started_by"]) == (
        {"id": plan.pk, "name": "Nurture"},
        "active",
        agent.username,
    )

    listed = client.get(plans_url(lead)).json()
    assert listed["total_count"] == 1 and listed["enrolments"][0]["id"] == body["id"]
    assert listed["enrolments"][0]["steps_done"] == 1  # the wait ran once the start committed

    stopped = client.delete(plans_url(lead, f"/{plan.pk}"))
    assert stopped.status_code == 200 and stopped.json()["enrolment"]["state"] == "stopped"
    assert Enrolment.objects.get().state == EnrolmentState.STOPPED


def test_stop_by_query_or_body(api_client, agent, plan):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    for stop in (
        lambda: client.delete(plans_url(lead) + f"?plan={plan.pk}"),
        lambda: client.delete(plans_url(lead), {"plan": plan.pk}, format="json"),
    ):
        assert client.post(plans_url(lead), {"plan": plan.pk}, format="json").status_code == 201
        assert stop().status_code == 200
    assert client.delete(plans_url(lead)).status_code == 400


def test_already_in_the_plan_is_409_and_unknown_plan_is_404(api_client, agent, plan):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    assert client.post(plans_url(lead), {"plan": plan.pk}, format="json").status_code == 201

    again = client.post(plans_url(lead), {"plan": plan.pk}, format="json")
    unknown = client.post(plans_url(lead), {"plan": 999999}, format="json")
    not_in = client.delete(plans_url(lead, "/999999"))

    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert unknown.status_code == 404 and not_in.status_code == 404
    assert Enrolment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"plan": ', "application/json", 400),
        ('{"plan": "abc"}', "application/json", 400),
        ('{"plan": -1}', "application/json", 400),
        ("{}", "application/json", 400),
        ("plan=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bad_input_is_a_clear_4xx_and_nothing_is_saved(api_client, agent, plan, body, content_type, status):
    lead = LeadFactory(assigned_to=agent)
    response = api_client(agent).generic("POST", plans_url(lead), body, content_type=content_type)
    assert response.status_code == status
    assert "error" in response.json()
    assert not Enrolment.objects.exists()


def test_another_agents_lead_is_404_and_no_token_is_401(api_client, agent, other_agent, plan):
    lead = LeadFactory(assigned_to=other_agent)
    client = api_client(agent)
    assert client.get(plans_url(lead)).status_code == 404
    assert client.post(plans_url(lead), {"plan": plan.pk}, format="json").status_code == 404
    assert client.get(plans_url(lead, "/dry-run")).status_code == 404
    assert api_client().get(plans_url(lead)).status_code == 401
    assert api_client().post(plans_url(lead), {"plan": plan.pk}, format="json").status_code == 401
    assert not Enrolment.objects.exists()


def test_a_plan_of_another_team_is_404(api_client, agent, plan):
    other_team_plan = plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}, team=Team.objects.create(name="Far office"))
    agent.team = Team.objects.create(name="Near office")
    agent.save()
    lead = LeadFactory(assigned_to=agent)
    assert api_client(agent).post(plans_url(lead), {"plan": other_team_plan.pk}, format="json").status_code == 404


def test_the_plan_dry_run_is_for_managers(api_client, agent, manager, plan):
    LeadFactory(assigned_to=agent)
    assert api_client(agent).get(f"/api/v2/plans/{plan.pk}/dry-run").status_code == 403
    assert api_client().get(f"/api/v2/plans/{plan.pk}/dry-run").status_code == 401
    assert api_client(manager).get(f"/api/v2/plans/{plan.pk}/dry-run").status_code == 200
    assert api_client(manager).get("/api/v2/plans/nope/dry-run").status_code == 404


def test_an_agent_cannot_stop_a_plan_on_a_lead_they_cannot_see(api_client, agent, other_agent, plan):
    lead = LeadFactory(assigned_to=other_agent)
    assert api_client(other_agent).post(plans_url(lead), {"plan": plan.pk}, format="json").status_code == 201
    assert api_client(agent).delete(plans_url(lead, f"/{plan.pk}")).status_code == 404
    assert Enrolment.objects.get().state == EnrolmentState.ACTIVE
    assert api_client(UserFactory(role="manager")).delete(plans_url(lead, f"/{plan.pk}")).status_code == 200


def test_listing_a_leads_plans_costs_the_same_queries_for_one_or_many(api_client, agent, django_assert_max_num_queries):
    from integrations.plans import services

    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    services.enrol(lead=lead, plan=plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}), reason="t")
    client.get(plans_url(lead))  # warm the caches (token, rate budget)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get(plans_url(lead)).status_code == 200
    for _ in range(5):
        services.enrol(lead=lead, plan=plan_with({"kind": StepKind.WAIT, "wait_minutes": 5}), reason="t")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(plans_url(lead)).json()["total_count"] == 6
