"""The routing pages through Django's test client: who may open them, the rules editor
(field errors and nothing saved on bad input, a change applies to the next lead), the
fairness ledger's period, an agent's offers and the pond (409s as clear messages), the
lead page's trace card and the navigation."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.routing import engine
from integrations.routing.models import (
    AgentRoutingProfile,
    Fallback,
    Offer,
    OfferState,
    PondEntry,
    PondStatus,
    RoutingMethod,
    RoutingRule,
    RuleMember,
)
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import (
    OfferFactory,
    PondEntryFactory,
    RoutingRuleFactory,
    RuleMemberFactory,
    TeamFactory,
)
from leads.models import Role
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MANAGER_PAGES = ["routing:rules", "routing:rule_create", "routing:ledger"]


def rule_form(**overrides) -> dict:
    """A valid rule form: weighted round robin to nobody, the pond as fallback."""
    data = {
        "name": "Zillow buyers",
        "is_active": "on",
        "method": RoutingMethod.WEIGHTED_ROUND_ROBIN,
        "claim_timeout_minutes": "5",
        "fallback": Fallback.POND,
        "sla_breach_action": "alert_manager",
        "has_phone": "",
    }
    data.update(overrides)
    return data


def first_to_claim(*agents, minutes: int = 5) -> RoutingRule:
    rule = RoutingRuleFactory(method=RoutingMethod.FIRST_TO_CLAIM, claim_timeout_minutes=minutes)
    for agent in agents:
        RuleMemberFactory(rule=rule, agent=agent)
    return rule


def offered_lead(*agents):
    """A new lead offered to ``agents`` (first to claim), and its offers by agent."""
    first_to_claim(*agents)
    decision, lead = route(new_lead())
    return lead, {offer.agent: offer for offer in decision.offers.all()}


# --- who may open what ---------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_agents_may_not_open_the_rules_or_the_ledger(client, agent, catch_all, name):
    client.force_login(agent)

    assert client.get(reverse(name)).status_code == 403


def test_agents_may_not_edit_move_or_delete_a_rule(client, agent, catch_all):
    rule = RoutingRuleFactory(name="Keep me")
    client.force_login(agent)

    assert client.get(reverse("routing:rule_edit", args=[rule.pk])).status_code == 403
    assert client.post(reverse("routing:rule_edit", args=[rule.pk]), rule_form(name="Mine")).status_code == 403
    assert client.post(reverse("routing:rule_create"), rule_form()).status_code == 403
    assert client.post(reverse("routing:rule_move", args=[rule.pk]), {"direction": "down"}).status_code == 403
    assert client.post(reverse("routing:rule_delete", args=[rule.pk])).status_code == 403
    rule.refresh_from_db()
    assert rule.name == "Keep me"
    assert RoutingRule.objects.filter(is_catch_all=False).count() == 1


@pytest.mark.parametrize(
    "name", [*MANAGER_PAGES, "routing:offers", "routing:pond"], ids=lambda name: name.split(":")[1]
)
def test_signed_out_visitors_are_sent_to_the_sign_in(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_manager_cannot_open_another_teams_rule(client, catch_all):
    ours, theirs = TeamFactory(name="North"), TeamFactory(name="South")
    manager = UserFactory(role=Role.MANAGER, team=ours)
    their_rule = RoutingRuleFactory(team=theirs, name="South only")
    client.force_login(manager)

    assert client.get(reverse("routing:rule_edit", args=[their_rule.pk])).status_code == 404
    assert client.post(reverse("routing:rule_delete", args=[their_rule.pk])).status_code == 404
    assert RoutingRule.objects.filter(pk=their_rule.pk).exists()


def test_post_only_routes_refuse_a_get(client, manager, catch_all):
    rule = RoutingRuleFactory()
    client.force_login(manager)

    assert client.get(reverse("routing:rule_delete", args=[rule.pk])).status_code == 405
    assert client.get(reverse("routing:rule_move", args=[rule.pk])).status_code == 405


# --- the rules page ------------------------------------------------------------------


def test_the_rules_page_lists_rules_in_order_in_words_with_their_warnings(client, manager, catch_all):
    luxury = RoutingRuleFactory(name="Luxury", min_price=1_000_000, position=10)
    RuleMemberFactory(rule=luxury, agent=UserFactory(first_name="Alice", last_name="N"), weight=3)
    RuleMemberFactory(rule=luxury, agent=UserFactory(first_name="Bob", last_name="O"), weight=1)
    RoutingRuleFactory(name="Open houses", sources=["open_house"], max_price=1_200_000, position=20)
    client.force_login(manager)

    response = client.get(reverse("routing:rules"))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("Luxury") < page.index("Open houses") < page.index(catch_all.name)
    assert "budget from $1,000,000" in page
    assert "from Open house" in page
    assert "weight 3 · 75%" in page  # Alice's share of the group's weight
    assert "Its price range overlaps" in page  # the selectors' warning, on the later rule
    assert "The group is empty" in page  # "Open houses" has nobody
    assert "2 rules may not do what you expect" in page
    # the catch-all can be edited, not moved or deleted
    assert f'id="rule-{catch_all.pk}-delete"' not in page
    assert f'id="rule-{catch_all.pk}-up"' not in page


def test_a_new_rule_is_saved_with_its_group_and_routes_the_next_lead(client, manager, catch_all):
    alice, bob = UserFactory(first_name="Alice"), UserFactory(first_name="Bob")
    client.force_login(manager)

    response = client.post(
        reverse("routing:rule_create"),
        rule_form(
            sources=["zillow"],
            lead_types=["buyer"],
            min_price="300000",
            max_price="800000",
            cities="Austin, round rock",
            zip_codes="78701",
            languages="es",
            tags="relocation",
            urgencies=["high", "urgent"],
            has_phone="yes",
            **{f"member_{alice.pk}": "on", f"weight_{alice.pk}": "3"},
            **{f"member_{bob.pk}": "", f"weight_{bob.pk}": "1"},
        ),
    )

    assert response.status_code == 303
    rule = RoutingRule.objects.get(name="Zillow buyers")
    assert (rule.sources, rule.lead_types, rule.urgencies) == (["zillow"], ["buyer"], ["high", "urgent"])
    assert (rule.min_price, rule.max_price, rule.has_phone) == (300000, 800000, True)
    assert (rule.cities, rule.zip_codes, rule.languages, rule.tags) == (
        ["Austin", "round rock"],
        ["78701"],
        ["es"],
        ["relocation"],
    )
    assert [(member.agent, member.weight) for member in rule.members.all()] == [(alice, 3)]
    # and the very next lead it matches goes by it, with no restart or cache
    decision, lead = route(
        new_lead(
            source="zillow",
            lead_type="buyer",
            tags=["relocation"],
            contact__phone="+14155550100",
            contact__preferred_language="es",
            preferences__min_price=400000,
            preferences__max_price=500000,
            preferences__preferred_locations=["Austin, TX 78701"],
            timeline__urgency_level="high",
        )
    )
    assert decision.rule == rule
    assert lead.assigned_to == alice


BAD_INPUT = {
    "min above max": ({"min_price": "900000", "max_price": "100000"}, "max_price"),
    "negative price": ({"min_price": "-5"}, "min_price"),
    "weight zero": ({"member": "on", "weight": "0"}, "weight"),
    "weight too high": ({"member": "on", "weight": "101"}, "weight"),
    "weight missing": ({"member": "on", "weight": ""}, "weight"),
    "weight not a number": ({"member": "on", "weight": "lots"}, "weight"),
    "fixed agent not chosen": ({"method": RoutingMethod.FIXED_AGENT}, "fixed_agent"),
    "fixed agent unknown": ({"method": RoutingMethod.FIXED_AGENT, "fixed_agent": "999999"}, "fixed_agent"),
    "fallback agent unknown": ({"fallback": Fallback.AGENT, "fallback_agent": "999999"}, "fallback_agent"),
    "unknown method": ({"method": "lottery"}, "method"),
    "unknown source": ({"sources": ["carrier_pigeon"]}, "sources"),
    "bad zip code": ({"zip_codes": "ninety"}, "zip_codes"),
    "bad language": ({"languages": "Spanish language"}, "languages"),
    "timeout zero": ({"claim_timeout_minutes": "0"}, "claim_timeout_minutes"),
    "timeout too long": ({"claim_timeout_minutes": "99999"}, "claim_timeout_minutes"),
    "no name": ({"name": ""}, "name"),
    "huge price": ({"max_price": "1e400"}, "max_price"),
}


@pytest.mark.parametrize("overrides, field", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_a_field_error_and_nothing_is_saved(client, manager, catch_all, overrides, field):
    alice = UserFactory(first_name="Alice")
    data = rule_form()
    for key, value in overrides.items():
        data[f"{key}_{alice.pk}" if key in ("member", "weight") else key] = value
    client.force_login(manager)

    response = client.post(reverse("routing:rule_create"), data)

    assert response.status_code == 422
    form = response.context["form"]
    name = f"{field}_{alice.pk}" if field == "weight" else field
    assert form.errors.get(name), form.errors
    assert "Nothing was saved" in response.content.decode()
    assert not RoutingRule.objects.filter(is_catch_all=False).exists()
    assert not RuleMember.objects.exists()


def test_a_group_naming_an_unknown_agent_is_refused(client, manager, catch_all):
    client.force_login(manager)

    response = client.post(reverse("routing:rule_create"), rule_form(member_999999="on", weight_999999="2"))

    assert response.status_code == 422
    assert "not on this team" in " ".join(response.context["form"].non_field_errors())
    assert not RoutingRule.objects.filter(is_catch_all=False).exists()


def test_an_agent_of_another_team_cannot_join_the_group(client, catch_all):
    ours, theirs = TeamFactory(name="North"), TeamFactory(name="South")
    manager = UserFactory(role=Role.MANAGER, team=ours)
    stranger = UserFactory(team=theirs)
    client.force_login(manager)

    response = client.post(
        reverse("routing:rule_create"), rule_form(**{f"member_{stranger.pk}": "on", f"weight_{stranger.pk}": "1"})
    )

    assert response.status_code == 422
    assert not RoutingRule.objects.filter(team=ours, is_catch_all=False).exists()


def test_editing_a_rule_replaces_its_conditions_and_group(client, manager, catch_all):
    rule = RoutingRuleFactory(name="Old", sources=["zillow"], min_price=100)
    old, new = RuleMemberFactory(rule=rule).agent, UserFactory()
    client.force_login(manager)

    form = client.get(reverse("routing:rule_edit", args=[rule.pk])).context["form"]
    assert form[f"member_{old.pk}"].value() is True and form["sources"].value() == ["zillow"]
    response = client.post(
        reverse("routing:rule_edit", args=[rule.pk]),
        rule_form(name="New", sources=["website"], **{f"member_{new.pk}": "on", f"weight_{new.pk}": "4"}),
    )

    assert response.status_code == 303
    rule.refresh_from_db()
    assert (rule.name, rule.sources, rule.min_price) == ("New", ["website"], None)
    assert [(member.agent, member.weight) for member in rule.members.all()] == [(new, 4)]


def test_the_catch_all_keeps_no_conditions_and_cannot_fall_to_a_next_rule(client, manager, catch_all):
    client.force_login(manager)
    url = reverse("routing:rule_edit", args=[catch_all.pk])

    refused = client.post(url, rule_form(name="Everyone", fallback=Fallback.NEXT_RULE, sources=["zillow"]))
    saved = client.post(url, rule_form(name="Everyone", sources=["zillow"]))

    assert refused.status_code == 422 and refused.context["form"].errors.get("fallback")
    assert saved.status_code == 303
    catch_all.refresh_from_db()
    assert (catch_all.name, catch_all.sources, catch_all.is_active) == ("Everyone", [], True)


def test_rules_move_up_and_down_and_the_catch_all_stays_last(client, manager, catch_all):
    first, _second, third = (RoutingRuleFactory(name=name, position=10 * n) for n, name in enumerate("ABC", 1))
    client.force_login(manager)

    client.post(reverse("routing:rule_move", args=[third.pk]), {"direction": "up"})
    client.post(reverse("routing:rule_move", args=[first.pk]), {"direction": "down"})
    refused = client.post(reverse("routing:rule_move", args=[first.pk]), {"direction": "sideways"})

    order = list(RoutingRule.objects.order_by("is_catch_all", "position").values_list("name", flat=True))
    assert order == ["C", "A", "B", catch_all.name]
    assert refused.status_code == 303  # a message, no change


def test_a_rule_is_deleted_but_never_the_catch_all(client, manager, catch_all):
    rule = RoutingRuleFactory(name="Gone soon")
    client.force_login(manager)

    client.post(reverse("routing:rule_delete", args=[rule.pk]))
    response = client.post(reverse("routing:rule_delete", args=[catch_all.pk]), follow=True)

    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    assert RoutingRule.objects.filter(pk=catch_all.pk).exists()
    assert "cannot be deleted" in response.content.decode()


def test_a_rule_id_too_large_for_the_database_is_a_404(client, manager, catch_all):
    client.force_login(manager)

    assert client.get(f"/routing/rules/{'9' * 30}/edit/").status_code == 404


# --- the fairness ledger -----------------------------------------------------------


def test_the_ledger_shows_each_agents_figures_and_the_chart_data(client, manager, catch_all):
    alice, bob = UserFactory(first_name="Alice"), UserFactory(first_name="Bob")
    RuleMemberFactory(rule=catch_all, agent=alice, weight=3)
    RuleMemberFactory(rule=catch_all, agent=bob, weight=1)
    for _ in range(4):
        route(new_lead())
    client.force_login(manager)

    response = client.get(reverse("routing:ledger"), {"period": "today"})

    page = response.content.decode()
    assert response.status_code == 200
    lines = {str(line["row"].agent): line for line in response.context["lines"]}
    assert lines["Alice " + alice.last_name]["row"].assigned == 3
    assert lines["Alice " + alice.last_name]["expected"] == 75.0
    assert response.context["totals"]["assigned"] == 4
    assert 'id="chart-fairness"' in page and "Expected share (%)" in page
    assert "<caption>Expected and actual share" in page  # the chart's figures for screen readers


def test_a_bad_custom_range_is_a_field_error_not_a_500(client, manager, catch_all):
    client.force_login(manager)

    backwards = client.get(reverse("routing:ledger"), {"period": "custom", "start": "2026-12-04", "end": "2026-11-01"})
    garbage = client.get(reverse("routing:ledger"), {"period": "custom", "start": "soon", "end": ""})
    unknown = client.get(reverse("routing:ledger"), {"period": "forever"})
    last_day = client.get(reverse("routing:ledger"), {"period": "custom", "start": "9999-12-31", "end": "9999-12-31"})

    assert backwards.status_code == 200 and backwards.context["form"].errors["end"]
    assert garbage.status_code == 200 and garbage.context["form"].errors["start"]
    assert unknown.status_code == 200 and unknown.context["form"].errors["period"]
    assert last_day.status_code == 200 and last_day.context["form"].errors["start"]


def test_the_ledger_period_is_counted_in_the_viewers_zone(client, catch_all):
    manager = UserFactory(role=Role.MANAGER, time_zone="America/Los_Angeles")
    client.force_login(manager)

    response = client.get(reverse("routing:ledger"), {"period": "custom", "start": "2026-03-01", "end": "2026-03-01"})

    assert response.context["zone"] == "America/Los_Angeles"
    assert "days in America/Los_Angeles" in response.content.decode()


# --- offers ----------------------------------------------------------------------------


def test_an_agent_sees_only_their_own_open_offers_with_their_expiry(client, agent, other_agent, catch_all):
    _lead, offers = offered_lead(agent, other_agent)
    client.force_login(agent)

    response = client.get(reverse("routing:offers"))

    page = response.content.decode()
    assert [offer.pk for offer in response.context["offers"]] == [offers[agent].pk]
    assert f'id="offer-{offers[agent].pk}-claim"' in page
    assert f'id="offer-{offers[other_agent].pk}-claim"' not in page
    assert 'role="timer"' in page and "data-expires-at" in page


def test_claiming_an_offer_gives_the_agent_the_lead(client, agent, other_agent, catch_all):
    lead, offers = offered_lead(agent, other_agent)
    client.force_login(agent)

    response = client.post(reverse("routing:offer_claim", args=[offers[agent].pk]))

    assert response.status_code == 303
    assert response["Location"] == reverse("leads:lead_detail", args=[lead.public_id])
    lead.refresh_from_db()
    assert lead.assigned_to == agent
    assert Offer.objects.get(pk=offers[other_agent].pk).state == OfferState.WITHDRAWN


def test_an_htmx_claim_is_sent_to_the_lead_page(client, agent, catch_all):
    lead, offers = offered_lead(agent)
    client.force_login(agent)

    response = client.post(reverse("routing:offer_claim", args=[offers[agent].pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("leads:lead_detail", args=[lead.public_id])


def test_an_agent_cannot_claim_or_pass_another_agents_offer_409(client, agent, other_agent, catch_all):
    lead, offers = offered_lead(agent, other_agent)
    client.force_login(agent)

    claim = client.post(reverse("routing:offer_claim", args=[offers[other_agent].pk]))
    passing = client.post(reverse("routing:offer_pass", args=[offers[other_agent].pk]))

    assert (claim.status_code, passing.status_code) == (409, 409)
    assert "made to another agent" in claim.content.decode()
    lead.refresh_from_db()
    assert lead.assigned_to is None
    assert Offer.objects.get(pk=offers[other_agent].pk).state == OfferState.OPEN


def test_claiming_after_someone_else_is_a_409_saying_so(client, agent, other_agent, catch_all):
    lead, offers = offered_lead(agent, other_agent)
    client.force_login(other_agent)
    client.post(reverse("routing:offer_claim", args=[offers[other_agent].pk]))
    client.force_login(agent)

    plain = client.post(reverse("routing:offer_claim", args=[offers[agent].pk]))
    htmx = client.post(reverse("routing:offer_claim", args=[offers[agent].pk]), HTTP_HX_REQUEST="true")

    assert plain.status_code == 409
    assert "Someone else claimed it first." in plain.content.decode()
    assert htmx.status_code == 200  # swapped in by HTMX, with the same message
    assert "Someone else claimed it first." in htmx.content.decode()
    lead.refresh_from_db()
    assert lead.assigned_to == other_agent


def test_passing_declines_the_offer_and_leaves_the_others_open(client, agent, other_agent, catch_all):
    _lead, offers = offered_lead(agent, other_agent)
    client.force_login(agent)

    response = client.post(reverse("routing:offer_pass", args=[offers[agent].pk]), follow=True)

    assert "it goes to the next agent" in response.content.decode()
    assert Offer.objects.get(pk=offers[agent].pk).state == OfferState.PASSED
    assert Offer.objects.get(pk=offers[other_agent].pk).state == OfferState.OPEN
    again = client.post(reverse("routing:offer_pass", args=[offers[agent].pk]))
    assert again.status_code == 409


def test_an_expired_offer_cannot_be_claimed(client, agent, catch_all):
    lead, offers = offered_lead(agent)
    Offer.objects.filter(pk=offers[agent].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(agent)

    response = client.post(reverse("routing:offer_claim", args=[offers[agent].pk]))

    assert response.status_code == 409
    lead.refresh_from_db()
    assert lead.assigned_to is None


# --- the pond ------------------------------------------------------------------------------


def test_the_pond_lists_its_leads_and_how_many_were_taken_today(client, agent, catch_all):
    entry = PondEntryFactory()
    AgentRoutingProfile.objects.create(user=agent, pond_daily_limit=4)
    client.force_login(agent)

    page = client.get(reverse("routing:pond")).content.decode()

    assert entry.lead.contact.full_name in page
    assert re.search(r"<strong>0 of 4</strong>\s*taken today", page)


def test_taking_a_pond_lead_makes_it_the_agents(client, agent, catch_all):
    entry = PondEntryFactory()
    client.force_login(agent)

    response = client.post(reverse("routing:pond_take", args=[entry.lead.public_id]))

    assert response.status_code == 303
    entry.refresh_from_db()
    entry.lead.refresh_from_db()
    assert (entry.status, entry.taken_by, entry.lead.assigned_to) == (PondStatus.TAKEN, agent, agent)
    assert "1 of" in client.get(reverse("routing:pond")).content.decode()


def test_a_pond_lead_taken_by_someone_else_is_a_409_saying_so(client, agent, other_agent, catch_all):
    entry = PondEntryFactory()
    client.force_login(other_agent)
    client.post(reverse("routing:pond_take", args=[entry.lead.public_id]))
    client.force_login(agent)

    response = client.post(reverse("routing:pond_take", args=[entry.lead.public_id]))

    assert response.status_code == 409
    assert "Someone else took it first." in response.content.decode()
    entry.lead.refresh_from_db()
    assert entry.lead.assigned_to == other_agent


def test_the_daily_pond_limit_is_a_409_with_the_limit_in_words(client, agent, catch_all):
    AgentRoutingProfile.objects.create(user=agent, pond_daily_limit=1)
    first, second = PondEntryFactory(), PondEntryFactory()
    client.force_login(agent)
    client.post(reverse("routing:pond_take", args=[first.lead.public_id]))

    response = client.post(reverse("routing:pond_take", args=[second.lead.public_id]))

    assert response.status_code == 409
    assert "daily limit" in response.content.decode()
    assert "1 of 1" in response.content.decode()
    assert PondEntry.objects.get(pk=second.pk).status == PondStatus.OPEN


def test_an_unknown_offer_is_a_404(client, agent, catch_all):
    client.force_login(agent)

    assert client.post(reverse("routing:offer_claim", args=[424242])).status_code == 404
    assert client.post(reverse("routing:offer_pass", args=[424242])).status_code == 404


def test_an_unknown_pond_lead_is_a_404(client, agent, catch_all):
    client.force_login(agent)

    assert client.post(reverse("routing:pond_take", args=["lead_nope"])).status_code == 404


# --- the lead page and the navigation ---------------------------------------------------------


def test_the_lead_page_shows_the_trace_rule_skips_and_offers(client, agent, other_agent, catch_all):
    AgentRoutingProfile.objects.create(user=other_agent, paused=True)
    lead, offers = offered_lead(agent, other_agent)
    client.force_login(agent)
    client.post(reverse("routing:offer_claim", args=[offers[agent].pk]))

    page = client.get(reverse("leads:lead_detail", args=[lead.public_id])).content.decode()

    card = page[page.index('id="routing-title"') :]
    assert "Offered to 1 agent at once" in card
    assert f'{other_agent.get_full_name() or other_agent.username}: <span class="skip-why">paused' in card
    assert "claimed" in card and f"Assigned to {agent}" in card


def test_a_lead_that_arrived_with_its_agent_says_it_was_not_routed(client, agent, catch_all):
    from leads.tests.factories import LeadFactory

    lead = LeadFactory(assigned_to=agent)
    client.force_login(agent)

    page = client.get(reverse("leads:lead_detail", args=[lead.public_id])).content.decode()

    assert "No routing decision yet" in page


def test_managers_get_rules_and_ledger_links_and_agents_offers_and_pond(client, agent, manager, catch_all):
    client.force_login(manager)
    managers = client.get(reverse("leads:dashboard")).content.decode()
    client.force_login(agent)
    agents = client.get(reverse("leads:dashboard")).content.decode()

    for url in (reverse("routing:rules"), reverse("routing:ledger"), reverse("routing:pond")):
        assert f'href="{url}"' in managers
    assert f'href="{reverse("routing:offers")}"' in agents and f'href="{reverse("routing:pond")}"' in agents
    assert f'href="{reverse("routing:rules")}"' not in agents


def test_ensure_catch_all_is_shown_even_when_a_team_has_none_yet(client):
    team = TeamFactory(name="New office")
    manager = UserFactory(role=Role.MANAGER, team=team)
    client.force_login(manager)

    response = client.get(reverse("routing:rules"))

    assert response.status_code == 200
    assert RoutingRule.objects.filter(team=team, is_catch_all=True).exists()
    assert engine.ensure_catch_all(team).name in response.content.decode()


# --- queries ---------------------------------------------------------------------------------


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_rules_page_reads_a_fixed_number_of_queries_whatever_the_rules(client, manager, catch_all):
    client.force_login(manager)
    RuleMemberFactory(rule=RoutingRuleFactory(fixed_agent=UserFactory(), fallback_agent=UserFactory()))
    few = _queries(client, reverse("routing:rules"))
    for _ in range(5):
        rule = RoutingRuleFactory(fixed_agent=UserFactory(), fallback_agent=UserFactory(), min_price=10)
        RuleMemberFactory(rule=rule)
        RuleMemberFactory(rule=rule)

    many = _queries(client, reverse("routing:rules"))

    assert many == few


def test_the_trace_card_reads_a_fixed_number_of_queries_whatever_the_trace(client, agent, other_agent, catch_all):
    lead, offers = offered_lead(agent, other_agent)
    client.force_login(agent)
    client.post(reverse("routing:offer_claim", args=[offers[agent].pk]))
    url = reverse("leads:lead_detail", args=[lead.public_id])
    few = _queries(client, url)
    for _ in range(3):  # more decisions, each with more offers
        decision = engine.record(lead, first_to_claim(), "arrival", "offered", None, [])
        OfferFactory.create_batch(2, decision=decision, lead=lead)

    many = _queries(client, url)

    assert many == few


# --- agents' settings and pausing ----------------------------------------------------------


def test_a_manager_sets_an_agents_capacity_pond_limit_and_pause(client, manager, agent, catch_all):
    client.force_login(manager)
    prefix = f"agent-{agent.pk}"

    page = client.get(reverse("routing:agents")).content.decode()
    response = client.post(
        reverse("routing:agent_settings", args=[agent.pk]),
        {f"{prefix}-paused": "on", f"{prefix}-capacity": "4", f"{prefix}-pond_daily_limit": "2"},
    )

    assert f'id="agent-{agent.pk}"' in page and "Right now: takes leads" in page
    assert response.status_code == 303
    profile = AgentRoutingProfile.objects.get(user=agent)
    assert (profile.paused, profile.capacity, profile.pond_daily_limit) == (True, 4, 2)
    assert "Right now: paused" in client.get(reverse("routing:agents")).content.decode()


@pytest.mark.parametrize(
    "values, field",
    [({"capacity": "-1", "pond_daily_limit": "2"}, "capacity"), ({"pond_daily_limit": ""}, "pond_daily_limit")],
    ids=["negative capacity", "no pond limit"],
)
def test_bad_agent_settings_are_field_errors_and_change_nothing(client, manager, agent, catch_all, values, field):
    client.force_login(manager)
    prefix = f"agent-{agent.pk}"

    response = client.post(
        reverse("routing:agent_settings", args=[agent.pk]), {f"{prefix}-{key}": value for key, value in values.items()}
    )

    assert response.status_code == 422
    assert field in next(row["form"] for row in response.context["rows"] if row["agent"] == agent).errors
    assert not AgentRoutingProfile.objects.filter(user=agent).exists()


def test_agents_may_not_change_anyones_routing_settings(client, agent, other_agent, catch_all):
    client.force_login(agent)
    prefix = f"agent-{other_agent.pk}"

    page = client.get(reverse("routing:agents"))
    response = client.post(
        reverse("routing:agent_settings", args=[other_agent.pk]),
        {f"{prefix}-paused": "on", f"{prefix}-pond_daily_limit": "0"},
    )

    assert (page.status_code, response.status_code) == (403, 403)
    assert not AgentRoutingProfile.objects.filter(user=other_agent).exists()


def test_an_agent_pauses_and_resumes_and_is_skipped_while_paused(client, agent, catch_all):
    RuleMemberFactory(rule=catch_all, agent=agent)
    client.force_login(agent)

    client.post(reverse("routing:pause"), {"paused": "on"})
    paused_page = client.get(reverse("routing:offers")).content.decode()
    decision, lead = route(new_lead())
    client.post(reverse("routing:pause"))

    assert 'id="resume"' in paused_page and 'id="paused-notice"' in paused_page
    assert lead.assigned_to is None and decision.candidates[0]["skipped_because"] == "paused"
    assert AgentRoutingProfile.objects.get(user=agent).paused is False
    _decision, lead = route(new_lead())
    assert lead.assigned_to == agent


def test_a_paused_agent_is_told_to_resume_before_taking_from_the_pond(client, agent, catch_all):
    AgentRoutingProfile.objects.create(user=agent, paused=True)
    entry = PondEntryFactory()
    client.force_login(agent)

    response = client.post(reverse("routing:pond_take", args=[entry.lead.public_id]))

    assert response.status_code == 403
    assert "resume" in response.content.decode().lower()
    entry.lead.refresh_from_db()
    assert entry.lead.assigned_to is None


def test_an_admin_chooses_the_team_whose_rules_they_see_and_write(client, admin_user, catch_all):
    north = TeamFactory(name="North")
    RoutingRuleFactory(team=north, name="North rule")
    RoutingRuleFactory(team=None, name="Teamless rule")
    client.force_login(admin_user)

    north_page = client.get(reverse("routing:rules"), {"team": north.pk}).content.decode()
    none_page = client.get(reverse("routing:rules"), {"team": "none"}).content.decode()
    created = client.post(reverse("routing:rule_create") + f"?team={north.pk}", rule_form(name="Made for North"))

    assert "North rule" in north_page and "Teamless rule" not in north_page
    assert "Teamless rule" in none_page and "North rule" not in none_page
    assert created.status_code == 303 and created["Location"].endswith(f"?team={north.pk}")
    assert RoutingRule.objects.get(name="Made for North").team == north
    assert client.get(reverse("routing:rules"), {"team": "424242"}).status_code == 404
