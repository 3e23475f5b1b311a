"""Writes: score leads with the model in use (never training), and put a model back in use.

Scoring reads the model's stored numbers (``scorer``); a record that cannot be loaded gives
every lead ``probability = None`` with the reason, never an error page.
"""

import hashlib
import json
import logging
from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils import timezone

from integrations.winprob import scorer, selectors
from integrations.winprob.config import winprob_config
from integrations.winprob.features import current_frame
from integrations.winprob.models import ModelStatus, WinModel, WinPrediction
from leads.errors import Conflict, NotFound
from leads.models import Lead, User

logger = logging.getLogger(__name__)

_loaded: dict[tuple[int, int, str], scorer.Scorer] = {}
NO_MODEL = "No model in use yet: {decision}"
CLOSED_REASON = "The lead is closed or lost: no chance to estimate."


def scorer_in_use() -> tuple[scorer.Scorer | None, WinModel | None, str]:
    """(scorer, its record, "") for the model in use, or (None, record or None, why not)."""
    model = selectors.model_in_use()
    if model is None:
        latest = selectors.latest_model()
        decision = latest.decision if latest else "the model has not been trained yet."
        return None, latest, NO_MODEL.format(decision=decision)[:300]
    # Keyed by the parameters too: an edited (or damaged) record is loaded again.
    key = (model.pk, model.version, hashlib.sha256(json.dumps(model.parameters, sort_keys=True).encode()).hexdigest())
    if key not in _loaded:
        try:
            _loaded[key] = scorer.load(model.version, model.parameters)
        except scorer.ModelLoadError as error:
            logger.error("Chance-to-close model v%s cannot be loaded: %s", model.version, error)
            return None, model, f"Model v{model.version} could not be loaded: {error}."[:300]
    return _loaded[key], model, ""


def predict_leads(*, lead_pks: list[int], now: datetime | None = None) -> int:
    """Score these leads with the model in use and store their chance (one upsert).
    Leads closed or lost get none, with the reason. Returns how many were written."""
    now = now or timezone.now()
    leads = Lead.objects.filter(pk__in=lead_pks)
    open_pks = set(selectors.open_leads().filter(pk__in=lead_pks).values_list("pk", flat=True))
    rows = [
        WinPrediction(lead_id=pk, probability=None, reason=CLOSED_REASON, factors=[], computed_at=now)
        for pk in leads.exclude(pk__in=open_pks).values_list("pk", flat=True)
    ]
    rows += _score(sorted(open_pks), now)
    _upsert(rows)
    return len(rows)


def predict_open_leads(*, now: datetime | None = None) -> int:
    """Score every open lead, in batches by id (after training or a rollback). Returns the count."""
    now = now or timezone.now()
    batch = int(winprob_config()["PREDICT_BATCH"])
    written, after = 0, 0
    while True:
        pks = list(selectors.open_leads().filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
        if not pks:
            return written
        rows = _score(pks, now)
        _upsert(rows)
        written += len(rows)
        after = pks[-1]


def _score(pks: list[int], now: datetime) -> list[WinPrediction]:
    if not pks:
        return []
    model_scorer, model, reason = scorer_in_use()
    if model_scorer is None:
        version = model.version if model is not None and model.status == ModelStatus.IN_USE else None
        return [
            WinPrediction(
                lead_id=pk, model_version=version, probability=None, reason=reason, factors=[], computed_at=now
            )
            for pk in pks
        ]
    frame = current_frame(Lead.objects.filter(pk__in=pks), now=now)
    probability = model_scorer.probability(frame.X)
    factors = model_scorer.explain(frame.X, frame.facts, int(winprob_config()["TOP_FACTORS"]))
    return [
        WinPrediction(
            lead_id=int(pk),
            model_version=model_scorer.version,
            probability=round(float(p), 4) if np.isfinite(p) else None,
            reason="" if np.isfinite(p) else "The model gave no number for this lead.",
            factors=lead_factors,
            computed_at=now,
        )
        for pk, p, lead_factors in zip(frame.lead_pks, probability, factors, strict=True)
    ]


def _upsert(rows: list[WinPrediction]) -> None:
    if rows:
        WinPrediction.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["lead"],
            update_fields=["model_version", "probability", "reason", "factors", "computed_at"],
        )


def model_activate(*, version: int, user: User) -> WinModel:
    """Put a kept model back in use (a manager's rollback). Only a model that passed the
    guard and loads can be used; the one in use steps aside. Scoring follows in a task."""
    with transaction.atomic():
        model = WinModel.objects.select_for_update().filter(version=version).first()
        if model is None:
            raise NotFound("No such model version.")
        if model.status == ModelStatus.IN_USE:
            raise Conflict(f"Model v{version} is already in use.")
        if model.status != ModelStatus.PASSED:
            raise Conflict(f"Model v{version} did not pass the guard ({model.get_status_display().lower()}).")
        try:
            scorer.load(model.version, model.parameters)
        except scorer.ModelLoadError as error:
            raise Conflict(f"Model v{version} could not be loaded: {error}.") from None
        WinModel.objects.filter(status=ModelStatus.IN_USE).update(status=ModelStatus.PASSED)
        model.status, model.activated_at, model.activated_by = ModelStatus.IN_USE, timezone.now(), user
        model.save(update_fields=["status", "activated_at", "activated_by"])
    return model
