"""The one-tap Claim from an alert: the signed link's page claims for its agent (no
sign-in needed on the phone), says who was faster, and refuses bad links."""

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from integrations.routing import offers
from integrations.routing.models import Offer, OfferState, RoutingMethod
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import RoutingRuleFactory, RuleMemberFactory
from leads.models import Lead

pytestmark = pytest.mark.django_db


def claim_path(offer) -> str:
    """The path of the offer's one-tap claim link (the alert carries it on SITE_URL)."""
    return urlsplit(offers.claim_url(offer)).path


@pytest.fixture
def offered(catch_all):
    rule = RoutingRuleFactory(method=RoutingMethod.FIRST_TO_CLAIM)
    for _ in range(2):
        RuleMemberFactory(rule=rule)
    _, lead = route(new_lead(contact__first_name="Rosa", contact__last_name="Diaz"))
    return lead, list(Offer.objects.filter(lead=lead).select_related("agent"))


def test_the_link_opens_a_page_that_claims_at_once(client, offered):
    _lead, (offer, _) = offered
    url = claim_path(offer)

    page = client.get(url)

    assert page.status_code == 200
    assert b"Rosa Diaz" in page.content and b"data-auto-claim" in page.content and b"routing/claim.js" in page.content
    assert Offer.objects.get(pk=offer.pk).state == OfferState.OPEN  # a GET changes nothing


def test_the_link_says_until_when_in_its_agents_time_zone(client, offered):
    _lead, (offer, _) = offered
    offer.agent.time_zone = "America/Los_Angeles"
    offer.agent.save(update_fields=["time_zone"])
    until = offer.expires_at.astimezone(ZoneInfo("America/Los_Angeles"))

    page = client.get(claim_path(offer))  # on the phone, not signed in

    assert f"Offered to you until {until:%H:%M} {until:%Z}".encode() in page.content


def test_posting_the_link_claims_for_its_agent_and_again_says_it_is_theirs(client, offered):
    lead, (offer, _) = offered
    client.force_login(offer.agent)
    url = claim_path(offer)

    first = client.post(url)
    again = client.post(url)

    assert (first.status_code, again.status_code) == (200, 200)
    assert b"It&#x27;s yours" in first.content and f"/leads/{lead.public_id}/".encode() in first.content
    assert Lead.objects.get(pk=lead.pk).assigned_to == offer.agent


def test_the_slower_agent_is_told_it_is_too_late(client, offered):
    _, (first, second) = offered
    client.post(claim_path(first))

    late = client.post(claim_path(second))

    assert late.status_code == 409 and b"Too late" in late.content
    assert Offer.objects.get(pk=second.pk).state == OfferState.WITHDRAWN


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_link_is_a_404_page(client, offered, method):
    response = getattr(client, method)("/routing/claim/not-a-token/")

    assert response.status_code == 404 and b"does not work" in response.content


def test_the_pages_script_gets_the_answer_as_json(client, offered):
    lead, (offer, other) = offered
    client.force_login(offer.agent)

    won = client.post(claim_path(offer), HTTP_ACCEPT="application/json")
    client.logout()
    lost = client.post(claim_path(other), HTTP_ACCEPT="application/json")

    assert (won.status_code, won.json()["heading"], won.json()["lead_url"]) == (
        200,
        "It's yours",
        f"/leads/{lead.public_id}/",
    )
    assert (lost.status_code, lost.json()["heading"]) == (409, "Too late")
