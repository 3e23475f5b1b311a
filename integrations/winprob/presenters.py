"""A model record's backtest as the page shows it: the side-by-side figures, the chart
series (calibration, win rate by decile) and their tables."""

from datetime import datetime

from integrations.winprob.models import WinModel


def report(model: WinModel) -> dict | None:
    """None when the record has no backtest (too little history)."""
    metrics = model.metrics or {}
    ours, rules = metrics.get("model"), metrics.get("rules")
    if not ours or not rules:
        return None
    deciles = []
    for mine, theirs in zip(ours.get("deciles", []), rules.get("deciles", []), strict=False):
        deciles.append(
            {
                "decile": mine["decile"],
                "leads": mine["leads"],
                "model": mine,
                "rules": theirs,
                "model_rate": _percent(mine["win_rate"]),
                "rules_rate": _percent(theirs["win_rate"]),
                "model_lift": _lift(mine["lift"]),
                "rules_lift": _lift(theirs["lift"]),
            }
        )
    figures = [
        ("AUC", "auc", "How well it ranks won leads above the others: 0.5 is chance, 1 is perfect.", _plain),
        (
            "Brier score",
            "brier",
            "Mean squared error of the chance (lower is better); the rule-based score is read as score / 100.",
            _plain,
        ),
        (
            "Calibration error",
            "calibration_error",
            "How far the stated chances are from what happened, on average (the guard allows "
            f"{_percent(metrics.get('calibration_tolerance'))} + {_percent(ours.get('calibration_noise'))} "
            f"that chance alone gives on {ours.get('leads')} leads).",
            _percent,
        ),
    ]
    rows = [
        {"name": name, "model": shown(ours.get(key)), "rules": shown(rules.get(key)), "meaning": meaning}
        for name, key, meaning, shown in figures
    ]
    if deciles:
        rows.append(
            {
                "name": "Top decile win rate",
                "model": _percent(deciles[0]["model"]["win_rate"]),
                "rules": _percent(deciles[0]["rules"]["win_rate"]),
                "meaning": "Win rate of the tenth of leads each score ranks highest.",
            }
        )
    return {
        "figures": rows,
        "model": ours,
        "rules": rules,
        "holdout_from": _datetime(metrics.get("holdout_from")),
        "holdout_to": _datetime(metrics.get("holdout_to")),
        "tolerance": metrics.get("calibration_tolerance"),
        "censored": metrics.get("censored_leads"),
        "deciles": deciles,
        "decile_chart": {
            "labels": [f"{row['decile']}" for row in deciles],
            "datasets": [
                {"label": "Model: win rate (%)", "data": [_pct(row["model"]["win_rate"]) for row in deciles]},
                {
                    "label": "Rule-based score: win rate (%)",
                    "data": [_pct(row["rules"]["win_rate"]) for row in deciles],
                },
            ],
        },
        "calibration_chart": {
            "model": [{"x": _pct(row["predicted"]), "y": _pct(row["observed"])} for row in ours["calibration"]],
            "rules": [{"x": _pct(row["predicted"]), "y": _pct(row["observed"])} for row in rules["calibration"]],
        },
        "calibration_rows": _calibration_rows(ours["calibration"], rules["calibration"]),
    }


def _plain(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _datetime(value):
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _calibration_rows(ours: list[dict], rules: list[dict]) -> list[dict]:
    theirs = {row["bin"]: row for row in rules}
    mine = {row["bin"]: row for row in ours}
    return [
        {"bin": name, "model": mine.get(name), "rules": theirs.get(name)} for name in dict.fromkeys([*mine, *theirs])
    ]


def _lift(value) -> str:
    return "—" if value is None else f"{value:.2f}\u00d7"
