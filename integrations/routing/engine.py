"""Routing a lead.

The team's active rules are tried in order (the catch-all, which matches every lead,
last); the first whose conditions match picks its group and method:

- **weighted round robin**: the lead is assigned to the eligible member whose turn it
  is (``round_robin``);
- **first to claim**: every eligible member gets an offer and an alert at once
  (``offers``); the first to claim gets the lead;
- **fixed agent**: the lead is assigned to the rule's agent, when eligible.

When nobody is eligible the rule's fallback applies: the next matching rule, a named
agent (when active), or the pond. The catch-all ends in the pond or its agent, so no
lead is ever left without a route. Each rule tried is recorded with every candidate and
why they were skipped (``RoutingDecision``, the trace).

Rules are read from the database on every lead, so a change applies to the next lead.
Assignments go through the one lead write path (``leads.core.writes.lead_write``), so
the save has its version, audit entry and ``lead.assigned`` event (whose subscriber
alerts the agent).
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.alerts import payloads
from integrations.alerts import tasks as alerts
from integrations.routing import eligibility, matching, round_robin
from integrations.routing.eligibility import Candidate
from integrations.routing.models import (
    Fallback,
    Offer,
    OfferState,
    PondEntry,
    PondStatus,
    RoutingDecision,
    RoutingMethod,
    RoutingOutcome,
    RoutingRule,
    RoutingTrigger,
)
from leads.audit.history import AuditContext
from leads.audit.models import AuditChannel
from leads.core import writes
from leads.core.writes import LeadWrite
from leads.errors import NotFound
from leads.models import Lead, Team, User

logger = logging.getLogger(__name__)

# The routing alerts the agents it gives leads to itself (``alert_assignee``, offers):
# its events' relay need not go ahead of the after-save work.
ROUTING = AuditContext(actor=None, channel=AuditChannel.SYSTEM, request_id="routing", urgent_events=False)
CATCH_ALL_NAME = "Everyone else (catch-all)"
CATCH_ALL_POSITION = 1_000_000


def live_leads():
    return Lead.objects.filter(archived_at__isnull=True)


def ensure_catch_all(team: Team | None) -> RoutingRule:
    """The team's catch-all rule (made when missing: every lead always matches a rule)."""
    rule = RoutingRule.objects.filter(team=team, is_catch_all=True).first()
    if rule is not None:
        return rule
    try:
        with transaction.atomic():
            return RoutingRule.objects.create(
                team=team, is_catch_all=True, name=CATCH_ALL_NAME, position=CATCH_ALL_POSITION, fallback=Fallback.POND
            )
    except IntegrityError:  # made meanwhile by a concurrent lead
        return RoutingRule.objects.get(team=team, is_catch_all=True)


def rules_for(team_id: int | None) -> list[RoutingRule]:
    """The team's active rules in the order they are tried, the catch-all last (made when
    missing). Read for every lead, so without their agents: the roster reads the fixed
    agents of the rules it tries, a fallback agent is read when it is used."""
    rules = RoutingRule.objects.filter(team_id=team_id, is_active=True)
    found = list(rules.order_by("is_catch_all", "position", "pk"))
    if not found or not found[-1].is_catch_all:
        found.append(ensure_catch_all(Team(pk=team_id) if team_id else None))
    return found


def route_lead(
    lead_pk: int,
    *,
    trigger: str = RoutingTrigger.ARRIVAL,
    after_rule: RoutingRule | None = None,
    from_rule: RoutingRule | None = None,
    exclude_agents: frozenset[int] = frozenset(),
    now: datetime | None = None,
    deliver_here: bool = False,
) -> RoutingDecision | None:
    """Route the lead, in one transaction with the lead locked; returns the final
    decision (None when the lead is archived or gone).

    On arrival a lead that has an agent by now keeps it (a "kept" decision) and a lead
    already routed is left alone (the task may run twice). ``after_rule`` starts after
    that rule (a first-to-claim timeout moving to the next group), ``from_rule`` at it
    (an SLA breach reassigning within the group); ``exclude_agents`` are not candidates;
    ``deliver_here``: the assignee's alert is sent by this process once the routing commits.
    """
    now = now or timezone.now()
    try:
        # One transaction: the lead's write and the assignee's alert (the routing's
        # only write inside it; any error ends the whole, so no savepoint).
        with transaction.atomic():
            with writes.lead_write(lead_pk, context=ROUTING, leads=live_leads(), savepoint=False) as write:
                decision = _route_locked(write, trigger, after_rule, from_rule, exclude_agents, now)
            alert_assignee(write.lead, decision, deliver_here=deliver_here)
            return decision
    except NotFound:
        return None


