"""Routing reads: the rules page (``rules_in_order``), a lead's trace (``lead_trace``),
an agent's offers and pond (``open_offers``, ``pond_entries``) and the fairness ledger
(``fairness_ledger``). Every read is scoped to what the user may see."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from integrations.routing import pond
from integrations.routing.engine import ensure_catch_all
from integrations.routing.errors import RoutingConflict
from integrations.routing.models import (
    Offer,
    OfferState,
    PondEntry,
    PondStatus,
    RoutingDecision,
    RoutingOutcome,
    RoutingRule,
    RoutingTrigger,
    RuleMember,
)
from integrations.routing.validation import rule_warnings
from leads.accounts import permissions
from leads.core import selectors as lead_selectors
from leads.errors import NotFound
from leads.models import Lead, Team, User


@dataclass
class RuleView:
    """A rule as the rules page shows it: the rule, its group and its warnings."""

    rule: RoutingRule
    members: list[RuleMember]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Trace:
    """A lead's routing story: its decisions (oldest first, each with its offers) and where it stands."""

    lead: Lead
    decisions: list[RoutingDecision]
    pond_entry: PondEntry | None


@dataclass
class LedgerRow:
    agent: User
    offered: int = 0
    claimed: int = 0
    assigned: int = 0
    passed: int = 0
    timed_out: int = 0
    expected_share: Decimal = Decimal(0)  # 0..1: by weight, among the decisions they were eligible for
    actual_share: Decimal = Decimal(0)  # 0..1: of the leads assigned in the period
    expected_leads: Decimal = Decimal(0)


def rules_in_order(team: Team | None) -> list[RuleView]:
    """The team's rules in the order they are tried (inactive ones in place, the
    catch-all last), each with its group and its warnings. Makes sure the catch-all exists."""
    ensure_catch_all(team)
    members = RuleMember.objects.select_related("agent").order_by("pk")
    rules = (
        RoutingRule.objects.filter(team=team)
        .select_related("fixed_agent", "fallback_agent")
        .prefetch_related(Prefetch("members", queryset=members))
        .order_by("is_catch_all", "position", "pk")
    )
    views, earlier = [], []
    for rule in rules:
        group = list(rule.members.all())
        views.append(RuleView(rule, group, rule_warnings(rule, earlier=list(earlier), members=group)))
        if rule.is_active:
            earlier.append(rule)
    return views


def lead_trace(user: User, lead_id: str) -> Trace:
    """The routing trace of a lead the user may see (NotFound otherwise): its decisions
    oldest first, each with its offers, and its open pond entry. A fixed number of
    queries whatever the trace's length."""
    lead = lead_selectors.visible_leads(user).filter(public_id=lead_id).select_related("assigned_to").first()
    if lead is None:
        raise NotFound("Lead not found.")
    return trace_of(lead)


def trace_of(lead: Lead) -> Trace:
    """The trace of ``lead``, for a page that has checked its viewer may see it (the
    lead page's section); the same queries as ``lead_trace``."""
    offers = Offer.objects.select_related("agent").order_by("offered_at", "pk")
    decisions = list(
        RoutingDecision.objects.filter(lead=lead)
        .select_related("assignee")
        .prefetch_related(Prefetch("offers", queryset=offers))
        .order_by("created_at", "pk")
    )
    entry = PondEntry.objects.filter(lead=lead, status=PondStatus.OPEN).first()
    return Trace(lead, decisions, entry)


def open_offers(user: User) -> QuerySet[Offer]:
    """The user's open offers (not past their timeout), soonest to expire first."""
    return (
        Offer.objects.filter(agent=user, state=OfferState.OPEN, expires_at__gt=timezone.now())
        .select_related("agent", "lead__contact", "lead__preferences", "lead__timeline", "decision")
        .order_by("expires_at", "pk")
    )


def offer_for(user: User, offer_id: int) -> Offer:
    """One of the user's offers (any state). RoutingConflict (409) for another agent's
    offer (the lead was offered, but not to them), NotFound for an unknown id."""
    offer = Offer.objects.select_related("lead", "decision__rule").filter(pk=offer_id).first()
    if offer is None:
        raise NotFound("Offer not found.")
    if offer.agent_id != user.pk:
        raise RoutingConflict("This offer was made to another agent.")
    return offer


def _in_ponds_of(entries: QuerySet[PondEntry], user: User) -> QuerySet[PondEntry]:
    """``entries`` of the ponds the user may take from: their team's (an admin, or a
    manager of an install without teams: every team's)."""
    if permissions.can_view_all_leads(user):
        return entries
    return entries.filter(team_id=user.team_id) if user.team_id else entries.filter(team__isnull=True)


