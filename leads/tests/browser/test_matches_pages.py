"""The lead page's "Property matches" card in headless Chromium: the matches show, best
first, with their photo, price drop mark and reasons; axe finds nothing blocking."""

import pytest

from integrations.matches import services
from integrations.matches.tests.helpers import buyer, put_listing
from leads.tests.browser.accessibility import blocking, describe, run_axe
from leads.tests.browser.conftest import log_in, screenshot
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.browser

# A 1x1 PNG: a photo the page loads with no network.
PHOTO = "data:image/png;base64," + (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_the_lead_page_shows_the_property_matches(open_page):
    agent = UserFactory(username="pm_agent", first_name="Alice", last_name="Nguyen")
    lead = buyer(lead={"assigned_to": agent}, nice_to_have_features=["garden"])
    put_listing("W1", price=590_000, address="1 Near Budget Rd")
    put_listing("W2", price=470_000, address="2 Garden Ln", features=["garden"], photo_urls=[PHOTO])
    services.match_listing_changes()
    put_listing("W2", price=455_000)  # a price drop
    services.match_listing_changes()
    page, _ = open_page()
    log_in(page, agent)

    page.goto(f"/leads/{lead.public_id}/")

    card = page.locator("#property-matches")
    card.wait_for()
    items = card.locator("li.match")
    assert items.count() == 2
    assert "2 Garden Ln" in items.nth(0).inner_text()  # the better fit first
    first = items.nth(0)
    first.locator(".match-drop").get_by_text("Price drop").wait_for()
    assert "$455,000" in first.inner_text() and "has garden" in first.inner_text()
    assert first.locator("img.match-photo").evaluate("img => img.complete && img.naturalWidth > 0")
    assert "no garden" in items.nth(1).inner_text()
    violations = blocking(run_axe(page))
    assert violations == [], describe("lead page with matches", violations)
    screenshot(page, "lead-property-matches")