def _route_locked(write, trigger, after_rule, from_rule, exclude_agents, now) -> RoutingDecision | None:
    lead = write.lead
    if trigger == RoutingTrigger.ARRIVAL:
        if RoutingDecision.objects.filter(lead=lead).exists():
            return None  # routed already (the task ran twice)
        if lead.assigned_to_id is not None:
            note = "Had an agent by the time it was routed: kept."
            return _record(lead, None, trigger, RoutingOutcome.KEPT, lead.assigned_to, [], note=note)
    rules = rules_for(lead.team_id)
    start = 0
    if after_rule is not None:
        start = next((i + 1 for i, rule in enumerate(rules) if rule.pk == after_rule.pk), len(rules))
    elif from_rule is not None:
        start = next((i for i, rule in enumerate(rules) if rule.pk == from_rule.pk), 0)
    return route_from(write, rules, start, trigger=trigger, exclude=exclude_agents, now=now)


# Assignments the routing makes on its own (not a claim or a pond take, which the agent did).
ALERTED_TRIGGERS = frozenset(
    {
        RoutingTrigger.ARRIVAL,
        RoutingTrigger.CLAIM_TIMEOUT,
        RoutingTrigger.PASS,
        RoutingTrigger.SLA_BREACH,
        RoutingTrigger.WITHDRAWN,
    }
)


def alert_assignee(lead: Lead, decision: RoutingDecision | None, *, deliver_here: bool = False) -> None:
    """Alert the agent the routing just gave the lead to, in the transaction that did it
    (after the lead's write, so at its new version) and sent once it commits: the alert
    leaves without waiting for the ``lead.assigned`` event's relay, whose subscriber then
    finds it made (same key: one alert per assignment)."""
    if decision is None or decision.outcome != RoutingOutcome.ASSIGNED or decision.trigger not in ALERTED_TRIGGERS:
        return
    if decision.assignee is None or lead.assigned_to_id != decision.assignee_id:
        return
    # The key is of the version this transaction just wrote: no alert can have it yet.
    alerts.send_agent_alert(
        user=decision.assignee,
        lead=lead,
        reason="assigned",
        actions=payloads.assignment_actions(lead),
        new_key=True,
        deliver_here=deliver_here,
    )


def route_from(
    write: LeadWrite,
    rules: list[RoutingRule],
    start: int,
    *,
    trigger: str,
    exclude: frozenset[int],
    now: datetime,
    roster: eligibility.Roster | None = None,
) -> RoutingDecision:
    """Try ``rules[start:]`` on the locked lead; the pond when none is left. The groups
    of the rules that match it are read through ``roster`` (shared with the fallbacks)."""
    lead = write.lead
    matched = {index for index in range(start, len(rules)) if matching.matches(rules[index], lead)}
    if roster is None:
        roster = eligibility.Roster([rules[index] for index in sorted(matched)], at=now)
    for index in range(start, len(rules)):
        rule = rules[index]
        if index not in matched:
            continue
        candidates = roster.candidates(rule, exclude=exclude)
        eligible = [candidate for candidate in candidates if candidate.eligible]
        if eligible and rule.method == RoutingMethod.FIRST_TO_CLAIM:
            from integrations.routing.offers import make_offers  # offers builds on this module

            return make_offers(lead, rule, candidates, eligible, trigger=trigger, now=now)
        if eligible:
            chosen = eligible[0] if rule.method == RoutingMethod.FIXED_AGENT else round_robin.next_turn(rule, eligible)
            return assign(write, chosen.agent, rule=rule, trigger=trigger, candidates=candidates)
        if rule.fallback == Fallback.NEXT_RULE and index + 1 < len(rules):
            _record(
                lead, rule, trigger, RoutingOutcome.NEXT_RULE, None, candidates, note="Nobody eligible: the next rule."
            )
            continue
        return fall_back(
            write, rule, trigger=trigger, candidates=candidates, exclude=exclude, now=now, rules=rules, roster=roster
        )
    return send_to_pond(write, None, trigger=trigger, candidates=[], note="No rule left: the pond.")


