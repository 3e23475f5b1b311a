"""OpenAPI description of the webhook API (``integrations.webhooks.api``): documentation
serializers mirroring ``subscription_data`` and ``delivery_data`` key for key, used by
the ``api_operation`` decorators on its views."""

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from integrations.webhooks.models import DeliveryStatus, WebhookEvent
from leads.api.schema import datetime_field, envelope


class WebhookSubscription(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))
    active = serializers.BooleanField()
    owner = serializers.CharField(help_text="Username of the manager who made it.")
    created_at = datetime_field()
    updated_at = datetime_field()


class NewWebhookSubscription(WebhookSubscription):
    secret = serializers.CharField(help_text="Signs every delivery. Shown in this response only: keep it.")


class WebhookDelivery(serializers.Serializer):
    id = serializers.UUIDField(help_text="The event id, also sent in the delivery's headers.")
    event = serializers.ChoiceField(choices=WebhookEvent.choices)
    lead_id = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField(min_value=0)
    response_status = serializers.IntegerField(allow_null=True, help_text="HTTP status of the last answer.")
    last_error = serializers.CharField(allow_blank=True)
    created_at = datetime_field()
    last_attempt_at = datetime_field(allow_null=True)
    next_attempt_at = datetime_field(allow_null=True, help_text="When a failed delivery is tried again.")
    delivered_at = datetime_field(allow_null=True)
    payload = serializers.JSONField(help_text="The body sent, as it was when the event happened.")


WebhookEnvelope = envelope("WebhookEnvelope", webhook=WebhookSubscription())
NewWebhookEnvelope = envelope("NewWebhookEnvelope", webhook=NewWebhookSubscription())
WebhookList = envelope(
    "WebhookList", webhooks=WebhookSubscription(many=True), total_count=serializers.IntegerField(min_value=0)
)
DeliveryEnvelope = envelope("DeliveryEnvelope", delivery=WebhookDelivery())
DeliveryPage = envelope(
    "DeliveryPage",
    deliveries=WebhookDelivery(many=True),
    total_count=serializers.IntegerField(min_value=0),
    page=serializers.IntegerField(min_value=1),
    page_size=serializers.IntegerField(min_value=1),
)

SUBSCRIPTION_ID = OpenApiParameter(
    "subscription_id", {"type": "string", "format": "uuid"}, OpenApiParameter.PATH, description="The webhook's id."
)
DELIVERY_ID = OpenApiParameter(
    "delivery_id", {"type": "string", "format": "uuid"}, OpenApiParameter.PATH, description="The delivery's id."
)
DELIVERY_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
    OpenApiParameter("status", {"type": "string", "enum": DeliveryStatus.values}),
    OpenApiParameter("event", {"type": "string", "enum": WebhookEvent.values}),
]
