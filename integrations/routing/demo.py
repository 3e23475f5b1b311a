"""Routing's part of the demo (``manage.py seed_routing_demo``, run by ``seed_demo``):
the demo team's rules (three and the catch-all, one first to claim), the agents'
routing settings, a month of routing history behind the leads the agents already
have (so the lead pages show a trace and the fairness ledger has figures), and a few
leads arriving now, routed for real: offers to claim and a pond to take from.

Rules are saved through ``services.rule_save`` and the new leads through the lead
service, so they route as any lead would. The history is written as the trace rows
it stands for (decisions, offers, pond entries) for leads that already have agents."""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from integrations.routing import matching, selectors, services
from integrations.routing.models import (
    AgentRoutingProfile,
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
    SkipReason,
    SlaBreachAction,
)
from leads.audit.models import AuditChannel
from leads.core.services import LeadManagementService
from leads.models import Lead, LeadSource, LeadType, Team, User

HISTORY_DAYS = 30
SKIPS = [SkipReason.OFF_HOURS, SkipReason.OFF_HOURS, SkipReason.OFF_HOURS, SkipReason.AT_CAPACITY, SkipReason.TIME_OFF]
NEW_LEADS = [
    # (first, last, source, type, budget from, city, tags): arriving now, routed by the rules
    ("Priya", "Raman", LeadSource.ZILLOW, LeadType.BUYER, 450_000, "Austin", []),
    ("Marcus", "Webb", LeadSource.REALTOR_COM, LeadType.BUYER, 520_000, "Round Rock", []),
    ("Hana", "Kobayashi", LeadSource.ZILLOW, LeadType.BUYER_SELLER, 610_000, "Austin", []),
    ("Diego", "Alvarez", LeadSource.OPEN_HOUSE, LeadType.BUYER, 380_000, "Pflugerville", ["open-house"]),
    ("Samir", "Haddad", LeadSource.REALTOR_COM, LeadType.BUYER, 560_000, "Georgetown", []),
    ("Grace", "Olsen", LeadSource.ZILLOW, LeadType.BUYER, 700_000, "Cedar Park", []),
    ("Tom", "Becker", LeadSource.WEBSITE, LeadType.SELLER, 1_250_000, "Austin", ["luxury"]),
]
DEMO_DOMAIN = "@routing-demo.example.com"


def demo_rules(team: Team, manager: User, agents: dict[str, User]) -> list[RoutingRule]:
    """The demo team's three rules and its catch-all's group; saved through the service."""
    alice, bob, carmen = agents["alice"], agents["bob"], agents["carmen"]
    portals = RoutingRule(
        team=team,
        name="Portal buyers: first to claim",
        sources=[LeadSource.ZILLOW, LeadSource.REALTOR_COM],
        lead_types=[LeadType.BUYER, LeadType.BUYER_SELLER],
        method=RoutingMethod.FIRST_TO_CLAIM,
        claim_timeout_minutes=15,
        fallback=Fallback.POND,
        sla_breach_action=SlaBreachAction.POND,
    )
    luxury = RoutingRule(
        team=team,
        name="Luxury: $1M and up",
        min_price=Decimal(1_000_000),
        method=RoutingMethod.WEIGHTED_ROUND_ROBIN,
        fallback=Fallback.AGENT,
        fallback_agent=alice,
        sla_breach_action=SlaBreachAction.REASSIGN,
    )
    # Its price range reaches into the luxury rule's: the rules page warns about it.
    open_houses = RoutingRule(
        team=team,
        name="Open houses and referrals",
        sources=[LeadSource.OPEN_HOUSE, LeadSource.REFERRAL],
        max_price=Decimal(1_200_000),
        method=RoutingMethod.WEIGHTED_ROUND_ROBIN,
        allow_off_hours=True,
        fallback=Fallback.NEXT_RULE,
    )
    saved = [
        services.rule_save(actor=manager, rule=portals, members=[(alice, 1), (bob, 1), (carmen, 1)]),
        services.rule_save(actor=manager, rule=luxury, members=[(alice, 3), (bob, 1)]),
        services.rule_save(actor=manager, rule=open_houses, members=[(bob, 2), (carmen, 1)]),
    ]
    catch_all = services.ensure_catch_all(team)
    services.rule_save(actor=manager, rule=catch_all, members=[(alice, 2), (bob, 2), (carmen, 1)])
    return saved


