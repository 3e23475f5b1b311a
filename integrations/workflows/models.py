"""What the follow-up workflows have done, so that a re-run does nothing twice."""

from django.db import models
from django.utils import timezone

from leads.models import Lead


class WorkflowEventKind(models.TextChoices):
    FIRST_CONTACT_PLANNED = "first_contact_planned", "First-contact task planned"
    WELCOME_EMAIL = "welcome_email", "Welcome email to the lead"
    AGENT_ALERT = "agent_alert", "New-lead alert to the agent"
    SLA_ESCALATION = "sla_escalation", "Missed first contact escalated to the manager"
    OVERDUE_DIGEST = "overdue_digest", "Daily digest of overdue follow-ups"
    WEEKLY_REPORT = "weekly_report", "Weekly report to a manager"


class WorkflowEvent(models.Model):
    """One step a workflow took once: a message sent or a task planned.

    ``key`` names the step (``welcome:<lead pk>``, ``overdue-digest:<user pk>:<date>``)
    and is unique: a step is claimed by inserting its row, so two workers or a late
    re-run find it taken and skip the step.
    """

    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=24, choices=WorkflowEventKind.choices)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="workflow_events")
    recipient = models.CharField(max_length=254, blank=True, help_text="Email address the message went to")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["lead", "kind"], name="workflowevent_lead_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.key})"