def fall_back(
    write: LeadWrite,
    rule: RoutingRule,
    *,
    trigger: str,
    candidates: list[Candidate],
    exclude: frozenset[int],
    now: datetime,
    rules: list[RoutingRule] | None = None,
    note: str = "Nobody eligible",
    roster: eligibility.Roster | None = None,
) -> RoutingDecision:
    """The rule's fallback for the locked lead: the next matching rule, its named agent
    (when active and not excluded), or the pond."""
    if rule.fallback == Fallback.NEXT_RULE and not rule.is_catch_all:
        rules = rules if rules is not None else rules_for(write.lead.team_id)
        start = next((i + 1 for i, other in enumerate(rules) if other.pk == rule.pk), len(rules))
        if start < len(rules):
            _record(
                write.lead, rule, trigger, RoutingOutcome.NEXT_RULE, None, candidates, note=f"{note}: the next rule."
            )
            return route_from(write, rules, start, trigger=trigger, exclude=exclude, now=now, roster=roster)
    agent = rule.fallback_agent if rule.fallback == Fallback.AGENT and rule.fallback_agent_id else None
    if agent is not None and agent.is_active and agent.pk not in exclude:
        return assign(write, agent, rule=rule, trigger=trigger, candidates=candidates, note=f"{note}: fallback agent.")
    return send_to_pond(write, rule, trigger=trigger, candidates=candidates, note=f"{note}: the pond.")


def assign(
    write: LeadWrite,
    agent: User,
    *,
    rule: RoutingRule | None,
    trigger: str,
    candidates: list[Candidate],
    note: str = "",
) -> RoutingDecision:
    """Give the locked lead to ``agent`` (through its write), leave the pond and withdraw open offers."""
    lead = write.lead
    lead.assigned_to = agent
    lead.team_id = agent.team_id or lead.team_id
    if trigger != RoutingTrigger.ARRIVAL:  # a lead just arrived has no offers nor pond entry yet
        settle_elsewhere(lead, now=timezone.now())
    return _record(lead, rule, trigger, RoutingOutcome.ASSIGNED, agent, candidates, note=note)


def send_to_pond(
    write: LeadWrite, rule: RoutingRule | None, *, trigger: str, candidates: list[Candidate], note: str = ""
) -> RoutingDecision:
    """Put the locked lead in its team's pond (unassigned)."""
    lead = write.lead
    now = timezone.now()
    lead.assigned_to = None
    Offer.objects.filter(lead=lead, state=OfferState.OPEN).update(state=OfferState.WITHDRAWN, answered_at=now)
    decision = _record(lead, rule, trigger, RoutingOutcome.POND, None, candidates, note=note)
    if not PondEntry.objects.filter(lead=lead, status=PondStatus.OPEN).exists():
        PondEntry.objects.create(lead=lead, team_id=lead.team_id, decision=decision, reason=note[:200], entered_at=now)
    return decision


def settle_elsewhere(lead: Lead, *, now: datetime) -> None:
    """The lead has an agent now: its pond entry leaves the pond, its open offers are withdrawn."""
    PondEntry.objects.filter(lead=lead, status=PondStatus.OPEN).update(status=PondStatus.LEFT, left_at=now)
    Offer.objects.filter(lead=lead, state=OfferState.OPEN).update(state=OfferState.WITHDRAWN, answered_at=now)


def _record(lead, rule, trigger, outcome, assignee, candidates, *, note: str = "") -> RoutingDecision:
    decision = RoutingDecision.objects.create(
        lead=lead,
        rule=rule,
        rule_name=rule.name if rule else "",
        method=rule.method if rule else "",
        trigger=trigger,
        outcome=outcome,
        assignee=assignee,
        candidates=[candidate.as_json() for candidate in candidates],
        note=note[:300],
    )
    logger.info("Routing %s (%s): %s %s", lead.public_id, trigger, outcome, assignee or "")
    return decision


def record(lead, rule, trigger, outcome, assignee, candidates, *, note: str = "") -> RoutingDecision:
    """A decision in the trace (for the offers and the pond)."""
    return _record(lead, rule, trigger, outcome, assignee, candidates, note=note)
