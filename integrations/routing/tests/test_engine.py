"""Routing a lead: rule order, the catch-all, who is eligible (and why the others are
skipped), the fallbacks, weighted round robin's shares, and what an assignment writes."""

from collections import Counter
from datetime import UTC, date, datetime, time

import pytest

from integrations.routing.models import (
    Fallback,
    PondEntry,
    PondStatus,
    RoutingDecision,
    RoutingMethod,
    RoutingOutcome,
    SkipReason,
)
from integrations.routing.tests.conftest import new_lead, route
from integrations.routing.tests.factories import AgentRoutingProfileFactory, RoutingRuleFactory, RuleMemberFactory
from leads.events.models import LeadEvent, LeadEventKind
from leads.models import AuditEntry, LeadStatus, TimeOff, WorkingHours
from leads.tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def group(rule, *weights):
    return [RuleMemberFactory(rule=rule, weight=weight).agent for weight in weights]


def test_rules_are_tried_in_order_and_the_first_match_wins(catch_all):
    later = RoutingRuleFactory(name="Zillow", sources=["zillow"], position=20)
    first = RoutingRuleFactory(name="Zillow buyers", sources=["zillow"], lead_types=["buyer"], position=10)
    (first_agent,) = group(first, 1)
    group(later, 1)

    decision, lead = route(new_lead(source="zillow", lead_type="buyer"))

    assert (decision.rule, decision.rule_name, decision.outcome) == (first, "Zillow buyers", RoutingOutcome.ASSIGNED)
    assert lead.assigned_to == first_agent


def test_a_lead_no_rule_matches_goes_to_the_catch_all(catch_all):
    RoutingRuleFactory(sources=["zillow"])
    (agent,) = group(catch_all, 1)

    decision, lead = route(new_lead(source="website"))

    assert decision.rule == catch_all
    assert lead.assigned_to == agent


def test_a_catch_all_always_exists_even_when_deleted_behind_the_apps_back(db):
    from integrations.routing.models import RoutingRule

    RoutingRule.objects.filter(is_catch_all=True).delete()

    decision, lead = route(new_lead())

    assert decision.rule.is_catch_all and decision.outcome == RoutingOutcome.POND
    assert PondEntry.objects.get(lead=lead).status == PondStatus.OPEN


def test_inactive_rules_are_skipped_and_a_change_applies_to_the_next_lead(catch_all):
    rule = RoutingRuleFactory(sources=["zillow"])
    group(rule, 1)

    first, _ = route(new_lead(source="zillow"))
    rule.is_active = False
    rule.save()
    second, _ = route(new_lead(source="zillow"))

    assert (first.rule, second.rule) == (rule, catch_all)


def test_each_reason_to_skip_an_agent_is_recorded(catch_all):
    rule = RoutingRuleFactory(sources=["zillow"])
    working, late_shift, paused, away, gone, busy = group(rule, 1, 1, 1, 1, 1, 1)
    for user in (working, paused, away, gone, busy):
        WorkingHours.objects.create(user=user, weekday=0, starts_at=time(9), ends_at=time(17))
    WorkingHours.objects.create(user=late_shift, weekday=0, starts_at=time(13), ends_at=time(21))
    AgentRoutingProfileFactory(user=paused, paused=True)
    TimeOff.objects.create(user=away, starts_on=date(2026, 12, 7), ends_on=date(2026, 12, 8))
    gone.is_active = False
    gone.save()
    AgentRoutingProfileFactory(user=busy, capacity=1)
    LeadFactory(assigned_to=busy, status=LeadStatus.NEW)

    decision, lead = route(new_lead(source="zillow"), now=MONDAY_NOON)

    skipped = {candidate["agent_id"]: candidate["skipped_because"] for candidate in decision.candidates}
    assert skipped == {
        working.pk: None,
        late_shift.pk: SkipReason.OFF_HOURS,
        paused.pk: SkipReason.PAUSED,
        away.pk: SkipReason.TIME_OFF,
        gone.pk: SkipReason.INACTIVE,
        busy.pk: SkipReason.AT_CAPACITY,
    }
    assert [candidate["eligible"] for candidate in decision.candidates] == [True] + [False] * 5
    assert lead.assigned_to == working


def test_capacity_counts_only_open_new_leads(catch_all):
    (agent,) = group(catch_all, 1)
    AgentRoutingProfileFactory(user=agent, capacity=1)
    LeadFactory(assigned_to=agent, status=LeadStatus.CONTACTED)

    _, lead = route(new_lead())

    assert lead.assigned_to == agent


