"""Duplicates: a create whose email (any case) or phone (any formatting of the
same number) matches a lead the team has is a 409, or with on_duplicate=attach
becomes an inbound note on the existing lead."""

import pytest
from django.db import connection
from django.db.models.functions import Lower

from leads.core.duplicates import contact_matches
from leads.models import Contact, Interaction, InteractionDirection, Lead
from leads.tests.api_assertions import LEADS_URL, assert_error, db_snapshot, lead_url
from leads.tests.concurrency import run_at_once
from leads.tests.factories import ContactFactory, LeadFactory, UserFactory, seed_payload

pytestmark = pytest.mark.django_db

DUPLICATE_DETAILS = {"existing_lead_id", "existing_lead_visible"}


def existing_lead(*, assigned_to, email="jane.doe@example.com", phone="+14155550134", **kwargs) -> Lead:
    lead = LeadFactory(assigned_to=assigned_to, contact=None, **kwargs)
    ContactFactory(lead=lead, first_name="Jane", last_name="Doe", email=email, phone=phone)
    return lead


def new_lead(*, email=None, phone=None, **overrides) -> dict:
    contact = {"first_name": "Janet", "last_name": "Doe"}
    if email:
        contact["email"] = email
    if phone:
        contact["phone"] = phone
    return seed_payload(contact=contact, **overrides)


# --- 409 ------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["jane.doe@example.com", "Jane.Doe@Example.COM", " JANE.DOE@EXAMPLE.COM "])
def test_the_same_email_in_any_case_is_a_409_with_the_existing_id(api_client, manager, agent, email):
    lead = existing_lead(assigned_to=agent)
    before = db_snapshot()

    response = api_client(manager).post(LEADS_URL, new_lead(email=email), format="json")

    error = assert_error(response, 409, "duplicate_lead", details=DUPLICATE_DETAILS)
    assert error["existing_lead_id"] == lead.public_id
    assert error["existing_lead_visible"] is True
    assert error["fields"] == {"contact.email": ["A lead with this email address already exists."]}
    assert db_snapshot() == before


@pytest.mark.parametrize("phone", ["+1 (415) 555-0134", "415.555.0134", "+14155550134", "(415) 555 0134"])
def test_the_same_phone_in_any_format_is_a_409(api_client, manager, agent, phone):
    lead = existing_lead(assigned_to=agent)
    before = db_snapshot()

    response = api_client(manager).post(LEADS_URL, new_lead(phone=phone), format="json")

    error = assert_error(response, 409, "duplicate_lead", details=DUPLICATE_DETAILS)
    assert error["existing_lead_id"] == lead.public_id
    assert error["fields"] == {"contact.phone": ["A lead with this phone number already exists."]}
    assert db_snapshot() == before


def test_a_match_on_both_names_both_fields(api_client, manager, agent):
    existing_lead(assigned_to=agent)

    response = api_client(manager).post(
        LEADS_URL, new_lead(email="JANE.doe@example.com", phone="415-555-0134"), format="json"
    )

    error = assert_error(response, 409, "duplicate_lead", details=DUPLICATE_DETAILS)
    assert set(error["fields"]) == {"contact.email", "contact.phone"}


def test_an_agent_is_told_of_another_agents_lead_by_id_only(api_client, agent, other_agent):
    # given a lead of another agent
    lead = existing_lead(assigned_to=other_agent)

    # when an agent creates the same person
    response = api_client(agent).post(LEADS_URL, new_lead(email="jane.doe@example.com"), format="json")

    # then the 409 names the lead and says the agent cannot see it, and nothing else
    error = assert_error(response, 409, "duplicate_lead", details=DUPLICATE_DETAILS)
    assert error["existing_lead_id"] == lead.public_id
    assert error["existing_lead_visible"] is False
    assert "Jane" not in response.content.decode()
    assert Lead.objects.count() == 1


def test_an_agents_own_lead_is_visible_in_the_409(api_client, agent):
    existing_lead(assigned_to=agent)

    error = assert_error(
        api_client(agent).post(LEADS_URL, new_lead(phone="4155550134"), format="json"),
        409,
        "duplicate_lead",
        details=DUPLICATE_DETAILS,
    )

    assert error["existing_lead_visible"] is True


def test_other_people_are_not_duplicates(api_client, manager, agent):
    existing_lead(assigned_to=agent)

    response = api_client(manager).post(
        LEADS_URL, new_lead(email="jane.doe2@example.com", phone="+14155550135"), format="json"
    )

    assert response.status_code == 201


def test_gmail_dots_and_tags_are_different_addresses(api_client, manager, agent):
    existing_lead(assigned_to=agent, email="jane.doe@gmail.com", phone="")

    for email in ("janedoe@gmail.com", "jane.doe+homes@gmail.com"):
        assert api_client(manager).post(LEADS_URL, new_lead(email=email), format="json").status_code == 201


def test_an_archived_lead_is_not_a_duplicate(api_client, manager, agent):
    lead = existing_lead(assigned_to=agent)
    api_client(manager).delete(lead_url(lead.public_id))

    response = api_client(manager).post(LEADS_URL, new_lead(email="jane.doe@example.com"), format="json")

    assert response.status_code == 201


# --- attach -------------------------------------------------------------------------------


