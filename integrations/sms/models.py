"""Text messages sent through the SMS provider, one row per message handed to it, with
what the provider last said about it (its status callbacks). Rules live in ``services``."""

import uuid

from django.db import models


class SmsStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"  # recorded, being handed to the provider
    NOT_SENT = "not_sent", "Not sent"  # the provider refused it or could not be reached
    QUEUED = "queued", "Queued"  # the provider took it (accepted, scheduled, queued)
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"  # handed to the carrier
    DELIVERED = "delivered", "Delivered"  # the carrier confirmed it reached the phone
    UNDELIVERED = "undelivered", "Undelivered"  # the carrier could not deliver it
    FAILED = "failed", "Failed"  # the provider could not send it


# How far along each status is: a status callback never moves a message back (the
# provider's callbacks may arrive out of order).
STATUS_RANK = {
    SmsStatus.REQUESTED: 0,
    SmsStatus.NOT_SENT: 4,
    SmsStatus.QUEUED: 1,
    SmsStatus.SENDING: 2,
    SmsStatus.SENT: 3,
    SmsStatus.DELIVERED: 4,
    SmsStatus.UNDELIVERED: 4,
    SmsStatus.FAILED: 4,
}
FINAL_FAILURES = frozenset({SmsStatus.NOT_SENT, SmsStatus.UNDELIVERED, SmsStatus.FAILED})


class SmsMessage(models.Model):
    public_id = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Names the message in its status callback URL."
    )
    purpose = models.CharField(
        max_length=32, help_text="Who sent it ('alerts', ...): their listener hears its status changes."
    )
    to = models.CharField(max_length=16, help_text="E.164")
    body = models.TextField()
    status = models.CharField(max_length=12, choices=SmsStatus.choices, default=SmsStatus.REQUESTED)
    provider_sid = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="The provider's id for the message."
    )
    error_code = models.CharField(max_length=16, blank=True, help_text="The provider's error code, if any.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the provider took it.")
    status_changed_at = models.DateTimeField(null=True, blank=True, help_text="When a status callback last moved it.")

    class Meta:
        verbose_name = "text message"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["purpose", "-created_at"], name="sms_message_purpose")]

    def __str__(self) -> str:
        return f"Text to {self.to}: {self.status}"
