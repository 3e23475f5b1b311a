"""Outbound webhooks: what integrations subscribed to, and the log of every delivery
(which doubles as the outbox the sweeper retries from). Rules live in ``services``."""

import secrets
import uuid

from django.conf import settings
from django.db import models

from leads.models import TimestampedModel


class WebhookEvent(models.TextChoices):
    LEAD_CREATED = "lead.created", "Lead created"
    LEAD_UPDATED = "lead.updated", "Lead updated"
    LEAD_STATUS_CHANGED = "lead.status_changed", "Lead status changed"
    LEAD_SCORED = "lead.scored", "Lead scored"
    INTERACTION_ADDED = "interaction.added", "Interaction added"


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


class WebhookDelivery(models.Model):
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    event_id = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Sent as the payload's id and Idempotency-Key."
    )
    lead_public_id = models.CharField("lead", max_length=40, db_index=True)
    payload = models.JSONField(help_text="The body, as it was when the event happened; retries and replays resend it.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Tries since it was created or last replayed.")
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last answer."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper queues it (again); empty when nothing is due."
    )
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A try is in flight until then; a crashed one expires."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        permissions = [("replay_webhookdelivery", "Can replay webhook deliveries")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.lead_public_id}: {self.status}"
