"""The CSV import in chunks: limits, chunk boundaries, resume after a dead worker,
queries per chunk, and hostile files."""

import csv
import io
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.imports import services as imports
from leads.imports.tasks import import_leads
from leads.models import AuditEntry, ImportStatus, Lead, LeadEvent, LeadImport, StatusChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def csv_file(rows: list[list[str]], header: str = "first_name,email,phone,lead_type") -> str:
    out = io.StringIO()
    out.write(header + "\n")
    csv.writer(out).writerows(rows)
    return out.getvalue()


def good_rows(count: int, start: int = 0) -> list[list[str]]:
    return [[f"Lead{n}", f"lead{n}@example.com", f"+1415555{n:04d}", "buyer"] for n in range(start, start + count)]


def upload(client, text: str | bytes):
    content = text.encode() if isinstance(text, str) else text
    return client.post(reverse("leads:imports"), {"file": SimpleUploadedFile("leads.csv", content)})


def imported(client, text: str, django_capture_on_commit_callbacks) -> LeadImport:
    with django_capture_on_commit_callbacks(execute=False):
        assert upload(client, text).status_code == 303
    job = LeadImport.objects.latest("created_at")
    import_leads(job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def chunks_of_two(settings):
    settings.IMPORT_CHUNK_ROWS = 2


# --- limits -------------------------------------------------------------------------


def test_a_100k_row_file_is_accepted_and_queued(client, manager, django_capture_on_commit_callbacks):
    text = csv_file(good_rows(100_000))
    assert len(text) > 5 * 1024 * 1024  # past the old limit
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(client, text)
    assert response.status_code == 303
    job = LeadImport.objects.get()
    assert (job.total_rows, job.status, len(callbacks)) == (100_000, ImportStatus.QUEUED, 1)


@pytest.mark.parametrize(
    ("limits", "rows", "message"),
    [
        ({"IMPORT_MAX_ROWS": 3}, 4, "At most 3 rows per file; this one has 4."),
        ({"IMPORT_MAX_BYTES": 100}, 4, "The file is larger than 100 bytes."),
        ({"IMPORT_MAX_BYTES": 1024 * 1024}, 25_000, "The file is larger than 1 MB."),
    ],
)
def test_a_file_over_the_configured_limits_is_refused_with_the_limit(client, agent, settings, limits, rows, message):
    for name, value in limits.items():
        setattr(settings, name, value)
    client.force_login(agent)
    response = upload(client, csv_file(good_rows(rows)))
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors["file"])
    assert not LeadImport.objects.exists()


def test_the_upload_page_states_the_configured_limits(client, agent, settings):
    settings.IMPORT_MAX_ROWS = 150_000
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    client.force_login(agent)
    page = client.get(reverse("leads:imports")).content.decode()
    assert "Up to 150,000 rows, 20 MB." in page


# --- chunks ---------------------------------------------------------------------------


def test_duplicates_and_errors_across_chunk_boundaries_are_found_with_their_row_numbers(
    client, agent, chunks_of_two, django_capture_on_commit_callbacks
):
    known = LeadFactory(assigned_to=agent, contact__email="known@example.com")
    rows = [
        ["Ada", "ada@example.com", "", "buyer"],  # line 2, chunk 1
        ["Bad", "not-an-email", "", "buyer"],  # line 3, chunk 1
        ["Known", "KNOWN@example.com", "", "buyer"],  # line 4, chunk 2: a team lead
        ["Bob", "", "415 555 0123", "seller"],  # line 5, chunk 2
        ["Ada again", "Ada@Example.com", "", "buyer"],  # line 6, chunk 3: line 2's lead, created in chunk 1
        ["Bob again", "", "+14155550123", "buyer"],  # line 7, chunk 3: line 5's number
        ["Carol", "carol@example.com", "", "nobody"],  # line 8, chunk 4
    ]
    client.force_login(agent)
    job = imported(client, csv_file(rows), django_capture_on_commit_callbacks)

    assert (job.status, job.processed_rows, job.total_rows) == (ImportStatus.DONE, 7, 7)
    assert (job.created_count, job.duplicate_count, job.error_count) == (2, 3, 2)
    ada = Lead.objects.get(contact__email="ada@example.com")
    bob = Lead.objects.get(contact__phone="+14155550123")
    reported = [(item["row"], item.get("existing_lead_id"), sorted(item["errors"])) for item in job.row_errors]
    assert reported == [
        (3, None, ["contact.email"]),
        (4, known.public_id, ["contact.email"]),
        (6, ada.public_id, ["contact.email"]),
        (7, bob.public_id, ["contact.phone"]),
        (8, None, ["lead_type"]),
    ]
    # every created lead has its status history, its audit entry and one pipeline job
    new = [ada.pk, bob.pk]
    assert StatusChange.objects.filter(lead__in=new).count() == 2
    assert AuditEntry.objects.filter(lead__in=new, field="created", channel="import").count() == 2
    created = LeadEvent.objects.filter(lead__in=new, kind="lead.created")
    assert sorted(created.values_list("lead_id", flat=True)) == sorted(new)
    assert {ada.assigned_to, bob.assigned_to} == {agent}