def test_attach_adds_the_inquiry_to_the_existing_lead_and_answers_200_with_it(api_client, manager, agent):
    lead = existing_lead(assigned_to=agent)
    body = new_lead(email="JANE.DOE@example.com", source="zillow")
    body["preferences"]["preferred_locations"] = ["Oakland"]

    response = api_client(manager).post(f"{LEADS_URL}?on_duplicate=attach", body, format="json")

    # then 200 with the existing lead, now carrying the inquiry as an inbound note
    assert response.status_code == 200
    answer = response.json()
    assert answer["attached_to"] == lead.public_id
    assert answer["lead"]["id"] == lead.public_id
    assert response["ETag"] == f'"{answer["lead"]["version"]}"'
    [inquiry] = Interaction.objects.filter(lead=lead)
    assert inquiry.type == "note"
    assert inquiry.direction == InteractionDirection.INBOUND
    assert inquiry.summary == "New inquiry via Zillow"
    assert "Name: Janet Doe" in inquiry.notes
    assert "Email: JANE.DOE@example.com" in inquiry.notes
    assert "Locations: Oakland" in inquiry.notes
    assert inquiry.created_by == manager
    assert answer["lead"]["interactions"][0]["summary"] == "New inquiry via Zillow"
    # and no new lead; the existing lead's own values are left alone
    assert Lead.objects.count() == 1
    contact = Contact.objects.get(lead=lead)
    assert (contact.first_name, contact.email) == ("Jane", "jane.doe@example.com")
    assert Lead.objects.get(pk=lead.pk).version == lead.version + 1


def test_attach_can_be_asked_for_in_the_body(api_client, manager, agent):
    lead = existing_lead(assigned_to=agent)

    response = api_client(manager).post(
        LEADS_URL, {**new_lead(phone="415 555 0134"), "on_duplicate": "attach"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["attached_to"] == lead.public_id
    assert Interaction.objects.filter(lead=lead).count() == 1


def test_attach_to_a_lead_the_agent_cannot_see_answers_without_it(api_client, agent, other_agent):
    lead = existing_lead(assigned_to=other_agent)

    response = api_client(agent).post(
        f"{LEADS_URL}?on_duplicate=attach", new_lead(email="jane.doe@example.com"), format="json"
    )

    # the inquiry reaches the lead's owner, the agent learns only its id
    assert response.status_code == 200
    answer = response.json()
    assert answer["lead"] is None
    assert answer["attached_to"] == lead.public_id
    assert "ETag" not in response
    assert Interaction.objects.get(lead=lead).created_by == agent


def test_attach_without_a_duplicate_creates_the_lead(api_client, manager):
    response = api_client(manager).post(f"{LEADS_URL}?on_duplicate=attach", new_lead(email="x@y.org"), format="json")

    assert response.status_code == 201
    assert "attached_to" not in response.json()
    assert Lead.objects.count() == 1


def test_attach_still_refuses_bad_input(api_client, manager, agent):
    existing_lead(assigned_to=agent)
    body = new_lead(email="jane.doe@example.com")
    body["preferences"].update(min_price=900000, max_price=100000)
    before = db_snapshot()

    response = api_client(manager).post(f"{LEADS_URL}?on_duplicate=attach", body, format="json")

    assert_error(response, 400, "validation_error")
    assert db_snapshot() == before


@pytest.mark.parametrize("value", ["merge", "", "ATTACH"])
def test_an_unknown_on_duplicate_is_a_400_and_changes_nothing(api_client, manager, value):
    response = api_client(manager).post(f"{LEADS_URL}?on_duplicate={value}", new_lead(email="a@b.org"), format="json")

    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["on_duplicate"]
    assert not Lead.objects.exists()


# --- the lookup -----------------------------------------------------------------------------


def test_the_lookup_is_one_query_and_picks_the_oldest_lead(django_assert_num_queries, agent):
    oldest = existing_lead(assigned_to=agent)
    existing_lead(assigned_to=agent)  # the same person entered again later (before the check existed)

    with django_assert_num_queries(1):
        by_email, by_phone = contact_matches(emails=["Jane.Doe@example.com"], phones=["+14155550134"])

    assert by_email["jane.doe@example.com"].public_id == oldest.public_id
    assert by_phone["+14155550134"].public_id == oldest.public_id


@pytest.mark.postgres
def test_the_email_lookup_can_use_the_lower_email_index(agent):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    existing_lead(assigned_to=agent)
    # the filter contact_matches uses
    matches = Contact.objects.alias(email_key=Lower("email")).filter(email_key__in=["jane.doe@example.com"])

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = matches.explain()

    assert "contact_email_lower" in plan


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_person_make_one_lead(api_client):
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    # given ten portals sending the same new person at the same moment, without keys
    users = [UserFactory(username=f"portal{number}", role="manager") for number in range(10)]
    clients = [api_client(user) for user in users]
    body = new_lead(email="Race@Example.com", phone="+14155550177")

    answers, errors = run_at_once(10, lambda index: clients[index].post(LEADS_URL, body, format="json"))

    # then one is created and nine are told about it
    assert errors == []
    statuses = sorted(answer.status_code for answer in answers)
    print(f"\nconcurrent duplicate creates: 10 requests, statuses {statuses}")
    assert statuses == [201] + [409] * 9
    created = Lead.objects.get()
    assert {answer.json()["error"]["existing_lead_id"] for answer in answers if answer.status_code == 409} == {
        created.public_id
    }