def test_a_rule_allowing_off_hours_takes_agents_outside_their_hours(catch_all):
    rule = RoutingRuleFactory(allow_off_hours=True)
    (night_owl,) = group(rule, 1)
    WorkingHours.objects.create(user=night_owl, weekday=0, starts_at=time(20), ends_at=time(23))

    _, lead = route(new_lead(), now=MONDAY_NOON)

    assert lead.assigned_to == night_owl


def test_nobody_eligible_sends_the_lead_to_the_pond_by_default(catch_all):
    rule = RoutingRuleFactory()
    (agent,) = group(rule, 1)
    AgentRoutingProfileFactory(user=agent, paused=True)

    decision, lead = route(new_lead())

    assert (decision.rule, decision.outcome, lead.assigned_to) == (rule, RoutingOutcome.POND, None)
    assert PondEntry.objects.filter(lead=lead, status=PondStatus.OPEN).count() == 1


def test_nobody_eligible_gives_the_lead_to_the_fallback_agent(catch_all):
    backup = UserFactory()
    RoutingRuleFactory(fallback=Fallback.AGENT, fallback_agent=backup)

    decision, lead = route(new_lead())  # an empty group

    assert (decision.outcome, decision.assignee, lead.assigned_to) == (RoutingOutcome.ASSIGNED, backup, backup)
    assert "fallback agent" in decision.note


def test_an_inactive_fallback_agent_leaves_the_lead_in_the_pond(catch_all):
    backup = UserFactory(is_active=False)
    RoutingRuleFactory(fallback=Fallback.AGENT, fallback_agent=backup)

    decision, lead = route(new_lead())

    assert (decision.outcome, lead.assigned_to) == (RoutingOutcome.POND, None)


def test_nobody_eligible_moves_on_to_the_next_matching_rule(catch_all):
    first = RoutingRuleFactory(position=10, fallback=Fallback.NEXT_RULE)
    RoutingRuleFactory(position=20, sources=["zillow"])  # does not match
    third = RoutingRuleFactory(position=30)
    (agent,) = group(third, 1)

    route(new_lead(source="website"))

    decisions = list(RoutingDecision.objects.order_by("pk"))
    assert [(d.rule, d.outcome) for d in decisions] == [
        (first, RoutingOutcome.NEXT_RULE),
        (third, RoutingOutcome.ASSIGNED),
    ]
    assert decisions[-1].assignee == agent


def test_a_fixed_agent_rule_gives_every_lead_to_its_agent(catch_all):
    star = UserFactory()
    RoutingRuleFactory(method=RoutingMethod.FIXED_AGENT, fixed_agent=star, sources=["referral"])

    leads = [route(new_lead(source="referral"))[1] for _ in range(3)]

    assert {lead.assigned_to for lead in leads} == {star}


def test_a_fixed_agent_who_was_deleted_is_skipped_as_deleted(catch_all):
    star = UserFactory()
    rule = RoutingRuleFactory(method=RoutingMethod.FIXED_AGENT, fixed_agent=star)
    star.delete()
    rule.refresh_from_db()

    decision, _lead = route(new_lead())

    assert decision.candidates == [
        {"agent_id": None, "name": "(deleted agent)", "weight": 1, "eligible": False, "skipped_because": "deleted"}
    ]
    assert decision.outcome == RoutingOutcome.POND


def test_weighted_round_robin_gives_each_agent_exactly_their_weights_share(catch_all):
    one, two, three = group(catch_all, 1, 2, 3)

    got = Counter(route(new_lead())[1].assigned_to for _ in range(60))

    assert got == {one: 10, two: 20, three: 30}


def test_weighted_round_robin_spreads_the_turns(catch_all):
    a, b, c = group(catch_all, 5, 1, 1)

    order = [route(new_lead())[1].assigned_to for _ in range(7)]

    assert order == [a, a, b, a, c, a, a]


def test_an_agent_skipped_for_a_while_does_not_break_the_others_turns(catch_all):
    a, b = group(catch_all, 1, 1)
    profile = AgentRoutingProfileFactory(user=b, paused=True)
    while_paused = [route(new_lead())[1].assigned_to for _ in range(3)]
    profile.paused = False
    profile.save()

    after = Counter(route(new_lead())[1].assigned_to for _ in range(10))

    assert while_paused == [a, a, a]
    assert after == {a: 5, b: 5}