def demo_profiles(agents: dict[str, User]) -> None:
    """Carmen takes few leads at once (she is often at capacity); pond limits per day."""
    settings = {"alice": (None, 6), "bob": (40, 5), "carmen": (4, 3)}
    for username, (capacity, pond_limit) in settings.items():
        AgentRoutingProfile.objects.update_or_create(
            user=agents[username], defaults={"capacity": capacity, "pond_daily_limit": pond_limit}
        )


# --- a month of history --------------------------------------------------------------


def write_history(team: Team, *, now: datetime, seed: int = 2026) -> int:
    """The trace of how the team's recent leads reached their agents, by the rules as
    they stand; returns how many leads got one."""
    rng = random.Random(seed)
    rules = [view for view in selectors.rules_in_order(team) if view.rule.is_active]
    leads = (
        Lead.objects.filter(team=team, created_at__gte=now - timedelta(days=HISTORY_DAYS), archived_at__isnull=True)
        .exclude(assigned_to=None)
        .exclude(routing_decisions__isnull=False)
        .select_related("contact", "preferences", "timeline", "assigned_to")
        .order_by("created_at", "pk")
    )
    count = 0
    for lead in leads:
        view = next((view for view in rules if matching.matches(view.rule, lead)), rules[-1])
        _history_of(lead, view, rng)
        count += 1
    return count


def _candidates(view, assignee: User, rng: random.Random) -> list[dict]:
    rule = view.rule
    group = [(rule.fixed_agent, 1)] if rule.method == RoutingMethod.FIXED_AGENT else []
    group = group or [(member.agent, member.weight) for member in view.members]
    if assignee.pk not in {agent.pk for agent, _ in group}:
        group.append((assignee, 1))
    candidates = []
    for agent, weight in group:
        skipped = agent.pk != assignee.pk and rng.random() < 0.3
        candidates.append(
            {
                "agent_id": agent.pk,
                "name": agent.get_full_name() or agent.username,
                "weight": weight,
                "eligible": not skipped,
                "skipped_because": rng.choice(SKIPS) if skipped else None,
            }
        )
    return candidates


def _decision(lead, rule, *, trigger, outcome, assignee, candidates, at, note="") -> RoutingDecision:
    decision = RoutingDecision.objects.create(
        lead=lead,
        rule=rule,
        rule_name=rule.name if rule else "",
        method=rule.method if rule else "",
        trigger=trigger,
        outcome=outcome,
        assignee=assignee,
        candidates=candidates,
        note=note,
    )
    RoutingDecision.objects.filter(pk=decision.pk).update(created_at=at)  # dated when it happened
    return decision


def _offer(lead, decision, candidate, agents, *, at, expires, state, answered=None) -> None:
    Offer.objects.create(
        lead=lead,
        decision=decision,
        agent=agents.get(candidate["agent_id"]),
        agent_name=candidate["name"],
        state=state,
        offered_at=at,
        expires_at=expires,
        answered_at=answered,
    )


