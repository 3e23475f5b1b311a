"""REST API v2 under odd and hostile input: huge strings, unicode, control
characters, nested junk and wrongly typed values never produce a 500, and a
rejected request writes nothing."""

import json

import pytest

from leads.models import Contact, Interaction
from leads.tests.api_assertions import LEADS_URL, assert_error, db_snapshot, lead_url
from leads.tests.factories import LeadFactory, seed_payload

pytestmark = pytest.mark.django_db

ONE_MB = 1024 * 1024


def post_raw(client, body: str, url: str = LEADS_URL):
    return client.generic("POST", url, body.encode("utf-8", "surrogatepass"), content_type="application/json")


def seed_with(section: str, **fields) -> dict:
    body = seed_payload()
    body[section] = {**body.get(section, {}), **fields}
    return body


# --- size ----------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "field"), [("contact", "first_name"), ("contact", "last_name")])
def test_a_one_megabyte_name_is_a_400(api_client, agent, section, field):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, seed_with(section, **{field: "x" * ONE_MB}), format="json")

    assert f"{section}.{field}" in assert_error(response, 400, "validation_error")["fields"]
    assert len(response.content) < 2000  # the error does not echo the megabyte back
    assert db_snapshot() == before


def test_a_one_megabyte_choice_value_is_a_short_400(api_client, agent):
    response = api_client(agent).post(LEADS_URL, seed_payload(lead_type="b" * ONE_MB), format="json")

    assert "lead_type" in assert_error(response, 400, "validation_error")["fields"]
    assert len(response.content) < 2000


def test_a_body_over_the_upload_limit_is_a_413(api_client, agent, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = ONE_MB
    before = db_snapshot()

    response = post_raw(api_client(agent), json.dumps(seed_with("contact", notes="x" * 2 * ONE_MB)))

    assert_error(response, 413, "payload_too_large")
    assert db_snapshot() == before


def test_a_one_megabyte_interaction_summary_is_a_400(api_client, agent):
    lead = LeadFactory(assigned_to=agent)
    before = db_snapshot()

    response = api_client(agent).post(
        lead_url(lead.public_id, interactions=True), {"type": "call", "summary": "x" * ONE_MB}, format="json"
    )

    assert "summary" in assert_error(response, 400, "validation_error")["fields"]
    assert db_snapshot() == before


def test_too_many_tags_is_a_400(api_client, agent):
    response = api_client(agent).post(LEADS_URL, seed_payload(tags=[f"t{i}" for i in range(1000)]), format="json")

    assert "tags" in assert_error(response, 400, "validation_error")["fields"]


# --- unicode and control characters ------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Zoë", "Ñúñez-Ødegård"),
        ("李", "小龍"),
        ("🏡 Casa", "O'Brien 😀"),
        ("Ἀλέξανδρος", "עִבְרִית"),
        ("A\u200db", "x\u0301"),
    ],
)
def test_unicode_names_are_stored_and_returned_verbatim(api_client, agent, first, last):
    response = api_client(agent).post(LEADS_URL, seed_with("contact", first_name=first, last_name=last), format="json")

    assert response.status_code == 201
    assert (response.json()["lead"]["contact"]["first_name"], response.json()["lead"]["contact"]["last_name"]) == (
        first,
        last,
    )
    contact = Contact.objects.get(lead__public_id=response.json()["lead"]["id"])
    assert (contact.first_name, contact.last_name) == (first, last)


def test_markup_in_text_is_stored_as_given_and_returned_as_json_text(api_client, agent):
    script = "<script>alert('x')</script>"

    response = api_client(agent).post(LEADS_URL, seed_with("contact", first_name=script), format="json")

    assert response["Content-Type"] == "application/json"
    assert response.json()["lead"]["contact"]["first_name"] == script


