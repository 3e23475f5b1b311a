"""Routing reads: the rules page (``rules_in_order``), a lead's trace (``lead_trace``),
an agent's offers and pond (``open_offers``, ``pond_entries``) and the fairness ledger
(``fairness_ledger``). Every read is scoped to what the user may see."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from integrations.routing.models import PondEntry, RoutingDecision, RoutingRule, RuleMember
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
    """The team's rules in the order they are tried (the catch-all last), each with its
    members and warnings. Makes sure the catch-all exists."""
    raise NotImplementedError


def lead_trace(user: User, lead_id: str) -> Trace:
    """The trace of a lead the user may see (NotFound otherwise)."""
    raise NotImplementedError


def open_offers(user: User):
    """The user's open offers, soonest to expire first."""
    raise NotImplementedError


def pond_entries(user: User):
    """The pond leads the user may take (their team's; an admin sees every team's)."""
    raise NotImplementedError


def pond_takes_today(user: User, *, now: datetime | None = None) -> int:
    """How many leads the user took from the pond today (their zone)."""
    raise NotImplementedError


def fairness_ledger(team: Team | None, start: datetime, end: datetime) -> list[LedgerRow]:
    """Per agent, for decisions in [start, end): offered, claimed, assigned, passed, timed out,
    and the share of leads their weight entitled them to vs what they got."""
    raise NotImplementedError
