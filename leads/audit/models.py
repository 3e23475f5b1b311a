"""The audit history: one row per change of a lead (``leads.audit.history`` writes and reads them)."""

from django.db import models

from leads.accounts.models import User
from leads.core.models import Lead


class AuditChannel(models.TextChoices):
    API = "api", "API"
    PAGE = "page", "Agent pages"
    ADMIN = "admin", "Admin"
    TASK = "task", "Background task"
    IMPORT = "import", "CSV import"
    SYSTEM = "system", "System"


class AuditEntry(models.Model):
    """One change to a lead: a field's old and new value (JSON), who made it and
    through which channel. The entries of one save share a ``changeset``.

    ``field`` is a path ("status", "contact.email", "preferences.min_price") or an
    event ("created", "interaction_added", "merged", ...); see ``leads.audit``.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="audit_entries")
    changeset = models.UUIDField(db_index=True)
    field = models.CharField(max_length=64)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=8, choices=AuditChannel.choices)
    request_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["lead", "-at", "-id"], name="auditentry_lead_at")]

    def __str__(self) -> str:
        return f"{self.field} on {self.lead_id} at {self.at:%Y-%m-%d %H:%M:%S}"
