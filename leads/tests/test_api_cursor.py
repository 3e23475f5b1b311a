"""GET /api/v2/leads?cursor=...: keyset pagination for integrations that walk every
lead; each lead once, newest first, the same few queries at any depth."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead, LeadStatus
from leads.tests.api_assertions import LEADS_URL
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def walk(client, query: str = "", page_size: int = 7) -> tuple[list[str], int]:
    """Every id the cursor walk returns, following next_cursor from page 1; and the
    number of pages read."""
    response = client.get(f"{LEADS_URL}?page_size={page_size}{query}")
    seen, pages = [], 0
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [lead["id"] for lead in body["leads"]]
        pages += 1
        if body["next_cursor"] is None:
            return seen, pages
        response = client.get(f"{LEADS_URL}?page_size={page_size}&cursor={body['next_cursor']}{query}")


def newest_first(leads) -> list[str]:
    return [lead.public_id for lead in sorted(leads, key=lambda lead: (lead.created_at, lead.pk), reverse=True)]


@pytest.fixture
def thirty_leads(agent):
    leads = LeadFactory.create_batch(30, assigned_to=agent)
    # a third of them share one created_at instant: the id breaks the tie
    same_instant = timezone.now() - timedelta(days=3)
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[::3]]).update(created_at=same_instant)
    return list(Lead.objects.filter(pk__in=[lead.pk for lead in leads]))


def test_the_cursor_walks_every_lead_once_newest_first(api_client, agent, thirty_leads):
    seen, pages = walk(api_client(agent))

    assert seen == newest_first(thirty_leads)
    assert pages == 5  # 7 + 7 + 7 + 7 + 2


def test_a_cursor_page_reports_the_total_and_no_page_number(api_client, agent, thirty_leads):
    client = api_client(agent)
    first = client.get(f"{LEADS_URL}?page_size=10").json()
    assert (first["page"], first["total_count"]) == (1, 30)

    second = client.get(f"{LEADS_URL}?page_size=10&cursor={first['next_cursor']}").json()

    assert (second["page"], second["page_size"], second["total_count"]) == (None, 10, 30)
    assert [lead["id"] for lead in second["leads"]] == newest_first(thirty_leads)[10:20]


def test_the_cursor_keeps_the_filters_and_the_visibility(api_client, agent, other_agent, manager, thirty_leads):
    LeadFactory.create_batch(5, assigned_to=other_agent)
    contacted = thirty_leads[:12]
    Lead.objects.filter(pk__in=[lead.pk for lead in contacted]).update(status=LeadStatus.CONTACTED)

    assert walk(api_client(agent), "&status=contacted", page_size=5)[0] == newest_first(contacted)
    assert walk(api_client(other_agent), page_size=2)[0] == newest_first(Lead.objects.filter(assigned_to=other_agent))
    assert len(walk(api_client(manager), page_size=100)[0]) == 35


def test_leads_archived_during_a_walk_are_skipped_and_nothing_repeats(api_client, agent, thirty_leads):
    client = api_client(agent)
    first = client.get(f"{LEADS_URL}?page_size=10").json()
    order = newest_first(thirty_leads)
    Lead.objects.filter(public_id__in=order[8:12]).update(archived_at=timezone.now())

    second = client.get(f"{LEADS_URL}?page_size=10&cursor={first['next_cursor']}").json()

    assert [lead["id"] for lead in second["leads"]] == order[12:22]


def test_a_deep_cursor_page_costs_what_the_first_costs(api_client, agent, thirty_leads, django_assert_max_num_queries):
    client = api_client(agent)
    body = client.get(f"{LEADS_URL}?page_size=2").json()
    for _ in range(10):
        body = client.get(f"{LEADS_URL}?page_size=2&cursor={body['next_cursor']}").json()

    with django_assert_max_num_queries(4):  # token, count, page, its interactions
        response = client.get(f"{LEADS_URL}?page_size=2&cursor={body['next_cursor']}")
    assert len(response.json()["leads"]) == 2


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "\x00abc",
        "x" * 201,
        "====",
        "🙂",
        forged("v1:abc:12"),
        forged("v1:1700000000000000:-1"),
        forged("v1:1700000000000000:99999999999999999999"),
        forged("v1:999999999999999999999999999:1"),
        forged("v2:1700000000000000:1"),
        forged("v1:1700000000000000"),
        base64.urlsafe_b64encode(b"\xff\xfe:1:2").decode(),
    ],
)
def test_a_cursor_we_did_not_issue_is_a_400(api_client, agent, thirty_leads, cursor):
    response = api_client(agent).get(LEADS_URL, {"cursor": cursor})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "cursor" in error["fields"]


def test_cursor_with_page_or_another_ordering_is_a_400(api_client, agent, thirty_leads):
    client = api_client(agent)
    cursor = client.get(f"{LEADS_URL}?page_size=5").json()["next_cursor"]

    with_page = client.get(LEADS_URL, {"cursor": cursor, "page": 2})
    by_score = client.get(LEADS_URL, {"cursor": cursor, "ordering": "-score"})
    explicit_default = client.get(LEADS_URL, {"cursor": cursor, "ordering": "-created_at"})

    assert with_page.status_code == by_score.status_code == 400
    assert "cursor" in with_page.json()["error"]["fields"]
    assert "cursor" in by_score.json()["error"]["fields"]
    assert explicit_default.status_code == 200
    assert client.get(f"{LEADS_URL}?ordering=-score").json()["next_cursor"] is None


def test_the_last_page_has_no_next_cursor(api_client, agent, thirty_leads):
    client = api_client(agent)

    assert client.get(f"{LEADS_URL}?page_size=30").json()["next_cursor"] is None
    assert client.get(f"{LEADS_URL}?page_size=29").json()["next_cursor"] is not None
    assert client.get(f"{LEADS_URL}?page=2&page_size=15").json()["next_cursor"] is None


@pytest.mark.parametrize("ordering", ["", "-score", "last_name", "status"])
def test_every_page_by_number_holds_the_leads_of_its_place(api_client, agent, thirty_leads, ordering):
    for score, lead in enumerate(thirty_leads):
        Lead.objects.filter(pk=lead.pk).update(score=score % 7)
    client = api_client(agent)
    query = f"&ordering={ordering}" if ordering else ""
    everything = [lead["id"] for lead in client.get(f"{LEADS_URL}?page_size=100{query}").json()["leads"]]

    pages = [client.get(f"{LEADS_URL}?page={page}&page_size=7{query}").json()["leads"] for page in range(1, 6)]

    assert [lead["id"] for page in pages for lead in page] == everything
    assert len(everything) == 30
