"""What is wrong with a rule: field errors that refuse a save (``rule_field_errors``,
used by ``RoutingRule.clean`` and so by every form and the admin) and warnings the
rules page shows beside a rule that saves but will not do what its author expects
(``rule_warnings``)."""

import re

from integrations.routing.models import Fallback, RoutingMethod, RoutingRule
from leads.models import LeadSource, LeadType, UrgencyLevel

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", re.IGNORECASE)
ZIP_CODE = re.compile(r"^\d{5}$")
CHOICE_LISTS = {"sources": LeadSource, "lead_types": LeadType, "urgencies": UrgencyLevel}


def _list_errors(rule: RoutingRule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("sources", "lead_types", "cities", "zip_codes", "languages", "tags", "urgencies"):
        value = getattr(rule, name)
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            errors[name] = ["Give a list of non-empty words (leave it empty to match any lead)."]
    for name, choices in CHOICE_LISTS.items():
        if name in errors:
            continue
        unknown = [item for item in getattr(rule, name) if item not in choices.values]
        if unknown:
            errors[name] = [f"Unknown: {', '.join(unknown)}. Use: {', '.join(choices.values)}."]
    if "zip_codes" not in errors and any(not ZIP_CODE.match(code.strip()) for code in rule.zip_codes):
        errors["zip_codes"] = ["A ZIP code is five digits."]
    if "languages" not in errors and any(not LANGUAGE.match(code.strip()) for code in rule.languages):
        errors["languages"] = ['A language is a short code such as "en" or "es".']
    return errors


def rule_field_errors(rule: RoutingRule) -> dict[str, list[str]]:
    """The rule's field errors ({} when it may be saved)."""
    errors = _list_errors(rule)
    if rule.min_price is not None and rule.min_price < 0:
        errors["min_price"] = ["A price cannot be negative."]
    if rule.max_price is not None and rule.max_price < 0:
        errors["max_price"] = ["A price cannot be negative."]
    if rule.min_price is not None and rule.max_price is not None and rule.min_price > rule.max_price:
        errors["max_price"] = ["The highest price is below the lowest: no lead could match."]
    if rule.method == RoutingMethod.FIXED_AGENT and rule.fixed_agent_id is None:
        errors["fixed_agent"] = ["Choose the agent who gets every lead of this rule."]
    if rule.fallback == Fallback.AGENT and rule.fallback_agent_id is None:
        errors["fallback_agent"] = ["Choose the agent who gets the lead when nobody is eligible."]
    if rule.is_catch_all and rule.fallback == Fallback.NEXT_RULE:
        errors["fallback"] = ["The catch-all is the last rule: its fallback is the pond or a named agent."]
    if rule.is_catch_all and not rule.is_active:
        errors["is_active"] = ["The catch-all rule is always active."]
    if not (1 <= (rule.claim_timeout_minutes or 0) <= 1440):
        errors["claim_timeout_minutes"] = ["Between 1 and 1440 minutes."]
    for name in ("fixed_agent", "fallback_agent"):
        agent = getattr(rule, name) if getattr(rule, f"{name}_id") else None
        if agent is not None and not agent.is_active and name not in errors:
            errors[name] = [f"{agent} is not active."]
    return errors


def _overlaps(rule: RoutingRule, other: RoutingRule) -> bool:
    if rule.min_price is None and rule.max_price is None:
        return False
    if other.min_price is None and other.max_price is None:
        return False
    low = max(value for value in (rule.min_price, other.min_price, 0) if value is not None)
    highs = [value for value in (rule.max_price, other.max_price) if value is not None]
    return not highs or low <= min(highs)


def rule_warnings(rule: RoutingRule, *, earlier: list[RoutingRule], members: list) -> list[str]:
    """What will surprise the rule's author (``members``: its RuleMember rows with their
    agents; ``earlier``: the active rules tried before it)."""
    warnings = [f"{field}: {messages[0]}" for field, messages in rule_field_errors(rule).items()]
    if rule.method == RoutingMethod.FIXED_AGENT:
        if rule.fixed_agent_id is not None and rule.fixed_agent is None:
            warnings.append("The fixed agent no longer exists.")
    elif not members:
        warnings.append("The group is empty: every lead of this rule goes to its fallback.")
    else:
        inactive = [str(member.agent) for member in members if not member.agent.is_active]
        if inactive:
            warnings.append(f"Inactive agents in the group (never offered a lead): {', '.join(inactive)}.")
        if len(inactive) == len(members):
            warnings.append("No active agent in the group: every lead of this rule goes to its fallback.")
    if rule.fallback == Fallback.AGENT and rule.fallback_agent_id is None:
        warnings.append("The fallback agent no longer exists: leads nobody takes go to the pond.")
    if not rule.is_catch_all:
        for other in earlier:
            if other.is_catch_all:
                continue
            if _overlaps(rule, other):
                warnings.append(f'Its price range overlaps "{other.name}", tried first.')
            if _shadows(other, rule):
                warnings.append(f'"{other.name}" matches every lead this rule would: this rule never matches.')
    return warnings


def _shadows(earlier: RoutingRule, rule: RoutingRule) -> bool:
    """Whether ``earlier`` matches every lead ``rule`` would (each of its conditions is
    empty, or at least as wide)."""
    for name in ("sources", "lead_types", "cities", "zip_codes", "languages", "tags", "urgencies"):
        wide, narrow = getattr(earlier, name), getattr(rule, name)
        if wide and (not narrow or not {item.casefold() for item in narrow} <= {item.casefold() for item in wide}):
            return False
    if earlier.has_phone is not None and earlier.has_phone != rule.has_phone:
        return False
    if earlier.min_price is not None and (rule.min_price is None or rule.min_price < earlier.min_price):
        return False
    return not (earlier.max_price is not None and (rule.max_price is None or rule.max_price > earlier.max_price))
