"""The maintained lead counts (leads.reporting.counts): exact through every write path, used by
the list's total_count when the filters allow, repaired by the lead_counts command."""

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from leads.core.services import LeadManagementService
from leads.models import Lead, LeadCount, LeadStatus, LeadType
from leads.reporting import counts
from leads.tests.api_assertions import LEADS_URL
from leads.tests.concurrency import run_at_once
from leads.tests.factories import LeadFactory, UserFactory, seed_payload

pytestmark = pytest.mark.django_db

FILTER_VALUES = {
    "status": [None, "new", "contacted", "new,qualified"],
    "lead_type": [None, "buyer", "seller,investor"],
}


def live_count(**lookups) -> int:
    return Lead.objects.filter(archived_at__isnull=True, **lookups).count()


def assert_counts_exact():
    assert counts.differences() == {}


def person(number: int) -> dict:
    body = seed_payload()
    body["contact"].update(email=f"person{number}@example.com", phone=f"+1415555{number:04d}")
    return body


def create_through_api(client, number: int) -> str:
    response = client.post(LEADS_URL, person(number), format="json")
    assert response.status_code == 201, response.content
    return response.json()["lead"]["id"]


def test_every_write_path_keeps_the_counts_exact(api_client, manager, agent, other_agent):
    client = api_client(manager)
    first = create_through_api(client, 1)
    second = create_through_api(client, 2)
    batch = client.post(f"{LEADS_URL}/batch", {"leads": [person(number) for number in range(10, 15)]}, format="json")
    assert batch.status_code == 200, batch.content
    assert_counts_exact()

    # status, reassignment, archive, restore through the API and the service
    assert client.put(f"{LEADS_URL}/{first}", {"status": "contacted"}, format="json").status_code == 200
    assert client.put(f"{LEADS_URL}/{first}", {"lead_type": "seller"}, format="json").status_code == 200
    service = LeadManagementService(manager)
    service.assign(second, other_agent)
    service.assign(first, None)
    assert client.delete(f"{LEADS_URL}/{second}").status_code == 204
    assert_counts_exact()
    service.restore_lead(second)
    assert_counts_exact()

    # writes that bypass the service: bulk ORM updates, factories, deletes
    LeadFactory.create_batch(3, assigned_to=agent, status=LeadStatus.SHOWING)
    Lead.objects.filter(assigned_to=agent).update(status=LeadStatus.OFFER)
    Lead.objects.filter(public_id=first).update(archived_at=timezone.now())
    Lead.objects.filter(assigned_to=other_agent).delete()
    other_agent.delete()  # SET NULL on the leads it still had
    assert_counts_exact()

    # and the list agrees with a real COUNT for every combination of counted filters
    for status, lead_type in itertools.product(*FILTER_VALUES.values()):
        query = {key: value for key, value in (("status", status), ("lead_type", lead_type)) if value}
        lookups = {f"{key}__in": value.split(",") for key, value in query.items()}
        response = client.get(LEADS_URL, query)
        assert response.status_code == 200
        assert response.json()["total_count"] == live_count(**lookups), query


def test_merging_and_undoing_keeps_the_counts_exact(api_client, manager):
    client = api_client(manager)
    primary = create_through_api(client, 1)
    duplicate = create_through_api(client, 2)

    merged = client.post(f"{LEADS_URL}/{primary}/merge", {"duplicate_id": duplicate}, format="json")
    assert merged.status_code == 201, merged.content
    assert client.get(LEADS_URL).json()["total_count"] == 1
    assert_counts_exact()

    assert client.post(f"/api/v2/merges/{merged.json()['merge']['id']}/undo").status_code == 200
    assert client.get(LEADS_URL).json()["total_count"] == 2
    assert_counts_exact()


def test_an_agent_and_the_assigned_to_filter_are_counted_per_agent(api_client, manager, agent, other_agent):
    LeadFactory.create_batch(3, assigned_to=agent)
    LeadFactory.create_batch(2, assigned_to=agent, lead_type=LeadType.SELLER)
    LeadFactory.create_batch(4, assigned_to=other_agent)
    LeadFactory.create_batch(1, assigned_to=None)

    def total(user, query=""):
        response = api_client(user).get(f"{LEADS_URL}?{query}")
        assert response.status_code == 200, response.content
        return response.json()["total_count"]

    assert total(agent) == 5
    assert total(agent, "lead_type=seller") == 2
    assert total(agent, f"assigned_to={other_agent.pk}") == 0  # an agent sees only their own
    assert total(manager) == 10
    assert total(manager, f"assigned_to={other_agent.pk}") == 4
    assert total(manager, "assigned_to=none") == 1
    assert total(manager, "assigned_to=unassigned&lead_type=seller") == 0
    assert total(manager, f"assigned_to={agent.username}") == 5  # a username: counted with COUNT(*)
    assert total(manager, "assigned_to=99999999999999999999") == 0