def _history_of(lead: Lead, view, rng: random.Random) -> None:
    rule, assignee, at = view.rule, lead.assigned_to, lead.created_at
    candidates = _candidates(view, assignee, rng)
    if rule.method != RoutingMethod.FIRST_TO_CLAIM:
        _decision(
            lead,
            rule,
            trigger=RoutingTrigger.ARRIVAL,
            outcome=RoutingOutcome.ASSIGNED,
            assignee=assignee,
            candidates=candidates,
            at=at,
        )
        return
    agents = {member.agent.pk: member.agent for member in view.members} | {assignee.pk: assignee}
    eligible = [candidate for candidate in candidates if candidate["eligible"]]
    expires = at + timedelta(minutes=rule.claim_timeout_minutes)
    offered = _decision(
        lead,
        rule,
        trigger=RoutingTrigger.ARRIVAL,
        outcome=RoutingOutcome.OFFERED,
        assignee=None,
        candidates=candidates,
        at=at,
    )
    if rng.random() < 0.2:  # nobody claimed in time: the pond, where the agent took it
        for candidate in eligible:
            passed = rng.random() < 0.3
            answered = at + timedelta(minutes=rng.randint(1, rule.claim_timeout_minutes - 1)) if passed else None
            state = OfferState.PASSED if passed else OfferState.EXPIRED
            _offer(lead, offered, candidate, agents, at=at, expires=expires, state=state, answered=answered)
        pond = _decision(
            lead,
            rule,
            trigger=RoutingTrigger.CLAIM_TIMEOUT,
            outcome=RoutingOutcome.POND,
            assignee=None,
            candidates=[],
            at=expires,
            note="Nobody claimed in time: the pond.",
        )
        taken_at = expires + timedelta(minutes=rng.randint(3, 40))
        PondEntry.objects.create(
            lead=lead,
            team=lead.team,
            decision=pond,
            reason="Nobody claimed in time.",
            status=PondStatus.TAKEN,
            entered_at=expires,
            taken_by=assignee,
            taken_at=taken_at,
        )
        _decision(
            lead,
            None,
            trigger=RoutingTrigger.POND_TAKE,
            outcome=RoutingOutcome.ASSIGNED,
            assignee=assignee,
            candidates=[],
            at=taken_at,
        )
        return
    claimed_at = at + timedelta(seconds=rng.randint(20, 240))
    for candidate in eligible:
        if candidate["agent_id"] == assignee.pk:
            state, answered = OfferState.CLAIMED, claimed_at
        elif rng.random() < 0.25:
            state, answered = OfferState.PASSED, at + timedelta(seconds=rng.randint(10, 200))
        else:
            state, answered = OfferState.WITHDRAWN, claimed_at
        _offer(lead, offered, candidate, agents, at=at, expires=expires, state=state, answered=answered)
    _decision(
        lead,
        rule,
        trigger=RoutingTrigger.CLAIM,
        outcome=RoutingOutcome.ASSIGNED,
        assignee=assignee,
        candidates=[],
        at=claimed_at,
    )


# --- leads arriving now ------------------------------------------------------------------


def new_leads(manager: User) -> list[Lead]:
    """A few leads arriving now without an agent, from the new-lead form: the rules route
    them (offers, round robin, the pond) once each save commits."""
    service = LeadManagementService(manager, channel=AuditChannel.PAGE)
    created = []
    for index, (first, last, source, lead_type, low, city, tags) in enumerate(NEW_LEADS):
        created.append(
            service.create_lead(
                {
                    "contact": {
                        "first_name": first,
                        "last_name": last,
                        "email": f"{first}.{last}{DEMO_DOMAIN}".lower(),
                        "phone": f"+1512555{index:04d}",
                        "phone_is_valid": True,
                    },
                    "lead_type": lead_type,
                    "source": source,
                    "tags": tags,
                    "preferences": {"min_price": low, "max_price": low + 150_000, "preferred_locations": [city]},
                    "timeline": {"urgency_level": "high" if index % 2 else "normal"},
                }
            )
        )
    return created


def fill_pond(team: Team, *, now: datetime) -> int:
    """Let the portal leads' first offers run out, as if their timeout had passed: they
    go to the pond by the rule's fallback (the offers of the two newest stay open)."""
    open_offers = Offer.objects.filter(state=OfferState.OPEN, lead__team=team).order_by("lead__created_at")
    lead_ids = list(dict.fromkeys(open_offers.values_list("lead_id", flat=True)))[:-2]
    Offer.objects.filter(lead_id__in=lead_ids, state=OfferState.OPEN).update(expires_at=now - timedelta(seconds=1))
    return services.expire_offers(now=now)


@transaction.atomic
def seed(*, manager: User, agents: dict[str, User], now: datetime | None = None) -> str:
    """The whole routing demo for the manager's team; does nothing when its rules exist."""
    now = now or timezone.now()
    team = manager.team
    if team is None:
        return "The demo manager has no team: no routing demo."
    if RoutingRule.objects.filter(team=team, is_catch_all=False).exists():
        return "Routing demo already present; nothing added."
    demo_profiles(agents)
    demo_rules(team, manager, agents)
    traced = write_history(team, now=now)
    return f"Routing demo: 3 rules and a catch-all, the trace of {traced} recent leads."


def arrivals(*, manager: User) -> str:
    """After the history has committed: new leads routed for real, some left in the pond."""
    if Lead.objects.filter(contact__email__endswith=DEMO_DOMAIN).exists():
        return ""
    leads = new_leads(manager)
    moved = fill_pond(manager.team, now=timezone.now()) if manager.team else 0
    in_pond = PondEntry.objects.filter(status=PondStatus.OPEN, lead__in=leads).count()
    return f"{len(leads)} new leads routed now ({moved} offers timed out; {in_pond} in the pond)."
