"""The routing API: every answer as documented (status and body against the OpenAPI
schema), authentication and object-level permissions, bad input, and the trace's
query count."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.routing import services
from integrations.routing.models import Offer, OfferState, RoutingMethod
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import (
    AgentRoutingProfileFactory,
    PondEntryFactory,
    RoutingRuleFactory,
    RuleMemberFactory,
    TeamFactory,
)
from leads.models import Role
from leads.tests.factories import LeadFactory, UserFactory
from leads.tests.test_api_schema import assert_conforms

pytestmark = pytest.mark.django_db

TRACE = "/api/v2/leads/{lead_id}/routing"
OFFERS = "/api/v2/routing/offers"
CLAIM = "/api/v2/routing/offers/{offer_id}/claim"
PASS = "/api/v2/routing/offers/{offer_id}/pass"
POND = "/api/v2/routing/pond"
TAKE = "/api/v2/routing/pond/{lead_id}/take"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return Client().get("/api/v2/schema").json()


@pytest.fixture
def claim_rule(catch_all, agent, other_agent):
    rule = RoutingRuleFactory(method=RoutingMethod.FIRST_TO_CLAIM)
    RuleMemberFactory(rule=rule, agent=agent)
    RuleMemberFactory(rule=rule, agent=other_agent)
    return rule


def offers_of(lead):
    return {offer.agent: offer for offer in Offer.objects.filter(lead=lead).select_related("agent")}


def call(openapi, client, method, template, **ids):
    path = template.format(**ids)
    response = getattr(client, method.lower())(path)
    return response.status_code, assert_conforms(openapi, response, method, template)


@pytest.mark.parametrize(
    ("method", "template"),
    [("GET", TRACE), ("GET", OFFERS), ("POST", CLAIM), ("POST", PASS), ("GET", POND), ("POST", TAKE)],
)
def test_every_routing_endpoint_needs_a_token(openapi, api_client, method, template):
    status, body = call(openapi, api_client(), method, template, lead_id="lead_x", offer_id="1")

    assert status == 401 and body["error"]["code"]


def test_the_trace_shows_rule_candidates_skips_offers_and_their_states(
    openapi, api_client, agent, other_agent, claim_rule
):
    AgentRoutingProfileFactory(user=other_agent, paused=True)
    _, lead = route(new_lead())
    offer = offers_of(lead)[agent]
    services.claim_offer(offer, agent)

    status, body = call(openapi, api_client(agent), "GET", TRACE, lead_id=lead.public_id)

    trace = body["routing"]
    assert (status, trace["assigned_to"], trace["in_pond"], trace["open_offers"]) == (200, agent.username, False, 0)
    offered, claimed = trace["decisions"]
    assert (offered["rule"], offered["outcome"], claimed["trigger"]) == (claim_rule.name, "offered", "claim")
    assert [(c["agent_id"], c["eligible"], c["skipped_because"]) for c in offered["candidates"]] == [
        (agent.pk, True, None),
        (other_agent.pk, False, "paused"),
    ]
    assert [(o["agent"], o["state"]) for o in offered["offers"]] == [(agent.username, "claimed")]


def test_the_trace_is_visible_to_whoever_may_see_the_lead(openapi, api_client, agent, other_agent, manager, catch_all):
    lead = LeadFactory(assigned_to=agent)
    route(lead)

    assert call(openapi, api_client(agent), "GET", TRACE, lead_id=lead.public_id)[0] == 200
    assert call(openapi, api_client(manager), "GET", TRACE, lead_id=lead.public_id)[0] == 200
    assert call(openapi, api_client(other_agent), "GET", TRACE, lead_id=lead.public_id)[0] == 404
    assert call(openapi, api_client(agent), "GET", TRACE, lead_id="lead_nope")[0] == 404


def test_the_trace_costs_the_same_queries_however_long(api_client, manager, claim_rule):
    _, short = route(new_lead())
    _, long = route(new_lead())
    for _ in range(4):
        services.expire_offers(Offer.objects.filter(lead=long).latest("pk").expires_at)
        from integrations.routing import engine

        engine.route_lead(long.pk, trigger="claim_timeout", from_rule=claim_rule)
    client = api_client(manager)
    client.get(TRACE.format(lead_id=short.public_id))  # warm the token and budget caches

    with CaptureQueriesContext(connection) as one:
        client.get(TRACE.format(lead_id=short.public_id))
    with CaptureQueriesContext(connection) as many:
        client.get(TRACE.format(lead_id=long.public_id))

    assert len(many) == len(one) <= 8, [query["sql"] for query in many]


def test_an_agent_lists_only_their_own_open_offers(openapi, api_client, agent, other_agent, claim_rule):
    _, first = route(new_lead())
    _, second = route(new_lead())
    services.pass_offer(offers_of(second)[agent], agent)

    status, body = call(openapi, api_client(agent), "GET", OFFERS)

    assert status == 200 and body["total_count"] == 1
    (offer,) = body["offers"]
    assert (offer["lead_id"], offer["agent"], offer["state"]) == (first.public_id, agent.username, "open")
    assert "email" not in offer["lead"]  # no contact details before the claim


def test_claim_answers_the_winner_then_409s(openapi, api_client, agent, other_agent, claim_rule):
    _, lead = route(new_lead())
    mine, theirs = offers_of(lead)[agent], offers_of(lead)[other_agent]

    won = call(openapi, api_client(agent), "POST", CLAIM, offer_id=mine.pk)
    again = call(openapi, api_client(agent), "POST", CLAIM, offer_id=mine.pk)
    lost = call(openapi, api_client(other_agent), "POST", CLAIM, offer_id=theirs.pk)

    assert won[0] == 200 and won[1]["lead"]["assigned_to"] == agent.username
    assert won[1]["offer"]["state"] == "claimed"
    assert (again[0], again[1]["error"]["code"]) == (409, "routing_conflict")
    assert (lost[0], lost[1]["error"]["code"]) == (409, "routing_conflict")
    assert "another agent" in lost[1]["error"]["message"]


@pytest.mark.parametrize("offer_id", ["999999", "abc", "-1", "1.5", "9" * 40])
def test_claiming_an_unknown_offer_is_a_404(openapi, api_client, agent, offer_id):
    status, body = call(openapi, api_client(agent), "POST", CLAIM, offer_id=offer_id)

    assert (status, body["error"]["code"]) == (404, "not_found")


def test_someone_elses_offer_is_a_409_to_claim_or_pass(openapi, api_client, agent, claim_rule):
    _, lead = route(new_lead())
    offer = next(iter(offers_of(lead).values()))
    stranger = UserFactory()

    claimed = call(openapi, api_client(stranger), "POST", CLAIM, offer_id=offer.pk)
    passed = call(openapi, api_client(stranger), "POST", PASS, offer_id=offer.pk)

    assert (claimed[0], claimed[1]["error"]["code"]) == (409, "routing_conflict")
    assert "another agent" in claimed[1]["error"]["message"]
    assert passed[0] == 409
    assert Offer.objects.get(pk=offer.pk).state == OfferState.OPEN


def test_a_malformed_body_on_a_claim_is_no_500(api_client, agent, claim_rule):
    _, lead = route(new_lead())
    offer = offers_of(lead)[agent]

    response = api_client(agent).post(CLAIM.format(offer_id=offer.pk), "{not json", content_type="application/json")

    assert response.status_code in (200, 400)


def test_pass_then_pass_again(openapi, api_client, agent, claim_rule):
    _, lead = route(new_lead())
    offer = offers_of(lead)[agent]

    first = call(openapi, api_client(agent), "POST", PASS, offer_id=offer.pk)
    second = call(openapi, api_client(agent), "POST", PASS, offer_id=offer.pk)

    assert (first[0], first[1]["offer"]["state"]) == (200, "passed")
    assert second[0] == 409


def test_the_pond_lists_what_the_agent_may_take_and_take_answers_the_lead(openapi, api_client):
    north = TeamFactory(name="North")
    agent, rival = UserFactory(team=north), UserFactory(team=north)
    outsider = UserFactory(team=TeamFactory(name="South"))
    entry = PondEntryFactory(lead=LeadFactory(assigned_to=None, team=north), team=north)

    status, body = call(openapi, api_client(agent), "GET", POND)
    assert (status, body["total_count"], body["taken_today"], body["daily_limit"]) == (200, 1, 0, 10)
    assert body["pond"][0]["lead"]["lead_id"] == entry.lead.public_id
    assert call(openapi, api_client(outsider), "GET", POND)[1]["total_count"] == 0
    assert call(openapi, api_client(outsider), "POST", TAKE, lead_id=entry.lead.public_id)[0] == 404

    taken = call(openapi, api_client(agent), "POST", TAKE, lead_id=entry.lead.public_id)
    late = call(openapi, api_client(rival), "POST", TAKE, lead_id=entry.lead.public_id)

    assert taken[0] == 200 and taken[1]["lead"]["assigned_to"] == agent.username
    assert (late[0], late[1]["error"]["code"]) == (409, "routing_conflict")


def test_taking_past_the_daily_limit_is_a_409_that_says_why(openapi, api_client, agent):
    AgentRoutingProfileFactory(user=agent, pond_daily_limit=0)
    entry = PondEntryFactory()

    status, body = call(openapi, api_client(agent), "POST", TAKE, lead_id=entry.lead.public_id)

    assert (status, body["error"]["code"]) == (409, "pond_limit_reached")
    assert "daily limit" in body["error"]["message"]


def test_a_paused_agent_taking_is_a_403(openapi, api_client, agent):
    AgentRoutingProfileFactory(user=agent, paused=True)
    entry = PondEntryFactory()

    assert call(openapi, api_client(agent), "POST", TAKE, lead_id=entry.lead.public_id)[0] == 403


def test_a_manager_sees_their_teams_pond(openapi, api_client):
    north = TeamFactory(name="North")
    boss = UserFactory(team=north, role=Role.MANAGER)
    PondEntryFactory(lead=LeadFactory(assigned_to=None, team=north), team=north)
    PondEntryFactory()

    assert call(openapi, api_client(boss), "GET", POND)[1]["total_count"] == 1
