"""The import's compiled row validator (``leads.imports.rows.RowValidator``) and the
API's serializer (``LeadInput``, what POST /api/v2/leads runs) agree on good and
hostile rows: the same validated data for a row both take, the same errors (field
names and messages) for a row the API refuses, and the fast path never takes a row
the API refuses."""

import pytest

from leads.core.inputs import LeadInput, flatten_errors
from leads.imports.rows import RowValidator, row_payload
from leads.models import AuditEntry, Lead, LeadEvent, LeadImport, StatusChange
from leads.tests.test_imports_chunked import imported

pytestmark = pytest.mark.django_db

FULL = {
    "first_name": " Ada ",
    "last_name": "Lovelace",
    "email": "Ada.Lovelace@EXAMPLE.COM",
    "phone": "(415) 555-0101",
    "preferred_contact_method": "email",
    "best_time_to_contact": "mornings",
    "preferred_language": "EN",
    "email_opt_out": "yes",
    "sms_opt_out": "0",
    "call_opt_out": "False",
    "lead_type": "buyer",
    "source": "website",
    "status": "contacted",
    "min_price": "300000",
    "max_price": "500000.50",
    "min_bedrooms": "3",
    "min_bathrooms": "2.5",
    "min_square_feet": "1200",
    "property_types": "condo;Single Family; single-family",
    "preferred_locations": " Oakland ;  San   Jose;;",
    "must_have_features": "garage;garage",
    "nice_to_have_features": "pool",
    "urgency_level": "high",
    "financing_status": "pre_approved",
    "target_move_date": "2027-01-15",
    "pre_approval_amount": "450000",
    "tags": "vip; first-time ;",
}


def row(**cells: str) -> dict[str, str]:
    return {"first_name": "Ada", "email": "ada@example.com", "lead_type": "buyer", **cells}


GOOD_ROWS = {
    "every column": FULL,
    "the least": {"first_name": "Ada", "lead_type": "seller", "phone": "4155550101"},
    "blank optional cells": row(last_name="", phone=" ", source="", tags="", min_price=""),
    "unicode names": row(first_name="José", last_name="Müller-Łukasz 李", preferred_locations="Zürich;São Paulo"),
    "a number not in any plan is kept and flagged": row(phone="+1234567890"),
    "a datetime move date": row(target_move_date="2027-01-15T10:00:00Z"),
    "min above max (the service's rule, not the serializer's)": row(min_price="900000", max_price="100000"),
    "formula-looking text is text": row(first_name='=HYPERLINK("http://x")', last_name="@SUM(A1)", tags="+cmd;-1+2"),
    "control characters are removed": row(first_name="\x00Ada\x07", last_name="\x01"),
    "separators only": row(property_types=";;", tags=" ; "),
    "an unknown column is ignored": row(favourite_colour="blue"),
}

HOSTILE_ROWS = {
    "bad email": row(email="not-an-email"),
    "unicode email": row(email="josé@bücher.de"),
    "bad phone letters": row(phone="12ab34567"),
    "short phone": row(phone="123"),
    "long phone": row(phone="1" * 41),
    "over-long first name": row(first_name="A" * 101),
    "over-long email": row(email="a" * 250 + "@example.com"),
    "over-long tag": row(tags="t" * 51),
    "too many tags": row(tags=";".join(f"tag{n}" for n in range(21))),
    "negative min price": row(min_price="-5"),
    "negative max price": row(max_price="-1"),
    "price with three decimals": row(min_price="12.345"),
    "price too large": row(max_price="123456789012345"),
    "price not a number": row(min_price="abc"),
    "price NaN": row(min_price="NaN"),
    "price infinity": row(max_price="Infinity"),
    "price exponent": row(max_price="1e400"),
    "fractional bedrooms": row(min_bedrooms="2.5"),
    "negative bedrooms": row(min_bedrooms="-1"),
    "too many bedrooms": row(min_bedrooms="51"),
    "bathrooms too precise": row(min_bathrooms="2.25"),
    "unknown lead type": row(lead_type="tourist"),
    "unknown source": row(source="tv"),
    "unknown status": row(status="sold"),
    "unknown urgency": row(urgency_level="asap"),
    "unknown financing": row(financing_status="maybe"),
    "unknown contact method": row(preferred_contact_method="fax"),
    "unknown property type": row(property_types="condo;castle"),
    "bad language": row(preferred_language="english"),
    "bad opt-out": row(email_opt_out="maybe"),
    "bad date": row(target_move_date="2027-13-01"),
    "words for a date": row(target_move_date="tomorrow"),
    "blank first name": row(first_name="   "),
    "first name only control characters": row(first_name="\x00\x01"),
    "blank lead type": row(lead_type=""),
    "no lead type cell (a short row)": {"first_name": "Ada", "email": "ada@example.com"},
    "a blank row": {"first_name": "", "email": "", "lead_type": ""},
    "several errors at once": row(email="x@", phone="abc", lead_type="nope", min_price="-1", tags="t" * 60),
}


