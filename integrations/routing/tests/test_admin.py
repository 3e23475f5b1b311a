"""The back office: every routing model is listed; the trace, offers and pond are
read-only; the catch-all cannot be deleted; a rule that could never match is refused."""

import pytest

from integrations.routing.models import RoutingRule
from integrations.routing.tests.factories import OfferFactory, PondEntryFactory, RoutingRuleFactory

pytestmark = pytest.mark.django_db

MODELS = ["routingrule", "agentroutingprofile", "routingdecision", "offer", "pondentry", "pendingroute"]


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_each_routing_model_has_a_working_list(admin_client, model, catch_all):
    OfferFactory()
    PondEntryFactory()

    assert admin_client.get(f"/admin/routing/{model}/").status_code == 200


def test_decisions_and_offers_are_read_only(admin_client):
    offer = OfferFactory()

    assert admin_client.get("/admin/routing/offer/add/").status_code == 403
    assert admin_client.post(f"/admin/routing/offer/{offer.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"/admin/routing/routingdecision/{offer.decision_id}/change/").status_code == 200


def test_the_catch_all_cannot_be_deleted_in_the_admin(client, admin_user, catch_all):
    client.raise_request_exception = False
    client.force_login(admin_user)
    other = RoutingRuleFactory()
    bulk = {"action": "delete_selected", "_selected_action": [catch_all.pk, other.pk], "post": "yes"}

    assert client.post(f"/admin/routing/routingrule/{catch_all.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post("/admin/routing/routingrule/", bulk).status_code == 403
    assert set(RoutingRule.objects.all()) == {catch_all, other}
    client.post("/admin/routing/routingrule/", {**bulk, "_selected_action": [other.pk]})
    assert list(RoutingRule.objects.all()) == [catch_all]


def test_a_rule_that_could_never_match_is_refused_with_a_field_error(admin_client, catch_all):
    response = admin_client.post(
        "/admin/routing/routingrule/add/",
        {
            "name": "Upside down",
            "position": 5,
            "is_active": "on",
            "sources": "[]",
            "lead_types": "[]",
            "cities": "[]",
            "zip_codes": "[]",
            "languages": "[]",
            "tags": "[]",
            "urgencies": "[]",
            "min_price": "500",
            "max_price": "100",
            "has_phone": "",
            "method": "weighted_round_robin",
            "claim_timeout_minutes": 5,
            "fallback": "pond",
            "sla_breach_action": "alert_manager",
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 200
    assert "no lead could match" in response.content.decode()
    assert not RoutingRule.objects.filter(name="Upside down").exists()
