"""REST API v2, error paths: every one answers the one error shape with an honest
status code, and a rejected request changes nothing."""

import json
from importlib import import_module
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.test import Client
from django.urls import get_callable
from rest_framework.authtoken.models import Token

from leads.tests.api_assertions import LEADS_URL, assert_error, db_snapshot, lead_url
from leads.tests.factories import LeadFactory, UserFactory, seed_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(agent):
    return LeadFactory(assigned_to=agent)


def write_requests(lead_id: str) -> list[tuple[str, str]]:
    """Every endpoint that takes a body, as (method, url)."""
    return [
        ("POST", LEADS_URL),
        ("PUT", lead_url(lead_id)),
        ("PATCH", lead_url(lead_id)),
        ("POST", lead_url(lead_id, interactions=True)),
    ]


def send_raw(client, method: str, url: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic(method, url, body, content_type=content_type)


def with_seed(path: str, value) -> dict:
    """The seed create body with one (possibly nested) field set to ``value``."""
    body = seed_payload()
    *parents, name = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target[name] = value
    return body


# --- malformed and non-object bodies --------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"contact": {', "{'single': 'quotes'}", '{"a": 1,}', "not json", b"\xff\xfe\x00", '{"a": NaN}', "[1, Infinity]"],
)
def test_malformed_json_is_a_400_on_every_write(api_client, agent, lead, raw):
    client, before = api_client(agent), db_snapshot()

    for method, url in write_requests(lead.public_id):
        assert_error(send_raw(client, method, url, raw), 400, "malformed_json")

    assert db_snapshot() == before


@pytest.mark.parametrize("raw", ["[]", '[{"lead_type": "buyer"}]', '"a string"', "42", "3.5", "true", "null"])
def test_a_body_that_is_not_a_json_object_is_a_400_on_every_write(api_client, agent, lead, raw):
    client, before = api_client(agent), db_snapshot()

    for method, url in write_requests(lead.public_id):
        error = assert_error(send_raw(client, method, url, raw), 400, "validation_error")
        assert set(error["fields"]) == {"body"}

    assert db_snapshot() == before


def test_an_empty_create_body_names_the_required_fields(api_client, agent):
    error = assert_error(send_raw(api_client(agent), "POST", LEADS_URL, ""), 400, "validation_error")

    assert {"contact", "lead_type"} <= set(error["fields"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_a_415(api_client, agent, lead, content_type):
    client, before = api_client(agent), db_snapshot()

    for method, url in write_requests(lead.public_id):
        response = send_raw(client, method, url, json.dumps(seed_payload()), content_type)
        assert_error(response, 415, "unsupported_media_type")

    assert db_snapshot() == before


@pytest.mark.parametrize("content_type", ["*/*", "application/*", "*/json", "application/*; charset=utf-8"])
def test_a_wildcard_content_type_is_a_415_not_json(api_client, manager, lead, content_type):
    client, before = api_client(manager), db_snapshot()

    for method, url in [*write_requests(lead.public_id), ("POST", "/api/v2/webhooks")]:
        response = send_raw(client, method, url, json.dumps(seed_payload()), content_type)
        assert_error(response, 415, "unsupported_media_type")

    assert db_snapshot() == before


def test_json_with_a_charset_is_still_json(api_client, agent, lead):
    response = send_raw(
        api_client(agent), "PATCH", lead_url(lead.public_id), '{"tags": ["x"]}', "application/json; charset=utf-8"
    )

    assert response.status_code == 200
    assert response.json()["lead"]["tags"] == ["x"]


def test_a_multipart_body_is_a_415(api_client, agent):
    response = api_client(agent).post(LEADS_URL, {"lead_type": "buyer"}, format="multipart")

    assert_error(response, 415, "unsupported_media_type")


# --- field values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("lead_type", "landlord"),
        ("lead_type", "BUYER "),
        ("lead_type", 1),
        ("lead_type", None),
        ("source", "billboard"),
        ("status", "won"),
        ("status", None),
        ("timeline.urgency_level", "asap"),
        ("timeline.financing_status", "rich"),
        ("preferences.property_type", ["Castle"]),
        ("preferences.property_type", "Single Family"),
        ("contact.preferred_contact_method", "pigeon"),
        ("contact.first_name", None),
        ("contact.first_name", "   "),
        ("contact", None),
    ],
)
def test_an_unknown_choice_or_missing_required_value_is_a_400_on_create(api_client, agent, path, value):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, with_seed(path, value), format="json")

    error = assert_error(response, 400, "validation_error")
    assert any(name == path or name.startswith(f"{path}[") for name in error["fields"]), error
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lead_type": "landlord"}, "lead_type"),
        ({"status": "won"}, "status"),
        ({"status": None}, "status"),
        ({"source": None}, "source"),
        ({"timeline": {"urgency_level": "asap"}}, "timeline.urgency_level"),
        ({"preferences": {"property_type": ["Castle"]}}, "preferences.property_type[0]"),
        ({"contact": {"first_name": ""}}, "contact.first_name"),
        ({"contact": None}, "contact"),
        ({"assigned_to": "nobody_by_that_name"}, "assigned_to"),
    ],
)
def test_an_invalid_update_is_a_400_and_changes_nothing(api_client, agent, lead, changes, field):
    before = db_snapshot()

    for method in ("put", "patch"):
        response = getattr(api_client(agent), method)(lead_url(lead.public_id), changes, format="json")
        assert field in assert_error(response, 400, "validation_error")["fields"]

    assert db_snapshot() == before


