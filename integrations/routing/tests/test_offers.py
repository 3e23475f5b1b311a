"""First to claim: offers to every eligible member with an alert each, one winner,
passes, timeouts to the fallback, the signed one-tap claim, and agents who leave."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.utils import timezone

from integrations.alerts.models import AgentAlert
from integrations.routing import offers, services
from integrations.routing.errors import RoutingConflict
from integrations.routing.models import (
    Fallback,
    Offer,
    OfferState,
    PondEntry,
    PondStatus,
    RoutingDecision,
    RoutingMethod,
    RoutingOutcome,
    RoutingTrigger,
)
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import RoutingRuleFactory, RuleMemberFactory
from leads.errors import NotFound
from leads.models import Lead
from leads.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim_rule(catch_all):
    rule = RoutingRuleFactory(name="Hot leads", method=RoutingMethod.FIRST_TO_CLAIM, claim_timeout_minutes=5)
    for _ in range(3):
        RuleMemberFactory(rule=rule)
    return rule


def offered(rule):
    """A new lead offered by the rule: (lead, its offers by agent)."""
    decision, lead = route(new_lead(contact__phone="+14155550142"))
    assert decision.outcome == RoutingOutcome.OFFERED and decision.rule == rule
    return lead, {
        offer.agent: offer for offer in Offer.objects.filter(decision=decision).select_related("agent", "lead")
    }


def test_the_lead_is_offered_to_every_eligible_member_at_once_with_an_alert(claim_rule):
    lead, by_agent = offered(claim_rule)

    assert lead.assigned_to is None
    assert set(by_agent) == {member.agent for member in claim_rule.members.all()}
    for agent, offer in by_agent.items():
        assert offer.state == OfferState.OPEN
        assert offer.expires_at - offer.offered_at == timedelta(minutes=5)
        alert = AgentAlert.objects.get(key=f"offer:{offer.pk}")
        assert (alert.user, alert.reason) == (agent, "offer")
        actions = {action["action"]: action["url"] for action in alert.payload["actions"]}
        token = urlsplit(actions["claim"]).path.removeprefix("/routing/claim/").removesuffix("/")
        assert offers.offer_from_token(token) == offer  # the link claims this offer, for this agent
        assert actions["call"] == "tel:+14155550142"


def test_the_first_claim_wins_and_the_other_offers_are_withdrawn(claim_rule):
    lead, by_agent = offered(claim_rule)
    winner, loser, _ = by_agent

    claimed = services.claim_offer(by_agent[winner], winner)

    assert claimed.assigned_to == winner
    states = {agent: Offer.objects.get(pk=offer.pk).state for agent, offer in by_agent.items()}
    assert states[winner] == OfferState.CLAIMED
    assert [state for agent, state in states.items() if agent != winner] == [OfferState.WITHDRAWN] * 2
    with pytest.raises(RoutingConflict, match="already claimed by another agent"):
        services.claim_offer(by_agent[loser], loser)
    last = RoutingDecision.objects.filter(lead=lead).latest("pk")
    assert (last.trigger, last.outcome, last.assignee) == (RoutingTrigger.CLAIM, RoutingOutcome.ASSIGNED, winner)


def test_claiming_twice_or_someone_elses_offer_is_a_conflict(claim_rule):
    _, by_agent = offered(claim_rule)
    first, second, _ = by_agent

    with pytest.raises(RoutingConflict, match="another agent"):
        services.claim_offer(by_agent[first], second)
    services.claim_offer(by_agent[first], first)
    with pytest.raises(RoutingConflict, match="already claimed by you"):
        services.claim_offer(by_agent[first], first)


def test_an_expired_offer_cannot_be_claimed(claim_rule):
    _, by_agent = offered(claim_rule)
    agent = next(iter(by_agent))
    Offer.objects.filter(pk=by_agent[agent].pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(RoutingConflict, match="expired"):
        services.claim_offer(by_agent[agent], agent)


def test_when_everyone_passes_the_lead_goes_to_the_rules_fallback(claim_rule):
    lead, by_agent = offered(claim_rule)

    for agent, offer in list(by_agent.items())[:2]:
        services.pass_offer(offer, agent)
        assert not PondEntry.objects.filter(lead=lead).exists()  # one offer still open
    last_agent, last_offer = list(by_agent.items())[2]
    services.pass_offer(last_offer, last_agent)

    assert PondEntry.objects.get(lead=lead).status == PondStatus.OPEN
    last = RoutingDecision.objects.filter(lead=lead).latest("pk")
    assert (last.trigger, last.outcome) == (RoutingTrigger.PASS, RoutingOutcome.POND)
    with pytest.raises(RoutingConflict, match="passed"):
        services.pass_offer(last_offer, last_agent)


def test_offers_nobody_claims_in_time_expire_to_the_next_rule(claim_rule, catch_all):
    claim_rule.fallback = Fallback.NEXT_RULE
    claim_rule.save()
    backstop = RuleMemberFactory(rule=catch_all).agent
    lead, _by_agent = offered(claim_rule)

    assert services.expire_offers(timezone.now() + timedelta(minutes=4)) == 0
    assert services.expire_offers(timezone.now() + timedelta(minutes=5, seconds=1)) == 3

    assert set(Offer.objects.filter(lead=lead).values_list("state", flat=True)) == {OfferState.EXPIRED}
    lead.refresh_from_db()
    assert lead.assigned_to == backstop
    trail = list(RoutingDecision.objects.filter(lead=lead).order_by("pk").values_list("trigger", "outcome"))
    assert trail == [
        (RoutingTrigger.ARRIVAL, RoutingOutcome.OFFERED),
        (RoutingTrigger.CLAIM_TIMEOUT, RoutingOutcome.NEXT_RULE),
        (RoutingTrigger.CLAIM_TIMEOUT, RoutingOutcome.ASSIGNED),
    ]


def test_offers_nobody_claims_in_time_go_to_the_fallback_agent(claim_rule):
    backup = UserFactory()
    claim_rule.fallback, claim_rule.fallback_agent = Fallback.AGENT, backup
    claim_rule.save()
    lead, _ = offered(claim_rule)

    services.expire_offers(timezone.now() + timedelta(minutes=6))

    lead.refresh_from_db()
    assert lead.assigned_to == backup


def test_expiring_twice_settles_the_lead_once(claim_rule):
    lead, _ = offered(claim_rule)
    later = timezone.now() + timedelta(minutes=6)

    services.expire_offers(later)
    services.expire_offers(later)

    assert PondEntry.objects.filter(lead=lead).count() == 1
    assert RoutingDecision.objects.filter(lead=lead, trigger=RoutingTrigger.CLAIM_TIMEOUT).count() == 1


def test_the_signed_link_claims_for_its_agent_only_that_offer(claim_rule):
    lead, by_agent = offered(claim_rule)
    agent, offer = next(iter(by_agent.items()))

    claimed = services.claim_offer_by_token(offers.claim_token(offer))

    assert claimed.state == OfferState.CLAIMED
    assert Lead.objects.get(pk=lead.pk).assigned_to == agent


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        signing.dumps({"offer": 1, "agent": 1}, salt="another.purpose"),
        signing.dumps({"offer": "x"}, salt=offers.TOKEN_SALT),
    ],
)
def test_a_forged_or_foreign_token_claims_nothing(claim_rule, token):
    offered(claim_rule)

    with pytest.raises(NotFound):
        services.claim_offer_by_token(token)

    assert not Offer.objects.filter(state=OfferState.CLAIMED).exists()


def test_a_token_for_another_agent_of_the_offer_does_not_match(claim_rule):
    _, by_agent = offered(claim_rule)
    (_first, offer), (second, _) = list(by_agent.items())[:2]
    forged = signing.dumps({"offer": offer.pk, "agent": second.pk}, salt=offers.TOKEN_SALT, compress=True)

    with pytest.raises(NotFound):
        services.claim_offer_by_token(forged)


def test_an_expired_offers_link_no_longer_works(claim_rule):
    _, by_agent = offered(claim_rule)
    offer = next(iter(by_agent.values()))
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(minutes=2))

    with pytest.raises(NotFound):
        services.claim_offer_by_token(offers.claim_token(offer))


def test_an_agent_deleted_while_holding_offers_has_them_withdrawn_and_the_lead_routed_on(claim_rule):
    lead, by_agent = offered(claim_rule)
    agents = list(by_agent)
    agents[0].delete()
    agents[1].is_active = False
    agents[1].save()

    assert services.withdraw_unavailable_offers() == 2
    assert not PondEntry.objects.filter(lead=lead).exists()  # the third still holds an open offer
    agents[2].delete()
    assert services.withdraw_unavailable_offers() == 1

    assert PondEntry.objects.get(lead=lead).status == PondStatus.OPEN
    assert not Offer.objects.filter(lead=lead, state=OfferState.OPEN).exists()


def test_a_manager_assigning_an_offered_lead_withdraws_its_offers(claim_rule, manager):
    from integrations.routing import arrivals
    from leads.core.services import LeadManagementService
    from leads.events.models import LeadEvent

    lead, _by_agent = offered(claim_rule)
    LeadManagementService(manager).assign(lead.public_id, manager)

    arrivals.plan_routes(list(LeadEvent.objects.filter(lead=lead)))

    assert set(Offer.objects.filter(lead=lead).values_list("state", flat=True)) == {OfferState.WITHDRAWN}


def test_the_winner_of_a_claim_is_not_alerted_about_their_own_claim(claim_rule):
    from leads.tests.lead_events import relay_recorded_events

    lead, by_agent = offered(claim_rule)
    winner = next(iter(by_agent))
    services.claim_offer(by_agent[winner], winner)

    relay_recorded_events()

    assert not AgentAlert.objects.filter(user=winner, lead=lead, reason="assigned").exists()


def test_the_fallback_agent_after_a_timeout_is_alerted(claim_rule):
    backup = UserFactory()
    claim_rule.fallback, claim_rule.fallback_agent = Fallback.AGENT, backup
    claim_rule.save()
    lead, _ = offered(claim_rule)

    services.expire_offers(timezone.now() + timedelta(minutes=6))

    assert AgentAlert.objects.filter(user=backup, lead=lead, reason="assigned").count() == 1
