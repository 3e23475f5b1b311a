"""Smooth weighted round robin (as nginx balances upstreams): each turn every eligible
agent's current weight grows by their weight, the highest takes the turn (ties: the
earlier member) and gives back the total. Over any run of ``sum(weights)`` turns with
the same agents eligible, each agent gets exactly ``weight`` turns, spread out.

The state is one row per rule, locked (SELECT ... FOR UPDATE) for the turn, so
concurrent leads take turns one after the other and never give an agent two turns
out of order."""

from integrations.routing.eligibility import Candidate
from integrations.routing.models import RoundRobinState, RoutingRule


def next_turn(rule: RoutingRule, eligible: list[Candidate]) -> Candidate:
    """The eligible candidate whose turn it is; moves the rule's state on (in the current transaction)."""
    state = RoundRobinState.objects.select_for_update().filter(rule=rule).first()
    if state is None:  # the rule's first turn: made, then locked like any other
        RoundRobinState.objects.get_or_create(rule=rule)
        state = RoundRobinState.objects.select_for_update().get(rule=rule)
    current = {str(key): int(value) for key, value in (state.current or {}).items()}
    total = sum(candidate.weight for candidate in eligible)
    best, best_value = None, None
    for candidate in eligible:
        key = str(candidate.agent.pk)
        current[key] = current.get(key, 0) + candidate.weight
        if best_value is None or current[key] > best_value:
            best, best_value = candidate, current[key]
    current[str(best.agent.pk)] -= total
    state.current, state.turns = current, state.turns + 1
    state.save(update_fields=["current", "turns", "updated_at"])
    return best
