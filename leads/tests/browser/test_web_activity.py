"""Website activity in headless Chromium: the lead page shows the events an IDX website
posted (kind, listing link, time in the agent's zone) and the Web activity summary; the
plan editor shows the web activity trigger's settings once that trigger is chosen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Role
from leads.tests.browser.accessibility import run_axe
from leads.tests.browser.conftest import log_in, screenshot
from leads.tests.factories import LeadFactory, UserFactory
from leads.webevents.services import record_web_event

pytestmark = pytest.mark.browser


def test_the_lead_page_shows_the_leads_website_activity(open_page):
    # given an agent in Chicago and a lead who viewed two listings and saved one, posted by the IDX site
    agent = UserFactory(username="web_agent", role=Role.AGENT, time_zone="America/Chicago")
    lead = LeadFactory(assigned_to=agent, contact__first_name="Wendy")
    now = timezone.now()
    for n, (kind, ref) in enumerate(
        [("listing_viewed", "MLS1"), ("listing_viewed", "MLS2"), ("listing_saved", "MLS2")]
    ):
        record_web_event(
            lead=lead,
            kind=kind,
            occurred_at=now - timedelta(hours=3 - n),
            event_id=f"b{n}",
            listing_ref=ref,
            listing_url=f"https://idx.example.com/l/{ref}",
        )
    page, _problems = open_page()
    log_in(page, agent)

    # when the agent opens the lead
    page.goto(f"/leads/{lead.public_id}/")

    # then the activity lists the three events, newest first, with their links, and the summary counts them
    events = page.locator("#timeline li.event-web")
    assert events.count() == 3
    assert events.first.locator(".event-summary").inner_text() == "Saved a listing: MLS2"
    assert events.first.locator("a").get_attribute("href") == "https://idx.example.com/l/MLS2"
    assert events.first.locator("time").inner_text().endswith(("CST", "CDT"))
    summary = page.locator("#web-activity-summary")
    assert "2 listing views in the last 7 days (2 listings)" in summary.inner_text()
    assert "1 saved listing" in summary.inner_text()
    assert run_axe(page) == []
    screenshot(page, "lead-web-activity")


def test_the_plan_editor_shows_the_web_activity_settings_for_that_trigger(open_page):
    manager = UserFactory(username="web_manager", role=Role.MANAGER)
    page, _problems = open_page()
    log_in(page, manager)
    page.goto("/plans/new/")

    settings = page.locator("#web-activity-trigger")
    assert settings.is_hidden()
    page.select_option("select[name=trigger]", "web_activity")
    assert settings.is_visible()
    page.select_option("select[name=trigger_web_kind]", "listing_viewed")
    page.fill("input[name=trigger_count]", "3")
    page.fill("input[name=trigger_window_hours]", "168")
    page.check("input[name=trigger_same_listing]")
    page.fill("input[name=name]", "Hot on one listing")
    page.click("#plan-save")
    page.wait_for_url("**/plans/*/#steps")
    assert "Viewed a listing 3 times (the same listing) within 168 hours" in page.content()
    page.goto("/plans/new/")
    page.select_option("select[name=trigger]", "web_activity")
    assert run_axe(page) == []
