"""Training: build the point-in-time rows, fit a regularised logistic regression on the
older leads, calibrate it on the next ones, backtest it against the rule-based score on
the newest ones, and keep it (as a new version) in use only when it passes the guard."""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from integrations.scoring.calculator import score_lead
from integrations.scoring.config import scoring_config
from integrations.scoring.selectors import source_conversion_stats_held
from integrations.winprob import backtest, scorer
from integrations.winprob.config import winprob_config
from integrations.winprob.features import FEATURE_NAMES, TrainingSet, training_set
from integrations.winprob.models import ModelStatus, WinModel
from leads.core.selectors import with_lead_details
from leads.models import Lead
from leads.webevents.selectors import WebEngagement, web_engagement_at

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (what is being done, percent done)
STEPS = ["Reading the history", "Fitting", "Calibrating", "Backtesting the model", "Backtesting the rules", "Saved"]


def history_leads():
    """The leads the model learns from: every lead not merged away nor archived."""
    return Lead.objects.filter(merged_into__isnull=True, archived_at__isnull=True)


def train_model(*, now: datetime | None = None, progress: Progress | None = None) -> WinModel:
    """Train, backtest and record a new model version; put it in use if it passes the guard.

    Always returns the new record: ``status`` says whether it is in use, was rejected by
    the guard, or could not be trained (too little history), and ``decision`` says why.
    """
    now = now or timezone.now()
    config = winprob_config()
    step = progress or (lambda what, percent: None)
    started = time.monotonic()
    step(STEPS[0], 0)
    data = training_set(history_leads(), now=now, horizon_days=int(config["HORIZON_DAYS"]))
    won = data.won
    record = WinModel(
        trained_at=now,
        rows=len(won),
        won_rows=int(won.sum()),
        features=FEATURE_NAMES,
    )
    if len(won):
        record.data_from = _when(data.frame.snapshot_at.min())
        record.data_to = _when(data.frame.snapshot_at.max())
    shortage = _shortage(data, config)
    if shortage:
        return _save(record, ModelStatus.INSUFFICIENT, shortage, started, step)

    order = np.argsort(data.frame.snapshot_at, kind="stable")
    holdout_size = max(int(len(order) * float(config["HOLDOUT_SHARE"])), 1)
    earlier, holdout = order[:-holdout_size], order[-holdout_size:]
    calibration_size = max(int(len(earlier) * float(config["CALIBRATION_SHARE"])), 1)
    fit_rows, calibration_rows = earlier[:-calibration_size], earlier[-calibration_size:]
    X, y = data.frame.X, won
    for name, rows in (("fitting", fit_rows), ("calibration", calibration_rows)):
        if len(set(y[rows].tolist())) < 2:
            reason = f"Too little history: the {name} leads are all of one outcome, so there is nothing to learn."
            return _save(record, ModelStatus.INSUFFICIENT, reason, started, step)
    record.train_rows = len(earlier)

    step(STEPS[1], 15)
    pipeline = make_pipeline(
        StandardScaler(), LogisticRegression(C=float(config["C"]), max_iter=1000, solver="lbfgs")
    ).fit(X[fit_rows], y[fit_rows])
    step(STEPS[2], 45)
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid").fit(
        X[calibration_rows], y[calibration_rows]
    )
    record.parameters = parameters_of(pipeline, calibrated)

    step(STEPS[3], 55)
    holdout = holdout[-int(config["HOLDOUT_MAX"]) :]
    record.holdout_rows = len(holdout)
    model_scorer = scorer.load(0, record.parameters)
    model_p = model_scorer.probability(X[holdout])
    step(STEPS[4], 65)
    rules_p = rule_scores(data.frame.lead_pks[holdout], data.frame.snapshot_at[holdout]) / 100.0
    record.metrics = {
        "model": backtest.figures(y[holdout], model_p),
        "rules": backtest.figures(y[holdout], rules_p),
        "holdout_from": _when(data.frame.snapshot_at[holdout].min()).isoformat(),
        "holdout_to": _when(data.frame.snapshot_at[holdout].max()).isoformat(),
        "censored_leads": data.censored_leads,
        "calibration_tolerance": float(config["CALIBRATION_TOLERANCE"]),
        "auc_margin": float(config["AUC_MARGIN"]),
    }
    status, decision = guard(record.metrics, config)
    return _save(record, status, decision, started, step)


