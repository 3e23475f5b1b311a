"""CSV imports of leads: one job per uploaded file."""

from django.db import models

from leads.accounts.models import User


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class LeadImport(models.Model):
    """A CSV of leads uploaded by an agent, imported in the background.

    The file's text is kept in the row so a worker on any machine can run it.
    ``row_errors`` holds ``{"row", "values", "errors"}`` for each refused row; a
    skipped duplicate also has ``"duplicate": true`` and ``"existing_lead_id"``
    (blank when the uploader may not see that lead).
    """

    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="lead_imports")
    file_name = models.CharField(max_length=255)
    source_text = models.TextField()
    route_unassigned = models.BooleanField(
        default=False, help_text="Route the rows that name no agent through the routing rules."
    )
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    row_errors = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="leadimport_owner_created")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent_done(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)
