"""Property alerts: how often each lead gets the listings that match it, and every alert
email sent (or skipped) with what it listed and whether the lead opened or clicked it.

Rows are written only by ``services`` (settings, opens, clicks, frequency control) and
``sending`` (the runs)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from leads.models import Lead


class Frequency(models.TextChoices):
    INSTANT = "instant", "Instant"
    DAILY = "daily", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"
    OFF = "off", "Off"


class SetBy(models.TextChoices):
    DEFAULT = "default", "Default"
    AGENT = "agent", "Agent"
    LEAD = "lead", "The lead (from an alert's link)"


class AlertSubscription(models.Model):
    """One lead's alert settings: the frequency chosen (by the agent or the lead) and the
    one in force after frequency control (``effective_frequency``: slowed down while alerts
    go unopened; ``paused_at`` set when they stop altogether)."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="alert_subscription")
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    effective_frequency = models.CharField(max_length=8, choices=Frequency.choices)
    set_by = models.CharField(max_length=8, choices=SetBy.choices, default=SetBy.DEFAULT)
    set_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()
    consecutive_unopened = models.PositiveSmallIntegerField(
        default=0, help_text="Alerts sent since the lead last opened or clicked one (or since the last step down)"
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="What frequency control did last, in plain words")
    note_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(
        null=True, blank=True, help_text="When a run last sent the lead an alert or skipped it (not when it failed)"
    )
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A run is sending to the lead until then")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["effective_frequency", "last_run_at"], condition=Q(paused_at__isnull=True), name="alert_sub_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.effective_frequency} (chosen {self.frequency})"

    @property
    def is_slowed(self) -> bool:
        return self.paused_at is None and self.effective_frequency != self.frequency


class AlertStatus(models.TextChoices):
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class AlertMessage(models.Model):
    """One alert email to a lead (or the run's decision not to send it). ``listings``: what
    it listed, best first: ``[{"match", "listing", "price", "old_price"}]`` (prices as
    strings). ``key`` names the message in its signed open and click links."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="alert_messages")
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, help_text="The run that sent it")
    status = models.CharField(max_length=8, choices=AlertStatus.choices)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was skipped or failed")
    listings = models.JSONField(default=list, blank=True)
    listing_count = models.PositiveSmallIntegerField(default=0)
    subject = models.CharField(max_length=200, blank=True)
    message_id = models.CharField(max_length=200, blank=True, help_text="The email's Message-ID header")
    sent_at = models.DateTimeField(db_index=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        indexes = [models.Index(fields=["lead", "-sent_at"], name="alert_message_lead_recent")]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.status} at {self.sent_at:%Y-%m-%d %H:%M} ({self.listing_count})"

    def listing_ids(self) -> list[int]:
        return [entry.get("listing") for entry in self.listings if isinstance(entry, dict)]
