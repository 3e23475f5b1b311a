"""REST API v2, success paths: create, read, update (PUT and PATCH) and list,
with the seed document's bodies sent verbatim."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Lead, LeadStatus, StatusChange, UrgencyLevel
from leads.tests.api_assertions import LEADS_URL, assert_envelope, lead_url
from leads.tests.factories import LeadFactory, seed_payload

pytestmark = pytest.mark.django_db

SEED_MINIMAL_CREATE = {
    "contact": {"first_name": "John", "last_name": "Doe", "email": "john@example.com"},
    "lead_type": "buyer",
    "source": "website",
    "preferences": {"property_type": ["Single Family"], "preferred_locations": ["San Francisco"]},
    "timeline": {},
}
SEED_UPDATE = {
    "status": "contacted",
    "preferences": {
        "property_type": ["Single Family", "Condo"],
        "preferred_locations": ["San Francisco", "Oakland"],
    },
}
LEAD_KEYS = {
    "id",
    "contact",
    "lead_type",
    "source",
    "status",
    "assigned_to",
    "score",
    "score_breakdown",
    "win_probability",
    "win_probability_reason",
    "win_factors",
    "win_model_version",
    "preferences",
    "timeline",
    "interactions",
    "tags",
    "version",
    "processing",
    "sla",
    "first_contacted_at",
    "last_contacted_at",
    "created_at",
    "updated_at",
    "metadata",
}


def create(client, body=None) -> dict:
    response = client.post(LEADS_URL, body or seed_payload(), format="json")
    assert response.status_code == 201, response.content
    return response.json()["lead"]


def assert_utc_z(value: str) -> None:
    assert value.endswith("Z") and "+00:00" not in value


# --- create ------------------------------------------------------------------


def test_create_with_the_seed_body_answers_201_with_the_lead_envelope(api_client, agent):
    # when the seed's create example is sent verbatim
    response = api_client(agent).post(LEADS_URL, seed_payload(), format="json")

    # then the envelope and the lead are as the contract says
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"lead", "metadata", "processing_time"}
    assert_envelope(body)
    lead = body["lead"]
    assert set(lead) == LEAD_KEYS
    assert lead["id"].startswith("lead_")
    assert lead["contact"] == {
        "first_name": "John",
        "last_name": "Doe",
        "email": "john@example.com",
        "phone": "+1234567890",
        "phone_is_valid": False,  # kept, but flagged: not a real number in its region
        "preferred_contact_method": "email",
        "best_time_to_contact": None,
        "preferred_language": None,
        "email_opt_out": False,
        "sms_opt_out": False,
        "call_opt_out": False,
    }
    assert (lead["lead_type"], lead["source"], lead["status"]) == ("buyer", "website", "new")
    assert lead["preferences"]["property_type"] == ["Single Family"]
    assert lead["preferences"]["property_types"] == ["single_family"]
    assert (lead["preferences"]["min_price"], lead["preferences"]["max_price"]) == (300000, 500000)
    assert lead["preferences"]["preferred_locations"] == ["San Francisco"]
    assert lead["timeline"]["urgency_level"] == "normal"
    assert lead["timeline"]["financing_status"] == "not_started"
    assert lead["interactions"] == []
    assert lead["version"] == 1
    assert {"market_analysis", "lead_insights"} <= set(lead["metadata"])
    assert_utc_z(lead["created_at"])
    assert_utc_z(lead["updated_at"])


def test_create_stores_the_lead_its_parts_and_the_first_status(api_client, agent):
    lead_id = create(api_client(agent))["id"]

    lead = Lead.objects.select_related("contact", "preferences", "timeline").get(public_id=lead_id)
    assert lead.assigned_to == agent
    assert lead.contact.email == "john@example.com"
    assert lead.preferences.min_price == Decimal("300000")
    assert lead.timeline.urgency_level == UrgencyLevel.NORMAL
    change = StatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("", LeadStatus.NEW, agent)


def test_create_with_the_seed_tests_minimal_body(api_client, agent):
    lead = create(api_client(agent), SEED_MINIMAL_CREATE)

    assert lead["contact"]["phone"] is None
    assert lead["preferences"]["min_price"] is None
    assert lead["preferences"]["max_price"] is None
    assert lead["timeline"] == {
        "urgency_level": "normal",
        "financing_status": "not_started",
        "target_move_date": None,
        "desired_move_in_date": None,
        "pre_approval_amount": None,
    }


def test_create_accepts_every_field_of_the_seed_document(api_client, agent):
    body = seed_payload()
    body["contact"] |= {"preferred_contact_method": "email", "best_time_to_contact": "morning"}
    body["preferences"] |= {
        "bedrooms": 3,
        "bathrooms": 2.5,
        "square_feet": 1800,
        "must_have_features": ["garage", "garden"],
        "nice_to_have_features": ["pool"],
    }
    body["timeline"] |= {"desired_move_in_date": "2024-06-01T00:00:00Z", "pre_approval_amount": 450000.0}

    lead = create(api_client(agent), body)

    assert lead["contact"]["preferred_contact_method"] == "email"
    assert lead["contact"]["best_time_to_contact"] == "morning"
    prefs = lead["preferences"]
    assert (prefs["min_bedrooms"], prefs["min_bathrooms"], prefs["min_square_feet"]) == (3, 2.5, 1800)
    assert prefs["must_have_features"] == ["garage", "garden"]
    assert prefs["nice_to_have_features"] == ["pool"]
    assert lead["timeline"]["desired_move_in_date"] == "2024-06-01T00:00:00Z"
    assert lead["timeline"]["target_move_date"] == "2024-06-01"
    assert lead["timeline"]["pre_approval_amount"] == 450000


def test_create_normalises_email_domain_and_phone(api_client, agent):
    body = seed_payload(contact={"first_name": "Ana", "email": "Ana.Lopez@Example.COM", "phone": "(415) 555-0134"})

    contact = create(api_client(agent), body)["contact"]

    assert contact["email"] == "Ana.Lopez@example.com"
    assert (contact["phone"], contact["phone_is_valid"]) == ("+14155550134", True)


def test_create_with_only_a_phone_is_reachable_enough(api_client, agent):
    body = {"contact": {"first_name": "Walk", "phone": "+14155550134"}, "lead_type": "seller"}

    lead = create(api_client(agent), body)

    assert lead["contact"]["email"] is None
    assert lead["source"] == "other"


# --- read ----------------------------------------------------------------------


def test_get_answers_the_lead_in_the_envelope(api_client, agent):
    client = api_client(agent)
    created = create(client)

    response = client.get(lead_url(created["id"]))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"lead", "metadata", "processing_time"}
    assert_envelope(body)
    assert body["lead"] == created


def test_get_accepts_a_trailing_slash(api_client, agent):
    lead = LeadFactory(assigned_to=agent)

    response = api_client(agent).get(lead_url(lead.public_id) + "/")

    assert response.status_code == 200
    assert response.json()["lead"]["id"] == lead.public_id


# --- update --------------------------------------------------------------------


def test_the_seed_update_merges_and_keeps_the_prices(api_client, agent):
    client = api_client(agent)
    lead_id = create(client)["id"]

    response = client.put(lead_url(lead_id), SEED_UPDATE, format="json")

    assert response.status_code == 200
    body = response.json()
    assert_envelope(body)
    lead = body["lead"]
    assert lead["status"] == "contacted"
    assert lead["preferences"]["property_type"] == ["Single Family", "Condo"]
    assert lead["preferences"]["preferred_locations"] == ["San Francisco", "Oakland"]
    assert (lead["preferences"]["min_price"], lead["preferences"]["max_price"]) == (300000, 500000)
    assert lead["contact"]["email"] == "john@example.com"
    assert lead["timeline"]["urgency_level"] == "normal"
    assert lead["version"] == 2


def test_a_status_change_through_the_api_is_recorded(api_client, agent):
    client = api_client(agent)
    lead_id = create(client)["id"]

    client.put(lead_url(lead_id), SEED_UPDATE, format="json")

    changes = list(StatusChange.objects.filter(lead__public_id=lead_id).order_by("id"))
    assert [(c.from_status, c.to_status) for c in changes] == [("", "new"), ("new", "contacted")]
    assert changes[-1].changed_by == agent


@pytest.mark.parametrize("method", ["put", "patch"])
def test_put_and_patch_merge_at_nested_levels(api_client, agent, method):
    client = api_client(agent)
    lead_id = create(client)["id"]

    # when only one field of each nested part is sent
    response = getattr(client, method)(
        lead_url(lead_id),
        {
            "contact": {"phone": "+14155550134"},
            "preferences": {"max_price": 650000},
            "timeline": {"urgency_level": "high"},
        },
        format="json",
    )

    # then those fields change and their siblings stay
    assert response.status_code == 200
    lead = response.json()["lead"]
    assert lead["contact"]["phone"] == "+14155550134"
    assert (lead["contact"]["first_name"], lead["contact"]["email"]) == ("John", "john@example.com")
    assert (lead["preferences"]["min_price"], lead["preferences"]["max_price"]) == (300000, 650000)
    assert lead["preferences"]["property_type"] == ["Single Family"]
    assert (lead["timeline"]["urgency_level"], lead["timeline"]["financing_status"]) == ("high", "not_started")
    assert (lead["lead_type"], lead["source"], lead["status"]) == ("buyer", "website", "new")


@pytest.mark.parametrize(
    ("changes", "part", "field", "cleared"),
    [
        ({"preferences": {"min_price": None}}, "preferences", "min_price", None),
        ({"preferences": {"max_price": None}}, "preferences", "max_price", None),
        ({"preferences": {"property_type": None}}, "preferences", "property_type", []),
        ({"preferences": {"preferred_locations": None}}, "preferences", "preferred_locations", []),
        ({"contact": {"last_name": None}}, "contact", "last_name", ""),
        ({"contact": {"phone": None}}, "contact", "phone", None),
        ({"contact": {"best_time_to_contact": None}}, "contact", "best_time_to_contact", None),
        ({"timeline": {"desired_move_in_date": None}}, "timeline", "desired_move_in_date", None),
        ({"timeline": {"pre_approval_amount": None}}, "timeline", "pre_approval_amount", None),
        ({"tags": None}, None, "tags", []),
    ],
)
def test_explicit_null_clears_a_nullable_field(api_client, agent, changes, part, field, cleared):
    # given a lead where every one of those fields has a value
    client = api_client(agent)
    body = seed_payload(tags=["vip"])
    body["contact"]["best_time_to_contact"] = "morning"
    body["timeline"] |= {"desired_move_in_date": "2024-06-01", "pre_approval_amount": 400000}
    lead_id = create(client, body)["id"]

    lead = client.patch(lead_url(lead_id), changes, format="json").json()["lead"]

    assert (lead[part] if part else lead)[field] == cleared
    assert lead["version"] == 2


def test_null_for_a_whole_part_resets_it_to_defaults(api_client, agent):
    client = api_client(agent)
    lead_id = create(client)["id"]

    lead = client.patch(lead_url(lead_id), {"preferences": None, "timeline": None}, format="json").json()["lead"]

    assert lead["preferences"]["property_types"] == []
    assert lead["preferences"]["min_price"] is None
    assert lead["timeline"]["urgency_level"] == "normal"
    assert lead["contact"]["email"] == "john@example.com"


def test_version_increases_on_every_change_and_not_on_a_no_op(api_client, agent, django_capture_on_commit_callbacks):
    client = api_client(agent)
    lead_id = create(client)["id"]
    url = lead_url(lead_id)

    versions = [client.patch(url, {"timeline": {"urgency_level": "high"}}, format="json").json()["lead"]["version"]]
    with django_capture_on_commit_callbacks() as no_op_callbacks:
        no_op = client.put(url, {"timeline": {"urgency_level": "high"}, "lead_type": "buyer"}, format="json")
    versions.append(no_op.json()["lead"]["version"])
    versions.append(
        client.post(lead_url(lead_id, interactions=True), {"type": "call", "summary": "Hi"}, format="json").json()[
            "lead"
        ]["version"]
    )
    versions.append(client.patch(url, {"status": "qualified"}, format="json").json()["lead"]["version"])
    versions.append(client.patch(url, {}, format="json").json()["lead"]["version"])

    assert versions == [2, 2, 3, 4, 4]
    assert no_op_callbacks == []  # a no-op schedules no after-save work
    assert Lead.objects.get(public_id=lead_id).version == 4


def test_a_no_op_update_keeps_updated_at(api_client, agent):
    client = api_client(agent)
    created = create(client)

    again = client.put(lead_url(created["id"]), {"source": "website", "contact": {"first_name": "John"}}, format="json")

    assert again.json()["lead"]["updated_at"] == created["updated_at"]


def test_a_manager_can_reassign_through_an_update(api_client, manager, agent, other_agent):
    lead = LeadFactory(assigned_to=agent)

    response = api_client(manager).patch(lead_url(lead.public_id), {"assigned_to": other_agent.username}, format="json")

    assert response.status_code == 200
    assert response.json()["lead"]["assigned_to"] == other_agent.username
    lead.refresh_from_db()
    assert lead.assigned_to == other_agent


# --- list ------------------------------------------------------------------------


def test_the_seed_list_query_answers_matching_leads_in_the_list_envelope(api_client, agent):
    wanted = LeadFactory(assigned_to=agent, status=LeadStatus.NEW, lead_type="buyer")
    LeadFactory(assigned_to=agent, status=LeadStatus.CONTACTED, lead_type="buyer")
    LeadFactory(assigned_to=agent, status=LeadStatus.NEW, lead_type="seller")

    response = api_client(agent).get(f"{LEADS_URL}?page=1&page_size=20&status=new&lead_type=buyer")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"leads", "total_count", "page", "page_size", "next_cursor", "metadata", "processing_time"}
    assert_envelope(body)
    assert (body["total_count"], body["page"], body["page_size"]) == (1, 1, 20)
    assert [lead["id"] for lead in body["leads"]] == [wanted.public_id]
    assert set(body["leads"][0]) == LEAD_KEYS


def test_list_defaults_to_page_1_of_20_newest_first(api_client, agent):
    leads = LeadFactory.create_batch(3, assigned_to=agent)

    body = api_client(agent).get(LEADS_URL).json()

    assert (body["total_count"], body["page"], body["page_size"]) == (3, 1, 20)
    assert [lead["id"] for lead in body["leads"]] == [lead.public_id for lead in reversed(leads)]


def test_list_pages_through_the_results(api_client, agent):
    LeadFactory.create_batch(25, assigned_to=agent)
    client = api_client(agent)

    pages = [client.get(f"{LEADS_URL}?page={page}&page_size=10").json() for page in (1, 2, 3, 4)]

    assert [len(page["leads"]) for page in pages] == [10, 10, 5, 0]
    assert {page["total_count"] for page in pages} == {25}
    assert len({lead["id"] for page in pages for lead in page["leads"]}) == 25


def test_list_accepts_the_maximum_page_size(api_client, agent):
    LeadFactory(assigned_to=agent)

    body = api_client(agent).get(f"{LEADS_URL}?page_size=100").json()

    assert (body["page_size"], body["total_count"]) == (100, 1)


def _lead_for_filters(agent, **kwargs):
    lead = LeadFactory(assigned_to=agent, **{k: v for k, v in kwargs.items() if k in {"status", "source", "score"}})
    if "urgency" in kwargs:
        lead.timeline.urgency_level = kwargs["urgency"]
        lead.timeline.save()
    if "location" in kwargs:
        lead.preferences.preferred_locations = [kwargs["location"]]
        lead.preferences.save()
    if "name" in kwargs:
        lead.contact.first_name, lead.contact.email, lead.contact.phone = kwargs["name"]
        lead.contact.save()
    return lead


@pytest.mark.parametrize(
    ("query", "matching", "other"),
    [
        ("source=referral", {"source": "referral"}, {"source": "website"}),
        ("status=new,contacted", {"status": "contacted"}, {"status": "lost"}),
        ("status=new&status=contacted", {"status": "contacted"}, {"status": "lost"}),
        ("status=contacted,&lead_type=", {"status": "contacted"}, {"status": "lost"}),
        ("urgency=urgent", {"urgency": "urgent"}, {"urgency": "low"}),
        ("location=oakland", {"location": "Oakland"}, {"location": "San Jose"}),
        ("score_min=70&score_max=90", {"score": 80}, {"score": 40}),
        ("search=Zelda", {"name": ("Zelda", "z@example.com", "")}, {"name": ("Ann", "a@example.com", "")}),
        ("search=ZELDA@example", {"name": ("Z", "zelda@example.com", "")}, {"name": ("A", "a@example.com", "")}),
        ("search=555-0199", {"name": ("Z", "", "+14155550199")}, {"name": ("A", "", "+14155550100")}),
    ],
)
def test_list_filters(api_client, agent, query, matching, other):
    wanted = _lead_for_filters(agent, **matching)
    _lead_for_filters(agent, **other)

    body = api_client(agent).get(f"{LEADS_URL}?{query}").json()

    assert [lead["id"] for lead in body["leads"]] == [wanted.public_id]
    assert body["total_count"] == 1


def test_list_filters_by_creation_range(api_client, agent):
    old = LeadFactory(assigned_to=agent)
    Lead.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    recent = LeadFactory(assigned_to=agent)
    since = (timezone.now() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")

    after = api_client(agent).get(f"{LEADS_URL}?created_after={since}").json()
    before = api_client(agent).get(f"{LEADS_URL}?created_before={since}").json()

    assert [lead["id"] for lead in after["leads"]] == [recent.public_id]
    assert [lead["id"] for lead in before["leads"]] == [old.public_id]


def test_list_orders_by_the_requested_field(api_client, agent):
    low, high = LeadFactory(assigned_to=agent, score=10), LeadFactory(assigned_to=agent, score=90)

    ascending = api_client(agent).get(f"{LEADS_URL}?ordering=score").json()["leads"]
    descending = api_client(agent).get(f"{LEADS_URL}?ordering=-score").json()["leads"]

    assert [lead["id"] for lead in ascending] == [low.public_id, high.public_id]
    assert [lead["id"] for lead in descending] == [high.public_id, low.public_id]


def test_list_filters_assigned_to_by_username_me_and_unassigned(api_client, manager, agent):
    mine = LeadFactory(assigned_to=agent)
    nobodys = LeadFactory(assigned_to=None)
    client = api_client(manager)

    by_name = client.get(f"{LEADS_URL}?assigned_to={agent.username}").json()["leads"]
    by_id = client.get(f"{LEADS_URL}?assigned_to={agent.pk}").json()["leads"]
    unassigned = client.get(f"{LEADS_URL}?assigned_to=unassigned").json()["leads"]
    me = api_client(agent).get(f"{LEADS_URL}?assigned_to=me").json()["leads"]

    assert [lead["id"] for lead in by_name] == [mine.public_id]
    assert [lead["id"] for lead in by_id] == [mine.public_id]
    assert [lead["id"] for lead in unassigned] == [nobodys.public_id]
    assert [lead["id"] for lead in me] == [mine.public_id]


# --- optimistic concurrency ----------------------------------------------------------


def test_lead_responses_carry_the_version_as_etag_and_create_a_location(api_client, agent):
    client = api_client(agent)

    created = client.post(LEADS_URL, seed_payload(), format="json")
    lead_id = created.json()["lead"]["id"]
    read = client.get(lead_url(lead_id))
    updated = client.patch(lead_url(lead_id), {"status": "qualified"}, format="json")

    assert created["Location"] == f"http://testserver{lead_url(lead_id)}"
    assert (created["ETag"], read["ETag"], updated["ETag"]) == ('"1"', '"1"', '"2"')


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1", "*"])
def test_an_update_with_a_current_if_match_succeeds(api_client, agent, if_match):
    client = api_client(agent)
    lead_id = create(client)["id"]

    response = client.patch(lead_url(lead_id), {"status": "qualified"}, format="json", headers={"If-Match": if_match})

    assert response.status_code == 200
    assert response.json()["lead"]["version"] == 2
