"""REST API for webhook subscriptions (managers and admins): translate JSON <-> the
webhook services, in the v2 envelope and error shape of the leads API."""

from django.conf import settings
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from integrations.webhooks import selectors, services, tasks
from integrations.webhooks.models import DeliveryStatus, WebhookEvent, WebhookSubscription
from integrations.webhooks.representations import (
    NewWebhookSubscriptionShape,
    WebhookDeliveryShape,
    WebhookSubscriptionShape,
    delivery_data,
    new_subscription_data,
    subscription_data,
)
from integrations.webhooks.url_safety import MAX_URL_LENGTH
from leads.accounts import permissions
from leads.api.envelope import envelope_shape
from leads.api.schema import api_operation
from leads.api.views import LeadsAPIView
from leads.core.inputs import Choice, Text

# --- input ------------------------------------------------------------------


class SubscriptionInput(serializers.Serializer):
    name = Text(max_length=100, allow_blank=False, allow_null=False)
    url = serializers.CharField(max_length=MAX_URL_LENGTH, trim_whitespace=True)
    events = serializers.ListField(child=Choice(WebhookEvent.choices), min_length=1, max_length=len(WebhookEvent))
    secret = serializers.CharField(
        min_length=services.MIN_SECRET_LENGTH, max_length=100, required=False, trim_whitespace=False
    )
    active = serializers.BooleanField(required=False)


class DeliveryQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    page_size = serializers.IntegerField(
        min_value=1, max_value=settings.LEADS_API_MAX_PAGE_SIZE, default=settings.LEADS_API_DEFAULT_PAGE_SIZE
    )
    status = Choice(DeliveryStatus.choices, required=False)
    event = Choice(WebhookEvent.choices, required=False)


# --- documentation: the answers and the parameters -----------------------------

WebhookEnvelope = envelope_shape("WebhookEnvelope", webhook=WebhookSubscriptionShape())
NewWebhookEnvelope = envelope_shape("NewWebhookEnvelope", webhook=NewWebhookSubscriptionShape())
WebhookList = envelope_shape(
    "WebhookList", webhooks=WebhookSubscriptionShape(many=True), total_count=serializers.IntegerField(min_value=0)
)
DeliveryEnvelope = envelope_shape("DeliveryEnvelope", delivery=WebhookDeliveryShape())
DeliveryPage = envelope_shape(
    "DeliveryPage",
    deliveries=WebhookDeliveryShape(many=True),
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


# --- views ------------------------------------------------------------------


class ManagesWebhooks(BasePermission):
    """Refuses in the words of ``permissions.can_manage_webhooks`` (the domain error), not DRF's generic ones."""

    def has_permission(self, request, view) -> bool:
        permissions.require(permissions.can_manage_webhooks, request.user)
        return True


class WebhooksAPIView(LeadsAPIView):
    permission_classes = [IsAuthenticated, ManagesWebhooks]

    def subscription(self, subscription_id: str) -> WebhookSubscription:
        return selectors.subscription_get(user=self.request.user, subscription_id=subscription_id)


class WebhookCollectionView(WebhooksAPIView):
    @api_operation(
        operation_id="webhooks_list", summary="Your webhook subscriptions", responses={200: WebhookList}, errors=(403,)
    )
    def get(self, request):
        subscriptions = list(selectors.subscriptions_visible_to(request.user))
        return self.respond(
            webhooks=[subscription_data(subscription) for subscription in subscriptions],
            total_count=len(subscriptions),
        )

    @api_operation(
        operation_id="webhooks_create",
        summary="Subscribe a URL to lead events",
        request=SubscriptionInput,
        responses={201: NewWebhookEnvelope},
        errors=(403,),
    )
    def post(self, request):
        subscription = services.subscription_create(owner=request.user, **self.validated(SubscriptionInput))
        # The only response that shows the secret.
        return self.respond(status.HTTP_201_CREATED, webhook=new_subscription_data(subscription))


class WebhookDetailView(WebhooksAPIView):
    @api_operation(
        operation_id="webhooks_read",
        summary="Read a webhook subscription",
        responses={200: WebhookEnvelope},
        errors=(403, 404),
        parameters=[SUBSCRIPTION_ID],
    )
    def get(self, request, subscription_id: str):
        return self.respond(webhook=subscription_data(self.subscription(subscription_id)))

    @api_operation(
        operation_id="webhooks_partial_update",
        summary="Change a webhook subscription (pause it with active=false)",
        request=SubscriptionInput(partial=True),
        responses={200: WebhookEnvelope},
        errors=(403, 404),
        parameters=[SUBSCRIPTION_ID],
    )
    def patch(self, request, subscription_id: str):
        subscription = self.subscription(subscription_id)
        changes = self.validated(SubscriptionInput, partial=True)
        subscription = services.subscription_update(subscription=subscription, changes=changes)
        return self.respond(webhook=subscription_data(subscription))

    @api_operation(
        operation_id="webhooks_delete",
        summary="Delete a webhook subscription",
        responses={204: None},
        errors=(403, 404),
        parameters=[SUBSCRIPTION_ID],
    )
    def delete(self, request, subscription_id: str):
        services.subscription_delete(subscription=self.subscription(subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(WebhooksAPIView):
    @api_operation(
        operation_id="webhook_deliveries_list",
        summary="A subscription's delivery log, newest first",
        responses={200: DeliveryPage},
        errors=(400, 403, 404),
        parameters=[SUBSCRIPTION_ID, *DELIVERY_PARAMETERS],
    )
    def get(self, request, subscription_id: str):
        subscription = self.subscription(subscription_id)
        query = DeliveryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, page_size = query.validated_data["page"], query.validated_data["page_size"]
        deliveries = selectors.deliveries_for(
            subscription=subscription,
            status=query.validated_data.get("status"),
            event=query.validated_data.get("event"),
        )
        offset = (page - 1) * page_size
        return self.respond(
            deliveries=[delivery_data(delivery) for delivery in deliveries[offset : offset + page_size]],
            total_count=deliveries.count(),
            page=page,
            page_size=page_size,
        )


class WebhookDeliveryReplayView(WebhooksAPIView):
    @api_operation(
        operation_id="webhook_deliveries_replay",
        summary="Send a delivery again",
        responses={202: DeliveryEnvelope},
        errors=(403, 404, 409),
        parameters=[SUBSCRIPTION_ID, DELIVERY_ID],
    )
    def post(self, request, subscription_id: str, delivery_id: str):
        delivery = selectors.delivery_get(subscription=self.subscription(subscription_id), delivery_id=delivery_id)
        delivery = tasks.delivery_replay(delivery=delivery)
        return self.respond(status.HTTP_202_ACCEPTED, delivery=delivery_data(delivery))


app_name = "webhooks_api"

SUBSCRIPTION = r"(?P<subscription_id>[^/]+)"

urlpatterns = [
    re_path(r"^webhooks/?$", WebhookCollectionView.as_view(), name="webhook-list"),
    re_path(rf"^webhooks/{SUBSCRIPTION}/?$", WebhookDetailView.as_view(), name="webhook-detail"),
    re_path(rf"^webhooks/{SUBSCRIPTION}/deliveries/?$", WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    re_path(
        rf"^webhooks/{SUBSCRIPTION}/deliveries/(?P<delivery_id>[^/]+)/replay/?$",
        WebhookDeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
]
