"""CSV import (upload, background run, summary, error report) and CSV export."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from leads.imports import services as imports
from leads.imports.tasks import import_leads
from leads.models import ImportStatus, Lead, LeadImport
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HEADER = "first_name,last_name,email,phone,lead_type,source,min_price,max_price,preferred_locations,property_types\n"
GOOD_ROWS = (
    "Ada,Lovelace,ada@example.com,4155550101,buyer,website,300000,500000,Oakland;Berkeley,condo;Single Family\n"
    "Alan,Turing,alan@example.com,,seller,referral,,,,\n"
    "Grace,Hopper,,+1 415 555 0103,investor,zillow,,,,\n"
)


def upload(client, text: str, name: str = "leads.csv", **headers):
    file = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("leads:imports"), {"file": file}, **headers)


def run_queued_import(client, text: str, django_capture_on_commit_callbacks) -> LeadImport:
    """Upload, check the import was queued after the commit, then run the task itself."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(client, text)
    assert response.status_code == 303
    assert len(callbacks) == 1  # the job is queued only once the upload has committed
    job = LeadImport.objects.latest("created_at")
    assert response["Location"] == reverse("leads:import_detail", args=[job.pk])
    import_leads(job.pk)
    job.refresh_from_db()
    return job


def test_a_good_file_creates_every_lead(client, agent, django_capture_on_commit_callbacks):
    client.force_login(agent)
    job = run_queued_import(client, HEADER + GOOD_ROWS, django_capture_on_commit_callbacks)
    assert (job.status, job.total_rows, job.created_count, job.duplicate_count, job.error_count) == ("done", 3, 3, 0, 0)
    ada = Lead.objects.get(contact__email="ada@example.com")
    assert ada.assigned_to == agent
    assert ada.contact.phone == "+14155550101"
    assert ada.preferences.preferred_locations == ["Oakland", "Berkeley"]
    assert ada.preferences.property_types == ["condo", "single_family"]
    assert Lead.objects.get(contact__first_name="Grace").contact.phone == "+14155550103"


def test_duplicates_of_team_leads_and_of_earlier_rows_are_skipped_and_reported(
    client, agent, other_agent, django_capture_on_commit_callbacks
):
    # given a lead the agent has, one only another agent has, and an archived one
    known = LeadFactory(assigned_to=agent, contact__email="john@example.com", contact__phone="+14155550199")
    LeadFactory(assigned_to=other_agent, contact__email="hidden@example.com", contact__phone="+14155550188")
    LeadFactory(assigned_to=agent, contact__email="gone@example.com", archived_at=timezone.now())
    text = (
        "first_name,email,phone,lead_type\n"
        "John,John@Example.com,,buyer\n"  # the same address in another case
        "Phone,,(415) 555-0199,buyer\n"  # the same number, formatted differently
        "Hidden,hidden@example.com,,buyer\n"  # another agent's lead: still the team's
        "Gone,gone@example.com,,buyer\n"  # only an archived lead has it: created
        "First,first@example.com,,buyer\n"
        "Again,FIRST@example.com,,seller\n"  # the same email as the row above
    )
    client.force_login(agent)
    job = run_queued_import(client, text, django_capture_on_commit_callbacks)

    # then four rows are skipped as duplicates, and nothing else is refused
    assert (job.created_count, job.duplicate_count, job.error_count) == (2, 4, 0)
    assert Lead.objects.count() == 3 + 2
    first = Lead.objects.get(contact__email="first@example.com")
    assert Lead.objects.filter(contact__first_name="Gone", archived_at__isnull=True).exists()

    # and the report names the existing lead when the agent may see it
    response = client.get(reverse("leads:import_errors_csv", args=[job.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["row"], row["existing_lead_id"]) for row in rows] == [
        ("2", known.public_id),
        ("3", known.public_id),
        ("4", ""),  # another agent's lead: its id is not shown
        ("7", first.public_id),
    ]
    assert rows[0]["errors"] == "contact.email: A lead with this email address already exists."
    assert rows[1]["errors"] == "contact.phone: A lead with this phone number already exists."
    page = client.get(reverse("leads:import_progress", args=[job.pk])).content.decode()
    assert f'href="{reverse("leads:lead_detail", args=[known.public_id])}"' in page
    assert "Duplicate of a lead in the team" in page


def test_an_import_by_a_manager_skips_every_agents_leads(client, manager, agent, django_capture_on_commit_callbacks):
    lead = LeadFactory(assigned_to=agent, contact__email="john@example.com")
    client.force_login(manager)
    job = run_queued_import(
        client, "first_name,email,lead_type\nJohn,John@Example.com,buyer\n", django_capture_on_commit_callbacks
    )
    assert (job.created_count, job.duplicate_count) == (0, 1)
    assert job.row_errors[0]["existing_lead_id"] == lead.public_id


def test_bad_rows_are_reported_with_the_apis_messages_and_the_rest_imported(
    client, agent, api_client, django_capture_on_commit_callbacks
):
    text = (
        "first_name,email,phone,lead_type,min_price,max_price\n"
        "Ok,ok@example.com,,buyer,,\n"
        "Bad email,not-an-email,,buyer,,\n"
        ",noname@example.com,,buyer,,\n"
        "Odd type,odd@example.com,,tourist,,\n"
        "Prices,prices@example.com,,buyer,900000,100000\n"
        "Unreachable,,,buyer,,\n"
    )
    client.force_login(agent)
    job = run_queued_import(client, text, django_capture_on_commit_callbacks)
    assert (job.created_count, job.duplicate_count, job.error_count) == (1, 0, 5)
    errors = {item["row"]: item["errors"] for item in job.row_errors}
    api = api_client(agent).post(
        "/api/v2/leads", {"contact": {"first_name": "x", "email": "not-an-email"}, "lead_type": "buyer"}, format="json"
    )
    assert errors[3] == {"contact.email": api.json()["error"]["fields"]["contact.email"]}
    assert errors[4] == {"contact.first_name": ["This field may not be blank."]}
    assert "lead_type" in errors[5]
    assert errors[6] == {"preferences.min_price": ["Must not be greater than max_price."]}
    assert errors[7] == {"contact": ["A lead needs an email address or a phone number."]}

    # and the error report downloads as CSV with the reasons and the values
    response = client.get(reverse("leads:import_errors_csv", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0][:2] == ["row", "errors"]
    assert rows[1][0] == "3"
    assert "contact.email: Enter a valid email address." in rows[1][1]
    assert len(rows) == 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty."),
        (b"name,email\nAda,ada@example.com\n", "lacks the required columns: first_name, lead_type"),
        (b"first_name,lead_type,email\n", "no rows"),
        ("first_name,lead_type,email\nJos\u00e9,buyer,j@example.com\n".encode("latin-1"), "UTF-8"),
        (b"first_name,lead_type\nAda,buyer\n", "needs an email or a phone column"),
    ],
)
def test_a_bad_file_is_refused_with_a_reason_and_nothing_is_queued(
    client, agent, content, message, django_capture_on_commit_callbacks
):
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("leads:imports"), {"file": SimpleUploadedFile("x.csv", content)})
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors["file"])
    assert not LeadImport.objects.exists()
    assert callbacks == []