def serializer_answer(raw: dict[str, str]):
    payload = row_payload(raw)
    payload.pop("assigned_to", None)
    try:
        return LeadInput().run_validation(payload), {}
    except Exception as exc:  # DRF's ValidationError: the API's 422
        return None, flatten_errors(exc.detail)


@pytest.mark.parametrize("raw", GOOD_ROWS.values(), ids=GOOD_ROWS.keys())
def test_a_good_row_is_taken_by_the_fast_path_with_the_serializers_values(raw):
    expected, errors = serializer_answer(raw)
    assert errors == {}
    assert RowValidator().validate_cells(raw) == expected
    assert RowValidator().validate(raw) == (expected, {})


@pytest.mark.parametrize("raw", HOSTILE_ROWS.values(), ids=HOSTILE_ROWS.keys())
def test_a_hostile_row_gets_the_serializers_answer_and_the_fast_path_never_takes_a_refused_row(raw):
    expected = serializer_answer(raw)
    validator = RowValidator()
    assert validator.validate(raw) == expected
    if expected[1]:
        assert validator.validate_cells(raw) is None


def test_values_kept_from_earlier_rows_give_the_same_answers():
    # one validator for many rows, as an import has: a cell seen before is not checked
    # again, and its kept value must be what a fresh check gives, row after row
    validator = RowValidator()
    rows = [*GOOD_ROWS.values(), *HOSTILE_ROWS.values()] * 2
    assert [validator.validate(raw) for raw in rows] == [serializer_answer(raw) for raw in rows]


def test_each_lead_gets_its_own_lists():
    validator = RowValidator()
    first, second = validator.validate_cells(FULL), validator.validate_cells(FULL)
    first["preferences"]["property_types"].append("land")
    assert second["preferences"]["property_types"] == ["condo", "single_family"]


def test_an_import_reports_hostile_rows_with_the_serializers_errors(client, agent, django_capture_on_commit_callbacks):
    names = ["bad email", "short phone", "negative min price", "unknown status", "several errors at once"]
    columns = ["first_name", "email", "phone", "lead_type", "status", "min_price", "tags"]
    lines = [",".join(columns)]
    for name in names:
        raw = HOSTILE_ROWS[name]
        lines.append(",".join(raw.get(column, "") for column in columns))
    lines.append("Good,good@example.com,,buyer,,,")
    client.force_login(agent)
    job: LeadImport = imported(client, "\n".join(lines) + "\n", django_capture_on_commit_callbacks)
    assert (job.created_count, job.error_count) == (1, len(names))
    for item, name in zip(job.row_errors, names, strict=True):
        raw = {column: value for column, value in zip(columns, lines[item["row"] - 1].split(","), strict=True)}
        assert item["errors"] == serializer_answer(raw)[1], name


def test_the_rows_written_beside_each_imported_lead_are_complete(client, agent, django_capture_on_commit_callbacks):
    # enough rows that PostgreSQL writes the status changes, audit entries and events
    # as value rows with COPY (leads.bulk.insert_rows); SQLite takes bulk_create
    count = 30
    lines = ["first_name,email,lead_type,min_price"] + [
        f"Lead{n},lead{n}@example.com,buyer,{n}000" for n in range(count)
    ]
    client.force_login(agent)
    job = imported(client, "\n".join(lines) + "\n", django_capture_on_commit_callbacks)
    assert job.created_count == count
    leads = list(Lead.objects.filter(contact__email__endswith="@example.com").select_related("contact", "preferences"))
    assert len(leads) == count
    for lead in leads:
        changes = list(StatusChange.objects.filter(lead=lead))
        assert [(c.from_status, c.to_status, c.changed_by_id, c.changed_at) for c in changes] == [
            ("", "new", agent.pk, lead.created_at)
        ]
        (entry,) = AuditEntry.objects.filter(lead=lead)
        assert (entry.field, entry.old_value, entry.actor_id, entry.channel) == ("created", None, agent.pk, "import")
        assert entry.new_value["contact.email"] == lead.contact.email
        assert entry.new_value["preferences.min_price"] == int(lead.preferences.min_price)
        assert entry.new_value["assigned_to"] == agent.username
        (event,) = LeadEvent.objects.filter(lead=lead)
        assert (event.kind, event.lead_version, event.data, event.actor_id, event.channel) == (
            "lead.created",
            1,
            {},
            agent.pk,
            "import",
        )
        assert (event.relayed_at, event.relay_attempts, event.relay_error) == (None, 0, "")
    assert len({entry.changeset for entry in AuditEntry.objects.filter(lead__in=leads)}) == count
    assert len({event.event_id for event in LeadEvent.objects.filter(lead__in=leads)}) == count