@pytest.mark.parametrize("type_", ["visit", "", None, 3, "CALL"])
def test_an_unknown_interaction_type_is_a_400(api_client, agent, lead, type_):
    before = db_snapshot()

    response = api_client(agent).post(
        lead_url(lead.public_id, interactions=True), {"type": type_, "summary": "Hi"}, format="json"
    )

    assert "type" in assert_error(response, 400, "validation_error")["fields"]
    assert db_snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"summary": "No type"},
        {"type": "call"},
        {"type": "call", "summary": ""},
        {"type": "call", "summary": "Hi", "next_follow_up": "next tuesday"},
        {"type": "call", "summary": "Hi", "timestamp": "9999-12-31T23:59:59-05:00"},
        {"type": "call", "summary": "Hi", "direction": "sideways"},
    ],
)
def test_an_invalid_interaction_is_a_400(api_client, agent, lead, body):
    before = db_snapshot()

    response = api_client(agent).post(lead_url(lead.public_id, interactions=True), body, format="json")

    assert_error(response, 400, "validation_error")
    assert db_snapshot() == before


@pytest.mark.parametrize(
    "email", ["not-an-email", "john@", "@example.com", "john@@example.com", "john doe@example.com", 42, ["a@b.co"]]
)
def test_a_bad_email_is_a_400_on_the_email_field(api_client, agent, lead, email):
    before = db_snapshot()

    created = api_client(agent).post(LEADS_URL, with_seed("contact.email", email), format="json")
    updated = api_client(agent).patch(lead_url(lead.public_id), {"contact": {"email": email}}, format="json")

    assert set(assert_error(created, 400, "validation_error")["fields"]) == {"contact.email"}
    assert set(assert_error(updated, 400, "validation_error")["fields"]) == {"contact.email"}
    assert db_snapshot() == before


@pytest.mark.parametrize("phone", ["12345", "+1234567890123456", "call me maybe", "555-CALL-NOW"])
def test_a_bad_phone_is_a_400_on_the_phone_field(api_client, agent, phone):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, with_seed("contact.phone", phone), format="json")

    assert set(assert_error(response, 400, "validation_error")["fields"]) == {"contact.phone"}
    assert db_snapshot() == before


