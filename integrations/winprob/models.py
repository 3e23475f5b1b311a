"""The chance-to-close models (one versioned record per training run) and each open
lead's latest prediction."""

from django.db import models
from django.db.models import Q

from leads.models import Lead, User


class ModelStatus(models.TextChoices):
    IN_USE = "in_use", "In use"
    PASSED = "passed", "Passed the guard, not in use"
    REJECTED = "rejected", "Rejected by the guard"
    INSUFFICIENT = "insufficient", "Too little history"


class WinModel(models.Model):
    """One training run: when, on what data, its backtest figures and its parameters.

    ``parameters`` holds everything scoring needs as plain JSON (feature names, the
    scaler's means and scales, the coefficients, the intercept and the calibration's
    two numbers), so loading a model needs no pickle. At most one model is in use.
    """

    version = models.PositiveIntegerField(unique=True)
    trained_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ModelStatus.choices)
    # Why it is (or is not) in use, in plain words, for the managers' page.
    decision = models.TextField(blank=True)
    data_from = models.DateTimeField(null=True, blank=True)
    data_to = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)
    won_rows = models.PositiveIntegerField(default=0)
    train_rows = models.PositiveIntegerField(default=0)
    holdout_rows = models.PositiveIntegerField(default=0)
    # {"model": {...}, "rules": {...}, "holdout_from", "holdout_to"}: backtest.evaluate's figures.
    metrics = models.JSONField(default=dict, blank=True)
    features = models.JSONField(default=list, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    training_seconds = models.FloatField(default=0)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="in_use"), name="winmodel_one_in_use"),
        ]

    def __str__(self) -> str:
        return f"Model v{self.version} ({self.get_status_display()})"


class WinPrediction(models.Model):
    """A lead's latest chance to close, read with the lead in the same query (a join)."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="win_prediction")
    model_version = models.PositiveIntegerField(null=True, blank=True)
    # 0..1; null when there is none, with the reason.
    probability = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    factors = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Chance of lead {self.lead_id}: {self.probability}"
