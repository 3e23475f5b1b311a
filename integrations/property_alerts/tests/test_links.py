"""The signed links of an alert, with no login: the frequency page (GET changes nothing,
POST with CSRF does), the open pixel, the click redirect (never to an address from the
request) and a listing's public page; a tampered or expired link changes nothing."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.property_alerts import links, sending, webevents
from integrations.property_alerts.models import AlertMessage, AlertSubscription
from integrations.property_alerts.tests.conftest import links_in, parts, received
from integrations.property_alerts.tests.factories import AlertMessageFactory, ListingFactory
from leads.webevents.models import WebEvent

pytestmark = pytest.mark.django_db


def frequency_path(lead) -> str:
    return reverse("property_alerts:frequency", kwargs={"token": links.frequency_token(lead.public_id)})


def tampered(path: str) -> str:
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    return path.replace(token, forged)


def sent_alert(smtp_inbox) -> tuple[AlertMessage, str]:
    sending.send_instant_alerts(timezone.now())
    _, html = parts(received(smtp_inbox)[0])
    return AlertMessage.objects.get(), html


def test_the_frequency_page_shows_the_choice_and_a_get_changes_nothing(client, instant_buyer):
    before = AlertSubscription.objects.get(lead=instant_buyer)

    response = client.get(frequency_path(instant_buyer))

    assert response.status_code == 200
    html = response.content.decode()
    assert "How often do you want new homes by email?" in html
    (checked,) = re.findall(r"<input[^>]*checked[^>]*>", html)
    assert 'value="instant"' in checked
    after = AlertSubscription.objects.get(lead=instant_buyer)
    assert (after.frequency, after.set_by, after.updated_at) == (before.frequency, before.set_by, before.updated_at)


def test_the_lead_changes_its_frequency_from_the_link_with_csrf(instant_buyer):
    client = Client(enforce_csrf_checks=True)
    page = client.get(frequency_path(instant_buyer))
    token = page.cookies["csrftoken"].value

    refused = client.post(frequency_path(instant_buyer), {"frequency": "weekly"})
    assert refused.status_code == 403  # no CSRF token: nothing changes
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"

    response = client.post(frequency_path(instant_buyer), {"frequency": "weekly", "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert "You will get new homes once a week." in response.content.decode()
    subscription = AlertSubscription.objects.get(lead=instant_buyer)
    assert (subscription.frequency, subscription.effective_frequency, subscription.set_by) == (
        "weekly",
        "weekly",
        "lead",
    )


def test_a_bad_choice_is_refused_and_changes_nothing(client, instant_buyer):
    response = client.post(frequency_path(instant_buyer), {"frequency": "hourly"})

    assert response.status_code == 400
    assert "Choose one of the options." in response.content.decode()
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"


def test_a_tampered_or_expired_frequency_link_changes_nothing(client, instant_buyer, settings):
    bad = client.post(tampered(frequency_path(instant_buyer)), {"frequency": "off"})
    assert bad.status_code == 400
    assert "This link is not valid or has expired." in bad.content.decode()

    path = frequency_path(instant_buyer)
    settings.PROPERTY_ALERTS_LINK_MAX_AGE_DAYS = -1
    expired = client.post(path, {"frequency": "off"})
    assert expired.status_code == 400
    assert "This link has expired." in expired.content.decode()

    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"


def test_a_token_of_another_kind_is_refused(client, instant_buyer):
    listing_token = links.listing_token(ListingFactory().pk)
    response = client.get(reverse("property_alerts:frequency", kwargs={"token": listing_token}))
    assert response.status_code == 400


def test_the_open_pixel_records_the_open_once(client, smtp_inbox, match):
    message, html = sent_alert(smtp_inbox)
    (pixel,) = links_in(html, "o")

    first = client.get(pixel)
    second = client.get(pixel)

    assert first.status_code == second.status_code == 200
    assert first["Content-Type"] == "image/gif" and len(first.content) < 100
    message.refresh_from_db()
    assert message.opened_at is not None and message.clicked_at is None
    assert client.get(tampered(pixel)).status_code == 400


def test_a_click_records_it_and_goes_to_the_listings_page(client, smtp_inbox, match, listing):
    message, html = sent_alert(smtp_inbox)
    click = links_in(html, "c")[0]

    response = client.get(click + "?next=https://evil.example.com/")

    assert response.status_code == 302
    assert response["Location"].startswith("/alerts/l/")
    message.refresh_from_db()
    assert message.clicked_at is not None and message.opened_at is not None
    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "12 Elm Street" in body and "$525,000" in body and "3 bd · 2 ba · 1,450 sq ft" in body


def test_a_click_goes_to_the_listings_site_when_one_is_set(client, smtp_inbox, match, listing, settings):
    settings.PLANS_LISTING_URL = "https://homes.example.com/listing/{external_id}"
    _, html = sent_alert(smtp_inbox)

    response = client.get(links_in(html, "c")[0])

    assert response["Location"] == f"https://homes.example.com/listing/{listing.external_id}"


def test_no_link_redirects_anywhere_but_a_listing_the_alert_listed(client, instant_buyer):
    message = AlertMessageFactory(lead=instant_buyer, listings=[{"listing": ListingFactory().pk}])
    other = ListingFactory()
    # a valid signature for a listing the alert did not list: refused
    foreign = reverse(
        "property_alerts:click", kwargs={"token": links.sign("click", {"m": str(message.key), "x": other.pk})}
    )
    assert client.get(foreign).status_code == 404
    # a payload carrying an address instead of a listing: refused
    url_payload = links.sign("click", {"m": str(message.key), "x": "https://evil.example.com/"})
    assert client.get(reverse("property_alerts:click", kwargs={"token": url_payload})).status_code == 400
    # a forged signature: refused
    forged = links.click_url(message.key, other.pk).replace("http://testserver", "")
    assert client.get(tampered(forged)).status_code == 400
    message.refresh_from_db()
    assert message.clicked_at is None and message.opened_at is None


def test_a_listing_page_link_that_was_tampered_with_is_a_400(client):
    path = reverse("property_alerts:listing", kwargs={"token": links.listing_token(ListingFactory().pk)})
    assert client.get(path).status_code == 200
    assert client.get(tampered(path)).status_code == 400


def test_opens_and_clicks_are_the_leads_web_activity(client, smtp_inbox, match, listing):
    message, html = sent_alert(smtp_inbox)
    client.get(links_in(html, "o")[0])
    client.get(links_in(html, "o")[0])
    client.get(links_in(html, "c")[0])
    client.get(links_in(html, "c")[0])

    events = WebEvent.objects.filter(lead=message.lead).order_by("kind")
    assert [(event.kind, event.source) for event in events] == [("alert_clicked", "alert"), ("alert_opened", "alert")]
    assert events[0].listing_ref == listing.external_id
    assert events[0].event_id == webevents.event_id(message, "alert_clicked", listing)


@pytest.mark.parametrize("key", ["not-a-key", "0b7c1d3e-0000-4000-8000-000000000000", 7])
def test_a_signed_pixel_naming_no_alert_is_a_404_and_changes_nothing(client, instant_buyer, key):
    before = AlertSubscription.objects.get(lead=instant_buyer)
    path = reverse("property_alerts:open", kwargs={"token": links.sign("open", {"m": key})})
    assert client.get(path).status_code == 404
    assert AlertSubscription.objects.get(lead=instant_buyer).updated_at == before.updated_at
