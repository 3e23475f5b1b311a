"""REST API v2 query counts: reads stay a fixed, small number of queries however
many leads or interactions there are; writes stay bounded."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Lead
from leads.tests.api_assertions import LEADS_URL, lead_url
from leads.tests.factories import InteractionFactory, LeadFactory, seed_payload

pytestmark = pytest.mark.django_db

# token lookup, count, page of leads, their interactions (with authors)
LIST_QUERIES = 4
# and, on PostgreSQL, the search's matching contacts (leads.core.search: few are handed over by id)
SEARCH_QUERIES = LIST_QUERIES + 1
# token lookup, the lead's cache stamp (leads.api.lead_cache), the lead with
# contact/preferences/timeline/agent, its interactions (a cached read: the first two)
DETAIL_QUERIES = 4


def count_queries(request, *, status: int = 200) -> tuple[int, dict]:
    """The queries ``request`` made, and its body, once it answered ``status``."""
    with CaptureQueriesContext(connection) as context:
        response = request()
    assert response.status_code == status, response.content
    return len(context.captured_queries), response.json()


def leads_with_interactions(agent, count: int, interactions_each: int = 2):
    leads = LeadFactory.create_batch(count, assigned_to=agent)
    for lead in leads:
        InteractionFactory.create_batch(interactions_each, lead=lead)
    return leads


def test_the_list_makes_the_same_few_queries_for_1_or_100_leads(api_client, agent, django_assert_max_num_queries):
    client = api_client(agent)
    leads_with_interactions(agent, 1)
    one, body = count_queries(lambda: client.get(f"{LEADS_URL}?page_size=100"))
    assert body["total_count"] == 1

    leads_with_interactions(agent, 99)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(f"{LEADS_URL}?page_size=100")

    assert response.status_code == 200
    leads = response.json()["leads"]
    assert len(leads) == 100
    assert all(len(lead["interactions"]) == 2 for lead in leads)
    assert one == count_queries(lambda: client.get(f"{LEADS_URL}?page_size=100"))[0]


def test_a_filtered_list_for_a_manager_is_bounded_too(api_client, manager, agent, django_assert_max_num_queries):
    for index, lead in enumerate(leads_with_interactions(agent, 30)):
        Lead.objects.filter(pk=lead.pk).update(score=index % 10 * 10)
    client = api_client(manager)
    query = (
        f"{LEADS_URL}?page_size=50&status=new&lead_type=buyer&assigned_to={agent.username}"
        "&search=example&ordering=-score"
    )

    with django_assert_max_num_queries(SEARCH_QUERIES):
        response = client.get(query)

    # every factory email is at example.com: all 30 match, best score first
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total_count"] == len(body["leads"]) == 30
    assert {(lead["status"], lead["lead_type"], lead["assigned_to"]) for lead in body["leads"]} == {
        ("new", "buyer", agent.username)
    }
    scores = [lead["score"] for lead in body["leads"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 90


def test_an_empty_page_skips_the_page_query(api_client, agent, django_assert_max_num_queries):
    leads_with_interactions(agent, 3)
    client = api_client(agent)

    with django_assert_max_num_queries(2):  # token, count
        response = client.get(f"{LEADS_URL}?page=9")

    assert response.status_code == 200
    assert (response.json()["leads"], response.json()["total_count"]) == ([], 3)


def test_the_detail_makes_a_fixed_number_of_queries(api_client, agent, django_assert_max_num_queries):
    [lead] = leads_with_interactions(agent, 1, interactions_each=25)
    client = api_client(agent)

    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(lead_url(lead.public_id))

    assert response.status_code == 200
    assert response.json()["lead"]["id"] == lead.public_id
    assert len(response.json()["lead"]["interactions"]) == 25


def write_query_counts(client, lead) -> dict[str, int]:
    """The queries of an update, an interaction and a no-op update, each checked to have done its work."""
    lead_id = lead.public_id
    interaction = {"type": "call", "summary": "Hi"}
    updated, body = count_queries(lambda: client.patch(lead_url(lead_id), {"status": "qualified"}, format="json"))
    assert (body["lead"]["status"], body["lead"]["version"]) == ("qualified", lead.version + 1)
    logged, body = count_queries(
        lambda: client.post(lead_url(lead_id, interactions=True), interaction, format="json"), status=201
    )
    assert body["lead"]["interactions"][0]["summary"] == "Hi"
    unchanged, body = count_queries(lambda: client.patch(lead_url(lead_id), {}, format="json"))
    assert body["lead"]["version"] == lead.version + 2
    return {"update": updated, "interaction": logged, "no-op update": unchanged}


def test_writes_do_not_grow_with_the_leads_history(api_client, agent):
    [fresh] = leads_with_interactions(agent, 1, interactions_each=0)
    [busy] = leads_with_interactions(agent, 1, interactions_each=30)
    client = api_client(agent)

    fresh_counts, busy_counts = write_query_counts(client, fresh), write_query_counts(client, busy)

    assert fresh_counts == busy_counts
    # Loose bounds: the after-save outbox rows belong to the pipeline and may change.
    # A no-op is: token, visibility, savepoint, lock, reload (2), release; no write.
    assert busy_counts["update"] <= 13
    assert busy_counts["interaction"] <= 13
    assert busy_counts["no-op update"] <= 7


def test_create_is_bounded(api_client, agent, django_assert_max_num_queries):
    client = api_client(agent)

    # ... including the duplicate lookup (leads.core.duplicates; on PostgreSQL after an
    # advisory lock on the email and phone) and the audit entry
    with django_assert_max_num_queries(15 if connection.vendor == "postgresql" else 14):
        response = client.post(LEADS_URL, seed_payload(), format="json")

    assert response.status_code == 201, response.content
    assert Lead.objects.filter(public_id=response.json()["lead"]["id"]).exists()
