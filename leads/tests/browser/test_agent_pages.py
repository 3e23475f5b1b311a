"""The agent pages in a real browser: the main flows, live import progress, charts,
escaping, and the Content-Security-Policy (checked by the ``open_page`` fixture)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import FollowUpTask, Lead, Role
from leads.tests.browser.conftest import log_in, screenshot
from leads.tests.factories import InteractionFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.browser

MARKET = {
    "market_analysis": {
        "locations": [
            {
                "location": place,
                "status": "ok",
                "median_sale_price": price,
                "active_listings": 80,
                "median_days_on_market": 21,
                "matching_listings": 6,
                "budget_fit": {"position": "within", "difference_pct": 3.1},
                "trend": {
                    "direction": "up",
                    "months": 6,
                    "median_sale_price_change_pct": 4.0,
                    "series": [
                        {"month": f"2026-0{month}", "median_sale_price": price - 6000 * (6 - month)}
                        for month in range(1, 7)
                    ],
                },
            }
            for place, price in (("Oakland", 910000), ("Berkeley", 1250000))
        ]
    },
    "lead_insights": {
        "summary": "Best fit: Oakland (6 matching listings).",
        "sentences": ["Homes in Oakland sell in a median 21 days."],
    },
}


@pytest.fixture
def agent_user(transactional_db):
    return UserFactory(username="browser_agent", first_name="Alice", last_name="Nguyen", role=Role.AGENT)


@pytest.fixture
def pipeline(agent_user):
    """Leads across statuses, sources, scores and weeks, as the pipeline leaves them."""
    now = timezone.now()
    statuses = ["new", "contacted", "qualified", "showing", "offer", "closed", "lost", "nurture"]
    sources = ["website", "referral", "zillow", "open_house"]
    leads = []
    for index in range(24):
        lead = LeadFactory(
            assigned_to=agent_user,
            status=statuses[index % len(statuses)],
            source=sources[index % len(sources)],
            score=(index * 9) % 100,
            metadata=MARKET if index == 0 else {},
            score_breakdown=[
                {"factor": "financing", "axis": "fit", "points": 12, "max_points": 15, "reason": "Pre-approved"}
            ],
        )
        created = now - timedelta(days=index * 2, hours=1)
        contacted = None if lead.status == "new" else created + timedelta(minutes=15 + index * 7)
        Lead.objects.filter(pk=lead.pk).update(created_at=created, first_contacted_at=contacted)
        leads.append(lead)
    FollowUpTask.objects.create(
        lead=leads[1], assigned_to=agent_user, title="Send Oakland listings", due_at=now - timedelta(hours=2)
    )
    return leads


def test_agent_creates_a_lead_finds_it_logs_a_call_and_moves_it_on(open_page, agent_user):
    page, _ = open_page()
    log_in(page, agent_user)

    # create a lead through the form
    page.goto("/leads/new/")
    page.fill("#id_first_name", "Zelda")
    page.fill("#id_last_name", "Fitzgerald")
    page.fill("#id_email", "zelda@example.com")
    page.fill("#id_phone", "415 555 0177")
    page.select_option("#id_lead_type", "buyer")
    page.fill("#id_min_price", "500000")
    page.fill("#id_max_price", "800000")
    page.click("button:has-text('Create lead')")
    page.wait_for_url(re.compile(r"/leads/lead_[0-9a-f]+/$"))
    assert page.locator("h1").inner_text() == "Zelda Fitzgerald"

    # find it through the live search of the list
    page.goto("/leads/")
    LeadFactory(assigned_to=agent_user, contact__first_name="Someone", contact__last_name="Else")
    page.fill("#id_search", "zelda")
    page.wait_for_url(re.compile(r"search=zelda"))
    page.locator("#results a.lead-link", has_text="Zelda Fitzgerald").click()
    page.wait_for_url(re.compile(r"/leads/lead_[0-9a-f]+/$"))

    # log a call inline: the page is updated in place, not reloaded
    page.evaluate("window.__sameDocument = true")
    page.fill("#id_summary", "Talked budget; wants a garden")
    page.click("#log-form button[type=submit]")
    page.locator("#timeline").get_by_text("Talked budget; wants a garden").wait_for()
    assert page.locator("#lead-status").inner_text() == "Contacted"
    assert page.locator("#id_summary").input_value() == ""  # a fresh form for the next call
    assert page.evaluate("window.__sameDocument") is True

    # change its status
    page.select_option("#id_status", "qualified")
    page.click("button:has-text('Change status')")
    page.locator("#lead-status", has_text="Qualified").wait_for()
    assert page.evaluate("window.__sameDocument") is True

    lead = Lead.objects.get(contact__email="zelda@example.com")
    assert lead.status == "qualified"
    assert lead.interactions.get().summary == "Talked budget; wants a garden"


def test_form_errors_show_next_to_the_inputs(open_page, agent_user):
    page, _ = open_page()
    log_in(page, agent_user)
    page.goto("/leads/new/")
    page.fill("#id_first_name", "Nobody")
    page.fill("#id_email", "not-an-email")
    page.fill("#id_min_price", "900000")
    page.fill("#id_max_price", "100000")
    page.click("button:has-text('Create lead')")
    page.locator("#id_email_error").wait_for()
    assert page.locator("#id_email_error").inner_text() == "Enter a valid email address."
    assert Lead.objects.count() == 0


def test_import_progress_bar_reaches_100_percent(open_page, agent_user, tmp_path):
    rows = ["first_name,last_name,email,lead_type,source"]
    rows += [f"Person{index},Imported,person{index}@example.com,buyer,website" for index in range(60)]
    rows += ["Broken,Row,not-an-email,buyer,website", "Person0,Again,person0@example.com,buyer,website"]
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    page, _ = open_page()
    log_in(page, agent_user)

    page.goto("/imports/")
    page.set_input_files("#id_file", str(csv_file))
    page.click("button:has-text('Upload and import')")
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    page.locator(".progress-figure", has_text="100%").wait_for(timeout=60_000)

    assert page.locator("#import-bar").get_attribute("value") == "100"
    summary = page.locator(".summary").inner_text()
    assert "60" in summary
    assert "Created" in summary
    assert page.locator(".summary-dup dd").inner_text() == "1"
    assert page.locator(".summary-err dd").inner_text() == "1"
    assert "Enter a valid email address." in page.locator("#import-progress table").inner_text()
    assert Lead.objects.filter(contact__last_name="Imported").count() == 60


def test_every_chart_draws(open_page, agent_user, pipeline):
    page, _ = open_page()
    log_in(page, agent_user)
    page.goto("/")
    charts = page.evaluate(
        """() => Array.from(document.querySelectorAll("canvas[data-chart]")).map((canvas) => ({
            name: canvas.dataset.chart, width: canvas.width, height: canvas.height,
            drawn: !!window.Chart.getChart(canvas)}))"""
    )
    assert sorted(chart["name"] for chart in charts) == ["funnel", "scores", "sources", "speed"]
    for chart in charts:
        assert chart["drawn"] and chart["width"] > 0 and chart["height"] > 0, chart

    page.goto(f"/leads/{pipeline[0].public_id}/")
    market = page.evaluate(
        """() => { const canvas = document.querySelector('canvas[data-chart="market"]');
                   const chart = window.Chart.getChart(canvas);
                   return {width: canvas.width, datasets: chart ? chart.data.datasets.length : 0}; }"""
    )
    assert market["width"] > 0
    assert market["datasets"] == 2


def test_a_script_named_lead_runs_no_script(open_page, agent_user):
    # given a lead whose name and notes are markup
    lead = LeadFactory(assigned_to=agent_user, contact__first_name="<script>alert(1)</script>", contact__last_name="X")
    InteractionFactory(lead=lead, summary='<img src=x onerror="alert(2)">', created_by=agent_user)
    page, problems = open_page()
    log_in(page, agent_user)
    # when the agent opens every page that shows it
    for path in ["/", "/leads/", f"/leads/{lead.public_id}/", "/leads/?search=script"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert page.locator("#results a.lead-link").inner_text() == "<script>alert(1)</script> X"
    # then the characters are shown as text and no dialog opened (checked by open_page too)
    page.goto(f"/leads/{lead.public_id}/")
    assert page.locator("h1").inner_text() == "<script>alert(1)</script> X"
    assert '<img src=x onerror="alert(2)">' in page.locator("#timeline").inner_text()
    assert problems.dialogs == []


@pytest.mark.parametrize(("width", "height", "label"), [(1440, 1000, "desktop"), (390, 844, "phone")])
def test_screenshots_of_the_main_pages(open_page, agent_user, pipeline, width, height, label):
    manager = UserFactory(username="browser_manager", first_name="Morgan", last_name="Reyes", role=Role.MANAGER)
    page, _ = open_page(width=width, height=height)
    log_in(page, manager)
    pages = [
        ("dashboard", "/"),
        ("leads", "/leads/"),
        ("lead", f"/leads/{pipeline[0].public_id}/"),
        ("follow-ups", "/follow-ups/?scope=team"),
    ]
    for name, path in pages:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(400)  # the charts' entry animation
        screenshot(page, f"{name}-{label}")
        # nothing is wider than the screen (wide tables scroll inside their own box)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
