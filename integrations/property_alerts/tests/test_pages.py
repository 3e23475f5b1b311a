"""The lead page's "Property alerts" card and the agents' API: who may see and change a
lead's alerts (agents their own leads, managers all of them here), what the card shows,
and bad input changing nothing."""

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.property_alerts.models import AlertSubscription
from integrations.property_alerts.tests.factories import AlertMessageFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def card_url(lead) -> str:
    return reverse("property_alerts:lead_alerts", args=[lead.public_id])


def frequency_url(lead) -> str:
    return reverse("property_alerts:lead_frequency", args=[lead.public_id])


def api_url(lead) -> str:
    return f"/api/v2/leads/{lead.public_id}/alert-settings"


def test_the_lead_page_places_the_card(client, agent_user, buyer):
    client.force_login(agent_user)
    html = client.get(reverse("leads:lead_detail", args=[buyer.public_id])).content.decode()
    assert 'id="property-alerts-title"' in html
    assert card_url(buyer) in html


def test_the_card_shows_chosen_and_effective_frequency_the_note_and_the_last_alerts(client, agent_user, buyer):
    SubscriptionFactory(
        lead=buyer,
        frequency="instant",
        effective_frequency="weekly",
        note="Alerts slowed to weekly: last 3 not opened",
        note_at=timezone.now(),
    )
    AlertMessageFactory(lead=buyer, listings=[{"listing": 1}, {"listing": 2}], opened_at=timezone.now())
    AlertMessageFactory(lead=buyer, status="skipped", reason="The lead opted out of emails.")
    client.force_login(agent_user)

    html = client.get(card_url(buyer), HTTP_HX_REQUEST="true").content.decode()

    assert "Instant" in html and "Weekly" in html
    assert "Alerts slowed to weekly: last 3 not opened" in html
    assert "2 homes" in html and "Opened" in html
    assert "The lead opted out of emails." in html


def test_the_agent_sets_the_frequency(client, agent_user, buyer):
    client.force_login(agent_user)

    response = client.post(frequency_url(buyer), {"frequency": "weekly"})

    assert response.status_code == 303
    subscription = AlertSubscription.objects.get(lead=buyer)
    assert (subscription.frequency, subscription.set_by, subscription.set_by_user) == ("weekly", "agent", agent_user)


def test_an_agent_cannot_see_or_change_another_agents_lead(client, other_agent, instant_buyer):
    client.force_login(other_agent)

    assert client.get(card_url(instant_buyer)).status_code == 404
    assert client.post(frequency_url(instant_buyer), {"frequency": "off"}).status_code == 404
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"


def test_a_manager_may_change_it(client, manager, instant_buyer):
    client.force_login(manager)
    assert client.post(frequency_url(instant_buyer), {"frequency": "daily"}).status_code == 303
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "daily"


def test_a_bad_frequency_and_a_get_change_nothing(client, agent_user, instant_buyer):
    client.force_login(agent_user)
    assert client.post(frequency_url(instant_buyer), {"frequency": "hourly"}).status_code == 303
    assert client.get(frequency_url(instant_buyer)).status_code == 405
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"


def test_visitors_are_sent_to_sign_in(client, instant_buyer):
    response = client.post(frequency_url(instant_buyer), {"frequency": "off"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"


def test_the_api_reads_and_sets_the_alert_settings(api_client, agent_user, buyer):
    client = api_client(agent_user)

    read = client.get(api_url(buyer))
    assert read.status_code == 200
    assert read.json()["alert_settings"]["frequency"] == "daily"  # the default, not saved
    assert not AlertSubscription.objects.exists()

    changed = client.patch(api_url(buyer), {"frequency": "instant"}, format="json")

    assert changed.status_code == 200
    body = changed.json()["alert_settings"]
    assert (body["frequency"], body["effective_frequency"], body["set_by"]) == ("instant", "instant", "agent")
    assert AlertSubscription.objects.get(lead=buyer).set_by_user == agent_user


def test_the_api_refuses_bad_input_strangers_and_visitors(api_client, agent_user, other_agent, instant_buyer):
    bad = api_client(agent_user).patch(api_url(instant_buyer), {"frequency": "hourly"}, format="json")
    assert bad.status_code == 400
    assert "frequency" in bad.json()["error"]["fields"]
    assert api_client(other_agent).patch(api_url(instant_buyer), {"frequency": "off"}, format="json").status_code == 404
    assert api_client(other_agent).get(api_url(instant_buyer)).status_code == 404
    assert api_client().get(api_url(instant_buyer)).status_code == 401
    assert AlertSubscription.objects.get(lead=instant_buyer).frequency == "instant"
