import factory

from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookSubscription
from leads.models import Role
from leads.tests.factories import UserFactory

# A public address, so a subscription passes the URL rule without DNS; tests that
# deliver point the subscription at their loopback receiver instead.
PUBLIC_URL = "https://93.184.216.34/hooks/leads"


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookSubscription

    owner = factory.SubFactory(UserFactory, username=factory.Sequence(lambda n: f"integrator{n}"), role=Role.MANAGER)
    name = factory.Sequence(lambda n: f"Integration {n}")
    url = PUBLIC_URL
    secret = factory.Sequence(lambda n: f"whsec_test-secret-{n:08d}")
    events = factory.LazyFunction(lambda: list(WebhookEvent.values))


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    """A row of the delivery log, for reading it (the log pages, the admin); tests of
    what gets delivered make their deliveries through real saves (``saves``)."""

    class Meta:
        model = WebhookDelivery

    subscription = factory.SubFactory(WebhookSubscriptionFactory)
    event = WebhookEvent.CREATED
    lead_public_id = factory.Sequence(lambda n: f"lead_{n:024x}")
    payload = factory.LazyAttribute(lambda delivery: {"id": str(delivery.event_id), "event": delivery.event})
    event_id = factory.Faker("uuid4", cast_to=None)
    sequence = factory.Sequence(lambda n: n + 1)
    status = DeliveryStatus.PENDING