def test_queries_are_counted_per_chunk_not_per_row(
    client, manager, agent, settings, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    settings.IMPORT_CHUNK_ROWS = 100
    rows = [[*row, agent.username] for row in good_rows(300)]
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=False):
        upload(client, csv_file(rows, header="first_name,email,phone,lead_type,assigned_to"))
    job = LeadImport.objects.get()

    # per chunk: lock and offset check, duplicate query, bulk inserts, the new leads' arrival
    # in their first stage (one UPDATE, leads.core.writes.insert_leads), progress (SQLite
    # splits the inserts in a few statements); the assignee is looked up once for the file
    with django_assert_max_num_queries(3 * 21 + 6):  # 300 rows in 3 chunks
        imports.run_import(import_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.DONE, 300)
    assert Lead.objects.filter(assigned_to=agent).count() == 300


def test_an_unknown_assignee_is_refused_with_the_apis_message(client, manager, django_capture_on_commit_callbacks):
    rows = [["Ada", "ada@example.com", "", "buyer", "nobody_by_that_name"]]
    client.force_login(manager)
    text = csv_file(rows, header="first_name,email,phone,lead_type,assigned_to")
    job = imported(client, text, django_capture_on_commit_callbacks)
    assert job.row_errors[0]["errors"] == {"assigned_to": ["No active user with this username or id."]}
    assert not Lead.objects.exists()


def test_a_worker_that_dies_mid_file_is_resumed_without_creating_a_row_twice(
    agent, chunks_of_two, monkeypatch, django_capture_on_commit_callbacks
):
    # given an import whose worker dies after its first chunk committed
    text = csv_file([*good_rows(2), ["Bad", "not-an-email", "", "buyer"], *good_rows(2, start=2)])
    with django_capture_on_commit_callbacks(execute=False):
        job = imports.import_create(actor=agent, file_name="leads.csv", content=text.encode())
    real_rows = imports._data_rows

    def rows_until_killed(pieces):
        for number, row in enumerate(real_rows(pieces)):
            if number == 3:  # reading the second chunk
                raise SystemExit("worker killed")
            yield row

    monkeypatch.setattr(imports, "_data_rows", rows_until_killed)
    with pytest.raises(SystemExit):
        imports.run_import(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, Lead.objects.count()) == (ImportStatus.RUNNING, 2, 2)

    # when the broker delivers the task again
    monkeypatch.setattr(imports, "_data_rows", real_rows)
    import_leads(job.pk)

    # then the rest is imported and nothing twice
    job.refresh_from_db()
    assert (job.status, job.processed_rows) == (ImportStatus.DONE, 5)
    assert (job.created_count, job.duplicate_count, job.error_count) == (4, 0, 1)
    assert [item["row"] for item in job.row_errors] == [4]
    assert Lead.objects.count() == 4


