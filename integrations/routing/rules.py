"""Editing the rules (the rules page, the admin) and the agents' routing profiles."""

from integrations.routing.models import AgentRoutingProfile, RoutingRule
from leads.models import Team, User


def rule_save(*, actor: User, rule: RoutingRule, members: list[tuple[User, int]] | None = None) -> RoutingRule:
    """Validate (ValidationFailed with field errors) and save the rule and, when given, its group."""
    raise NotImplementedError


def rule_delete(*, actor: User, rule: RoutingRule) -> None:
    """Delete a rule; the catch-all cannot be deleted (ValidationFailed)."""
    raise NotImplementedError


def rules_reorder(*, actor: User, team: Team | None, rule_ids: list[int]) -> None:
    """Put the team's rules in this order (the catch-all stays last)."""
    raise NotImplementedError


def profile_update(*, actor: User, user: User, **values) -> AgentRoutingProfile:
    """Change an agent's paused / capacity / pond_daily_limit."""
    raise NotImplementedError
