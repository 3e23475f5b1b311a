"""The Reports pages, their exports and the API: access, filters, bad input."""

import csv
import io

import pytest
from django.urls import reverse

from leads.deals.models import SourceSpend
from leads.reports.tests.world import build_world

pytestmark = pytest.mark.django_db

NAMES = ["funnel", "sources", "agents", "stages"]


@pytest.fixture
def world():
    return build_world(count=14)


@pytest.mark.parametrize("name", NAMES)
def test_a_manager_opens_each_report_with_its_chart_and_table(client, manager, world, name):
    client.force_login(manager)

    response = client.get(reverse(f"reports:{name}"), {"start": world.start, "end": world.end})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-report-chart="' + name in html
    assert 'id="report-table"' in html
    assert 'id="report-chart"' in html
    assert "export.csv?" in html and "export.pdf?" in html


@pytest.mark.parametrize("name", NAMES)
def test_an_agent_opens_each_report_without_the_agent_filter(client, world, name):
    client.force_login(world.agents[0])

    response = client.get(reverse(f"reports:{name}"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Your own figures" in html
    assert 'id="id_agent"' not in html


def test_reports_need_a_sign_in(client):
    response = client.get(reverse("reports:funnel"))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"start": "2026-11-05", "end": "2026-11-01"}, "end"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"agent": "nobody"}, "agent"),
        ({"lead_type": "alien"}, "lead_type"),
        ({"stuck_days": "0"}, "stuck_days"),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "start"),
    ],
)
def test_bad_filters_are_a_400_on_the_page_the_export_and_the_api(client, api_client, manager, params, field):
    client.force_login(manager)

    page = client.get(reverse("reports:funnel"), params)
    export = client.get(reverse("reports:export_csv", args=["funnel"]), params)
    api = api_client(manager).get("/api/v2/reports/funnel", params)

    assert page.status_code == 422
    assert 'class="error"' in page.content.decode()
    assert export.status_code == 400
    assert api.status_code == 400
    assert field in api.json()["error"]["fields"]


def test_an_unknown_report_is_a_404(client, api_client, manager):
    client.force_login(manager)

    assert client.get("/reports/nope/").status_code == 404
    assert api_client(manager).get("/api/v2/reports/nope").status_code == 404


@pytest.mark.parametrize("name", NAMES)
def test_the_csv_export_has_the_pages_figures(client, api_client, manager, world, name):
    client.force_login(manager)
    params = {"start": world.start, "end": world.end}

    response = client.get(reverse("reports:export_csv", args=[name]), params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    api = api_client(manager).get(f"/api/v2/reports/{name}", params).json()["report"]
    assert lines[1] == [column["label"] for column in api["columns"]]
    first_key = api["columns"][1]["key"]
    assert [line[1] for line in lines[2 : 2 + len(api["rows"])]] == [
        "" if row[first_key] is None else str(row[first_key]) for row in api["rows"]
    ]


@pytest.mark.parametrize("name", NAMES)
def test_the_pdf_export_is_a_pdf(client, manager, world, name):
    client.force_login(manager)

    response = client.get(reverse("reports:export_pdf", args=[name]), {"start": world.start, "end": world.end})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert len(response.content) > 1000


def test_the_api_needs_a_token_and_scopes_agents_to_their_own_figures(api_client, world):
    ann, bob = world.agents

    assert api_client(None).get("/api/v2/reports/agents").status_code == 401
    body = api_client(ann).get("/api/v2/reports/agents", {"agent": bob.username}).json()["report"]

    assert body["rows"] == []
    own = api_client(ann).get("/api/v2/reports/agents").json()["report"]
    assert [row["username"] for row in own["rows"]] == [ann.username]
    assert own["time_zone"]


def test_the_api_answers_in_the_v2_envelope(api_client, manager, world):
    response = api_client(manager).get("/api/v2/reports/sources", {"start": world.start, "end": world.end})

    assert response.status_code == 200
    body = response.json()
    assert {"report", "metadata", "processing_time"} <= set(body)
    assert body["report"]["filters"]["start"] == world.start.isoformat()
    assert isinstance(body["report"]["rows"][0]["leads"], int)


# --- spend ---------------------------------------------------------------------------


def test_a_manager_records_a_months_spend_and_corrects_it(client, manager):
    client.force_login(manager)
    url = reverse("reports:spend")

    first = client.post(url, {"source": "zillow", "month": "2026-11", "amount": "1500"})
    second = client.post(url, {"source": "zillow", "month": "2026-11", "amount": "1750.50"})

    assert first.status_code == second.status_code == 303
    row = SourceSpend.objects.get()
    assert (row.source, row.month.isoformat(), str(row.amount)) == ("zillow", "2026-11-01", "1750.50")
    assert "$1,750.50" in client.get(url).content.decode() or "1,750" in client.get(url).content.decode()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"source": "zillow", "month": "November", "amount": "5"}, "month"),
        ({"source": "zillow", "month": "2026-11", "amount": "-5"}, "amount"),
        ({"source": "moon", "month": "2026-11", "amount": "5"}, "source"),
    ],
)
def test_bad_spend_is_a_422_with_the_field_error_and_saves_nothing(client, manager, values, field):
    client.force_login(manager)

    response = client.post(reverse("reports:spend"), values)

    assert response.status_code == 422
    assert 'class="error"' in response.content.decode()
    assert not SourceSpend.objects.exists()


def test_spend_csv_import_is_all_or_nothing(client, manager):
    client.force_login(manager)
    url = reverse("reports:spend")
    good = io.BytesIO(b'source,month,amount\nzillow,2026-10,1200\nwebsite,2026-10,"$2,400.00"\n')
    good.name = "spend.csv"
    bad = io.BytesIO(b"source,month,amount\nzillow,2026-09,100\nnowhere,2026-09,5\n")
    bad.name = "spend.csv"

    assert client.post(url, {"file": good}).status_code == 303
    response = client.post(url, {"file": bad})

    assert response.status_code == 422
    assert "Line 3" in response.content.decode()
    assert sorted(SourceSpend.objects.values_list("source", "amount")) == [("website", 2400), ("zillow", 1200)]


def test_agents_cannot_open_the_spend_page(client, agent):
    client.force_login(agent)

    assert client.get(reverse("reports:spend")).status_code == 403
    assert (
        client.post(reverse("reports:spend"), {"source": "zillow", "month": "2026-11", "amount": "1"}).status_code
        == 403
    )
    assert not SourceSpend.objects.exists()