def test_min_price_above_max_price_is_a_400_on_create(api_client, agent):
    before = db_snapshot()
    body = with_seed("preferences.min_price", 600000)

    error = assert_error(api_client(agent).post(LEADS_URL, body, format="json"), 400, "validation_error")

    assert set(error["fields"]) == {"preferences.min_price"}
    assert db_snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_update_sending_only_a_min_price_above_the_stored_max_is_a_400(api_client, agent, method):
    # given a lead with max_price 500000
    lead = LeadFactory(assigned_to=agent, preferences__min_price=300000, preferences__max_price=500000)
    before = db_snapshot()

    response = getattr(api_client(agent), method)(
        lead_url(lead.public_id), {"preferences": {"min_price": 600000}}, format="json"
    )

    assert set(assert_error(response, 400, "validation_error")["fields"]) == {"preferences.min_price"}
    assert db_snapshot() == before


@pytest.mark.parametrize(
    "path", ["preferences.min_price", "preferences.max_price", "timeline.pre_approval_amount", "preferences.bedrooms"]
)
def test_a_negative_amount_is_a_400(api_client, agent, path):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, with_seed(path, -1), format="json")

    assert path in assert_error(response, 400, "validation_error")["fields"]
    assert db_snapshot() == before


@pytest.mark.parametrize("contact", [{"first_name": "Ghost"}, {"first_name": "Ghost", "email": "", "phone": None}])
def test_a_lead_with_no_email_and_no_phone_is_a_400(api_client, agent, contact):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, seed_payload(contact=contact), format="json")

    assert set(assert_error(response, 400, "validation_error")["fields"]) == {"contact"}
    assert db_snapshot() == before


def test_an_update_removing_the_only_way_to_reach_the_lead_is_a_400(api_client, agent):
    lead = LeadFactory(assigned_to=agent, contact__phone="")
    before = db_snapshot()

    response = api_client(agent).patch(lead_url(lead.public_id), {"contact": {"email": None}}, format="json")

    assert set(assert_error(response, 400, "validation_error")["fields"]) == {"contact"}
    assert db_snapshot() == before


# --- list parameters -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=99999999999999999999999",
        "page_size=0",
        "page_size=-1",
        "page_size=abc",
        "page_size=101",
        "page_size=99999999999999999999999",
    ],
)
def test_a_bad_page_or_page_size_is_a_400(api_client, agent, query):
    error = assert_error(api_client(agent).get(f"{LEADS_URL}?{query}"), 400, "validation_error")

    assert set(error["fields"]) == {query.split("=")[0]}


@pytest.mark.parametrize(
    "query",
    [
        "status=won",
        "status=new,won",
        "lead_type=landlord",
        "source=billboard",
        "urgency=asap",
        "score_min=abc",
        "score_min=101",
        "score_max=-1",
        "score_min=NaN",
        "created_after=yesterday",
        "created_before=2024-13-45",
        "created_after=9999-12-31T23:59:59-05:00",
        "ordering=password",
        "assigned_to=" + "x" * 151,
        "search=" + "x" * 201,
    ],
)
def test_an_invalid_filter_value_is_a_400(api_client, agent, query):
    error = assert_error(api_client(agent).get(f"{LEADS_URL}?{query}"), 400, "validation_error")

    assert set(error["fields"]) == {query.split("=")[0]}


# --- authentication --------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-real-token",
        "Bearer 0123456789abcdef0123456789abcdef01234567",
        "Bearer two parts",
        "Bearer tok\x00en",
        "Bearer " + "a" * 5000,
        "Token 0123456789abcdef0123456789abcdef01234567",
        "Basic YWdlbnQ6cGFzc3dvcmQ=",
    ],
)
def test_a_missing_or_bad_token_is_a_401_with_www_authenticate(api_client, agent, lead, authorization):
    client = api_client()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    before = db_snapshot()

    responses = [
        client.get(LEADS_URL),
        client.get(lead_url(lead.public_id)),
        *[send_raw(client, method, url, json.dumps(seed_payload())) for method, url in write_requests(lead.public_id)],
    ]

    for response in responses:
        error = assert_error(response, 401, response.json()["error"]["code"])
        assert error["code"] in {"not_authenticated", "authentication_failed"}
        assert response["WWW-Authenticate"] == "Bearer"
    assert db_snapshot() == before


