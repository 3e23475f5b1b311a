"""The Reports section in headless Chromium: a manager opens every report (its chart
drawn, its table filled) and downloads its CSV and PDF; an agent sees their own
figures; a lead is closed with its deal from the lead page. Screenshots of each
report go to artifacts/reports-*.png."""

from pathlib import Path

import pytest
from django.conf import settings

from leads.deals.models import Deal
from leads.models import LeadStatus, Role
from leads.reports.tests.world import build_world
from leads.tests.browser.conftest import log_in
from leads.tests.browser.waiting import wait_until
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
REPORTS = {"funnel": "Funnel", "sources": "Source ROI", "agents": "Agent leaderboard", "stages": "Time in stage"}


@pytest.fixture
def office(transactional_db):
    manager = UserFactory(username="rp_manager", first_name="Morgan", last_name="Reyes", role=Role.MANAGER)
    world = build_world(count=48)
    return {"manager": manager, "world": world}


def _wait_for_chart(page) -> None:
    wait_until(
        page,
        "() => { const c = document.querySelector('canvas[data-report-chart]');"
        " return Boolean(c && window.Chart && window.Chart.getChart(c)); }",
    )


@pytest.mark.parametrize("name", list(REPORTS))
def test_a_manager_opens_each_report_and_downloads_its_exports(open_page, office, name):
    page, _ = open_page(width=1366, height=900)
    log_in(page, office["manager"])
    world = office["world"]

    page.goto(f"/reports/{name}/?start={world.start}&end={world.end}")

    page.get_by_role("heading", name=REPORTS[name], exact=True).wait_for()
    _wait_for_chart(page)
    assert page.locator("#report-table tbody tr").count() >= 1
    assert "No figures" not in page.locator("#report-table").inner_text()
    page.wait_for_timeout(400)  # the chart's short animation
    page.screenshot(path=str(ARTIFACTS / f"reports-{name}.png"), full_page=True)

    with page.expect_download() as csv_download:
        page.click("#export-csv")
    text = Path(csv_download.value.path()).read_text()
    assert page.locator("#report-table thead th").first.text_content().strip() in text
    with page.expect_download() as pdf_download:
        page.click("#export-pdf")
    assert Path(pdf_download.value.path()).read_bytes().startswith(b"%PDF-")


def test_filters_change_the_figures_and_the_phone_layout_holds(open_page, office):
    page, _ = open_page(width=390, height=844)
    log_in(page, office["manager"])
    world = office["world"]
    page.goto(f"/reports/sources/?start={world.start}&end={world.end}")

    page.select_option("#id_source", "zillow")
    page.click("button:has-text('Show')")

    page.wait_for_url("**source=zillow**")
    _wait_for_chart(page)
    rows = page.locator("#report-table tbody tr")
    assert rows.count() == 1
    assert "Zillow" in rows.first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "reports-sources-phone.png"), full_page=True)


def test_an_agent_sees_only_their_own_row(open_page, office):
    ann = office["world"].agents[0]
    page, _ = open_page()
    log_in(page, ann)

    page.goto("/reports/agents/")

    _wait_for_chart(page)
    page.get_by_text("Your own figures").wait_for()
    assert page.locator("#report-table tbody tr").count() == 1
    assert page.locator("#id_agent").count() == 0


def test_closing_a_lead_asks_for_its_deal_on_the_lead_page(open_page, office):
    agent = office["world"].agents[1]
    lead = LeadFactory(assigned_to=agent, status=LeadStatus.OFFER, contact__first_name="Dana")
    page, _ = open_page()
    log_in(page, agent)
    page.goto(f"/leads/{lead.public_id}/")

    page.select_option("#id_status", "closed")
    page.click("#status-submit")
    page.get_by_text("Closing a lead needs its deal").first.wait_for()
    if not page.locator(".closing-deal[open]").count():
        page.locator(".closing-deal summary").click()
    page.fill("#id_deal-property_address", "77 Harbor Way")
    page.fill("#id_deal-price", "615000")
    page.fill("#id_deal-commission_rate", "2.5")
    page.click("#close-with-deal")

    page.locator("#lead-deals").get_by_text("77 Harbor Way").wait_for()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED
    assert Deal.objects.get(lead=lead).team_commission == 15375
    page.screenshot(path=str(ARTIFACTS / "reports-closing-deal.png"), full_page=False)
