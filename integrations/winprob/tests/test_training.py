"""Training: point-in-time rows, the guard, too little history, versioned records."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.winprob import features, history, scorer, selectors, training
from integrations.winprob.models import ModelStatus, WinModel
from leads.models import Interaction, Lead, StatusChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _row(lead: Lead, now):
    data = features.training_set(Lead.objects.all(), now=now, horizon_days=180)
    [position] = np.flatnonzero(data.frame.lead_pks == lead.pk)
    return data.frame.X[position].copy(), data.frame.snapshot_at[position], data.won[position]


def _old_lead(now, **kwargs) -> Lead:
    """A lead that arrived a year ago: its snapshot and horizon are in the past."""
    lead = LeadFactory(**kwargs)
    created = now - timedelta(days=400)
    Lead.objects.filter(pk=lead.pk).update(created_at=created)
    lead.refresh_from_db()
    return lead


def test_a_future_interaction_does_not_leak_into_the_training_row():
    # Given an old lead, and its training row as of its snapshot
    now = timezone.now()
    lead = _old_lead(now)
    before, snapshot_at, _ = _row(lead, now)
    snapshot = lead.created_at + timedelta(seconds=float(snapshot_at) - lead.created_at.timestamp())

    # When a showing, a reply and a move to "offer" happen one day after the snapshot
    later = snapshot + timedelta(days=1)
    Interaction.objects.create(lead=lead, type="showing", summary="Tour", occurred_at=later)
    Interaction.objects.create(lead=lead, type="email", direction="inbound", summary="Yes!", occurred_at=later)
    StatusChange.objects.create(lead=lead, from_status="new", to_status="offer", changed_at=later)

    # Then the row is unchanged: nothing after the snapshot is known at the snapshot
    after, _, _ = _row(lead, now)
    assert np.array_equal(before, after)

    # While the same reply just before the snapshot does change it (the test can fail)
    Interaction.objects.create(
        lead=lead, type="email", direction="inbound", summary="Hi", occurred_at=snapshot - timedelta(seconds=1)
    )
    changed, _, _ = _row(lead, now)
    assert changed[features.COLUMN["log_replies"]] > before[features.COLUMN["log_replies"]]


def _snapshot(lead: Lead, now):
    _, snapshot_at, _ = _row(lead, now)
    return lead.created_at + timedelta(seconds=float(snapshot_at) - lead.created_at.timestamp())


def _close(lead: Lead, at) -> None:
    StatusChange.objects.create(lead=lead, from_status="offer", to_status="closed", changed_at=at)


def test_the_label_is_a_close_within_the_horizon_after_the_snapshot():
    now = timezone.now()
    soon, late, before = _old_lead(now), _old_lead(now), _old_lead(now)
    _close(soon, _snapshot(soon, now) + timedelta(days=30))
    _close(late, _snapshot(late, now) + timedelta(days=181))
    _close(before, _snapshot(before, now) - timedelta(seconds=1))

    assert _row(soon, now)[2] == 1
    assert _row(late, now)[2] == 0
    # A lead already won at its snapshot is not a row: it was no longer open then
    data = features.training_set(Lead.objects.all(), now=now, horizon_days=180)
    assert before.pk not in data.frame.lead_pks


def test_no_history_gives_no_model_and_says_so():
    record = training.train_model()

    assert record.status == ModelStatus.INSUFFICIENT
    assert record.decision.startswith("No history yet")
    assert selectors.model_in_use() is None


def test_one_class_only_gives_no_model():
    # Every lead in the history went nowhere: nothing tells a win from the rest
    now = timezone.now()
    for _ in range(40):
        _old_lead(now)

    record = training.train_model()

    assert record.status == ModelStatus.INSUFFICIENT
    assert "0 won" in record.decision
    assert record.parameters == {}


def test_a_history_from_the_hidden_process_trains_a_model_that_beats_the_rules(trained):
    model, rules = trained.metrics["model"], trained.metrics["rules"]

    assert trained.version == 1 and trained.status == ModelStatus.IN_USE
    assert model["leads"] == rules["leads"] == trained.holdout_rows  # the same held-out leads
    assert model["auc"] > rules["auc"]
    assert model["calibration_error"] <= trained.metrics["calibration_tolerance"] + model["calibration_noise"]
    assert len(model["deciles"]) == 10 and model["calibration"]
    assert trained.data_from < trained.data_to
    assert trained.parameters["features"] == features.FEATURE_NAMES
    scorer.load(trained.version, trained.parameters)  # loads from JSON alone


def test_a_column_all_null_still_trains():
    # No lead has a market comparison: the budget columns are constant
    history.generate(1500, days=720, seed=3)
    Lead.objects.update(metadata={})

    record = training.train_model()

    assert record.status in (ModelStatus.IN_USE, ModelStatus.REJECTED)
    assert np.all(np.isfinite(record.parameters["coef"]))


def test_a_new_model_that_ranks_no_better_than_the_rules_leaves_the_previous_one_in_use(trained, settings):
    settings.LEAD_WIN_MODEL = {"AUC_MARGIN": 1.0}  # it would have to beat the rules by a whole AUC

    second = training.train_model()

    assert second.version == 2 and second.status == ModelStatus.REJECTED
    assert second.decision.startswith("Not used: on the held-out leads it ranks no better than the rule-based score")
    assert selectors.model_in_use().version == trained.version


def test_a_new_model_off_by_more_than_the_tolerance_is_not_used():
    from integrations.winprob.training import guard

    figures = {"auc": 0.8, "calibration_error": 0.09, "calibration_noise": 0.02, "leads": 5000}
    status, decision = guard(
        {"model": figures, "rules": {"auc": 0.7}}, {"CALIBRATION_TOLERANCE": 0.05, "AUC_MARGIN": 0.0}
    )

    assert status == ModelStatus.REJECTED
    assert decision == (
        "Not used: its chances are off by 9.0% on average on the held-out leads "
        "(tolerance 5.0% + 2.0% for chance on 5000 leads)."
    )
    assert (
        guard(
            {"model": {**figures, "calibration_error": 0.069}, "rules": {"auc": 0.7}},
            {
                "CALIBRATION_TOLERANCE": 0.05,
                "AUC_MARGIN": 0.0,
            },
        )[0]
        == ModelStatus.IN_USE
    )


def test_a_new_model_that_passes_takes_over_and_the_old_one_is_kept():
    history.generate(2500, days=720, seed=7)
    first = training.train_model()
    second = training.train_model()

    assert first.status == second.status == ModelStatus.IN_USE or second.status == ModelStatus.IN_USE
    first.refresh_from_db()
    assert first.status == ModelStatus.PASSED
    assert WinModel.objects.filter(status=ModelStatus.IN_USE).count() == 1


def test_the_command_shows_progress_and_the_figures(trained):
    from io import StringIO

    out = StringIO()
    call_command("train_scoring_model", stdout=out)

    text = out.getvalue()
    assert "[" in text and "100% Saved" in text
    assert "Model v2" in text and "AUC model" in text
    assert "Scored" in text


def test_the_stored_numbers_score_exactly_as_scikit_learn_does():
    # Given a pipeline and calibration fitted as training fits them, on random rows
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, len(features.FEATURE_NAMES)))
    y = (X[:, 0] + rng.normal(size=600) > 0.5).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:400], y[:400])
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid").fit(X[400:], y[400:])

    # When its numbers are stored as JSON and loaded back
    import json

    loaded = scorer.load(1, json.loads(json.dumps(training.parameters_of(pipeline, calibrated))))

    # Then they give scikit-learn's calibrated probabilities
    assert np.allclose(loaded.probability(X), calibrated.predict_proba(X)[:, 1], atol=1e-9)


def test_the_nightly_job_trains_and_scores():
    from integrations import periodic

    assert "train_win_model" in periodic.JOBS
    history.generate(1500, days=720, seed=5)

    periodic.run("train_win_model")  # tasks run in-process in the tests

    assert WinModel.objects.count() == 1
