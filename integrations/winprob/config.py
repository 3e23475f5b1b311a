"""The model's settings: ``settings.LEAD_WIN_MODEL`` laid over the defaults below."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The question the model answers: does an open lead reach closed within this many days?
    "HORIZON_DAYS": 180,
    # Too little history: fewer won (or fewer not-won) training rows than this, no model.
    "MIN_CLASS_ROWS": 30,
    # The newest share of the rows (by snapshot time) is held out for the backtest; of the
    # rest, the newest share calibrates the probabilities and the older rows fit the model.
    "HOLDOUT_SHARE": 0.2,
    "CALIBRATION_SHARE": 0.25,
    # The rule-based score is computed lead by lead, so the side-by-side comparison uses at
    # most this many of the newest held-out leads (both scores on the same leads).
    "HOLDOUT_MAX": 20000,
    # The guard: a new model is used only if its holdout AUC beats the rule-based score's
    # by at least AUC_MARGIN, and its expected calibration error (mean |predicted - observed|
    # over ten bins, weighted by leads) is at most CALIBRATION_TOLERANCE plus the error chance
    # alone would give a perfectly calibrated model on that many leads (1.96 standard errors
    # per bin, weighted by leads: about half a point on 10,000 held-out leads).
    "AUC_MARGIN": 0.0,
    "CALIBRATION_TOLERANCE": 0.05,
    # L2 regularisation strength of the logistic regression (scikit-learn's C: smaller is stronger).
    "C": 1.0,
    # How many factors each prediction explains.
    "TOP_FACTORS": 4,
    # Leads scored per batch (one feature query per batch).
    "PREDICT_BATCH": 2000,
}


def winprob_config() -> dict[str, Any]:
    configured: dict[str, Any] = getattr(settings, "LEAD_WIN_MODEL", None) or {}
    return {**DEFAULTS, **configured}