def test_the_list_reads_its_total_from_the_counters_when_the_filters_allow(api_client, manager, agent):
    LeadFactory.create_batch(3, assigned_to=agent)
    client = api_client(manager)
    # a change row the triggers did not write: the counted lists show it, the others do not
    LeadCount.objects.create(assigned_to_key=counts.TEAM_KEY, status="new", lead_type="buyer", n=100)

    assert client.get(f"{LEADS_URL}?status=new").json()["total_count"] == 103
    assert client.get(f"{LEADS_URL}?status=new&source=website").json()["total_count"] == 3
    assert client.get(f"{LEADS_URL}?search=a&status=new").json()["total_count"] <= 3

    # and the command finds the drift and repairs it
    with pytest.raises(CommandError, match="1 counts differ"):
        call_command("lead_counts", "--check")
    call_command("lead_counts", "--rebuild")
    call_command("lead_counts", "--check")
    assert client.get(f"{LEADS_URL}?status=new").json()["total_count"] == 3


def test_compacting_folds_the_change_rows_and_keeps_every_total(api_client, manager, agent):
    service = LeadManagementService(manager)
    leads = LeadFactory.create_batch(4, assigned_to=agent)
    for lead in leads[:3]:
        service.change_status(lead.public_id, LeadStatus.CONTACTED)
    service.change_status(leads[0].public_id, LeadStatus.NEW)
    rows_before = LeadCount.objects.count()
    assert rows_before > 2

    removed = counts.compact()

    # (agent, new), (agent, contacted), and the same two for the whole team
    assert LeadCount.objects.count() == rows_before - removed == 4
    assert sorted(LeadCount.objects.values_list("assigned_to_key", "status", "n")) == [
        (counts.TEAM_KEY, "contacted", 2),
        (counts.TEAM_KEY, "new", 2),
        (agent.pk, "contacted", 2),
        (agent.pk, "new", 2),
    ]
    assert_counts_exact()
    assert counts.compact() == 0


def test_a_counted_list_stays_at_four_queries(api_client, manager, agent, django_assert_max_num_queries):
    LeadFactory.create_batch(5, assigned_to=agent)
    client = api_client(manager)

    with django_assert_max_num_queries(4):  # token, the counters' sum, the page, its interactions
        response = client.get(f"{LEADS_URL}?status=new&lead_type=buyer&assigned_to={agent.pk}")
    assert response.json()["total_count"] == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_counts_exact():
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    agents = [UserFactory(username=f"racer{number}") for number in range(2)]
    leads = LeadFactory.create_batch(8, assigned_to=agents[0])
    manager = UserFactory(username="race_manager", role="manager")
    service = LeadManagementService(manager)
    moves = [LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.NEW, LeadStatus.LOST]

    def work(index: int):
        lead = leads[index]
        LeadManagementService(manager).change_status(lead.public_id, moves[index % len(moves)])
        LeadManagementService(manager).assign(lead.public_id, agents[index % 2])
        counts.compact()
        return True

    results, errors = run_at_once(8, work)

    assert errors == [] and all(results)
    assert_counts_exact()
    assert service.list_leads(filters={}).total_count == 8


def test_the_leads_page_counts_with_the_counters_and_pages_right(client, manager, agent):
    LeadFactory.create_batch(30, assigned_to=agent)
    LeadFactory.create_batch(4, assigned_to=agent, status=LeadStatus.LOST)
    client.force_login(manager)

    everything = client.get("/leads/")
    lost = client.get("/leads/", {"status": "lost"})
    last_page = client.get("/leads/", {"page": 2})

    assert "<strong>34</strong> leads" in everything.content.decode()
    assert "<strong>4</strong> leads" in lost.content.decode()
    assert "showing 26\u201334" in last_page.content.decode()  # an en dash
    # a change row nobody wrote shows up: the page reads the counters
    LeadCount.objects.create(assigned_to_key=counts.TEAM_KEY, status="lost", lead_type="buyer", n=1000)
    assert "<strong>1,004</strong> leads" in client.get("/leads/", {"status": "lost"}).content.decode()


@pytest.mark.django_db(transaction=True)
def test_flushing_the_database_leaves_no_counter_rows_behind():
    LeadFactory.create_batch(3)
    assert LeadCount.objects.exists()

    call_command("flush", interactive=False)  # SQLite deletes table by table, in any order

    assert not LeadCount.objects.exists()
    LeadFactory.create_batch(2)
    assert counts.differences() == {}
