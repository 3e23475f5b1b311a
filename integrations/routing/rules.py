"""Editing the rules (the rules page, the admin) and the agents' routing profiles.
Every function checks the actor (``permissions.can_manage_routing_rules``, and the
team: a manager edits their own team's rules) and refuses bad input with field errors
(``ValidationFailed``), saving nothing."""

from django.core.exceptions import ValidationError
from django.db import transaction

from integrations.routing.engine import ensure_catch_all
from integrations.routing.models import AgentRoutingProfile, RoutingRule, RuleMember
from integrations.routing.validation import rule_field_errors
from leads.accounts import permissions
from leads.errors import PermissionDenied, ValidationFailed
from leads.models import Team, User

MAX_MEMBERS = 200


def may_manage_team(actor: User, team_id: int | None) -> bool:
    """Whether ``actor`` manages the rules of the team (None: the install without teams)."""
    if not permissions.can_manage_routing_rules(actor):
        return False
    return permissions.can_view_all_leads(actor) or actor.team_id == team_id


def _require_team(actor: User, team_id: int | None) -> None:
    permissions.require(permissions.can_manage_routing_rules, actor)
    if not may_manage_team(actor, team_id):
        raise PermissionDenied("You manage the routing rules of your own team only.")


@transaction.atomic
def rule_save(*, actor: User, rule: RoutingRule, members: list[tuple[User, int]] | None = None) -> RoutingRule:
    """Validate and save the rule (new or changed) and, when ``members`` is given, make
    its group exactly those agents with those weights. A new rule goes last before the
    catch-all unless given a position."""
    _require_team(actor, rule.team_id)
    if rule.pk is not None:
        stored = RoutingRule.objects.filter(pk=rule.pk).values("team_id", "is_catch_all").first()
        if stored is None:
            raise ValidationFailed("This rule was deleted.")
        _require_team(actor, stored["team_id"])
        rule.is_catch_all = stored["is_catch_all"]
    errors = rule_field_errors(rule)
    try:
        rule.full_clean(exclude=["is_catch_all"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, list(messages))
    errors.update(_member_errors(rule, members))
    if errors:
        raise ValidationFailed(fields=errors)
    ensure_catch_all(rule.team)
    if rule.pk is None and not rule.position:
        last = RoutingRule.objects.filter(team=rule.team, is_catch_all=False).order_by("-position").first()
        rule.position = (last.position + 10) if last else 10
    rule.save()
    if members is not None:
        RuleMember.objects.filter(rule=rule).exclude(agent__in=[agent for agent, _ in members]).delete()
        for agent, weight in members:
            RuleMember.objects.update_or_create(rule=rule, agent=agent, defaults={"weight": weight})
    return rule


def _member_errors(rule: RoutingRule, members: list[tuple[User, int]] | None) -> dict[str, list[str]]:
    if members is None:
        return {}
    problems = []
    if len(members) > MAX_MEMBERS:
        problems.append(f"At most {MAX_MEMBERS} agents in a group.")
    seen = set()
    for agent, weight in members:
        if agent.pk in seen:
            problems.append(f"{agent} is listed twice.")
        seen.add(agent.pk)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            problems.append(f"{agent}: a weight is a whole number from 1 to 100.")
        if not agent.is_active:
            problems.append(f"{agent} is not active.")
        if rule.team_id is not None and agent.team_id not in (None, rule.team_id):
            problems.append(f"{agent} belongs to another team.")
    return {"members": problems} if problems else {}


@transaction.atomic
def rule_delete(*, actor: User, rule: RoutingRule) -> None:
    """Delete a rule (its group and round-robin state go with it; its decisions stay in
    the trace with the rule's name). The catch-all cannot be deleted."""
    _require_team(actor, rule.team_id)
    if rule.is_catch_all:
        raise ValidationFailed("The catch-all rule cannot be deleted.", fields={"rule": ["Always kept."]})
    RoutingRule.objects.filter(pk=rule.pk).delete()


@transaction.atomic
def rules_reorder(*, actor: User, team: Team | None, rule_ids: list[int]) -> None:
    """Put the team's rules in the order of ``rule_ids`` (every non-catch-all rule of
    the team, once); the catch-all stays last."""
    team_id = team.pk if team else None
    _require_team(actor, team_id)
    rules = {
        rule.pk: rule for rule in RoutingRule.objects.select_for_update().filter(team_id=team_id, is_catch_all=False)
    }
    if sorted(rule_ids) != sorted(rules) or len(set(rule_ids)) != len(rule_ids):
        raise ValidationFailed(fields={"rule_ids": ["List each of the team's rules once (not the catch-all)."]})
    for position, rule_id in enumerate(rule_ids, start=1):
        rules[rule_id].position = position * 10
    RoutingRule.objects.bulk_update(rules.values(), ["position"])


def profile_update(*, actor: User, user: User, **values) -> AgentRoutingProfile:
    """Change an agent's ``paused``, ``capacity`` (None: no cap) or ``pond_daily_limit``.
    An agent may pause and resume themselves; the rest is for their managers."""
    allowed = {"paused", "capacity", "pond_daily_limit"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationFailed(fields={name: ["Not a routing setting."] for name in unknown})
    if not (actor.pk == user.pk and set(values) <= {"paused"}):
        _require_team(actor, user.team_id)
    errors = {}
    for name in ("capacity", "pond_daily_limit"):
        value = values.get(name)
        if (
            name in values
            and value is not None
            and (not isinstance(value, int) or isinstance(value, bool) or value < 0)
        ):
            errors[name] = ["A whole number, 0 or more."]
    if "pond_daily_limit" in values and values["pond_daily_limit"] is None:
        errors["pond_daily_limit"] = ["Give a number (0: no pond leads)."]
    if "paused" in values and not isinstance(values["paused"], bool):
        errors["paused"] = ["True or false."]
    if errors:
        raise ValidationFailed(fields=errors)
    profile, _ = AgentRoutingProfile.objects.get_or_create(user=user)
    for name, value in values.items():
        setattr(profile, name, value)
    profile.save()
    return profile