def guard(metrics: dict, config: dict) -> tuple[str, str]:
    """In use only if the model ranks the held-out leads better than the rules (AUC) and
    its chances match what happened within the stated tolerance (plus the margin chance
    alone gives on this many held-out leads, ``backtest.calibration_noise``)."""
    model, rules = metrics["model"], metrics["rules"]
    tolerance, margin = float(config["CALIBRATION_TOLERANCE"]), float(config["AUC_MARGIN"])
    if model["auc"] is None or rules["auc"] is None:
        return ModelStatus.REJECTED, "Not used: the held-out leads are all of one outcome, so nothing can be compared."
    if model["auc"] <= rules["auc"] + margin:
        return (
            ModelStatus.REJECTED,
            f"Not used: on the held-out leads it ranks no better than the rule-based score "
            f"(AUC {model['auc']:.3f} against {rules['auc']:.3f}).",
        )
    noise = model.get("calibration_noise") or 0.0
    allowed = f"tolerance {tolerance:.1%} + {noise:.1%} for chance on {model['leads']} leads"
    if model["calibration_error"] > tolerance + noise:
        return (
            ModelStatus.REJECTED,
            f"Not used: its chances are off by {model['calibration_error']:.1%} on average on the held-out leads "
            f"({allowed}).",
        )
    return (
        ModelStatus.IN_USE,
        f"In use: it ranks the held-out leads better than the rule-based score (AUC {model['auc']:.3f} against "
        f"{rules['auc']:.3f}) and its chances are off by {model['calibration_error']:.1%} on average ({allowed}).",
    )


def rule_scores(lead_pks: np.ndarray, snapshot_at: np.ndarray) -> np.ndarray:
    """Today's rule-based score (``integrations.scoring``) of each lead as of its snapshot."""
    at = {int(pk): _when(when) for pk, when in zip(lead_pks, snapshot_at, strict=True)}
    scores: dict[int, int] = {}
    pks = list(at)
    with source_conversion_stats_held():
        for start in range(0, len(pks), 2000):
            chunk = pks[start : start + 2000]
            web = web_engagement_at({pk: at[pk] for pk in chunk}, days=int(scoring_config()["WEB_ACTIVITY_DAYS"]))
            for lead in with_lead_details(Lead.objects.filter(pk__in=chunk)):
                analysis = (lead.metadata or {}).get("market_analysis")
                activity = web.get(lead.pk, WebEngagement())
                scores[lead.pk] = score_lead(lead, market_analysis=analysis, now=at[lead.pk], web=activity).score
    return np.array([scores.get(int(pk), 0) for pk in lead_pks], dtype=np.float64)


def _shortage(data: TrainingSet, config: dict) -> str:
    least = int(config["MIN_CLASS_ROWS"])
    won = int(data.won.sum())
    lost = len(data.won) - won
    if won >= least and lost >= least:
        return ""
    if not len(data.won):
        return (
            "No history yet: no lead has an outcome (won, lost, or open past the horizon). "
            "The rule-based score is used alone."
        )
    return (
        f"Too little history: {won} won and {lost} not won among leads with a known outcome; "
        f"at least {least} of each are needed. The rule-based score is used alone."
    )


def parameters_of(pipeline, calibrated) -> dict:
    """The fitted scaler, regression and sigmoid calibration as plain JSON numbers (``scorer``)."""
    scaler, regression = pipeline.named_steps["standardscaler"], pipeline.named_steps["logisticregression"]
    sigmoid = calibrated.calibrated_classifiers_[0].calibrators[0]
    return {
        "features": FEATURE_NAMES,
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "coef": regression.coef_[0].tolist(),
        "intercept": float(regression.intercept_[0]),
        "calibration": {"a": float(sigmoid.a_), "b": float(sigmoid.b_)},
        "C": float(regression.C),
    }


def _save(record: WinModel, status: str, decision: str, started: float, step: Progress) -> WinModel:
    record.status, record.decision = status, decision
    record.training_seconds = round(time.monotonic() - started, 2)
    with transaction.atomic():
        record.version = (WinModel.objects.aggregate(top=Max("version"))["top"] or 0) + 1
        if status == ModelStatus.IN_USE:
            WinModel.objects.filter(status=ModelStatus.IN_USE).update(status=ModelStatus.PASSED)
            record.activated_at = timezone.now()
        record.save()
    step(STEPS[5], 100)
    logger.info("Trained chance-to-close model v%s: %s", record.version, decision)
    return record


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), tz=UTC)
