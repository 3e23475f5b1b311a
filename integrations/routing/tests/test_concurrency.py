"""Races on PostgreSQL, each thread on its own connection: concurrent leads take round-robin
turns in order; ten agents claiming one offer at once make exactly one winner; a pond lead
is taken once; the daily limit holds under a burst."""

from collections import Counter

import pytest
from django.db import connection

from integrations.routing import engine, services
from integrations.routing.errors import PondLimitReached, RoutingConflict
from integrations.routing.models import Offer, OfferState, PondStatus, RoundRobinState, RoutingMethod
from integrations.routing.tests.conftest import new_lead
from integrations.routing.tests.factories import (
    AgentRoutingProfileFactory,
    PondEntryFactory,
    RoutingRuleFactory,
    RuleMemberFactory,
)
from leads.models import Lead
from leads.tests.concurrency import run_at_once
from leads.tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")


def test_concurrent_leads_take_round_robin_turns_in_order():
    catch_all = engine.ensure_catch_all(None)
    agents = [RuleMemberFactory(rule=catch_all, weight=weight).agent for weight in (1, 2, 3)]
    leads = [new_lead() for _ in range(24)]

    _, errors = run_at_once(len(leads), lambda index: engine.route_lead(leads[index].pk))

    assert errors == []
    got = Counter(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("assigned_to", flat=True))
    assert got == {agents[0].pk: 4, agents[1].pk: 8, agents[2].pk: 12}
    assert RoundRobinState.objects.get(rule=catch_all).turns == 24


def test_ten_agents_claiming_at_once_make_exactly_one_winner():
    engine.ensure_catch_all(None)
    rule = RoutingRuleFactory(method=RoutingMethod.FIRST_TO_CLAIM)
    for _ in range(10):
        RuleMemberFactory(rule=rule)
    lead = new_lead()
    engine.route_lead(lead.pk)
    offers = list(Offer.objects.filter(lead=lead).select_related("agent", "lead"))
    assert len(offers) == 10

    results, errors = run_at_once(10, lambda index: services.claim_offer(offers[index], offers[index].agent))

    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert len(errors) == 9 and all(isinstance(error, RoutingConflict) for error in errors)
    assert Lead.objects.get(pk=lead.pk).assigned_to == winners[0].assigned_to
    states = Counter(Offer.objects.filter(lead=lead).values_list("state", flat=True))
    assert states == {OfferState.CLAIMED: 1, OfferState.WITHDRAWN: 9}


def test_a_pond_lead_taken_by_five_at_once_goes_to_one():
    entry = PondEntryFactory()
    agents = [UserFactory() for _ in range(5)]

    results, errors = run_at_once(5, lambda index: services.take_from_pond(entry.lead, agents[index]))

    assert len([result for result in results if result is not None]) == 1
    assert len(errors) == 4 and all(isinstance(error, RoutingConflict) for error in errors)
    entry.refresh_from_db()
    assert entry.status == PondStatus.TAKEN and Lead.objects.get(pk=entry.lead_id).assigned_to == entry.taken_by


def test_the_daily_limit_holds_under_a_burst():
    agent = UserFactory()
    AgentRoutingProfileFactory(user=agent, pond_daily_limit=2)
    entries = [PondEntryFactory() for _ in range(5)]

    results, errors = run_at_once(5, lambda index: services.take_from_pond(entries[index].lead, agent))

    assert len([result for result in results if result is not None]) == 2
    assert len(errors) == 3 and all(isinstance(error, PondLimitReached) for error in errors)
