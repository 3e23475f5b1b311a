"""Real saves for the webhook tests. Leads are made and changed through the lead
service, so every save records its events as production does (a ``LeadFactory`` lead
has none until something saves it)."""

from collections.abc import Callable

from integrations.webhooks.models import WebhookDelivery, WebhookSubscription
from leads.core.inputs import LeadInput
from leads.core.services import LeadManagementService
from leads.events.models import LeadEvent
from leads.models import Lead, User
from leads.tests.factories import seed_payload
from leads.tests.lead_events import relay_recorded_events


def lead_input(**overrides) -> dict:
    """The seed lead's create body, validated as the API validates it."""
    data = LeadInput(data=seed_payload(**overrides))
    data.is_valid(raise_exception=True)
    return data.validated_data


def create_lead(actor: User, **overrides) -> Lead:
    """A lead created through the service (it records ``lead.created``)."""
    return LeadManagementService(actor).create_lead(lead_input(**overrides))


def tag(lead: Lead, actor: User, *tags: str) -> Lead:
    """A save that changes only the tags (it records one ``lead.updated``)."""
    return LeadManagementService(actor).update_lead(lead.public_id, {"tags": list(tags or ["followed-up"])})


def events_recorded_by(save: Callable[[], object]) -> list[LeadEvent]:
    """Run ``save``; returns the events it recorded, oldest first."""
    last = LeadEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    save()
    return list(LeadEvent.objects.filter(pk__gt=last).order_by("pk"))


def kinds(events: list[LeadEvent]) -> list[str]:
    return sorted(event.kind for event in events)


def deliveries_of(subscription: WebhookSubscription) -> list[WebhookDelivery]:
    """The subscription's deliveries in the order they go out (per lead: by sequence)."""
    return list(subscription.deliveries.order_by("sequence", "pk"))


def relayed_deliveries(subscription: WebhookSubscription) -> list[WebhookDelivery]:
    """Relay every recorded event now (as the relay task does once a save commits;
    nothing is sent: their sending is queued after a commit that never comes) and
    return the subscription's deliveries."""
    relay_recorded_events()
    return deliveries_of(subscription)