def pond_entries(user: User) -> QuerySet[PondEntry]:
    """The pond leads the user may take, oldest first."""
    entries = _in_ponds_of(PondEntry.objects.filter(status=PondStatus.OPEN, lead__archived_at__isnull=True), user)
    return entries.select_related("lead__contact", "lead__preferences", "lead__timeline").order_by("entered_at", "pk")


def pond_lead_for(user: User, lead_id: str) -> Lead:
    """A lead in a pond the user may take from. RoutingConflict when it was in such a
    pond and someone took it; NotFound otherwise (whether it exists or not)."""
    entry = pond_entries(user).filter(lead__public_id=lead_id).first()
    if entry is not None:
        return entry.lead
    taken = PondEntry.objects.filter(lead__public_id=lead_id, status=PondStatus.TAKEN, lead__archived_at__isnull=True)
    if _in_ponds_of(taken, user).exists():
        raise RoutingConflict("This lead is no longer in the pond: someone took it.")
    raise NotFound("Lead not found in your pond.")


def pond_takes_today(user: User, *, now: datetime | None = None) -> int:
    """How many leads the user took from the pond today (their zone)."""
    return pond.takes_today(user, now or timezone.now())


def fairness_ledger(team: Team | None, start: datetime, end: datetime) -> list[LedgerRow]:
    """Per agent of the team, for [start, end): offers made, claimed, passed, timed
    out; leads assigned by routing (round robin, fixed, fallback, claims, pond takes);
    and the share they got vs the share their weight entitled them to.

    The expected share is counted lead by lead: each round-robin or first-to-claim
    decision gives each *eligible* candidate ``weight / sum of eligible weights`` of a
    lead (so an agent off duty is not expected to get leads then); the actual share is
    their part of the leads those decisions placed."""
    decisions = RoutingDecision.objects.filter(created_at__gte=start, created_at__lt=end)
    decisions = decisions.filter(lead__team=team) if team is not None else decisions.filter(lead__team__isnull=True)
    rows: dict[int, LedgerRow] = {}
    users = {user.pk: user for user in User.objects.filter(team=team)} if team is not None else {}

    def row(agent_id: int) -> LedgerRow:
        if agent_id not in rows:
            agent = users.get(agent_id) or User.objects.get(pk=agent_id)
            rows[agent_id] = LedgerRow(agent)
        return rows[agent_id]

    expected: dict[int, Decimal] = defaultdict(Decimal)
    got: dict[int, int] = defaultdict(int)
    placed = 0
    for decision in decisions.only("pk", "candidates", "outcome", "assignee_id", "trigger", "method"):
        eligible = [c for c in decision.candidates if c.get("eligible") and c.get("agent_id")]
        if decision.outcome in (RoutingOutcome.ASSIGNED, RoutingOutcome.OFFERED) and eligible:
            total = sum(Decimal(c.get("weight") or 1) for c in eligible)
            placed += 1
            for candidate in eligible:
                expected[candidate["agent_id"]] += Decimal(candidate.get("weight") or 1) / total
        if decision.outcome == RoutingOutcome.ASSIGNED and decision.assignee_id:
            row(decision.assignee_id).assigned += 1
            # a turn of the weighted methods: a claim, or a pick among the eligible (not a fallback)
            if decision.trigger == RoutingTrigger.CLAIM or any(c["agent_id"] == decision.assignee_id for c in eligible):
                got[decision.assignee_id] += 1
    offers = Offer.objects.filter(offered_at__gte=start, offered_at__lt=end, agent__isnull=False)
    offers = offers.filter(lead__team=team) if team is not None else offers.filter(lead__team__isnull=True)
    for agent_id, state in offers.values_list("agent_id", "state"):
        entry = row(agent_id)
        entry.offered += 1
        entry.claimed += state == OfferState.CLAIMED
        entry.passed += state == OfferState.PASSED
        entry.timed_out += state == OfferState.EXPIRED
    for agent_id in expected:
        row(agent_id)
    total_got = sum(got.values())
    for agent_id, entry in rows.items():
        entry.expected_leads = expected.get(agent_id, Decimal(0)).quantize(Decimal("0.01"))
        entry.expected_share = (expected.get(agent_id, Decimal(0)) / placed) if placed else Decimal(0)
        entry.actual_share = Decimal(got.get(agent_id, 0)) / total_got if total_got else Decimal(0)
    return sorted(rows.values(), key=lambda entry: (-entry.assigned, str(entry.agent)))
