"""The web events API: per lead and matched by email or phone; idempotent; all or
nothing; scoped to the leads the caller may see; rate limited per key."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.events.models import LeadEvent, LeadEventKind
from leads.models import LeadStatus
from leads.tests.api_assertions import assert_error
from leads.tests.factories import LeadFactory
from leads.webevents.models import WebEvent

pytestmark = pytest.mark.django_db

EVENTS_URL = "/api/v2/events"


def events_url(lead) -> str:
    return f"/api/v2/leads/{lead.public_id}/events"


def an_event(n: int = 1, **overrides) -> dict:
    when = timezone.now() - timedelta(minutes=n)
    return {
        "event_id": f"idx-{n}",
        "kind": "listing_viewed",
        "occurred_at": when.isoformat(),
        "listing_ref": f"MLS{n}",
        "listing_url": f"https://idx.example.com/listings/MLS{n}",
        "page_url": "https://idx.example.com/search",
        **overrides,
    }


def test_posting_an_event_stores_it_and_answers_201_with_it(api_client, agent):
    lead = LeadFactory(assigned_to=agent)

    response = api_client(agent).post(events_url(lead), an_event(), format="json")

    assert response.status_code == 201, response.json()
    [event] = response.json()["events"]
    assert event["event_id"] == "idx-1" and event["kind"] == "listing_viewed"
    assert event["lead_id"] == lead.public_id and event["listing_ref"] == "MLS1"
    assert event["occurred_at"].endswith("Z")
    assert WebEvent.objects.filter(lead=lead).count() == 1


def test_the_same_event_id_twice_is_one_row_one_lead_event_and_200_with_the_same_body(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    first = client.post(events_url(lead), an_event(), format="json")

    again = client.post(events_url(lead), an_event(), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["events"] == first.json()["events"]
    assert WebEvent.objects.count() == 1
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.LEAD_WEB_ACTIVITY).count() == 1


def test_a_batch_is_stored_with_one_lead_event_and_the_lead_version_unchanged(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    version = lead.version

    response = api_client(agent).post(events_url(lead), [an_event(n) for n in range(1, 6)], format="json")

    assert response.status_code == 201
    assert len(response.json()["events"]) == 5
    assert LeadEvent.objects.filter(lead=lead).values_list("kind", flat=True).get() == LeadEventKind.LEAD_WEB_ACTIVITY
    lead.refresh_from_db()
    assert lead.version == version


def test_a_batch_with_one_bad_event_stores_nothing_and_names_every_bad_field(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    batch = [an_event(1), an_event(2, kind="listing_liked"), an_event(3, occurred_at="yesterday")]

    response = api_client(agent).post(events_url(lead), batch, format="json")

    error = assert_error(response, 400, "validation_error")
    assert set(error["fields"]) == {"events[1].kind", "events[2].occurred_at"}
    assert not WebEvent.objects.exists()
    assert not LeadEvent.objects.filter(lead=lead).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "listing_liked"}, "kind"),
        ({"kind": None}, "kind"),
        ({"occurred_at": None}, "occurred_at"),
        ({"occurred_at": "not a time"}, "occurred_at"),
        ({"occurred_at": (timezone.now() + timedelta(days=1)).isoformat()}, "occurred_at"),
        ({"occurred_at": "2001-01-01T00:00:00Z"}, "occurred_at"),
        ({"data": {"x": "y" * 5000}}, "data"),
        ({"data": [1, 2]}, "data"),
        ({"listing_url": "ftp://example.com/x"}, "listing_url"),
        ({"page_url": "http://"}, "page_url"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 101}, "event_id"),
        ({"event_id": {"id": 12}}, "event_id"),
        ({"kind": "search_saved", "search": None}, "search"),
        ({"search": "3 beds"}, "search"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api_client, agent, overrides, field):
    lead = LeadFactory(assigned_to=agent)

    response = api_client(agent).post(events_url(lead), an_event(**overrides), format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"], error
    assert not WebEvent.objects.exists()


@pytest.mark.parametrize("body", ["just text", 17, [], [1], None])
def test_a_body_that_is_not_events_is_a_400(api_client, agent, body):
    lead = LeadFactory(assigned_to=agent)
    response = api_client(agent).post(events_url(lead), body, format="json")
    assert_error(response, 400, "validation_error")
    assert not WebEvent.objects.exists()


def test_more_than_100_events_in_a_batch_is_a_400(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    response = api_client(agent).post(events_url(lead), [an_event(n) for n in range(101)], format="json")
    error = assert_error(response, 400, "validation_error")
    assert "At most 100" in error["fields"]["body"][0]


def test_an_agent_cannot_post_or_read_another_agents_leads_events(api_client, agent, other_agent):
    lead = LeadFactory(assigned_to=other_agent)
    client = api_client(agent)

    assert_error(client.post(events_url(lead), an_event(), format="json"), 404, "not_found")
    assert_error(client.post(events_url(lead), {"kind": "bad"}, format="json"), 404, "not_found")  # 404 before 400
    assert_error(client.get(events_url(lead)), 404, "not_found")
    assert not WebEvent.objects.exists()


def test_without_credentials_it_is_a_401(api_client):
    lead = LeadFactory()
    assert api_client().post(events_url(lead), an_event(), format="json").status_code == 401
    assert api_client().post(EVENTS_URL, an_event(email="a@example.com"), format="json").status_code == 401


def test_the_list_is_newest_first_and_paginated(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    client.post(events_url(lead), [an_event(n) for n in range(1, 4)], format="json")

    body = client.get(events_url(lead), {"page_size": 2}).json()

    assert body["total_count"] == 3 and body["page"] == 1 and body["page_size"] == 2
    assert [event["event_id"] for event in body["events"]] == ["idx-1", "idx-2"]  # idx-1 happened last
    second = client.get(events_url(lead), {"page_size": 2, "page": 2}).json()
    assert [event["event_id"] for event in second["events"]] == ["idx-3"]
    assert_error(client.get(events_url(lead), {"page": 0}), 400, "validation_error")


# --- matched by email or phone ------------------------------------------------------------


def test_an_event_is_matched_by_email_in_any_case(api_client, manager):
    lead = LeadFactory(contact__email="Jane.Doe@example.com")

    response = api_client(manager).post(EVENTS_URL, an_event(email="JANE.DOE@EXAMPLE.COM"), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["events"][0]["lead_id"] == lead.public_id


def test_an_event_is_matched_by_phone_in_any_format(api_client, manager):
    lead = LeadFactory(contact__phone="+14155550123")

    response = api_client(manager).post(EVENTS_URL, an_event(phone="(415) 555-0123"), format="json")

    assert response.status_code == 201, response.json()
    assert WebEvent.objects.get().lead_id == lead.pk


def test_an_event_for_an_unknown_lead_is_a_404_and_stores_nothing(api_client, manager):
    LeadFactory(contact__email="known@example.com")
    batch = [an_event(1, email="known@example.com"), an_event(2, email="nobody@example.com")]

    single = api_client(manager).post(EVENTS_URL, an_event(email="nobody@example.com"), format="json")
    batched = api_client(manager).post(EVENTS_URL, batch, format="json")

    assert assert_error(single, 404, "not_found")["message"] == "No lead with this email or phone."
    assert assert_error(batched, 404, "not_found")["fields"] == {"events[1]": ["No lead with this email or phone."]}
    assert not WebEvent.objects.exists()
    assert not LeadEvent.objects.filter(kind=LeadEventKind.LEAD_WEB_ACTIVITY).exists()


def test_an_event_without_email_or_phone_is_a_400(api_client, manager):
    assert_error(api_client(manager).post(EVENTS_URL, an_event(), format="json"), 400, "validation_error")


def test_an_agents_key_matches_only_the_agents_leads(api_client, agent, other_agent):
    LeadFactory(assigned_to=other_agent, contact__email="theirs@example.com")
    response = api_client(agent).post(EVENTS_URL, an_event(email="theirs@example.com"), format="json")
    assert_error(response, 404, "not_found")


def test_when_several_leads_match_the_open_most_recently_active_one_gets_the_event(api_client, manager):
    closed = LeadFactory(contact__email="twice@example.com", status=LeadStatus.LOST)
    older = LeadFactory(contact__email="twice@example.com")
    newer = LeadFactory(contact__email="twice@example.com")
    for lead, age in ((closed, 0), (older, 5), (newer, 1)):
        type(lead).objects.filter(pk=lead.pk).update(updated_at=timezone.now() - timedelta(days=age))

    response = api_client(manager).post(EVENTS_URL, an_event(email="twice@example.com"), format="json")

    assert response.json()["events"][0]["lead_id"] == newer.public_id


def test_an_email_match_wins_over_a_phone_match(api_client, manager):
    by_email = LeadFactory(contact__email="mine@example.com", contact__phone="+14155550100")
    LeadFactory(contact__phone="+14155550199")
    body = an_event(email="mine@example.com", phone="+14155550199")
    response = api_client(manager).post(EVENTS_URL, body, format="json")
    assert response.json()["events"][0]["lead_id"] == by_email.public_id


def test_a_batch_of_100_costs_a_bounded_number_of_queries(api_client, manager):
    leads = [LeadFactory(contact__email=f"many{n}@example.com") for n in range(10)]
    batch = [an_event(n, email=f"many{n % 10}@example.com") for n in range(100)]
    client = api_client(manager)

    with CaptureQueriesContext(connection) as queries:
        response = client.post(EVENTS_URL, batch, format="json")

    assert response.status_code == 201
    assert WebEvent.objects.count() == 100
    assert LeadEvent.objects.filter(kind=LeadEventKind.LEAD_WEB_ACTIVITY).count() == len(leads)
    assert len(queries) <= 15, [query["sql"][:120] for query in queries.captured_queries]


# --- rate limit ------------------------------------------------------------------------------


def test_a_flood_from_one_key_is_a_429_with_retry_after(api_client, agent, settings):
    settings.WEB_EVENTS_RATE_LIMIT = "3/d"
    lead = LeadFactory(assigned_to=agent)
    client = api_client(agent)
    for n in range(3):
        assert client.post(events_url(lead), an_event(n), format="json").status_code == 201

    response = client.post(events_url(lead), an_event(9), format="json")

    assert_error(response, 429, "rate_limited")
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert WebEvent.objects.count() == 3
    assert client.get(events_url(lead)).status_code == 200  # reading is not spent from the events' budget
