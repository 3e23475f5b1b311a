"""Alert reads: what the sweep picks up, a user's browsers, the alerts of a lead."""

from datetime import datetime

from django.db.models import QuerySet

from integrations.alerts.models import AgentAlert, AlertDelivery, DeliveryStatus, PushSubscription
from leads.models import User


def due_deliveries(now: datetime) -> QuerySet[AlertDelivery]:
    """Deliveries armed or retrying whose ``next_attempt_at`` has passed, the longest
    waiting first (the ``alert_delivery_due`` index)."""
    return AlertDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")


def push_subscriptions_of(user: User) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user=user).order_by("-created_at", "-id")


def recent_alerts_of(user: User, *, limit: int = 10) -> list[AgentAlert]:
    """The user's latest alerts with their deliveries, newest first."""
    return list(
        AgentAlert.objects.filter(user=user)
        .select_related("lead", "lead__contact")
        .prefetch_related("deliveries")
        .order_by("-created_at", "-id")[:limit]
    )
