"""The OpenAPI schema at /api/v2/schema describes the real API: real requests (success
and error) are answered with a documented status, the documented headers and a body
that validates against the documented schema, whose objects allow no undocumented key."""

import json
import re

import pytest
import yaml
from django.test import Client
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from leads.core.services import LeadManagementService
from leads.models import Lead, Role
from leads.tests.api_assertions import LEADS_URL, lead_url
from leads.tests.factories import UserFactory, seed_payload
from leads.tests.lead_events import relay_recorded_events

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v2/schema"
LEAD_PATH = "/api/v2/leads/{lead_id}"
INTERACTIONS_PATH = "/api/v2/leads/{lead_id}/interactions"


@pytest.fixture(scope="module")
def openapi() -> dict:
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    return response.json()


def body_validator(openapi: dict, body_schema: dict) -> Draft202012Validator:
    """A validator for one documented body; its ``#/components/...`` refs resolve in the schema."""
    return Draft202012Validator({**body_schema, "components": openapi["components"]})


def assert_conforms(openapi: dict, response, method: str, path: str) -> dict:
    """The response's status, headers and body are the ones documented for the operation."""
    operation = openapi["paths"][path][method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method} {path} answered an undocumented {response.status_code}: {response.content[:300]}"
    for header, definition in documented.get("headers", {}).items():
        if definition.get("required"):
            assert header in response.headers, f"{method} {path} {response.status_code}: no {header} header"
    if "content" not in documented:
        assert response.content == b""
        return {}
    assert response["Content-Type"] == "application/json"
    body = response.json()
    schema = documented["content"]["application/json"]["schema"]
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in body_validator(openapi, schema).iter_errors(body)
    ]
    assert not errors, f"{method} {path} {response.status_code} does not match the schema: {errors[:5]}"
    return body


@pytest.fixture
def agent_client(api_client, agent):
    return api_client(agent)


@pytest.fixture
def lead(agent_client, django_capture_on_commit_callbacks) -> Lead:
    """A lead made through the API, as the after-save work leaves it (analysis, score, breakdown)."""
    with django_capture_on_commit_callbacks(execute=True):
        created = agent_client.post(LEADS_URL, seed_payload(metadata={"crm_id": "abc-1"}, tags=["vip"]), format="json")
        lead_id = created.json()["lead"]["id"]
        agent_client.post(
            lead_url(lead_id, interactions=True), {"type": "call", "summary": "Intro call"}, format="json"
        )
    lead = Lead.objects.get(public_id=lead_id)
    assert lead.score is not None and lead.score_breakdown
    return lead


# --- the schema itself ----------------------------------------------------------------


def test_schema_is_public_json_by_default_and_yaml_on_request():
    client = Client()

    as_json = client.get(SCHEMA_URL)
    as_yaml = client.get(SCHEMA_URL, {"format": "yaml"})

    assert as_json.status_code == 200
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json()["openapi"].startswith("3.1")
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(as_yaml.content) == json.loads(as_json.content)


