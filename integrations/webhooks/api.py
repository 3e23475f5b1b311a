"""REST API for webhook subscriptions (managers and admins): translate JSON <-> the
webhook services, in the v2 envelope and error shape of the leads API."""

from django.conf import settings
from django.urls import re_path
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from integrations.webhooks import selectors, services
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookSubscription
from integrations.webhooks.schema import (
    DELIVERY_ID,
    DELIVERY_PARAMETERS,
    SUBSCRIPTION_ID,
    DeliveryEnvelope,
    DeliveryPage,
    NewWebhookEnvelope,
    WebhookEnvelope,
    WebhookList,
)
from integrations.webhooks.url_safety import MAX_URL_LENGTH
from leads import permissions
from leads.api.representations import iso
from leads.api.schema import api_operation
from leads.api.serializers import Choice, Text
from leads.api.views import LeadsAPIView

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


# --- output -----------------------------------------------------------------


def subscription_data(subscription: WebhookSubscription, *, with_secret: bool = False) -> dict:
    data = {
        "id": str(subscription.public_id),
        "name": subscription.name,
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
        "owner": subscription.owner.username,
        "created_at": iso(subscription.created_at),
        "updated_at": iso(subscription.updated_at),
    }
    if with_secret:
        data["secret"] = subscription.secret
    return data


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
        return self.respond(status.HTTP_201_CREATED, webhook=subscription_data(subscription, with_secret=True))


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
        delivery = services.delivery_replay(delivery=delivery)
        return self.respond(status.HTTP_202_ACCEPTED, delivery=delivery_data(delivery))


app_name = "webhooks_api"

SUBSCRIPTION_ID = r"(?P<subscription_id>[^/]+)"

urlpatterns = [
    re_path(r"^webhooks/?$", WebhookCollectionView.as_view(), name="webhook-list"),
    re_path(rf"^webhooks/{SUBSCRIPTION_ID}/?$", WebhookDetailView.as_view(), name="webhook-detail"),
    re_path(rf"^webhooks/{SUBSCRIPTION_ID}/deliveries/?$", WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    re_path(
        rf"^webhooks/{SUBSCRIPTION_ID}/deliveries/(?P<delivery_id>[^/]+)/replay/?$",
        WebhookDeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
]
