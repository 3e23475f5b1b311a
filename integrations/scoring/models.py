"""When each lead was last scored, so the periodic task knows what has gone stale."""

from django.db import models

from leads.models import Lead


class ScoreRecord(models.Model):
    """The last score written to ``Lead.score``: when, for which version, per axis."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="score_record")
    scored_at = models.DateTimeField(db_index=True)
    scored_version = models.PositiveIntegerField()
    fit = models.PositiveSmallIntegerField()
    engagement = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"Score of lead {self.lead_id} at {self.scored_at:%Y-%m-%d %H:%M}"
