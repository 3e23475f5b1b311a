"""The after-save outbox: one job per saved lead version.

The job row is written in the same transaction as the save, so work is never
lost: if the broker (Redis) is down when the save commits, the job stays pending
and the sweeper queues it again once the broker is back.
"""

from django.db import models
from django.db.models import Q


class PipelineJobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    SUPERSEDED = "superseded", "Superseded by a newer version"
    FAILED = "failed", "Failed"


class PipelineJob(models.Model):
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="pipeline_jobs")
    version = models.PositiveIntegerField()
    reason = models.CharField(max_length=32)
    status = models.CharField(max_length=12, choices=PipelineJobStatus.choices, default=PipelineJobStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "dispatched_at"], name="pipelinejob_sweep"),
            # The queued jobs a worker takes to fill its batch (integrations.pipeline._claim):
            # a handful of rows, however many finished jobs pile up.
            models.Index(
                fields=["id"], condition=Q(status=PipelineJobStatus.PENDING, attempts=0), name="pipelinejob_queued"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} v{self.version} ({self.status})"


class PeriodicJobState(models.Model):
    """How a periodic job (``integrations.periodic.JOBS``) last ran: one row per job,
    written by the runner after every run, shown in the admin and, while the job
    fails, on the managers' dashboard."""

    name = models.CharField(max_length=64, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_succeeded_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0