def test_schema_ignores_a_bad_token_and_docs_need_no_login():
    client = Client(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert client.get(SCHEMA_URL).status_code == 200
    assert client.get("/api/v2/docs").status_code == 200


def test_schema_documents_bearer_auth_and_every_operation_requires_it(openapi):
    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": openapi["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, path_item in openapi["paths"].items():
        for method, operation in path_item.items():
            assert {"bearerAuth": []} in operation["security"], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"


def test_every_documented_operation_refuses_anonymous_callers(openapi):
    """The schema and docs are public; nothing they describe is."""
    client = Client()
    for path, path_item in openapi["paths"].items():
        url = re.sub(r"\{[^}]+\}", "x", path)
        for method in path_item:
            response = getattr(client, method)(url, content_type="application/json")

            assert response.status_code == 401, f"{method.upper()} {path}"
            assert_conforms(openapi, response, method, path)


def test_every_operation_documents_its_success_body_and_errors(openapi):
    """An endpoint added without ``api_operation`` shows up here (drf-spectacular would
    document it as "No response body")."""
    for path, path_item in openapi["paths"].items():
        for method, operation in path_item.items():
            label = f"{method.upper()} {path}"
            assert operation.get("operationId") and operation.get("summary"), label
            successes = {status: body for status, body in operation["responses"].items() if status.startswith("2")}
            assert successes, label
            for status, body in successes.items():
                assert "content" in body or status == "204", f"{label} {status} has no documented body"
            for status, body in operation["responses"].items():
                if status.startswith("4"):
                    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_list_query_parameters_are_the_filters_the_api_reads(openapi):
    from leads.core.filters import LeadFilter

    documented = {parameter["name"] for parameter in openapi["paths"][LEADS_URL]["get"]["parameters"]}

    assert documented - {"page", "page_size", "cursor"} == set(LeadFilter.base_filters)


# --- real responses against the schema ----------------------------------------------------


def test_list_responses_conform(openapi, agent_client, lead):
    ok = agent_client.get(LEADS_URL, {"status": "new,contacted", "ordering": "-score", "page_size": 5})
    body = assert_conforms(openapi, ok, "GET", LEADS_URL)
    assert body["total_count"] == 1

    bad_filter = agent_client.get(LEADS_URL, {"page_size": 0, "created_after": "yesterday"})
    assert bad_filter.status_code == 400
    assert_conforms(openapi, bad_filter, "GET", LEADS_URL)

    anonymous = Client().get(LEADS_URL)
    assert anonymous.status_code == 401
    assert_conforms(openapi, anonymous, "GET", LEADS_URL)


def test_create_responses_conform(openapi, agent_client, other_agent, django_capture_on_commit_callbacks, settings):
    # the seed aliases (property_type, bedrooms, desired_move_in_date) and custom metadata
    body = seed_payload(
        preferences={"property_type": ["Condo"], "bedrooms": 2, "bathrooms": 1.5, "min_price": 1000},
        timeline={"desired_move_in_date": "2027-01-15T00:00:00Z", "pre_approval_amount": 450000},
        metadata={"campaign": "spring"},
        tags=["open-house"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = agent_client.post(LEADS_URL, body, format="json")
    assert created.status_code == 201
    lead = assert_conforms(openapi, created, "POST", LEADS_URL)["lead"]
    assert lead["preferences"]["min_bedrooms"] == 2

    cases = [
        (agent_client.post(LEADS_URL, {"contact": {"email": "nope"}}, format="json"), 400),
        (agent_client.post(LEADS_URL, "{not json", content_type="application/json"), 400),
        (agent_client.post(LEADS_URL, "contact=x", content_type="text/plain"), 415),
        (agent_client.post(LEADS_URL, seed_payload(assigned_to=other_agent.username), format="json"), 403),
        (Client().post(LEADS_URL, seed_payload(), content_type="application/json"), 401),
    ]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    cases.append((agent_client.post(LEADS_URL, seed_payload(tags=["x" * 40] * 30), format="json"), 413))
    for response, status in cases:
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, "POST", LEADS_URL)


def test_read_responses_conform(openapi, agent_client, lead, other_agent, api_client):
    ok = agent_client.get(lead_url(lead.public_id))
    assert ok.status_code == 200
    assert ok["ETag"] == f'"{lead.version}"'
    body = assert_conforms(openapi, ok, "GET", LEAD_PATH)
    assert body["lead"]["metadata"]["crm_id"] == "abc-1"
    assert body["lead"]["interactions"]

    for response in (agent_client.get(lead_url("lead_missing")), api_client(other_agent).get(lead_url(lead.public_id))):
        assert response.status_code == 404
        assert_conforms(openapi, response, "GET", LEAD_PATH)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_responses_conform(openapi, agent_client, lead, method):
    send = getattr(agent_client, method.lower())
    url = lead_url(lead.public_id)

    # a nested partial change: no first_name needed
    ok = send(url, {"contact": {"phone": "+14155550100"}, "status": "contacted"}, format="json")
    assert ok.status_code == 200
    assert_conforms(openapi, ok, method, LEAD_PATH)

    stale = send(url, {"status": "qualified"}, format="json", HTTP_IF_MATCH='"1"')
    invalid = send(url, {"preferences": {"min_price": -1}}, format="json")
    missing = send(lead_url("lead_missing"), {"status": "qualified"}, format="json")
    for response, status in ((stale, 412), (invalid, 400), (missing, 404)):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, method, LEAD_PATH)


def test_interaction_responses_conform(openapi, agent_client, lead):
    url = lead_url(lead.public_id, interactions=True)

    listed = agent_client.get(url)
    logged = agent_client.post(
        url, {"type": "call", "summary": "Called", "timestamp": "2026-01-05T10:00:00Z"}, format="json"
    )
    invalid = agent_client.post(url, {"type": "fax"}, format="json")
    missing = agent_client.get(lead_url("lead_missing", interactions=True))

    for response, method, status in (
        (listed, "GET", 200),
        (logged, "POST", 201),
        (invalid, "POST", 400),
        (missing, "GET", 404),
    ):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, method, INTERACTIONS_PATH)


