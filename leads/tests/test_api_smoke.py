import pytest

from leads.tests.factories import seed_payload

pytestmark = pytest.mark.django_db


def test_seed_create_then_update_keeps_prices(api_client, agent):
    # given an agent's client
    client = api_client(agent)
    # when the seed's create and update examples are sent verbatim
    created = client.post("/api/v2/leads", seed_payload(), format="json")
    lead_id = created.json()["lead"]["id"]
    updated = client.put(
        f"/api/v2/leads/{lead_id}",
        {
            "status": "contacted",
            "preferences": {
                "property_type": ["Single Family", "Condo"],
                "preferred_locations": ["San Francisco", "Oakland"],
            },
        },
        format="json",
    )
    # then the update merged: new types and locations, prices kept
    assert created.status_code == 201
    assert updated.status_code == 200
    prefs = updated.json()["lead"]["preferences"]
    assert prefs["property_type"] == ["Single Family", "Condo"]
    assert prefs["preferred_locations"] == ["San Francisco", "Oakland"]
    assert (prefs["min_price"], prefs["max_price"]) == (300000, 500000)
    assert updated.json()["lead"]["status"] == "contacted"
