"""Output: a webhook subscription and a delivery as the v2 API shows them, each
declared once as a shape (``leads.core.shapes``) beside the function that builds it."""

from rest_framework import serializers

from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookSubscription
from leads.core.representations import iso
from leads.core.shapes import Shape, choice, datetime_field, renders


class WebhookSubscriptionShape(Shape):
    id = serializers.UUIDField()
    name = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=choice(WebhookEvent.choices))
    active = serializers.BooleanField()
    owner = serializers.CharField(help_text="Username of the manager who made it.")
    created_at = datetime_field()
    updated_at = datetime_field()


@renders(WebhookSubscriptionShape)
def subscription_data(subscription: WebhookSubscription) -> dict:
    """The subscription without its secret; expects its owner selected with it."""
    return {
        "id": str(subscription.public_id),
        "name": subscription.name,
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
        "owner": subscription.owner.username,
        "created_at": iso(subscription.created_at),
        "updated_at": iso(subscription.updated_at),
    }


class NewWebhookSubscriptionShape(WebhookSubscriptionShape):
    secret = serializers.CharField(help_text="Signs every delivery. Shown in this response only: keep it.")


@renders(NewWebhookSubscriptionShape)
def new_subscription_data(subscription: WebhookSubscription) -> dict:
    """The subscription with its secret: only the answer to its creation shows it."""
    return {**subscription_data(subscription), "secret": subscription.secret}


class WebhookDeliveryShape(Shape):
    id = serializers.UUIDField(help_text="The event id, also sent in the delivery's headers.")
    event = choice(WebhookEvent.choices)
    lead_id = serializers.CharField()
    status = choice(DeliveryStatus.choices)
    attempts = serializers.IntegerField(min_value=0)
    response_status = serializers.IntegerField(allow_null=True, help_text="HTTP status of the last answer.")
    last_error = serializers.CharField(allow_blank=True)
    created_at = datetime_field()
    last_attempt_at = datetime_field(allow_null=True)
    next_attempt_at = datetime_field(allow_null=True, help_text="When a failed delivery is tried again.")
    delivered_at = datetime_field(allow_null=True)
    payload = serializers.JSONField(help_text="The body sent, as it was when the event happened.")


@renders(WebhookDeliveryShape)
def delivery_data(delivery: WebhookDelivery) -> dict:
    return {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "lead_id": delivery.lead_public_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "last_attempt_at": iso(delivery.last_attempt_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == DeliveryStatus.FAILED else None,
        "delivered_at": iso(delivery.delivered_at),
        "payload": delivery.payload,
    }