def test_the_token_of_a_deactivated_user_is_a_401(api_client, agent):
    client = api_client(agent)
    agent.is_active = False
    agent.save()

    assert_error(client.get(LEADS_URL), 401, "authentication_failed")


def test_a_token_still_works_with_any_case_of_the_keyword(api_client, agent):
    # RFC 9110: the auth scheme is case-insensitive (DRF compares it lower-cased).
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {Token.objects.create(user=agent).key}")

    assert client.get(LEADS_URL).status_code == 200


def test_a_browser_session_reads_the_api(agent, lead):
    client = Client()
    client.force_login(agent)

    assert client.get(lead_url(lead.public_id)).status_code == 200


def test_a_browser_session_write_without_a_csrf_token_is_a_403(agent, lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    before = db_snapshot()

    response = client.patch(lead_url(lead.public_id), {"status": "lost"}, content_type="application/json")

    assert_error(response, 403, "permission_denied")
    assert db_snapshot() == before


# --- not found -------------------------------------------------------------------


@pytest.mark.parametrize(
    "lead_id",
    [
        "lead_000000000000000000000000",
        "lead_1 OR 1=1",
        "'; DROP TABLE leads_lead; --",
        "lead_" + "a" * 5000,
        "lead_\x00",
        "lead_%00",
        "1",
        "..",
        "lead_ünïcode",
    ],
)
def test_an_unknown_or_odd_id_is_a_404_everywhere(api_client, agent, lead_id):
    client, before = api_client(agent), db_snapshot()
    url_id = quote(lead_id, safe="")
    requests = [("GET", lead_url(url_id)), *write_requests(url_id)[1:], ("GET", lead_url(url_id, interactions=True))]

    body = json.dumps({"type": "call", "summary": "x"})
    for method, url in requests:
        assert assert_error(send_raw(client, method, url, body), 404, "not_found")["message"] == "Lead not found."
    assert db_snapshot() == before


def test_an_invisible_lead_answers_exactly_like_a_missing_one(api_client, agent, other_agent):
    theirs = LeadFactory(assigned_to=other_agent)
    client, before = api_client(agent), db_snapshot()

    for method, url in [("GET", lead_url(theirs.public_id)), *write_requests(theirs.public_id)[1:]]:
        invisible = send_raw(client, method, url, json.dumps({"status": "lost", "type": "call", "summary": "x"}))
        missing = send_raw(client, method, url.replace(theirs.public_id, "lead_0123456789abcdef01234567"), "{}")
        assert_error(invisible, 404, "not_found")
        assert invisible.json()["error"] == missing.json()["error"]
    assert db_snapshot() == before


def test_an_invisible_lead_is_a_404_even_with_an_invalid_body_or_content_type(api_client, agent, other_agent):
    # A 400 or 415 here would tell the caller that the lead exists.
    theirs = LeadFactory(assigned_to=other_agent)
    client = api_client(agent)

    for method, url in write_requests(theirs.public_id)[1:]:
        assert_error(send_raw(client, method, url, "{broken"), 404, "not_found")
        assert_error(send_raw(client, method, url, "a=b", "text/plain"), 404, "not_found")
        assert_error(send_raw(client, method, url, '{"lead_type": "x"}'), 404, "not_found")


@pytest.mark.parametrize(
    "url", ["/api/v2/nothing", "/api/v1/leads", "/api/", "/api/v2/leads/lead_x/interactions/1", "/api/v2/leads/a/b/c"]
)
def test_an_unknown_api_url_is_a_json_404(api_client, agent, url):
    assert_error(api_client(agent).get(url), 404, "not_found")


def test_an_unknown_api_url_is_a_json_404_without_a_token_too(api_client):
    assert_error(api_client().post("/api/v2/nothing", {}, format="json"), 404, "not_found")


@pytest.mark.parametrize(("method", "url"), [("DELETE", LEADS_URL), ("PUT", LEADS_URL), ("POST", lead_url("x"))])
def test_an_unsupported_method_is_a_405(api_client, agent, method, url):
    assert_error(send_raw(api_client(agent), method, url, "{}"), 405, "method_not_allowed")


# --- rejected before any view -------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "bad host!", "a" * 300, "testserver:notaport"])
def test_a_host_outside_allowed_hosts_is_a_400_in_the_error_shape(api_client, agent, lead, host):
    client, before = api_client(agent), db_snapshot()
    requests = [("GET", LEADS_URL), ("GET", "/api/v2/nothing"), ("GET", "/api/"), *write_requests(lead.public_id)]

    for method, url in requests:
        response = client.generic(
            method, url, json.dumps(seed_payload()), content_type="application/json", HTTP_HOST=host
        )
        error = assert_error(response, 400, "bad_request")
        assert "Host header" in error["message"]
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("handler", "status", "code"),
    [
        ("handler400", 400, "bad_request"),
        ("handler403", 403, "permission_denied"),
        ("handler500", 500, "internal_error"),
    ],
)
def test_djangos_error_views_answer_in_the_error_shape_under_the_api_only(rf, handler, status, code):
    # What Django calls for an error outside any view, e.g. a crash in a middleware.
    view = get_callable(getattr(import_module(settings.ROOT_URLCONF), handler))
    args = () if handler == "handler500" else (SuspiciousOperation("odd"),)

    answer = view(rf.get("/api/v2/leads"), *args)
    assert (answer.status_code, answer["Content-Type"]) == (status, "application/json")
    body = json.loads(answer.content)
    assert set(body) == {"error", "metadata", "processing_time"}
    assert body["error"]["code"] == code
    page = view(rf.get("/leads/"), *args)
    assert page.status_code == status and page["Content-Type"].startswith("text/html")