def test_a_worker_whose_job_moved_on_stops(agent, chunks_of_two, django_capture_on_commit_callbacks):
    # given a job another delivery already took further than this worker knows
    with django_capture_on_commit_callbacks(execute=False):
        job = imports.import_create(actor=agent, file_name="leads.csv", content=csv_file(good_rows(4)).encode())
    LeadImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
    stale = LeadImport.objects.get(pk=job.pk)
    LeadImport.objects.filter(pk=job.pk).update(processed_rows=2)

    # when the stale worker goes on from where it last read the job
    imports._import_rows(stale)

    # then it writes nothing
    assert not Lead.objects.exists()
    job.refresh_from_db()
    assert (job.status, job.processed_rows) == (ImportStatus.RUNNING, 2)


def test_the_listed_rows_are_capped_and_the_page_says_so(client, agent, settings, django_capture_on_commit_callbacks):
    settings.IMPORT_MAX_LISTED_ERRORS = 2
    rows = [[f"Bad{n}", f"bad{n}", "", "buyer"] for n in range(4)]
    client.force_login(agent)
    job = imported(client, csv_file(rows), django_capture_on_commit_callbacks)
    assert (job.error_count, len(job.row_errors)) == (4, 2)
    page = client.get(reverse("leads:import_progress", args=[job.pk])).content.decode()
    assert "the CSV lists the first 2 of the 4 rows not imported" in page
    report = client.get(reverse("leads:import_errors_csv", args=[job.pk])).content.decode()
    assert [row[0] for row in csv.reader(io.StringIO(report))] == ["row", "2", "3"]


# --- hostile files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
        (b"first_name,email,lead_type\nAda,\x00ada@example.com,buyer\n", "not a CSV text file"),
        (f"first_name,email,lead_type\n{'x' * 200_000},a@example.com,buyer\n".encode(), "not valid CSV"),
        (b"\xef\xbb\xbffirst_name;email;lead_type\nAda;ada@example.com;buyer\n", "lacks the required columns"),
        (b"\n\nfirst_name,email,lead_type\nAda,ada@example.com,buyer\n", "lacks the required columns"),
    ],
)
def test_a_hostile_file_is_refused_with_a_reason(client, agent, content, message):
    client.force_login(agent)
    response = upload(client, content)
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors["file"])
    assert not LeadImport.objects.exists()


def test_the_error_report_neutralises_formulas_in_values_and_reasons(client, agent, django_capture_on_commit_callbacks):
    rows = [['=HYPERLINK("http://evil.example","x")', "not-an-email", "", "=1+1"]]
    client.force_login(agent)
    job = imported(client, csv_file(rows), django_capture_on_commit_callbacks)
    report = client.get(reverse("leads:import_errors_csv", args=[job.pk])).content.decode()
    row = next(csv.DictReader(io.StringIO(report)))
    assert row["first_name"].startswith("'=HYPERLINK")
    assert row["lead_type"] == "'=1+1"
    assert not row["errors"].startswith(("=", "+", "-", "@"))


@pytest.fixture
def broker_down():
    """Celery with a broker that refuses connections (not the eager default)."""
    conf = import_leads.app.conf
    saved = {"task_always_eager": conf.task_always_eager, "broker_url": conf.broker_url}
    conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    _forget_broker_connections(import_leads.app)
    yield
    conf.update(**saved)
    _forget_broker_connections(import_leads.app)


def _forget_broker_connections(app) -> None:
    """Connections and producers are made again for the broker URL now set (an earlier
    test's producer pool would still publish to the in-memory broker)."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)  # the import runs on its own thread and connection
def test_an_upload_while_the_broker_is_down_is_imported_in_the_background(client, agent, broker_down):
    client.force_login(agent)

    response = upload(client, csv_file(good_rows(2)))

    # then the upload is kept and imported here instead of a 500
    assert response.status_code == 303
    job = LeadImport.objects.get()
    # (a two-row import may have finished already: only a running thread is waited for)
    for runner in [thread for thread in threading.enumerate() if thread.name == f"lead-import-{job.pk}"]:
        runner.join(timeout=60)
    deadline = time.monotonic() + 30
    job.refresh_from_db()
    while job.status not in (ImportStatus.DONE, ImportStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(0.1)
        job.refresh_from_db()
    assert (job.status, job.created_count, job.failure_reason) == (ImportStatus.DONE, 2, "")