def test_nul_and_control_characters_are_stripped_from_single_line_text(api_client, agent):
    body = seed_with("contact", first_name="\x00Jo\x00hn\x07\x1b", last_name="Do\ne\t", best_time_to_contact="\x00")
    body["tags"] = ["v\x00ip"]
    body["preferences"]["preferred_locations"] = ["San\x00 Francisco"]

    lead = api_client(agent).post(LEADS_URL, body, format="json").json()["lead"]

    assert (lead["contact"]["first_name"], lead["contact"]["last_name"]) == ("John", "Doe")
    assert lead["contact"]["best_time_to_contact"] is None
    assert lead["tags"] == ["vip"]
    assert lead["preferences"]["preferred_locations"] == ["San Francisco"]


def test_multiline_notes_keep_line_breaks_and_lose_nul(api_client, agent):
    lead = LeadFactory(assigned_to=agent)

    response = api_client(agent).post(
        lead_url(lead.public_id, interactions=True),
        {"type": "note", "summary": "Call\x00 notes", "notes": "line one\nline\x00 two\r\n\ttabbed"},
        format="json",
    )

    assert response.status_code == 201
    interaction = Interaction.objects.get(lead=lead)
    assert (interaction.summary, interaction.notes) == ("Call notes", "line one\nline two\r\n\ttabbed")


def test_a_name_of_only_control_characters_is_a_400(api_client, agent):
    response = api_client(agent).post(LEADS_URL, seed_with("contact", first_name="\x00\x01\x02"), format="json")

    assert "contact.first_name" in assert_error(response, 400, "validation_error")["fields"]


@pytest.mark.parametrize(
    "raw_fragment",
    [
        '"contact": {"first_name": "\\ud800", "email": "a@b.co"}',
        '"contact": {"first_name": "A", "email": "a@b.co"}, "source": "\\udfff"',
        '"contact": {"first_name": "A", "email": "a@b.co"}, "metadata": {"\\ud83d": "x"}',
    ],
)
def test_a_lone_surrogate_anywhere_is_a_400(api_client, agent, raw_fragment):
    before = db_snapshot()

    response = post_raw(api_client(agent), "{" + raw_fragment + ', "lead_type": "buyer"}')

    assert_error(response, 400, "malformed_json")
    assert db_snapshot() == before


def test_an_escaped_surrogate_pair_is_a_valid_emoji(api_client, agent):
    response = post_raw(
        api_client(agent), '{"contact": {"first_name": "\\ud83c\\udfe1", "email": "a@b.co"}, "lead_type": "buyer"}'
    )

    assert response.status_code == 201
    assert response.json()["lead"]["contact"]["first_name"] == "🏡"


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {"ke\x00y": "value"}},
        {"metadata": {"key": "val\x00ue"}},
        {"assigned_to": "agent_smith\x00"},
        {"assigned_to": "9" * 100},
        {"assigned_to": 2**70},
    ],
)
def test_nul_and_out_of_range_values_in_keys_and_references_are_never_a_500(api_client, manager, changes):
    response = api_client(manager).post(LEADS_URL, seed_payload(**changes), format="json")

    assert response.status_code in (201, 400), response.content
    if response.status_code == 201:
        assert "\x00" not in json.dumps(response.json()["lead"]["metadata"], ensure_ascii=False)


# --- structure -----------------------------------------------------------------------------


def test_nesting_deeper_than_the_parser_allows_is_a_400(api_client, agent):
    before = db_snapshot()

    response = post_raw(api_client(agent), '{"contact": ' + "[" * 100_000 + "]" * 100_000 + "}")

    assert_error(response, 400, "malformed_json")
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("path", "junk"),
    [
        ("contact.first_name", {"a": {"b": {"c": [1, 2, {"d": None}]}}}),
        ("contact.email", [[["x@y.co"]]]),
        ("metadata", {"deep": {"er": {"est": "x"}}}),
        ("preferences.property_type", [["Condo"]]),
        ("preferences.preferred_locations", [{"city": "Oakland"}]),
        ("tags", [[], {}, None]),
        ("timeline.desired_move_in_date", {"year": 2024}),
    ],
)
def test_nested_junk_in_a_field_is_a_400_on_that_field(api_client, agent, path, junk):
    body = seed_payload()
    *parents, name = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target[name] = junk
    before = db_snapshot()

    error = assert_error(api_client(agent).post(LEADS_URL, body, format="json"), 400, "validation_error")

    assert any(field.startswith(path) for field in error["fields"]), error
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("contact", []),
        ("contact", "John"),
        ("preferences", []),
        ("preferences", 5),
        ("timeline", [1]),
        ("metadata", []),
    ],
)
def test_an_array_or_scalar_where_an_object_belongs_is_a_400(api_client, agent, section, value):
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, seed_payload(**{section: value}), format="json")

    assert section in assert_error(response, 400, "validation_error")["fields"]
    assert db_snapshot() == before


