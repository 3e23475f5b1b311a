"""End to end on the eager path: a lead saved through the API, the batch endpoint, the
new-lead form or a CSV import is routed once its save commits, through the real lead
events relay and the routing task; a lead that arrives with an agent keeps it."""

import pytest

from integrations.routing.models import PendingRoute, RoutingDecision, RoutingOutcome
from integrations.routing.tasks import ROUTE_IN_RELAY, route_leads
from integrations.routing.tests.factories import RuleMemberFactory
from leads.imports import services as imports
from leads.models import Lead
from leads.tests.factories import seed_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def agents(catch_all):
    return [RuleMemberFactory(rule=catch_all).agent for _ in range(2)]


def outcome(lead_id: str):
    lead = Lead.objects.select_related("assigned_to").get(public_id=lead_id)
    decision = RoutingDecision.objects.filter(lead=lead).order_by("pk").last()
    return lead, decision


def test_a_lead_a_manager_creates_unassigned_through_the_api_is_routed(
    api_client, manager, agents, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client(manager).post("/api/v2/leads", seed_payload(), format="json")

    assert created.status_code == 201, created.content
    lead, decision = outcome(created.json()["lead"]["id"])
    assert lead.assigned_to in agents
    assert (decision.outcome, decision.assignee) == (RoutingOutcome.ASSIGNED, lead.assigned_to)
    assert not PendingRoute.objects.exists()
    routed = api_client(manager).get(f"/api/v2/leads/{lead.public_id}/routing").json()["routing"]
    assert routed["assigned_to"] == lead.assigned_to.username


def test_batch_leads_are_routed_in_turn(api_client, manager, agents, django_capture_on_commit_callbacks):
    items = [seed_payload(contact={"first_name": f"B{n}", "email": f"b{n}@example.com", "phone": ""}) for n in range(4)]

    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client(manager).post("/api/v2/leads/batch", {"leads": items}, format="json")

    ids = [result["lead_id"] for result in answer.json()["results"]]
    assignees = [outcome(lead_id)[0].assigned_to for lead_id in ids]
    assert sorted(assignee.pk for assignee in assignees) == sorted([agents[0].pk, agents[1].pk] * 2)


def test_a_lead_created_with_an_agent_keeps_it(api_client, agent, agents, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client(agent).post("/api/v2/leads", seed_payload(), format="json")

    lead, decision = outcome(created.json()["lead"]["id"])
    assert lead.assigned_to == agent
    assert (decision.outcome, decision.assignee) == (RoutingOutcome.KEPT, agent)


def test_the_new_lead_form_routes_an_unassigned_lead(client, manager, agents, django_capture_on_commit_callbacks):
    client.force_login(manager)
    form = {
        "first_name": "Formy",
        "email": "formy@example.com",
        "lead_type": "buyer",
        "source": "website",
        "preferred_contact_method": "email",
        "urgency_level": "normal",
        "financing_status": "not_started",
        "preferred_language": "ES",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/leads/new/", form)

    assert response.status_code in (302, 303), response.content[:500]
    lead = Lead.objects.select_related("contact").get(contact__email="formy@example.com")
    assert lead.contact.preferred_language == "es"
    assert outcome(lead.public_id)[0].assigned_to in agents


CSV = "first_name,email,lead_type,source,preferred_language\nIda,ida@example.com,buyer,website,es\n"


@pytest.mark.parametrize("route_unassigned", [True, False])
def test_a_csv_import_routes_its_unassigned_leads_only_when_asked(
    manager, agents, route_unassigned, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.import_create(
            actor=manager, file_name="a.csv", content=CSV.encode(), route_unassigned=route_unassigned
        )
        imports.run_import(import_id=job.pk)

    lead = Lead.objects.select_related("contact").get(contact__email="ida@example.com")
    assert lead.contact.preferred_language == "es"
    assert (lead.assigned_to in agents) is route_unassigned
    assert RoutingDecision.objects.filter(lead=lead).exists() is route_unassigned


def test_the_api_accepts_and_shows_the_preferred_language(api_client, agent):
    created = api_client(agent).post(
        "/api/v2/leads",
        seed_payload(contact={"first_name": "L", "email": "l@example.com", "preferred_language": "PT-br"}),
        format="json",
    )
    refused = api_client(agent).post(
        "/api/v2/leads",
        seed_payload(contact={"first_name": "M", "email": "m@example.com", "preferred_language": "Klingon"}),
        format="json",
    )

    assert created.json()["lead"]["contact"]["preferred_language"] == "pt-br"
    assert refused.status_code == 400
    assert "contact.preferred_language" in refused.json()["error"]["fields"]


def test_a_route_whose_task_was_lost_is_sent_again_by_the_sweep(agents):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.routing import tasks
    from integrations.routing.tests.conftest import new_lead

    lead = new_lead()
    PendingRoute.objects.create(lead=lead, dispatched_at=None)
    PendingRoute.objects.filter(lead=lead).update(created_at=timezone.now() - timedelta(minutes=1))

    assert tasks.sweep_routing()["resent"] == 1

    assert Lead.objects.get(pk=lead.pk).assigned_to in agents
    assert not PendingRoute.objects.exists()


@pytest.fixture
def tasks_run():
    """The names of the Celery tasks run while the test runs."""
    from celery.signals import task_prerun

    names = []

    def record(sender=None, **_):
        names.append(sender.name)

    task_prerun.connect(record, weak=False)
    yield names
    task_prerun.disconnect(record)


def test_a_lead_arriving_on_its_own_is_routed_by_the_relay_itself(
    api_client, manager, agents, tasks_run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client(manager).post("/api/v2/leads", seed_payload(), format="json")

    lead, decision = outcome(created.json()["lead"]["id"])
    assert decision.outcome == RoutingOutcome.ASSIGNED and lead.assigned_to in agents
    assert "leads.relay_lead_events" in tasks_run
    assert route_leads.name not in tasks_run


def test_many_leads_relayed_at_once_are_sent_to_the_workers_in_batches(
    api_client, manager, agents, tasks_run, django_capture_on_commit_callbacks
):
    count = ROUTE_IN_RELAY + 1
    items = [seed_payload(contact={"first_name": f"M{n}", "email": f"m{n}@example.com"}) for n in range(count)]

    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client(manager).post("/api/v2/leads/batch", {"leads": items}, format="json")

    ids = [result["lead_id"] for result in answer.json()["results"]]
    assert all(outcome(lead_id)[0].assigned_to in agents for lead_id in ids)
    assert tasks_run.count(route_leads.name) == 1


def test_a_lead_whose_routing_kept_failing_goes_to_the_pond_and_is_not_lost(agents):
    from integrations.routing import arrivals
    from integrations.routing.models import PondEntry, PondStatus
    from integrations.routing.tests.conftest import new_lead

    lead = new_lead()
    pending = PendingRoute.objects.create(
        lead=lead, attempts=arrivals.MAX_ATTEMPTS, last_error="OperationalError: boom", dispatched_at=None
    )

    assert arrivals.route_pending([pending.pk]) == 1

    assert Lead.objects.get(pk=lead.pk).assigned_to is None
    assert PondEntry.objects.filter(lead=lead, status=PondStatus.OPEN).exists()
    decision = RoutingDecision.objects.get(lead=lead)
    assert decision.outcome == RoutingOutcome.POND and "failed 5 times" in decision.note
    assert not PendingRoute.objects.exists()
