"""What the lists and the dashboard count and save: exact lead counters and saved filters."""

from django.db import models

from leads.accounts.models import User
from leads.core.models import LeadStatus, LeadType


class SavedFilter(models.Model):
    """A user's named lead-list query (a "smart list"), kept as a query string."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedfilter_owner_name_unique")]

    def __str__(self) -> str:
        return self.name


class LeadCount(models.Model):
    """How many live (not archived) leads there are per (agent, status, lead type).

    Kept exact by database triggers on ``leads_lead`` (migration 0006), so every write
    path counts, bulk inserts and COPY included. The triggers only ever INSERT a
    row carrying a change (+n / -n), which never waits on another transaction's lock;
    ``leads.counts.compact`` folds the rows into one per key from time to time. A
    count is the SUM of the matching rows (``leads.counts``), a few hundred rows
    whatever the number of leads. ``assigned_to_key`` is the agent's id, 0 for
    unassigned leads.
    """

    assigned_to_key = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=LeadStatus.choices)
    lead_type = models.CharField(max_length=16, choices=LeadType.choices)
    n = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["assigned_to_key", "status", "lead_type"], name="leadcount_key")]

    def __str__(self) -> str:
        return f"{self.assigned_to_key}/{self.status}/{self.lead_type}: {self.n:+d}"
