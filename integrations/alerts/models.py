"""Agent alerts: how each user wants to be reached (``AlertPreference``), the browsers
that asked for pushes (``PushSubscription``), each alert (``AgentAlert``) and its
deliveries, one per channel in the order they are tried (``AlertDelivery``, the outbox
row). Rules live in ``services``."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from integrations.outbox import OutboxRow


class Channel(models.TextChoices):
    PUSH = "push", "Push notification"
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"


# The orders a user may choose; email always ends the chain (the last resort).
CHANNEL_ORDERS: dict[str, tuple[str, ...]] = {
    "push,sms": (Channel.PUSH, Channel.SMS),
    "sms,push": (Channel.SMS, Channel.PUSH),
    "push": (Channel.PUSH,),
    "sms": (Channel.SMS,),
    "": (),
}
DEFAULT_CHANNELS = [Channel.PUSH.value]


def default_channels() -> list[str]:
    return list(DEFAULT_CHANNELS)


class AlertPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference")
    channels = models.JSONField(
        default=default_channels, help_text="Push and/or SMS, in the order tried; email is always tried last."
    )
    sms_number = models.CharField("SMS number", max_length=16, blank=True, help_text="E.164, e.g. +14155550134")
    sms_opted_in_at = models.DateTimeField(
        null=True, blank=True, help_text="When the user agreed to receive alerts by text (no code is checked)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Alert channels of {self.user}"


class PushSubscription(models.Model):
    """One browser (a phone, a desktop) that agreed to receive pushes for ``user``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=2000, unique=True, help_text="The push service's URL for this browser.")
    p256dh = models.CharField(max_length=200, help_text="The browser's public key (base64url), payloads are for it.")
    auth = models.CharField(max_length=100, help_text="The browser's auth secret (base64url).")
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True, help_text="When its push service last took a push.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Push subscription of {self.user} ({self.user_agent[:40] or 'browser'})"


class AlertReason(models.TextChoices):
    ASSIGNED = "assigned", "Lead assigned"
    OFFER = "offer", "Lead offered"


class AlertStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # no channel has got through yet
    SENT = "sent", "Sent"  # a channel took it (an SMS handed to the provider, an email sent)
    DELIVERED = "delivered", "Delivered"  # the push service accepted it, or the SMS reached the phone
    FAILED = "failed", "Failed"  # every channel failed


class AgentAlert(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_alerts")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=12, choices=AlertReason.choices)
    key = models.CharField(
        max_length=200, null=True, blank=True, unique=True, help_text="An alert with the same key is made once."
    )
    payload = models.JSONField(help_text="What every channel says: title, body, lead, source, budget, url, actions.")
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.PENDING)
    delivered_via = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="agent_alert_user"),
            models.Index(fields=["status", "-created_at"], name="agent_alert_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} to {self.user}: {self.status}"


class DeliveryStatus(models.TextChoices):
    STANDBY = "standby", "Standby"  # waits until the channels before it have failed
    PENDING = "pending", "Pending"  # armed: waiting for its first try (or a replay)
    RETRYING = "retrying", "Retrying"  # a transient failure; tried again at next_attempt_at
    SENT = "sent", "Sent"  # the channel took it; no word yet that it reached the phone
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # refused, gone, or out of attempts: the next channel is tried
    SKIPPED = "skipped", "Skipped"  # not needed: a channel before it got through


class AlertDelivery(OutboxRow):
    alert = models.ForeignKey(AgentAlert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    position = models.PositiveSmallIntegerField(help_text="Tried in this order (0 first).")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.STANDBY)
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last answer."
    )
    sms_message = models.ForeignKey(
        "sms.SmsMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True, help_text="Per push subscription: what its service answered.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "alert deliveries"
        ordering = ["alert_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "position"], name="alert_delivery_position_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "retrying"]),
                name="alert_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.position} of alert {self.alert_id}: {self.status}"
