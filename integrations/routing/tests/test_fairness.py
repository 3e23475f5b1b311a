"""The fairness ledger: per agent, offers and their answers, assignments, and the share
their weight entitled them to against the share they got."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.routing import selectors, services
from integrations.routing.models import Offer, RoutingMethod
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import AgentRoutingProfileFactory, RoutingRuleFactory, RuleMemberFactory

pytestmark = pytest.mark.django_db


def period():
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(hours=1)


def test_round_robin_shares_match_the_weights(catch_all):
    light = RuleMemberFactory(rule=catch_all, weight=1).agent
    heavy = RuleMemberFactory(rule=catch_all, weight=3).agent
    for _ in range(8):
        route(new_lead())

    ledger = {row.agent: row for row in selectors.fairness_ledger(None, *period())}

    assert (ledger[light].assigned, ledger[heavy].assigned) == (2, 6)
    assert ledger[light].expected_share == Decimal("0.25") and ledger[heavy].expected_share == Decimal("0.75")
    assert ledger[light].actual_share == Decimal("0.25") and ledger[heavy].actual_share == Decimal("0.75")
    assert ledger[heavy].expected_leads == Decimal("6.00")


def test_an_agent_off_duty_is_not_expected_to_get_leads_then(catch_all):
    on = RuleMemberFactory(rule=catch_all).agent
    off = RuleMemberFactory(rule=catch_all).agent
    AgentRoutingProfileFactory(user=off, paused=True)
    for _ in range(4):
        route(new_lead())

    ledger = {row.agent: row for row in selectors.fairness_ledger(None, *period())}

    assert ledger[on].expected_share == Decimal(1) and ledger[on].assigned == 4
    assert off not in ledger  # never eligible, never offered: nothing to show


def test_offers_claims_passes_and_timeouts_are_counted(catch_all):
    rule = RoutingRuleFactory(method=RoutingMethod.FIRST_TO_CLAIM)
    ann, bob = (RuleMemberFactory(rule=rule).agent for _ in range(2))
    _, first = route(new_lead())
    services.claim_offer(Offer.objects.get(lead=first, agent=ann), ann)
    _, second = route(new_lead())
    services.pass_offer(Offer.objects.get(lead=second, agent=ann), ann)
    services.expire_offers(timezone.now() + timedelta(minutes=10))

    ledger = {row.agent: row for row in selectors.fairness_ledger(None, *period())}

    assert (ledger[ann].offered, ledger[ann].claimed, ledger[ann].passed, ledger[ann].timed_out) == (2, 1, 1, 0)
    assert (ledger[bob].offered, ledger[bob].claimed, ledger[bob].passed, ledger[bob].timed_out) == (2, 0, 0, 1)
    assert (ledger[ann].assigned, ledger[bob].assigned) == (1, 0)
