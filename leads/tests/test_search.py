"""The leads list's free-text search (``?search=``): words of names and email, phone digits.

PostgreSQL matches the start of words and of the number's digits (or its end) through the
GIN-indexed search document; SQLite matches substrings. Where the two agree the tests run on
both; the prefix semantics and the index are checked in the PostgreSQL pass."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Contact
from leads.tests.api_assertions import LEADS_URL
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _lead(agent, first_name: str, last_name: str, email: str, phone: str = ""):
    lead = LeadFactory(assigned_to=agent)
    Contact.objects.filter(lead=lead).update(first_name=first_name, last_name=last_name, email=email, phone=phone)
    return lead


@pytest.fixture
def people(agent):
    return {
        "jane": _lead(agent, "Jane", "Doe", "jane.doe@example.com", "+14155550199"),
        "janet": _lead(agent, "Janet", "Smith", "jsmith@mail.test", "+14085551234"),
        "jose": _lead(agent, "José", "Núñez", "jose.nunez@correo.test", "+525512345678"),
        "other": _lead(agent, "Ann", "Lee", "ann@oldbox.test", ""),
    }


def _found(api_client, user, search: str) -> set[str]:
    response = api_client(user).get(LEADS_URL, {"search": search})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total_count"] == len(body["leads"])
    return {lead["id"] for lead in body["leads"]}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("jane", {"jane", "janet"}),
        ("JANE DOE", {"jane"}),
        ("doe@exa", {"jane"}),
        ("jane.doe@example.com", {"jane"}),
        ("smith", {"janet"}),
        ("José", {"jose"}),
        ("núñez", {"jose"}),
        ("415 555", {"jane"}),
        ("555-0199", {"jane"}),
        ("0199", {"jane"}),
        ("+1 (415) 555-0199", {"jane"}),
        ("4155550199", {"jane"}),
        ("5512345678", {"jose"}),
        ("nobody", set()),
    ],
)
def test_search_finds_names_emails_and_phone_digits(api_client, agent, people, search, expected):
    assert _found(api_client, agent, search) == {people[name].public_id for name in expected}


@pytest.mark.parametrize("search", ["%%%_", "'&|!:*()", "' OR 1=1 --", "a:*B | b", "\\", "((((", "x" * 200])
def test_hostile_search_text_is_only_text(api_client, agent, people, search):
    assert _found(api_client, agent, search) == set()


def test_search_follows_a_changed_email_at_once(api_client, agent, people):
    lead = people["other"]
    assert _found(api_client, agent, "oldbox") == {lead.public_id}
    response = api_client(agent).patch(
        f"{LEADS_URL}/{lead.public_id}", {"contact": {"email": "zora.quill@newmail.test"}}, format="json"
    )
    assert response.status_code == 200, response.content

    assert _found(api_client, agent, "zora") == {lead.public_id}
    assert _found(api_client, agent, "oldbox") == set()


def test_search_never_shows_another_agents_leads(api_client, agent, other_agent, people):
    assert _found(api_client, other_agent, "jane") == set()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("search", "expected"), [("ane", set()), ("mith", set()), ("xample", set()), ("jan", {"jane", "janet"})]
)
def test_on_postgresql_words_match_from_their_start(api_client, agent, people, search, expected):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")

    assert _found(api_client, agent, search) == {people[name].public_id for name in expected}


@pytest.mark.postgres
@pytest.mark.parametrize("few_matches", [2000, 0])
def test_on_postgresql_the_search_uses_the_gin_index(agent, people, monkeypatch, few_matches):
    """Few matches are read by the GIN index and handed over by id; many stay a subquery on it."""
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    from leads.core import search
    from leads.models import Lead

    monkeypatch.setattr(search, "FEW_MATCHES", few_matches)
    with connection.cursor() as cursor:
        # a handful of rows: only with the scans a million rows rule out does the plan show the index
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        with CaptureQueriesContext(connection) as queries:
            found = search.search_leads(Lead.objects.all(), "jane doe")
            plan = found.explain()
        cursor.execute(f"EXPLAIN {queries.captured_queries[0]['sql']}")
        first_plan = "\n".join(row[0] for row in cursor.fetchall())

    assert [lead.pk for lead in found] == [people["jane"].pk]
    assert "contact_search_document" in first_plan, first_plan
    assert ("contact_search_document" in plan) == (few_matches == 0), plan


@pytest.mark.postgres
def test_on_postgresql_a_whole_email_is_found_by_its_exact_index_first(api_client, agent, people):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")

    with CaptureQueriesContext(connection) as queries:
        assert _found(api_client, agent, "Jane.Doe@Example.com") == {people["jane"].public_id}
    assert any("lower(email) = " in query["sql"] for query in queries.captured_queries)
    # a near miss of a whole address still finds by its words
    assert _found(api_client, agent, "jane.doe@example.co") == {people["jane"].public_id}
