"""Output: a lead's routing trace, offers and pond entries as the v2 API shows them,
each declared once as a shape (``leads.core.shapes``) beside the function that builds it."""

from rest_framework import serializers

from integrations.alerts.payloads import budget_text
from integrations.routing.models import (
    Offer,
    OfferState,
    PondEntry,
    RoutingDecision,
    RoutingMethod,
    RoutingOutcome,
    RoutingTrigger,
    SkipReason,
)
from integrations.routing.selectors import Trace
from leads.core.representations import iso
from leads.core.shapes import Shape, choice, datetime_field, renders, text
from leads.models import Lead, LeadSource, LeadType, UrgencyLevel


def _username(user) -> str | None:
    return user.username if user is not None else None


class CandidateShape(Shape):
    agent_id = serializers.IntegerField(allow_null=True, help_text="Null: the agent was deleted.")
    name = serializers.CharField()
    weight = serializers.IntegerField(min_value=1)
    eligible = serializers.BooleanField()
    skipped_because = choice(SkipReason.choices, allow_null=True)


class OfferShape(Shape):
    id = serializers.IntegerField()
    lead_id = serializers.CharField()
    agent = serializers.CharField(allow_null=True, help_text="Username; null once the agent was deleted.")
    agent_name = text()
    state = choice(OfferState.choices)
    offered_at = datetime_field()
    expires_at = datetime_field(help_text="Unclaimed by then, the offer expires and the lead moves on.")
    answered_at = datetime_field(allow_null=True)


@renders(OfferShape)
def offer_data(offer: Offer) -> dict:
    """Expects the offer's lead and agent selected with it."""
    return {
        "id": offer.pk,
        "lead_id": offer.lead.public_id,
        "agent": _username(offer.agent),
        "agent_name": offer.agent_name,
        "state": offer.state,
        "offered_at": iso(offer.offered_at),
        "expires_at": iso(offer.expires_at),
        "answered_at": iso(offer.answered_at) if offer.answered_at else None,
    }


class DecisionShape(Shape):
    id = serializers.IntegerField()
    rule_id = serializers.IntegerField(allow_null=True, help_text="Null: no rule (a pond take), or deleted since.")
    rule = text(help_text="The rule's name when it decided.")
    method = serializers.ChoiceField(choices=[*RoutingMethod.values, ""])
    trigger = choice(RoutingTrigger.choices)
    outcome = choice(RoutingOutcome.choices)
    assignee = serializers.CharField(allow_null=True, help_text="Username of who got the lead.")
    candidates = CandidateShape(many=True)
    note = text()
    created_at = datetime_field()
    offers = OfferShape(many=True)


@renders(DecisionShape)
def decision_data(decision: RoutingDecision, lead: Lead) -> dict:
    """Expects the decision's assignee selected and its offers (with their agents) prefetched."""
    offers = list(decision.offers.all())
    for offer in offers:
        offer.lead = lead
    return {
        "id": decision.pk,
        "rule_id": decision.rule_id,
        "rule": decision.rule_name,
        "method": decision.method,
        "trigger": decision.trigger,
        "outcome": decision.outcome,
        "assignee": _username(decision.assignee),
        "candidates": [
            {
                "agent_id": candidate.get("agent_id"),
                "name": str(candidate.get("name") or ""),
                "weight": int(candidate.get("weight") or 1),
                "eligible": bool(candidate.get("eligible")),
                "skipped_because": candidate.get("skipped_because"),
            }
            for candidate in decision.candidates
        ],
        "note": decision.note,
        "created_at": iso(decision.created_at),
        "offers": [offer_data(offer) for offer in offers],
    }


class TraceShape(Shape):
    lead_id = serializers.CharField()
    assigned_to = serializers.CharField(allow_null=True, help_text="Username of the lead's agent now.")
    in_pond = serializers.BooleanField()
    pond_entered_at = datetime_field(allow_null=True)
    open_offers = serializers.IntegerField(min_value=0, help_text="Offers waiting for a claim now.")
    decisions = DecisionShape(many=True)


@renders(TraceShape)
def trace_data(trace: Trace) -> dict:
    lead = trace.lead
    decisions = [decision_data(decision, lead) for decision in trace.decisions]
    return {
        "lead_id": lead.public_id,
        "assigned_to": _username(lead.assigned_to),
        "in_pond": trace.pond_entry is not None,
        "pond_entered_at": iso(trace.pond_entry.entered_at) if trace.pond_entry else None,
        "open_offers": sum(offer["state"] == OfferState.OPEN for item in decisions for offer in item["offers"]),
        "decisions": decisions,
    }


class LeadSummaryShape(Shape):
    lead_id = serializers.CharField()
    name = text()
    lead_type = choice(LeadType.choices)
    source = choice(LeadSource.choices)
    budget = text(help_text='The price range in words ("$300k to $500k" style, "from $300k"), or blank.')
    locations = serializers.ListField(child=serializers.CharField())
    urgency = choice(UrgencyLevel.choices)
    created_at = datetime_field()


@renders(LeadSummaryShape)
def lead_summary_data(lead: Lead) -> dict:
    """What an agent sees of a lead before it is theirs (no email or phone). Expects its
    contact, preferences and timeline selected."""
    return {
        "lead_id": lead.public_id,
        "name": lead.contact.full_name,
        "lead_type": lead.lead_type,
        "source": lead.source,
        "budget": budget_text(lead),
        "locations": [str(location) for location in lead.preferences.preferred_locations or []],
        "urgency": lead.timeline.urgency_level,
        "created_at": iso(lead.created_at),
    }


class MyOfferShape(OfferShape):
    lead = LeadSummaryShape()


@renders(MyOfferShape)
def my_offer_data(offer: Offer) -> dict:
    return {**offer_data(offer), "lead": lead_summary_data(offer.lead)}


class PondEntryShape(Shape):
    lead = LeadSummaryShape()
    reason = text()
    entered_at = datetime_field()


@renders(PondEntryShape)
def pond_entry_data(entry: PondEntry) -> dict:
    return {"lead": lead_summary_data(entry.lead), "reason": entry.reason, "entered_at": iso(entry.entered_at)}