def test_a_host_outside_allowed_hosts_is_still_an_html_400_outside_the_api(client):
    response = client.get("/accounts/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# --- permissions -----------------------------------------------------------------


def test_an_agent_naming_another_assignee_is_a_403_and_nothing_is_created(api_client, agent, other_agent):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, seed_payload(assigned_to=other_agent.username), format="json")

    assert_error(response, 403, "permission_denied")
    assert db_snapshot() == before


def test_an_agent_reassigning_their_lead_to_someone_else_is_a_403(api_client, agent, other_agent, lead):
    before = db_snapshot()

    response = api_client(agent).patch(lead_url(lead.public_id), {"assigned_to": other_agent.username}, format="json")

    assert_error(response, 403, "permission_denied")
    assert db_snapshot() == before


def test_assigning_to_an_inactive_user_is_a_400(api_client, manager):
    gone = UserFactory(username="gone", is_active=False)
    before = db_snapshot()

    response = api_client(manager).post(LEADS_URL, seed_payload(assigned_to=gone.username), format="json")

    assert "assigned_to" in assert_error(response, 400, "validation_error")["fields"]
    assert db_snapshot() == before


# --- optimistic concurrency ------------------------------------------------------------


@pytest.mark.parametrize("if_match", ['"1"', '"3"', "stale", '"1", "2"', "9" * 20])
def test_an_update_with_a_stale_or_malformed_if_match_is_a_412(api_client, agent, if_match):
    lead = LeadFactory(assigned_to=agent, version=2)
    before = db_snapshot()

    for method in ("put", "patch"):
        response = getattr(api_client(agent), method)(
            lead_url(lead.public_id), {"status": "lost"}, format="json", headers={"If-Match": if_match}
        )
        assert_error(response, 412, "precondition_failed")

    assert db_snapshot() == before


def test_an_invisible_lead_is_a_404_whatever_the_if_match(api_client, agent, other_agent):
    theirs = LeadFactory(assigned_to=other_agent)

    response = api_client(agent).patch(lead_url(theirs.public_id), {}, format="json", headers={"If-Match": '"9"'})

    assert_error(response, 404, "not_found")
