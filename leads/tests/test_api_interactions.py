"""REST API v2: POST /api/v2/leads/{id}/interactions with the seed's bodies."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from leads.models import Interaction, Lead, LeadStatus, StatusChange
from leads.tests.api_assertions import assert_envelope, assert_error, lead_url
from leads.tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.django_db

SEED_INTERACTION = {
    "type": "call",
    "summary": "Initial contact made",
    "next_steps": "Schedule property viewing",
    "created_by": "agent1",
    "notes": "Client interested in single-family homes",
}


@pytest.fixture
def lead(agent):
    return LeadFactory(assigned_to=agent)


def add(client, lead, body=None):
    return client.post(lead_url(lead.public_id, interactions=True), body or SEED_INTERACTION, format="json")


def test_the_seed_interaction_answers_201_with_the_lead_and_the_new_interaction(api_client, agent, lead):
    response = add(api_client(agent), lead)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"lead", "metadata", "processing_time"}
    assert_envelope(body)
    [interaction] = body["lead"]["interactions"]
    assert interaction | {"id": None, "timestamp": None, "created_at": None} == {
        "id": None,
        "type": "call",
        "direction": "outbound",
        "summary": "Initial contact made",
        "notes": "Client interested in single-family homes",
        "next_steps": "Schedule property viewing",
        "next_follow_up": None,
        "timestamp": None,
        "created_by": agent.username,
        "created_at": None,
    }
    assert interaction["timestamp"].endswith("Z")
    assert interaction["created_at"].endswith("Z")


def test_the_author_is_the_authenticated_user_not_the_bodys_created_by(api_client, agent, lead):
    add(api_client(agent), lead)

    interaction = Interaction.objects.get(lead=lead)
    assert interaction.created_by == agent
    assert interaction.created_by.username != SEED_INTERACTION["created_by"]


def test_a_naive_next_follow_up_is_read_as_utc(api_client, agent, lead):
    # the seed sends a naive ISO datetime
    follow_up = (timezone.now() + timedelta(days=2)).replace(microsecond=0, tzinfo=None)

    response = add(api_client(agent), lead, SEED_INTERACTION | {"next_follow_up": follow_up.isoformat()})

    assert response.status_code == 201
    assert response.json()["lead"]["interactions"][0]["next_follow_up"] == follow_up.isoformat() + "Z"
    assert Interaction.objects.get(lead=lead).follow_up_due_at == follow_up.replace(tzinfo=UTC)


def test_the_first_outbound_interaction_stamps_first_and_last_contact(api_client, agent, lead):
    before = timezone.now()

    lead_body = add(api_client(agent), lead).json()["lead"]

    lead.refresh_from_db()
    assert before <= lead.first_contacted_at <= timezone.now()
    assert lead.last_contacted_at == lead.first_contacted_at
    assert lead_body["first_contacted_at"] == lead_body["last_contacted_at"]
    assert lead_body["first_contacted_at"].endswith("Z")


def test_a_later_interaction_moves_last_contact_but_keeps_first_contact(api_client, agent, lead):
    client = api_client(agent)
    earlier = timezone.now() - timedelta(hours=3)
    add(client, lead, {"type": "call", "summary": "First", "timestamp": earlier.isoformat()})

    add(client, lead, {"type": "email", "summary": "Second"})

    lead.refresh_from_db()
    assert lead.first_contacted_at == earlier
    assert lead.last_contacted_at > earlier


def test_a_back_dated_interaction_moves_first_contact_back_but_not_last_contact(api_client, agent, lead):
    client = api_client(agent)
    add(client, lead)
    lead.refresh_from_db()
    last = lead.last_contacted_at
    earlier = last - timedelta(days=1)

    add(client, lead, {"type": "call", "summary": "Logged late", "timestamp": earlier.isoformat()})

    lead.refresh_from_db()
    assert (lead.first_contacted_at, lead.last_contacted_at) == (earlier, last)


def test_an_internal_note_stamps_no_contact_and_keeps_the_status(api_client, agent, lead):
    response = add(api_client(agent), lead, {"type": "note", "summary": "Prefers evenings"})

    assert response.json()["lead"]["interactions"][0]["direction"] == "internal"
    lead.refresh_from_db()
    assert (lead.first_contacted_at, lead.last_contacted_at, lead.status) == (None, None, LeadStatus.NEW)
    assert lead.version == 2  # still a change to the lead's story


def test_an_inbound_interaction_stamps_last_contact_only(api_client, agent, lead):
    add(api_client(agent), lead, {"type": "call", "summary": "They called us", "direction": "inbound"})

    lead.refresh_from_db()
    assert lead.first_contacted_at is None
    assert lead.last_contacted_at is not None


def test_the_first_outbound_contact_moves_a_new_lead_to_contacted_and_records_it(api_client, agent, lead):
    add(api_client(agent), lead)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED
    change = StatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("new", "contacted", agent)


def test_an_interaction_on_a_lead_past_new_keeps_its_status(api_client, agent):
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.SHOWING)

    add(api_client(agent), lead)

    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.SHOWING
    assert not StatusChange.objects.filter(lead=lead).exists()


def test_each_interaction_bumps_the_version(api_client, agent, lead):
    client = api_client(agent)

    versions = [add(client, lead).json()["lead"]["version"] for _ in range(3)]

    assert versions == [2, 3, 4]


def test_interactions_are_listed_newest_first(api_client, agent, lead):
    older = InteractionFactory(lead=lead, occurred_at=timezone.now() - timedelta(days=2))
    newer = InteractionFactory(lead=lead, occurred_at=timezone.now() - timedelta(days=1))

    response = api_client(agent).get(lead_url(lead.public_id, interactions=True))

    assert response.status_code == 200
    assert_envelope(response.json())
    assert [item["id"] for item in response.json()["interactions"]] == [newer.pk, older.pk]


# --- when it happened ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "9999-12-31T23:59:59Z"),
        ("occurred_at", "9999-12-31T00:00:00+00:00"),
        ("timestamp", "in ten minutes"),
        ("occurred_at", "in ten minutes"),
    ],
)
def test_an_interaction_in_the_future_is_refused_by_name_and_changes_nothing(api_client, agent, lead, field, value):
    if value == "in ten minutes":
        value = (timezone.now() + timedelta(minutes=10)).isoformat()

    response = add(api_client(agent), lead, {**SEED_INTERACTION, field: value})

    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == [field]
    assert "in the future" in error["fields"][field][0]
    assert not Interaction.objects.filter(lead=lead).exists()
    lead.refresh_from_db()
    assert (lead.first_contacted_at, lead.last_contacted_at, lead.version) == (None, None, 1)


def test_a_clock_a_little_fast_is_forgiven_and_follow_ups_may_be_far_ahead(api_client, agent, lead):
    soon = timezone.now() + timedelta(minutes=3)
    much_later = timezone.now() + timedelta(days=400)

    response = add(
        api_client(agent),
        lead,
        {**SEED_INTERACTION, "timestamp": soon.isoformat(), "next_follow_up": much_later.isoformat()},
    )

    assert response.status_code == 201, response.content
    interaction = Interaction.objects.get(lead=lead)
    assert interaction.occurred_at == soon
    assert interaction.follow_up_due_at == much_later
    lead.refresh_from_db()
    assert lead.first_contacted_at == soon


def test_the_margin_is_a_setting(settings, api_client, agent, lead):
    settings.INTERACTION_MAX_FUTURE_MINUTES = 60

    response = add(
        api_client(agent), lead, {**SEED_INTERACTION, "timestamp": (timezone.now() + timedelta(minutes=30)).isoformat()}
    )

    assert response.status_code == 201, response.content
