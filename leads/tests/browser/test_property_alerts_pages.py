"""Property alerts in headless Chromium: the agent changes a lead's alert frequency on
the lead page with the keyboard alone and sees it; the lead changes its own from the
signed link in an alert (no login), a page axe-core finds no serious violation on."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from integrations.property_alerts import links, sending
from integrations.property_alerts.models import AlertMessage, AlertSubscription
from integrations.property_alerts.tests.conftest import parts, received
from integrations.property_alerts.tests.factories import ListingFactory, MatchFactory, SubscriptionFactory
from integrations.workflows.tests.test_smtp_delivery import smtp_inbox  # noqa: F401  (a fixture)
from leads.tests.browser.accessibility import blocking, describe, run_axe
from leads.tests.browser.conftest import log_in
from leads.tests.browser.test_keyboard_and_screen_readers import choose_with_arrows, tab_to
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"


@pytest.fixture
def office(transactional_db):
    agent = UserFactory(username="pa_browser_agent", first_name="Alice", last_name="Nguyen")
    lead = LeadFactory(assigned_to=agent, contact__first_name="Katherine", contact__last_name="Lee")
    SubscriptionFactory(lead=lead, frequency="instant", note="")
    return {"agent": agent, "lead": lead}


def test_the_agent_changes_the_frequency_on_the_lead_page_with_the_keyboard(open_page, office):
    page, _ = open_page(width=1280)
    log_in(page, office["agent"])
    page.goto(reverse("leads:lead_detail", args=[office["lead"].public_id]))
    page.locator("#alerts-frequency").wait_for()  # the card's body loaded
    assert page.locator("#alerts-chosen").inner_text().startswith("Instant")

    page.focus("#alerts-frequency")
    choose_with_arrows(page, "weekly")
    tab_to(page, "#alerts-frequency-save")
    page.keyboard.press("Enter")

    page.wait_for_url("**#property-alerts-title")
    page.locator("#alerts-chosen").wait_for()
    assert page.locator("#alerts-chosen").inner_text().startswith("Weekly")
    assert page.locator("#alerts-effective").inner_text() == "Weekly"
    assert "Property alerts set to weekly." in page.content()
    subscription = AlertSubscription.objects.get(lead=office["lead"])
    assert (subscription.frequency, subscription.set_by_user) == ("weekly", office["agent"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#property-alerts").screenshot(path=str(ARTIFACTS / "property-alerts-card.png"))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_lead_changes_its_frequency_from_the_signed_link(open_page, office, width):
    page, _ = open_page(width=width)
    path = reverse("property_alerts:frequency", kwargs={"token": links.frequency_token(office["lead"].public_id)})
    page.goto(path)
    violations = run_axe(page)
    assert not blocking(violations), describe(f"frequency page {width}px", blocking(violations))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"property-alerts-frequency-{width}.png"), full_page=True)

    tab_to(page, "input[type=radio]")
    assert page.evaluate("document.activeElement.value") == "instant"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # once a week
    tab_to(page, "#save-frequency")
    page.keyboard.press("Enter")

    page.locator("#frequency-saved").wait_for()
    assert page.locator("#frequency-saved").inner_text() == "You will get new homes once a week."
    assert not blocking(run_axe(page))
    subscription = AlertSubscription.objects.get(lead=office["lead"])
    assert (subscription.frequency, subscription.set_by) == ("weekly", "lead")


def test_a_listings_public_page_passes_axe(open_page, transactional_db):
    listing = ListingFactory(address="12 Elm Street", photo_urls=[])
    page, _ = open_page(width=390)
    page.goto(reverse("property_alerts:listing", kwargs={"token": links.listing_token(listing.pk)}))
    assert "$525,000" in page.content()
    violations = blocking(run_axe(page))
    assert not violations, describe("listing page", violations)


def test_the_alert_email_in_a_browser_records_the_open_and_the_click_leads_to_the_listing(
    open_page, live_server, request, settings, transactional_db
):
    inbox = request.getfixturevalue("smtp_inbox")  # before SITE_URL: the fixture sets its own
    settings.SITE_URL = live_server.url  # the email's links and pixel point at the live server
    lead = LeadFactory(contact__first_name="Katherine")
    SubscriptionFactory(lead=lead, frequency="instant")
    listing = ListingFactory(address="12 Elm Street", photo_urls=[f"{live_server.url}/static/demo/listings/home-1.png"])
    MatchFactory(lead=lead, listing=listing)
    sending.send_instant_alerts(timezone.now())
    (email,) = received(inbox)
    _, html = parts(email)

    page, _ = open_page(width=640)
    page.set_content(html, wait_until="load")  # the mail client shows it: the photo and the pixel load
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "property-alert-email.png"), full_page=True)
    assert page.evaluate("document.querySelector('img[alt^=\"12 Elm Street\"]').naturalWidth") > 0
    message = AlertMessage.objects.get()
    message.refresh_from_db()
    assert message.opened_at is not None

    page.get_by_role("link", name="See this home").click()
    page.wait_for_url("**/alerts/l/**")
    assert "$525,000" in page.content()
    message.refresh_from_db()
    assert message.clicked_at is not None