def test_unknown_fields_are_ignored(api_client, agent):
    # The seed's interaction body carries "created_by"; integrations send extras.
    response = api_client(agent).post(
        LEADS_URL, seed_payload(id="lead_mine", version=99, extra={"x": 1}), format="json"
    )

    assert response.status_code == 201
    assert response.json()["lead"]["id"] != "lead_mine"
    assert response.json()["lead"]["version"] == 1


# --- numbers ---------------------------------------------------------------------------------


def test_numbers_sent_as_strings_are_read_as_numbers(api_client, agent):
    body = seed_payload()
    body["preferences"] |= {"min_price": "300000", "max_price": "450000.50", "bedrooms": "3", "bathrooms": "2.5"}

    response = api_client(agent).post(LEADS_URL, body, format="json")

    assert response.status_code == 201, response.content
    prefs = response.json()["lead"]["preferences"]
    assert (prefs["min_price"], prefs["max_price"], prefs["min_bedrooms"], prefs["min_bathrooms"]) == (
        300000,
        450000.5,
        3,
        2.5,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_price", True),
        ("max_price", False),
        ("bedrooms", True),
        ("square_feet", False),
        ("min_price", "three hundred"),
        ("min_price", "NaN"),
        ("min_price", "Infinity"),
        ("min_price", "-Infinity"),
        ("min_price", 1e300),
        ("max_price", 10**20),
        ("bedrooms", 2.5),
        ("bedrooms", 10**30),
        ("bathrooms", "NaN"),
        ("min_price", {"amount": 1}),
        ("min_price", [300000]),
    ],
)
def test_a_wrongly_typed_or_out_of_range_number_is_a_400(api_client, agent, field, value):
    body = seed_payload()
    body["preferences"][field] = value
    before = db_snapshot()

    response = api_client(agent).post(LEADS_URL, body, format="json")

    assert f"preferences.{field}" in assert_error(response, 400, "validation_error")["fields"]
    assert db_snapshot() == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_json_numbers_are_a_400(api_client, agent, literal):
    before = db_snapshot()
    raw = json.dumps(seed_payload()).replace("300000.0", literal)

    response = post_raw(api_client(agent), raw)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"malformed_json", "validation_error"}
    assert db_snapshot() == before


@pytest.mark.parametrize(("field", "value"), [("email_opt_out", "yes"), ("sms_opt_out", 1), ("call_opt_out", None)])
def test_a_boolean_flag_must_be_a_json_boolean(api_client, agent, field, value):
    response = api_client(agent).post(LEADS_URL, seed_with("contact", **{field: value}), format="json")

    assert f"contact.{field}" in assert_error(response, 400, "validation_error")["fields"]


@pytest.mark.parametrize(
    "query",
    [
        "search=%00",
        "search=%27%20OR%201%3D1%20--",
        "search=%25%25%25_",
        "location=%00",
        "assigned_to=%00",
        "assigned_to=99999999999999999999999999",
        "status=%00",
        "page=%00",
        "ordering=%00",
        "created_after=0000-01-01T00:00:00Z",
        "created_after=0001-01-01T00:00:00%2B05:00",
        "score_min=1e400",
    ],
)
def test_hostile_query_strings_are_never_a_500(api_client, agent, query):
    LeadFactory(assigned_to=agent)

    response = api_client(agent).get(f"{LEADS_URL}?{query}")

    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["total_count"] in (0, 1)
    else:
        assert_error(response, 400, "validation_error")
