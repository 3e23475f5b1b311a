"""Who asked not to get the weekly report email (managers get it unless they opt out),
and each lead's finished stays in a stage (what the time-in-stage medians read)."""

from django.db import models

from leads.accounts.models import User
from leads.core.models import Lead, LeadStatus


class WeeklyReportOptOut(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="weekly_report_opt_out")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"No weekly report for {self.user}"


class StageStay(models.Model):
    """One finished stay of a lead in a stage: from one of its status changes to the
    next (by time, then id), ``stage`` the first one's ``to_status``. Kept with every
    move by ``leads.core.bookkeeping`` (recounted from the history when the history
    itself is rewritten: merges, their undo, dated demo history). ``lead_created_at``
    is the lead's arrival, so a stage's stays of the leads that arrived in a range are
    one index range (``stagestay_stage_arrival``), not a join through every lead's
    history."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_stays")
    lead_created_at = models.DateTimeField()
    stage = models.CharField(max_length=16, choices=LeadStatus.choices)
    days = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["stage", "lead_created_at"], include=["lead", "days"], name="stagestay_stage_arrival")
        ]

    def __str__(self) -> str:
        return f"{self.stage}: {self.days:.1f} days"


class ActivityTally(models.Model):
    """How many interactions of one type an agent logged in one UTC day or UTC month,
    kept by database triggers on ``leads_interaction`` (migration 0022), so the
    leaderboard's activity over a year sums a few thousand month rows instead of
    counting a million interactions (``leads.reports.activity``). ``agent_key`` is the
    interaction's ``created_by_id``, not a foreign key: deleting a user sets their
    interactions' author to NULL, which the triggers count out, leaving zero rows."""

    class Span(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"

    span = models.CharField(max_length=5, choices=Span.choices)
    starts_on = models.DateField()
    agent_key = models.BigIntegerField()
    type = models.CharField(max_length=16)
    n = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["span", "starts_on", "agent_key", "type"], name="activitytally_key")
        ]
        # What the reports read: a range of days or months with their figures (index-only).
        indexes = [
            models.Index(
                fields=["span", "starts_on"], include=["agent_key", "type", "n"], name="activitytally_span_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} by {self.agent_key}, {self.span} of {self.starts_on}: {self.n}"