# --- the check can fail -----------------------------------------------------------------


def test_an_undocumented_key_in_a_lead_fails_validation(openapi, agent_client, lead):
    """What happens when a key is added to ``lead_data`` and not to its ``LeadShape``."""
    body = agent_client.get(lead_url(lead.public_id)).json()
    schema = openapi["paths"][LEAD_PATH]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body_validator(openapi, schema).validate(body)

    for part in (body["lead"], body["lead"]["contact"], body["lead"]["interactions"][0], body):
        part["undocumented"] = 1
        with pytest.raises(ValidationError, match="undocumented"):
            body_validator(openapi, schema).validate(body)
        del part["undocumented"]


def test_a_manager_sees_the_same_documented_shapes(openapi, api_client, lead):
    manager = UserFactory(username="schema_manager", role=Role.MANAGER)
    response = api_client(manager).get(LEADS_URL)
    assert assert_conforms(openapi, response, "GET", LEADS_URL)["total_count"] == 1


# --- duplicates, idempotency, rate limit ---------------------------------------------------


def test_duplicate_and_attach_responses_conform(openapi, agent_client, lead):
    # given the lead fixture's email, in another spelling
    again = seed_payload(contact={"first_name": "Johnny", "email": "JOHN@Example.com"})

    duplicate = agent_client.post(LEADS_URL, again, format="json")
    attached = agent_client.post(f"{LEADS_URL}?on_duplicate=attach", again, format="json")

    assert duplicate.status_code == 409
    error = assert_conforms(openapi, duplicate, "POST", LEADS_URL)["error"]
    assert error["code"] == "duplicate_lead" and error["existing_lead_id"] == lead.public_id
    assert attached.status_code == 200
    assert assert_conforms(openapi, attached, "POST", LEADS_URL)["attached_to"] == lead.public_id


def test_idempotency_responses_conform(openapi, agent_client):
    key = {"HTTP_IDEMPOTENCY_KEY": "3f0c9a52-schema-test"}
    body = seed_payload(contact={"first_name": "Ida", "email": "ida@example.com"})

    first = agent_client.post(LEADS_URL, body, format="json", **key)
    replay = agent_client.post(LEADS_URL, body, format="json", **key)
    reused = agent_client.post(LEADS_URL, {**body, "lead_type": "seller"}, format="json", **key)
    malformed = agent_client.post(LEADS_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="has spaces")

    for response, status in ((first, 201), (replay, 201), (reused, 422), (malformed, 400)):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, "POST", LEADS_URL)
    assert replay["Idempotent-Replayed"] == "true"


def test_rate_limited_responses_conform(openapi, agent_client, settings):
    settings.API_RATE_LIMIT = "2/m"

    responses = [agent_client.get(LEADS_URL) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    for response in responses:
        assert_conforms(openapi, response, "GET", LEADS_URL)
        assert response["X-RateLimit-Limit"] == "2"
    assert int(responses[-1]["Retry-After"]) >= 1


# --- batch, history, archive, merges ---------------------------------------------------------


def test_batch_responses_conform(openapi, agent_client, lead):
    url = f"{LEADS_URL}/batch"
    items = [
        seed_payload(contact={"first_name": "Bea", "email": "bea@example.com"}),
        {"contact": {"first_name": "Nobody"}, "lead_type": "buyer"},
        seed_payload(),  # the lead fixture's email
    ]

    ok = agent_client.post(url, {"leads": items}, format="json")
    empty = agent_client.post(url, {"leads": []}, format="json")

    assert ok.status_code == 200
    body = assert_conforms(openapi, ok, "POST", "/api/v2/leads/batch")
    assert [result["status"] for result in body["results"]] == ["created", "error", "duplicate"]
    assert empty.status_code == 400
    assert_conforms(openapi, empty, "POST", "/api/v2/leads/batch")


def test_history_responses_conform(openapi, agent_client, lead):
    path = "/api/v2/leads/{lead_id}/history"
    agent_client.patch(lead_url(lead.public_id), {"status": "contacted"}, format="json")

    ok = agent_client.get(f"{lead_url(lead.public_id)}/history")
    bad_page = agent_client.get(f"{lead_url(lead.public_id)}/history", {"page": 0})
    missing = agent_client.get(f"{lead_url('lead_missing')}/history")

    assert ok.status_code == 200 and assert_conforms(openapi, ok, "GET", path)["history"]
    for response, status in ((bad_page, 400), (missing, 404)):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, "GET", path)