def test_a_missing_file_is_a_422(client, agent):
    client.force_login(agent)
    response = client.post(reverse("leads:imports"), {})
    assert response.status_code == 422
    assert response.context["form"].errors["file"] == ["Choose a CSV file to upload."]


def test_running_an_import_twice_creates_nothing_more(client, agent, django_capture_on_commit_callbacks):
    client.force_login(agent)
    job = run_queued_import(client, HEADER + GOOD_ROWS, django_capture_on_commit_callbacks)
    import_leads(job.pk)  # a second delivery of the same task
    assert Lead.objects.count() == 3


def test_progress_partial_polls_until_done_then_shows_the_summary(client, agent, django_capture_on_commit_callbacks):
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=False):
        upload(client, HEADER + GOOD_ROWS)
    job = LeadImport.objects.get()
    url = reverse("leads:import_progress", args=[job.pk])
    waiting = client.get(url).content.decode()
    assert 'hx-trigger="every 500ms"' in waiting
    assert 'value="0"' in waiting
    import_leads(job.pk)
    done = client.get(url).content.decode()
    assert "hx-trigger" not in done  # polling stops
    assert 'value="100"' in done
    assert "Duplicates skipped" in done


def test_a_crash_marks_the_import_failed(agent, monkeypatch):
    # given a job whose stored text cannot be parsed by the row reader
    job = LeadImport.objects.create(created_by=agent, file_name="x.csv", source_text="first_name\n", total_rows=1)
    monkeypatch.setattr(imports, "_data_rows", lambda text: iter([(2, None)]))
    imports.run_import(import_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "unexpected error" in job.failure_reason


# --- export -----------------------------------------------------------------------


def test_export_streams_the_filtered_visible_leads(client, agent, other_agent):
    LeadFactory(assigned_to=agent, lead_type="seller", contact__first_name="Sally")
    LeadFactory(assigned_to=agent, lead_type="buyer", contact__first_name="Bruno")
    LeadFactory(assigned_to=other_agent, lead_type="seller", contact__first_name="Hidden")
    client.force_login(agent)
    response = client.get(reverse("leads:lead_export"), {"lead_type": "seller"})
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["first_name"] for row in rows] == ["Sally"]
    assert rows[0]["min_price"] == "300000"
    assert rows[0]["preferred_locations"] == "San Francisco"
    assert rows[0]["created_at"].endswith("Z")


def test_export_neutralises_spreadsheet_formulas(client, agent):
    LeadFactory(assigned_to=agent, contact__first_name="=HYPERLINK(1)", contact__phone="+14155550100")
    client.force_login(agent)
    response = client.get(reverse("leads:lead_export"))
    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["first_name"] == "'=HYPERLINK(1)"
    assert row["phone"] == "+14155550100"


def test_an_export_imports_back_as_duplicates(client, agent, django_capture_on_commit_callbacks):
    LeadFactory.create_batch(3, assigned_to=agent)
    client.force_login(agent)
    exported = b"".join(client.get(reverse("leads:lead_export")).streaming_content).decode()
    job = run_queued_import(client, exported, django_capture_on_commit_callbacks)
    assert (job.created_count, job.duplicate_count, job.error_count) == (0, 3, 0)
