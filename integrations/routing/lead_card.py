"""The routing card of a lead's page (``leads.ports.provide_lead_page_section("routing", ...)``):
the lead's trace, oldest decision first: the rule that matched, who was eligible, who
was skipped and why, who got it, the offers and how each was answered."""

from integrations.routing import selectors
from integrations.routing.models import (
    RoutingDecision,
    RoutingMethod,
    RoutingOutcome,
    SkipReason,
)
from leads.models import Lead

TEMPLATE = "routing/_lead_card.html"
METHODS = dict(RoutingMethod.choices)
SKIPS = dict(SkipReason.choices)
# An offer's state in the words of the fairness ledger.
OFFER_WORDS = {
    "open": "open",
    "claimed": "claimed",
    "passed": "passed",
    "expired": "timed out",
    "withdrawn": "withdrawn",
}


def lead_routing_section(lead: Lead) -> dict:
    """``{"template", "steps", "pond_entry"}`` for the lead page's generic section include
    (``selectors.trace_of``: the decisions with their offers, and the open pond entry)."""
    trace = selectors.trace_of(lead)
    return {
        "template": TEMPLATE,
        "steps": [trace_step(decision) for decision in trace.decisions],
        "pond_entry": trace.pond_entry,
    }


def trace_step(decision: RoutingDecision) -> dict:
    candidates = [candidate for candidate in decision.candidates or [] if isinstance(candidate, dict)]
    eligible = [candidate for candidate in candidates if candidate.get("eligible")]
    skipped = [
        {
            "name": candidate.get("name") or "An agent",
            "why": SKIPS.get(candidate.get("skipped_because"), candidate.get("skipped_because") or "not eligible"),
        }
        for candidate in candidates
        if not candidate.get("eligible")
    ]
    offers = list(decision.offers.all())
    return {
        "decision": decision,
        "method": METHODS.get(decision.method, decision.method),
        "headline": headline(decision, offers),
        "eligible": eligible,
        "skipped": skipped,
        "offers": [{"offer": offer, "state": OFFER_WORDS.get(offer.state, offer.state)} for offer in offers],
    }


def headline(decision: RoutingDecision, offers: list) -> str:
    """The decision's outcome in a few words."""
    assignee = decision.assignee or None
    if decision.outcome == RoutingOutcome.ASSIGNED:
        return f"Assigned to {assignee}" if assignee else "Assigned"
    if decision.outcome == RoutingOutcome.OFFERED:
        return f"Offered to {len(offers)} agent{'s' if len(offers) != 1 else ''} at once"
    if decision.outcome == RoutingOutcome.POND:
        return "Sent to the pond"
    if decision.outcome == RoutingOutcome.KEPT:
        return f"Kept its agent{f', {assignee}' if assignee else ''}"
    if decision.outcome == RoutingOutcome.NEXT_RULE:
        return "Nobody eligible: on to the next rule"
    return decision.get_outcome_display()
