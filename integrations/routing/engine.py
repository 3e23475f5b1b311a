"""Routing a lead: the first matching rule picks a group and a method; see ``route_lead``."""

from integrations.routing.models import RoutingDecision, RoutingRule, RoutingTrigger
from leads.events.models import LeadEvent
from leads.models import Team


def ensure_catch_all(team: Team | None) -> RoutingRule:
    """The team's catch-all rule, made when missing."""
    raise NotImplementedError


def route_lead(
    lead_pk: int,
    *,
    trigger: str = RoutingTrigger.ARRIVAL,
    after_rule: RoutingRule | None = None,
    exclude_agents: frozenset[int] = frozenset(),
) -> RoutingDecision | None:
    """Route the lead (its first matching rule after ``after_rule``); returns the decision."""
    raise NotImplementedError


def route_new_leads(events: list[LeadEvent]) -> list[int]:
    """The subscriber's side: the leads among ``events`` to route (pending routes made); returns their ids."""
    raise NotImplementedError