def test_an_assignment_goes_through_the_lead_write_path(catch_all):
    (agent,) = group(catch_all, 1)
    lead = new_lead()
    version = lead.version

    _decision, lead = route(lead)

    assert lead.version == version + 1
    entry = AuditEntry.objects.get(lead=lead, field="assigned_to")
    assert (entry.new_value, entry.actor, entry.channel) == (agent.username, None, "system")
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.ASSIGNED, data__to=agent.username).exists()


def test_a_lead_that_has_an_agent_keeps_it(catch_all):
    group(catch_all, 1)
    owner = UserFactory()
    lead = new_lead(assigned_to=owner)

    decision, lead = route(lead)

    assert (decision.outcome, decision.assignee, lead.assigned_to) == (RoutingOutcome.KEPT, owner, owner)


def test_routing_a_lead_twice_on_arrival_routes_it_once(catch_all):
    group(catch_all, 1, 1)
    lead = new_lead()

    route(lead)
    again, _ = route(lead)

    assert again is None
    assert RoutingDecision.objects.filter(lead=lead).count() == 1


def test_an_archived_lead_is_not_routed(catch_all):
    from django.utils import timezone as django_timezone

    lead = new_lead(archived_at=django_timezone.now())

    decision, _ = route(lead)

    assert decision is None and not RoutingDecision.objects.exists()


def test_the_agent_given_the_lead_is_alerted_at_once_and_only_once(catch_all):
    from integrations.alerts.models import AgentAlert
    from integrations.alerts.services import assignment_key
    from leads.tests.lead_events import relay_recorded_events

    (agent,) = group(catch_all, 1)

    _, lead = route(new_lead())
    made = list(AgentAlert.objects.filter(user=agent, lead=lead).values_list("reason", "key"))
    relay_recorded_events()  # the lead.assigned event's subscriber finds it made

    assert made == [("assigned", assignment_key(lead_pk=lead.pk, lead_version=lead.version, user_pk=agent.pk))]
    assert AgentAlert.objects.filter(user=agent, lead=lead).count() == 1


def _queries_to_route_one_lead(django_assert_max_num_queries, rule, size: int, budget: int) -> None:
    for agent in group(rule, *([1] * size)):
        AgentRoutingProfileFactory(user=agent, capacity=50)
        WorkingHours.objects.create(user=agent, weekday=0, starts_at=time(9), ends_at=time(17))
    route(new_lead(), now=MONDAY_NOON)  # the rule's first turn makes its round robin state
    lead = new_lead()

    with django_assert_max_num_queries(budget):
        decision, _ = route(lead, now=MONDAY_NOON)

    assert decision.outcome == RoutingOutcome.ASSIGNED and len(decision.candidates) == size


@pytest.mark.parametrize("size", [10, 30])
def test_routing_a_lead_takes_the_same_queries_whatever_the_groups_size(django_assert_max_num_queries, catch_all, size):
    # The lead locked, its rules, their groups and eligibility (hours, days off, open
    # leads: one query each), the round robin's turn, the assignment's write (its audit
    # entry names the agent without reading them again) and the agent's alert: 23
    # statements (6 of them savepoints) for ten members or thirty, with six rules that do
    # not match (the route helper re-reads the lead: one more).
    for _ in range(5):
        RoutingRuleFactory(sources=["nowhere"])
    rule = RoutingRuleFactory()
    RoutingRuleFactory(sources=["nowhere"])

    _queries_to_route_one_lead(django_assert_max_num_queries, rule, size, budget=24)


def test_rules_tried_in_turn_read_their_groups_at_once(django_assert_max_num_queries, catch_all):
    # The first rule's group is read on its own; the lead falls through it and the next
    # two rules (everybody paused), so the groups of the rules left are read at once.
    for _ in range(3):
        for agent in group(RoutingRuleFactory(fallback=Fallback.NEXT_RULE), 1, 1):
            AgentRoutingProfileFactory(user=agent, paused=True)
    last = RoutingRuleFactory()

    # 24 as above, the 3 "next rule" decisions and the first rule's group read on its own
    # (its members, hours, days off); reading each rule's group as it is tried would make it 36.
    _queries_to_route_one_lead(django_assert_max_num_queries, last, 10, budget=30)
