import factory
from django.utils import timezone

from integrations.routing.models import (
    AgentRoutingProfile,
    Offer,
    PondEntry,
    RoutingDecision,
    RoutingOutcome,
    RoutingRule,
    RoutingTrigger,
    RuleMember,
)
from leads.models import Team
from leads.tests.factories import UserFactory


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Office {n}")
    time_zone = "UTC"


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    team = None
    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: 10 + n)


class RuleMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuleMember

    rule = factory.SubFactory(RoutingRuleFactory)
    agent = factory.SubFactory(UserFactory)
    weight = 1


class AgentRoutingProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentRoutingProfile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class RoutingDecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingDecision

    lead = factory.SubFactory("leads.tests.factories.LeadFactory", assigned_to=None)
    trigger = RoutingTrigger.ARRIVAL
    outcome = RoutingOutcome.OFFERED


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    decision = factory.SubFactory(RoutingDecisionFactory)
    lead = factory.LazyAttribute(lambda offer: offer.decision.lead)
    agent = factory.SubFactory(UserFactory)
    agent_name = factory.LazyAttribute(lambda offer: str(offer.agent))
    offered_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(minutes=5))


class PondEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PondEntry

    lead = factory.SubFactory("leads.tests.factories.LeadFactory", assigned_to=None)
    team = factory.LazyAttribute(lambda entry: entry.lead.team)
    entered_at = factory.LazyFunction(timezone.now)