def test_archive_responses_conform(openapi, api_client, agent_client, manager, lead):
    url = lead_url(lead.public_id)

    by_agent = agent_client.delete(url)
    stale = api_client(manager).delete(url, HTTP_IF_MATCH='"99"')
    archived = api_client(manager).delete(url)

    for response, status in ((by_agent, 403), (stale, 412), (archived, 204)):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, "DELETE", LEAD_PATH)


def test_merge_responses_conform(openapi, api_client, agent_client, manager, lead):
    client = api_client(manager)
    other = client.post(LEADS_URL, seed_payload(contact={"first_name": "Jo", "phone": "+14155550199"}), format="json")
    duplicate_id = other.json()["lead"]["id"]
    merge_path = "/api/v2/leads/{lead_id}/merge"

    by_agent = agent_client.post(f"{lead_url(lead.public_id)}/merge", {"duplicate_id": duplicate_id}, format="json")
    merged = client.post(
        f"{lead_url(lead.public_id)}/merge",
        {"duplicate_id": duplicate_id, "prefer": {"contact.phone": "duplicate"}},
        format="json",
    )
    for response, status in ((by_agent, 403), (merged, 201)):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, "POST", merge_path)

    merge_id = merged.json()["merge"]["id"]
    read = client.get(f"/api/v2/merges/{merge_id}")
    assert read.status_code == 200
    assert_conforms(openapi, read, "GET", "/api/v2/merges/{merge_id}")

    undone = client.post(f"/api/v2/merges/{merge_id}/undo")
    undone_twice = client.post(f"/api/v2/merges/{merge_id}/undo")
    missing = client.post("/api/v2/merges/nope/undo")
    for response, status in ((undone, 200), (undone_twice, 409), (missing, 404)):
        assert response.status_code == status, response.content
        assert_conforms(openapi, response, "POST", "/api/v2/merges/{merge_id}/undo")


# --- webhooks ------------------------------------------------------------------------------


def test_webhook_responses_conform(openapi, api_client, agent_client, manager, lead, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    client = api_client(manager)
    subscription = {"name": "CRM", "url": "http://127.0.0.1:9/hook", "events": ["lead.updated"]}

    created = client.post("/api/v2/webhooks", subscription, format="json")
    assert created.status_code == 201
    assert assert_conforms(openapi, created, "POST", "/api/v2/webhooks")["webhook"]["secret"]
    webhook_id = created.json()["webhook"]["id"]
    detail = f"/api/v2/webhooks/{webhook_id}"
    LeadManagementService(manager).update_lead(lead.public_id, {"tags": ["vip", "hot"]})
    relay_recorded_events()
    delivery_id = client.get(f"{detail}/deliveries").json()["deliveries"][0]["id"]
    replay = f"{detail}/deliveries/{delivery_id}/replay"

    calls = [
        (client.get("/api/v2/webhooks"), "GET", "/api/v2/webhooks", 200),
        (agent_client.get("/api/v2/webhooks"), "GET", "/api/v2/webhooks", 403),
        (client.post("/api/v2/webhooks", {"name": "x"}, format="json"), "POST", "/api/v2/webhooks", 400),
        (client.get(detail), "GET", "/api/v2/webhooks/{subscription_id}", 200),
        (client.get("/api/v2/webhooks/nope"), "GET", "/api/v2/webhooks/{subscription_id}", 404),
        (
            client.get(f"{detail}/deliveries", {"status": "pending"}),
            "GET",
            "/api/v2/webhooks/{subscription_id}/deliveries",
            200,
        ),
        (
            client.get(f"{detail}/deliveries", {"page": "x"}),
            "GET",
            "/api/v2/webhooks/{subscription_id}/deliveries",
            400,
        ),
        (client.post(replay), "POST", "/api/v2/webhooks/{subscription_id}/deliveries/{delivery_id}/replay", 202),
        (
            client.patch(detail, {"active": False}, format="json"),
            "PATCH",
            "/api/v2/webhooks/{subscription_id}",
            200,
        ),
        (client.post(replay), "POST", "/api/v2/webhooks/{subscription_id}/deliveries/{delivery_id}/replay", 409),
        (client.delete(detail), "DELETE", "/api/v2/webhooks/{subscription_id}", 204),
    ]
    for response, method, path, status in calls:
        assert response.status_code == status, (method, path, response.content)
        assert_conforms(openapi, response, method, path)
