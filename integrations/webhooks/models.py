"""Outbound webhooks: what integrations subscribed to, and the log of every delivery
(which doubles as the outbox the sweeper retries from). Rules live in ``services``."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from integrations.outbox import OutboxRow
from leads.events.models import LeadEventKind
from leads.models import TimestampedModel

# The events a subscription can choose: every lead event (``leads.events``).
WebhookEvent = LeadEventKind


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first try (or a replay)
    DELIVERED = "delivered", "Delivered"  # the receiver answered 2xx
    FAILED = "failed", "Failed"  # a transient failure; tried again at next_attempt_at
    DEAD = "dead", "Dead"  # rejected, refused or out of attempts; only a replay revives it


def new_webhook_secret() -> str:
    """A signing secret: 'whsec_' and 43 URL-safe characters (256 random bits)."""
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookSubscription(TimestampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        help_text="Deliveries carry only the leads this user may see.",
    )
    name = models.CharField(max_length=100)
    url = models.URLField("target URL", max_length=2000)
    secret = models.CharField(max_length=100, help_text="Signs every delivery; shown to the owner once, on creation.")
    events = models.JSONField(default=list, help_text="The WebhookEvent values this subscription receives.")
    active = models.BooleanField(default=True, help_text="A paused subscription gets no new deliveries.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(OutboxRow):
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    event_id = models.UUIDField(
        default=uuid.uuid4,
        db_index=True,
        editable=False,
        help_text="The lead event's id: the payload's id and Idempotency-Key, the same at every subscription.",
    )
    lead_public_id = models.CharField("lead", max_length=40, db_index=True)
    payload = models.JSONField(help_text="The body, as it was when the event happened; retries and replays resend it.")
    sequence = models.BigIntegerField(
        default=0, help_text="The lead event's number: a lead's deliveries to a subscription go in this order."
    )
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last answer."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        permissions = [("replay_webhookdelivery", "Can replay webhook deliveries")]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_event_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log"),
            # A lead's earlier deliveries still on their way (``services.deliver`` sends in order).
            models.Index(
                fields=["subscription", "lead_public_id", "sequence"],
                condition=Q(status__in=["pending", "failed"]),
                name="webhook_delivery_lead_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.lead_public_id}: {self.status}"
