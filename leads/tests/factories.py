from datetime import timedelta

import factory
from django.utils import timezone

from leads.models import (
    Contact,
    FollowUpTask,
    Interaction,
    Lead,
    LeadSource,
    LeadType,
    Preferences,
    Role,
    Timeline,
    User,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@agents.example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.AGENT
    password = factory.django.Password("correct-horse-battery")


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead with its contact, preferences and timeline rows."""

    class Meta:
        model = Lead
        skip_postgeneration_save = True  # the related rows need no second save of the lead

    lead_type = LeadType.BUYER
    source = LeadSource.WEBSITE
    assigned_to = factory.SubFactory(UserFactory)
    contact = factory.RelatedFactory("leads.tests.factories.ContactFactory", factory_related_name="lead")
    preferences = factory.RelatedFactory("leads.tests.factories.PreferencesFactory", factory_related_name="lead")
    timeline = factory.RelatedFactory("leads.tests.factories.TimelineFactory", factory_related_name="lead")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    lead = factory.SubFactory(LeadFactory, contact=None)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")


class PreferencesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Preferences

    lead = factory.SubFactory(LeadFactory, preferences=None)
    property_types = factory.LazyFunction(lambda: ["single_family"])
    min_price = 300000
    max_price = 500000
    preferred_locations = factory.LazyFunction(lambda: ["San Francisco"])


class TimelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Timeline

    lead = factory.SubFactory(LeadFactory, timeline=None)


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    lead = factory.SubFactory(LeadFactory)
    type = "call"
    summary = factory.Faker("sentence", nb_words=5)
    created_by = factory.LazyAttribute(lambda interaction: interaction.lead.assigned_to)
    occurred_at = factory.LazyFunction(timezone.now)


class FollowUpTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpTask

    lead = factory.SubFactory(LeadFactory)
    assigned_to = factory.LazyAttribute(lambda task: task.lead.assigned_to)
    title = factory.Faker("sentence", nb_words=4)
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=2))


def seed_payload(**overrides) -> dict:
    """The seed document's create body, verbatim, with optional overrides."""
    body = {
        "contact": {"first_name": "John", "last_name": "Doe", "email": "john@example.com", "phone": "+1234567890"},
        "lead_type": "buyer",
        "source": "website",
        "preferences": {
            "property_type": ["Single Family"],
            "min_price": 300000.0,
            "max_price": 500000.0,
            "preferred_locations": ["San Francisco"],
        },
        "timeline": {"urgency_level": "normal", "financing_status": "not_started"},
    }
    body.update(overrides)
    return body
