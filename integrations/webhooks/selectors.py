"""Webhook reads: which subscriptions each user sees (who may manage them at all is
``leads.accounts.permissions.can_manage_webhooks``)."""

import uuid
from datetime import datetime

from django.db.models import QuerySet

from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from leads.accounts import permissions
from leads.errors import NotFound
from leads.models import User


def subscriptions_visible_to(user: User) -> QuerySet[WebhookSubscription]:
    """Admins see every subscription, managers their own, anyone else none."""
    subscriptions = WebhookSubscription.objects.select_related("owner")
    if not permissions.can_manage_webhooks(user):
        return subscriptions.none()
    if permissions.can_manage_every_webhook(user):
        return subscriptions
    return subscriptions.filter(owner=user)


def subscription_get(*, user: User, subscription_id: str) -> WebhookSubscription:
    """The visible subscription with this id; NotFound when it is missing, hidden or malformed."""
    public_id = _uuid(subscription_id)
    subscription = subscriptions_visible_to(user).filter(public_id=public_id).first() if public_id else None
    if subscription is None:
        raise NotFound("Webhook not found.")
    return subscription


def deliveries_for(
    *, subscription: WebhookSubscription, status: str | None = None, event: str | None = None
) -> QuerySet[WebhookDelivery]:
    """The subscription's delivery log, newest first (``webhook_delivery_log`` index)."""
    deliveries = subscription.deliveries.order_by("-created_at", "-id")
    if status:
        deliveries = deliveries.filter(status=status)
    if event:
        deliveries = deliveries.filter(event=event)
    return deliveries


def delivery_get(*, subscription: WebhookSubscription, delivery_id: str) -> WebhookDelivery:
    """One delivery of the subscription by its event id; NotFound otherwise."""
    event_id = _uuid(delivery_id)
    delivery = subscription.deliveries.filter(event_id=event_id).first() if event_id else None
    if delivery is None:
        raise NotFound("Delivery not found.")
    delivery.subscription = subscription
    return delivery


def due_deliveries(now: datetime) -> QuerySet[WebhookDelivery]:
    """Deliveries of active subscriptions waiting to be sent whose ``next_attempt_at`` has
    passed, the longest waiting first (served by the ``webhook_delivery_due`` index)."""
    return WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
        next_attempt_at__lte=now,
        subscription__active=True,
    ).order_by("next_attempt_at", "pk")


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
