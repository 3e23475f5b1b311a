"""What the routing pages say, in words and figures: a rule's conditions and action as
sentences, the fairness ledger's chart and totals. Plain functions over loaded rows
(no queries), so they are easy to test and to read."""

from dataclasses import dataclass
from decimal import Decimal

from integrations.routing.models import Fallback, RoutingMethod, RoutingRule, SlaBreachAction
from leads.models import LeadSource, LeadType, UrgencyLevel


@dataclass(frozen=True)
class RuleSummary:
    conditions: list[str]  # one phrase per condition; empty: every lead
    action: str  # what the rule does with a matching lead
    group: list[dict]  # {"name", "weight", "share" (percent), "active"}
    fallback: str
    extras: list[str]  # off hours, timeout, SLA breach


def _labels(values: list[str], choices) -> list[str]:
    names = dict(choices.choices)
    return [str(names.get(value, value)) for value in values]


def _either(words: list[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    words = [str(word) for word in words]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


def _dollars(value: Decimal) -> str:
    return f"${value:,.0f}"


def price_phrase(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return f"budget between {_dollars(low)} and {_dollars(high)}"
    if low is not None:
        return f"budget from {_dollars(low)}"
    if high is not None:
        return f"budget up to {_dollars(high)}"
    return ""


def rule_conditions(rule: RoutingRule) -> list[str]:
    """The rule's conditions as phrases ("from Zillow or Realtor.com", "buyers"); [] for
    a rule that matches every lead."""
    if rule.is_catch_all:
        return []
    phrases = []
    if rule.sources:
        phrases.append(f"from {_either(_labels(rule.sources, LeadSource))}")
    if rule.lead_types:
        phrases.append(f"lead type {_either([label.lower() for label in _labels(rule.lead_types, LeadType)])}")
    if rule.urgencies:
        phrases.append(f"urgency {_either([label.lower() for label in _labels(rule.urgencies, UrgencyLevel)])}")
    price = price_phrase(rule.min_price, rule.max_price)
    if price:
        phrases.append(price)
    if rule.cities:
        phrases.append(f"looking in {_either(rule.cities)}")
    if rule.zip_codes:
        phrases.append(f"ZIP code {_either(rule.zip_codes)}")
    if rule.languages:
        phrases.append(f"speaks {_either(rule.languages)}")
    if rule.tags:
        phrases.append(f"tagged {_either(rule.tags)}")
    if rule.has_phone is True:
        phrases.append("has a phone number")
    elif rule.has_phone is False:
        phrases.append("has no phone number")
    return phrases


def rule_group(rule: RoutingRule, members) -> list[dict]:
    """The group with each agent's weight and share of the weight (percent, of the active agents)."""
    active_weight = sum(member.weight for member in members if member.agent.is_active)
    return [
        {
            "name": str(member.agent),
            "weight": member.weight,
            "active": member.agent.is_active,
            "share": round(100 * member.weight / active_weight) if active_weight and member.agent.is_active else 0,
        }
        for member in members
    ]


def rule_action(rule: RoutingRule) -> str:
    if rule.method == RoutingMethod.FIXED_AGENT:
        agent = rule.fixed_agent if rule.fixed_agent_id else None
        return f"Always to {agent}" if agent else "Always to one agent (none chosen)"
    if rule.method == RoutingMethod.FIRST_TO_CLAIM:
        return f"Offered to the whole group at once; the first to claim within {rule.claim_timeout_minutes} min gets it"
    return "Weighted round robin: each agent in turn, as often as their weight says"


def rule_fallback(rule: RoutingRule) -> str:
    if rule.fallback == Fallback.AGENT:
        agent = rule.fallback_agent if rule.fallback_agent_id else None
        return f"to {agent}" if agent else "to a named agent (none chosen: the pond)"
    if rule.fallback == Fallback.NEXT_RULE:
        return "on to the next matching rule"
    return "to the pond, where any eligible agent can take it"


def rule_summary(rule: RoutingRule, members) -> RuleSummary:
    extras = ["Agents outside their working hours are eligible" if rule.allow_off_hours else "Working hours only"]
    if rule.sla_breach_action != SlaBreachAction.ALERT_MANAGER:
        extras.append(f"Missed first-contact SLA: {rule.get_sla_breach_action_display().lower()}")
    else:
        extras.append("Missed first-contact SLA: the manager is alerted")
    return RuleSummary(
        conditions=rule_conditions(rule),
        action=rule_action(rule),
        group=rule_group(rule, members) if rule.method != RoutingMethod.FIXED_AGENT else [],
        fallback=rule_fallback(rule),
        extras=extras,
    )


# --- the fairness ledger ---------------------------------------------------------


def _percent(share) -> float:
    return round(float(share or 0) * 100, 1)


def ledger_chart(rows) -> dict | None:
    """Expected vs actual share per agent (percent), for the chart and its table; None
    when nobody had a lead in the period."""
    if not rows or not any(row.offered or row.assigned or row.expected_share for row in rows):
        return None
    return {
        "labels": [str(row.agent) for row in rows],
        "datasets": [
            {"label": "Expected share (%)", "data": [_percent(row.expected_share) for row in rows]},
            {"label": "Actual share (%)", "data": [_percent(row.actual_share) for row in rows]},
        ],
    }


def ledger_totals(rows) -> dict:
    keys = ("offered", "claimed", "assigned", "passed", "timed_out")
    return {key: sum(getattr(row, key) for row in rows) for key in keys}


def share_gap(row) -> float:
    """Actual minus expected share, in percentage points."""
    return round(_percent(row.actual_share) - _percent(row.expected_share), 1)


def ledger_lines(rows) -> list[dict]:
    """The ledger's table: each row's counts with its shares in percent and the gap."""
    return [
        {
            "row": row,
            "expected": _percent(row.expected_share),
            "actual": _percent(row.actual_share),
            "expected_leads": round(float(row.expected_leads or 0), 1),
            "gap": share_gap(row),
        }
        for row in rows
    ]
