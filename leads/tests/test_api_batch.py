"""POST /api/v2/leads/batch: up to 500 leads, one result per item in input order,
bulk writes, the after-save work scheduled once per new lead."""

import time

import pytest
from django.db import connection

from leads.bulk import COPY_FROM_ROWS
from leads.models import AuditEntry, Contact, Lead, LeadEvent, LeadStatus, ProcessingStatus, StatusChange
from leads.tests.api_assertions import LEADS_URL, assert_envelope, assert_error, db_snapshot
from leads.tests.factories import ContactFactory, LeadFactory, seed_payload

pytestmark = pytest.mark.django_db

BATCH_URL = f"{LEADS_URL}/batch"


def person(number: int, **overrides) -> dict:
    contact = {
        "first_name": f"Person{number}",
        "email": f"person{number}@example.com",
        "phone": f"+1510555{number:04d}",
    }
    return seed_payload(contact=contact, **overrides)


def test_mixed_good_and_bad_items_are_answered_in_input_order(api_client, manager, agent):
    # given a lead the team already has
    known = LeadFactory(assigned_to=agent, contact=None)
    ContactFactory(lead=known, email="known@example.com", phone="+14155550100")
    items = [
        person(1),
        seed_payload(contact={"first_name": "Bad", "email": "not-an-email"}),
        person(2, lead_type="seller", source="zillow"),
        seed_payload(contact={"first_name": "Known", "email": "KNOWN@example.com"}),
        seed_payload(contact={"first_name": "Again", "phone": "(510) 555-0001"}),  # item 0's phone
        "not an object",
        person(3, preferences={"min_price": 500000, "max_price": 100000}),
        person(4, assigned_to="agent_smith"),
    ]

    response = api_client(manager).post(BATCH_URL, {"leads": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert_envelope(body)
    results = body["results"]
    assert [result["index"] for result in results] == list(range(8))
    assert [result["status"] for result in results] == [
        "created",
        "error",
        "created",
        "duplicate",
        "duplicate",
        "error",
        "error",
        "created",
    ]
    assert body["counts"] == {"created": 3, "duplicate": 2, "error": 3}
    assert body["total_count"] == 8
    # errors name the fields, as a single create would
    assert results[1]["errors"] == {"contact.email": ["Enter a valid email address."]}
    assert results[5]["errors"] == {"body": ["Invalid data. Expected a dictionary, but got str."]}
    assert results[6]["errors"] == {"preferences.min_price": ["Must not be greater than max_price."]}
    # duplicates name the lead they duplicate: a team lead, or an earlier item
    assert results[3]["existing_lead_id"] == known.public_id
    assert results[3]["errors"] == {"contact.email": ["A lead with this email address already exists."]}
    assert results[4]["existing_lead_id"] == results[0]["lead_id"]
    assert results[4]["existing_lead_visible"] is True
    # the created leads are complete and the others left no trace
    created = {result["lead_id"] for result in results if result["status"] == "created"}
    assert set(Lead.objects.exclude(pk=known.pk).values_list("public_id", flat=True)) == created
    second = Lead.objects.select_related("contact", "preferences", "timeline").get(public_id=results[2]["lead_id"])
    assert (second.lead_type, second.source, second.status) == ("seller", "zillow", LeadStatus.NEW)
    assert second.contact.email == "person2@example.com"
    assert second.preferences.property_types == ["single_family"]
    assert second.timeline.urgency_level == "normal"
    assert Lead.objects.get(public_id=results[7]["lead_id"]).assigned_to == agent
    assert not Contact.objects.filter(first_name__in=["Bad", "Known", "Again"]).exists()


def test_items_that_are_not_objects_each_get_an_error_and_the_valid_one_is_created(api_client, manager):
    items = [None, person(1), 1, "x", {}, [], True]

    response = api_client(manager).post(BATCH_URL, {"leads": items}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [result["status"] for result in body["results"]] == ["error", "created", *["error"] * 5]
    assert body["counts"] == {"created": 1, "duplicate": 0, "error": 6}
    assert body["results"][0] == {
        "index": 0,
        "status": "error",
        "code": "validation_error",
        "errors": {"body": ["This field may not be null."]},
    }
    for index in (2, 3, 5, 6):
        assert list(body["results"][index]["errors"]) == ["body"]
    assert set(body["results"][4]["errors"]) == {"contact", "lead_type"}
    assert list(Lead.objects.values_list("public_id", flat=True)) == [body["results"][1]["lead_id"]]


def test_each_new_lead_gets_its_status_history_audit_entry_and_one_pipeline_job(api_client, manager):
    response = api_client(manager).post(BATCH_URL, {"leads": [person(1), person(2), person(3)]}, format="json")

    leads = Lead.objects.filter(public_id__in=[result["lead_id"] for result in response.json()["results"]])
    assert leads.count() == 3
    for lead in leads:
        assert list(StatusChange.objects.filter(lead=lead).values_list("from_status", "to_status")) == [("", "new")]
        assert list(AuditEntry.objects.filter(lead=lead).values_list("field", "channel", "actor")) == [
            ("created", "api", manager.pk)
        ]
        assert list(LeadEvent.objects.filter(lead=lead).values_list("lead_version", "kind")) == [(1, "lead.created")]


def test_the_after_save_work_is_sent_once_the_batch_commits(api_client, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client(manager).post(BATCH_URL, {"leads": [person(1), person(2)]}, format="json")

    # the batch's commit queued one relay of its events; the (in-process) workers then
    # analysed and scored each lead (their scores are events of their own)
    assert callbacks[0].func.__name__ == "send_relay"
    assert sorted(callbacks[0].args[0]) == sorted(
        LeadEvent.objects.filter(kind="lead.created").values_list("pk", flat=True)
    )
    ids = [result["lead_id"] for result in response.json()["results"]]
    for lead in Lead.objects.filter(public_id__in=ids):
        assert lead.processing_status == ProcessingStatus.DONE
        assert lead.processed_version == 1
        assert lead.score is not None


def test_an_agents_batch_is_theirs_and_may_not_assign_others(api_client, agent, other_agent):
    response = api_client(agent).post(
        BATCH_URL, {"leads": [person(1), person(2, assigned_to=other_agent.username)]}, format="json"
    )

    first, second = response.json()["results"]
    assert first["status"] == "created"
    assert Lead.objects.get(public_id=first["lead_id"]).assigned_to == agent
    assert second == {
        "index": 1,
        "status": "error",
        "code": "permission_denied",
        "errors": {"body": ["Agents can only assign leads to themselves, and managers to the members of their team."]},
    }


def test_a_duplicate_of_another_agents_lead_is_not_shown_to_an_agent(api_client, agent, other_agent):
    theirs = LeadFactory(assigned_to=other_agent, contact=None)
    ContactFactory(lead=theirs, email="theirs@example.com")

    response = api_client(agent).post(
        BATCH_URL, {"leads": [seed_payload(contact={"first_name": "T", "email": "theirs@example.com"})]}, format="json"
    )

    [result] = response.json()["results"]
    assert result["status"] == "duplicate"
    assert result["existing_lead_id"] == theirs.public_id
    assert result["existing_lead_visible"] is False


def test_a_batch_created_lead_reads_back_like_a_single_create(api_client, manager, agent):
    # given one body with every kind of value (text, decimals, dates, booleans, lists, a dict)
    def body(number: int) -> dict:
        return seed_payload(
            contact={
                "first_name": "Zoë",
                "last_name": 'O\'Brien, "Jr"\ttab',
                "email": f"zoe{number}@example.com",
                "phone": f"+1510555{number:04d}",
                "preferred_contact_method": "text",
                "sms_opt_out": True,
            },
            assigned_to=agent.username,
            status="qualified",
            preferences={
                "property_types": ["condo", "Single Family"],
                "min_price": 300000.5,
                "max_price": 500000,
                "min_bedrooms": 2,
                "min_bathrooms": 1.5,
                "preferred_locations": ["Oakland", "San Francisco"],
                "must_have_features": ["garage\\backslash", "{braces}"],
            },
            timeline={"urgency_level": "high", "target_move_date": "2027-03-01", "pre_approval_amount": 450000},
            tags=["vip", "line\nbreak"],
            metadata={"campaign": "spring", "note": "NULL \\N"},
        )

    client = api_client(manager)
    response = client.post(LEADS_URL, body(1), format="json")
    assert response.status_code == 201, response.json()
    single = response.json()["lead"]
    # (enough leads that PostgreSQL writes them with COPY: leads.bulk.COPY_FROM_ROWS)
    many = [body(number) for number in range(2, 2 + COPY_FROM_ROWS)]
    batch = client.post(BATCH_URL, {"leads": many}, format="json").json()["results"][0]

    # then both read back the same, but for their ids, contact details and times
    read = [client.get(f"{LEADS_URL}/{lead_id}").json()["lead"] for lead_id in (single["id"], batch["lead_id"])]
    for lead in read:
        for key in ("id", "created_at", "updated_at", "status_history", "processing"):
            lead.pop(key, None)
        lead["contact"].pop("email")
        lead["contact"].pop("phone")
    assert read[0] == read[1]
    assert read[1]["contact"]["last_name"].startswith('O\'Brien, "Jr"')
    assert read[1]["preferences"]["must_have_features"] == ["garage\\backslash", "{braces}"]


def test_five_hundred_leads_are_created_with_a_fixed_number_of_queries(
    api_client, manager, django_assert_max_num_queries
):
    items = [person(number) for number in range(500)]
    client = api_client(manager)

    # Independent of the number of leads; SQLite binds at most 999 parameters per
    # statement, so there each bulk insert goes in a few chunks.
    bound = 20 if connection.vendor == "postgresql" else 60
    started = time.perf_counter()
    with django_assert_max_num_queries(bound):
        response = client.post(BATCH_URL, {"leads": items}, format="json")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert response.json()["counts"] == {"created": 500, "duplicate": 0, "error": 0}
    assert Lead.objects.count() == Contact.objects.count() == LeadEvent.objects.count() == 500
    print(f"\nbatch of 500 on {connection.vendor}: {elapsed:.2f} s (after-save work not run: no commit)")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"leads": [person(1)] * 501}, "leads"),
        ({"leads": []}, "leads"),
        ({"leads": {"0": person(1)}}, "leads"),
        ({}, "leads"),
        ([person(1)], "body"),
    ],
    ids=["501 items", "no items", "not a list", "no leads key", "a bare list"],
)
def test_a_malformed_batch_is_a_400_and_creates_nothing(api_client, manager, body, field):
    before = db_snapshot()

    response = api_client(manager).post(BATCH_URL, body, format="json")

    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == [field]
    assert db_snapshot() == before


def test_a_batch_needs_credentials(api_client):
    assert_error(api_client().post(BATCH_URL, {"leads": [person(1)]}, format="json"), 401, "not_authenticated")
    assert not Lead.objects.exists()


def test_get_on_the_batch_is_a_405(api_client, manager):
    assert_error(api_client(manager).get(BATCH_URL), 405, "method_not_allowed")
