"""The CRM sync outbox: one row per lead and CRM target, saying which lead version
the target should have and how delivering it went. Rules live in ``services``."""

from django.db import models

from integrations.outbox import OutboxRow
from leads.models import Lead, TimestampedModel


class SyncTarget(models.TextChoices):
    WEBHOOK = "webhook", "Signed webhook"
    HUBSPOT = "hubspot", "HubSpot"


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting to be sent (first try, a newer version, a replay)
    SYNCED = "synced", "Synced"  # the target has wanted_version
    FAILED = "failed", "Failed"  # a transient failure; tried again at next_attempt_at
    DEAD = "dead", "Dead"  # rejected, or out of attempts; only a newer version or a replay revives it


class CrmSyncRecord(OutboxRow, TimestampedModel):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="crm_sync_records")
    target = models.CharField(max_length=16, choices=SyncTarget.choices)
    status = models.CharField(max_length=8, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    wanted_version = models.PositiveIntegerField(help_text="The lead version the target should have.")
    synced_version = models.PositiveIntegerField(default=0, help_text="The last version the target accepted.")
    idempotency_key = models.CharField(max_length=64, help_text="'<lead id>:<wanted version>', sent with each try.")
    external_id = models.CharField(max_length=64, blank=True, help_text="The record's id in the target, if any.")

    class Meta:
        verbose_name = "CRM sync record"
        permissions = [("replay_crmsyncrecord", "Can replay CRM sync records")]
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "target"], name="crm_sync_one_per_lead_target"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="crm_sync_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_target_display()} sync of {self.lead_id}: {self.status}"
