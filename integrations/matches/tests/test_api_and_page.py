"""GET /api/v2/leads/{id}/matches and the lead page's "Property matches" card."""

from io import StringIO

import pytest
from django.core.management import call_command

from integrations.market.demo import DemoMarketDataProvider
from integrations.market.imports import listings_import
from integrations.matches import services
from integrations.matches.models import ListingMatch
from integrations.matches.tests.helpers import buyer, put_listing

pytestmark = pytest.mark.django_db


def url(lead) -> str:
    return f"/api/v2/leads/{lead.public_id}/matches"


def matched_buyer(agent, count: int = 3):
    lead = buyer(lead={"assigned_to": agent})
    for number in range(count):
        put_listing(f"P{number}", price=450_000 + number * 50_000, address=f"{number + 1} Oak Ave")
    services.match_listing_changes()
    return lead


def test_the_api_lists_the_current_matches_best_first_paginated(api_client, agent):
    lead = matched_buyer(agent)
    put_listing("P2", status="sold")  # no longer current
    services.match_listing_changes()

    response = api_client(agent).get(url(lead), {"page_size": 1})

    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == 2 and body["page"] == 1 and body["page_size"] == 1
    [first] = body["matches"]
    best = ListingMatch.objects.filter(lead=lead, is_current=True).order_by("-score").first()
    assert first["score"] == best.score and first["listing"]["id"] == best.listing.external_id
    assert first["reason"] == "new" and first["reasons"] and first["matched_at"].endswith("Z")
    assert first["listing"]["address"] and first["listing"]["city"] == "Oakland"
    second = api_client(agent).get(url(lead), {"page": 2, "page_size": 1}).json()["matches"]
    assert len(second) == 1 and second[0]["listing"]["id"] != first["listing"]["id"]


def test_another_agents_lead_is_a_404_and_no_credentials_a_401(api_client, agent, other_agent, manager):
    lead = matched_buyer(other_agent, count=1)

    assert api_client(agent).get(url(lead)).status_code == 404
    assert api_client(agent).get(url(lead), {"page": "x"}).status_code == 404  # 404 before 400
    assert api_client(agent).get("/api/v2/leads/lead_000000000000000000000000/matches").status_code == 404
    assert api_client(None).get(url(lead)).status_code == 401
    assert api_client(manager).get(url(lead)).json()["total_count"] == 1
    assert api_client(other_agent).get(url(lead)).json()["total_count"] == 1


def test_bad_paging_is_a_400_naming_the_field(api_client, agent):
    lead = matched_buyer(agent, count=1)

    response = api_client(agent).get(url(lead), {"page_size": 500})

    assert response.status_code == 400
    assert "page_size" in response.json()["error"]["fields"]


def test_the_lead_page_card_shows_the_matches_with_score_reasons_and_price_drop(client, agent):
    lead = matched_buyer(agent, count=2)
    put_listing("P1", price=480_000, photo_urls=["https://photos.example.com/p1.jpg"])
    services.match_listing_changes()
    client.force_login(agent)

    content = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert 'id="property-matches"' in content
    assert "1 Oak Ave" in content and "2 Oak Ave" in content
    assert "Price drop</span>" in content and "$480,000" in content
    assert 'src="https://photos.example.com/p1.jpg"' in content
    assert "$120,000 under your max" in content  # P1's reasons


@pytest.mark.parametrize(
    ("preferences", "says"),
    [
        ({"preferred_locations": []}, "No preferred locations yet"),
        ({}, "No listing fits yet"),
    ],
)
def test_the_empty_card_says_why(client, agent, preferences, says):
    lead = buyer(lead={"assigned_to": agent}, **preferences)
    client.force_login(agent)

    content = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert 'id="property-matches-empty"' in content and says in content


def test_the_demo_hook_matches_the_demo_listings_against_the_demo_leads(agent):
    listings_import(provider=DemoMarketDataProvider())
    lead = buyer(lead={"assigned_to": agent}, preferred_locations=["San Francisco"], min_price=None, max_price=None)
    ListingMatch.objects.all().delete()

    call_command("seed_matches_demo", stdout=StringIO())
    first = ListingMatch.objects.filter(lead=lead).count()
    out = StringIO()
    call_command("seed_matches_demo", stdout=out)

    assert first > 0 and ListingMatch.objects.filter(lead=lead).count() == first
    assert not ListingMatch.objects.exclude(listing__location_key="san francisco").filter(lead=lead).exists()
    assert "Property matches:" in out.getvalue()


def test_the_back_office_lists_the_matches_read_only(client, admin_user, agent):
    lead = matched_buyer(agent, count=1)
    client.force_login(admin_user)

    response = client.get("/admin/matches/listingmatch/", {"q": lead.public_id})

    assert response.status_code == 200 and "P0" in response.content.decode()
    assert client.get("/admin/matches/listingmatch/add/").status_code == 403


def test_a_photo_on_this_site_is_shown_by_its_path(client, agent, settings):
    settings.SITE_URL = "http://crm.example.com"
    lead = buyer(lead={"assigned_to": agent})
    put_listing("S1", photo_urls=["http://crm.example.com/static/demo/listings/home-1.png"])
    services.match_listing_changes()
    client.force_login(agent)

    content = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert 'src="/static/demo/listings/home-1.png"' in content
