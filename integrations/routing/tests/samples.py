"""Sample calls of the routing's renderers, in each state of their objects, for
``leads/tests/test_shapes.py`` (every renderer returns exactly its shape)."""

from decimal import Decimal

from integrations.routing import engine, selectors, services
from integrations.routing.models import Offer, OfferState, PondEntry, RoutingDecision, RoutingMethod
from integrations.routing.tests.factories import RoutingRuleFactory, RuleMemberFactory
from leads.tests.factories import LeadFactory, UserFactory


def _args(*positional, **keywords) -> tuple[tuple, dict]:
    return positional, keywords


def _routed(request) -> dict:
    """A first-to-claim lead claimed (offers claimed and withdrawn), one passed to the
    pond (offers passed), one round-robin lead, and a fixed agent deleted since."""
    if hasattr(request, "_routing_samples"):
        return request._routing_samples
    catch_all = engine.ensure_catch_all(None)
    RuleMemberFactory(rule=catch_all)
    rule = RoutingRuleFactory(method=RoutingMethod.FIRST_TO_CLAIM, sources=["zillow"])
    ann, bob = RuleMemberFactory(rule=rule).agent, RuleMemberFactory(rule=rule).agent
    claimed = LeadFactory(assigned_to=None, source="zillow", preferences__min_price=Decimal(300_000))
    engine.route_lead(claimed.pk)
    services.claim_offer(Offer.objects.get(lead=claimed, agent=ann), ann)
    ponded = LeadFactory(assigned_to=None, source="zillow", preferences__min_price=None, preferences__max_price=None)
    engine.route_lead(ponded.pk)
    for offer in Offer.objects.filter(lead=ponded).select_related("agent"):
        services.pass_offer(offer, offer.agent)
    round_robin = LeadFactory(assigned_to=None, source="website")
    engine.route_lead(round_robin.pk)
    gone = UserFactory()
    RoutingRuleFactory(method=RoutingMethod.FIXED_AGENT, fixed_agent=gone, sources=["referral"])
    gone.delete()
    orphan = LeadFactory(assigned_to=None, source="referral")
    engine.route_lead(orphan.pk)
    open_lead = LeadFactory(assigned_to=None, source="zillow")
    engine.route_lead(open_lead.pk)
    admin = UserFactory(role="admin")
    request._routing_samples = {"admin": admin, "leads": [claimed, ponded, round_robin, orphan, open_lead], "bob": bob}
    return request._routing_samples


def offers(request) -> list:
    _routed(request)
    found = list(Offer.objects.select_related("lead", "agent"))
    assert {offer.state for offer in found} >= {
        OfferState.CLAIMED,
        OfferState.WITHDRAWN,
        OfferState.PASSED,
        OfferState.OPEN,
    }
    Offer.objects.filter(pk=found[0].pk).update(agent=None)  # an agent deleted since
    return list(Offer.objects.select_related("lead", "agent"))


def offer_samples(request) -> list[tuple]:
    return [_args(offer) for offer in offers(request)]


def decision_samples(request) -> list[tuple]:
    routed = _routed(request)
    samples = []
    for lead in routed["leads"]:
        trace = selectors.lead_trace(routed["admin"], lead.public_id)
        samples += [_args(decision, lead) for decision in trace.decisions]
    assert RoutingDecision.objects.filter(assignee__isnull=True).exists()
    return samples


def trace_samples(request) -> list[tuple]:
    routed = _routed(request)
    return [_args(selectors.lead_trace(routed["admin"], lead.public_id)) for lead in routed["leads"]]


def lead_summary_samples(request) -> list[tuple]:
    return [_args(offer.lead) for offer in selectors.open_offers(_routed(request)["bob"])] + [
        _args(entry.lead) for entry in selectors.pond_entries(_routed(request)["admin"])
    ]


def my_offer_samples(request) -> list[tuple]:
    found = [_args(offer) for offer in selectors.open_offers(_routed(request)["bob"])]
    assert found
    return found


def pond_entry_samples(request) -> list[tuple]:
    found = [_args(entry) for entry in selectors.pond_entries(_routed(request)["admin"])]
    assert PondEntry.objects.exists() and found
    return found


def _samples():
    from integrations.routing import representations as r

    return {
        r.offer_data: offer_samples,
        r.decision_data: decision_samples,
        r.trace_data: trace_samples,
        r.lead_summary_data: lead_summary_samples,
        r.my_offer_data: my_offer_samples,
        r.pond_entry_data: pond_entry_samples,
    }


SAMPLES = _samples()
