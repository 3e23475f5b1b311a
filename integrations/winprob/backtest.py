"""The backtest's figures for one score on the held-out leads: AUC, Brier score,
calibration by bin and win rate and lift by decile (scikit-learn's metrics)."""

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

BINS = 10


def figures(won: np.ndarray, probability: np.ndarray) -> dict:
    """``won`` (0/1) against ``probability`` (0..1) on the same leads."""
    won = np.asarray(won, dtype=int)
    probability = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    both_classes = 0 < won.sum() < len(won)
    return {
        "leads": len(won),
        "won": int(won.sum()),
        "auc": round(float(roc_auc_score(won, probability)), 4) if both_classes else None,
        "brier": round(float(brier_score_loss(won, probability)), 4) if len(won) else None,
        "calibration": calibration(won, probability),
        "calibration_error": calibration_error(won, probability),
        "calibration_noise": calibration_noise(probability),
        "deciles": deciles(won, probability),
    }


def calibration(won: np.ndarray, probability: np.ndarray) -> list[dict]:
    """Ten equal bins of predicted chance: mean predicted vs observed win rate, per bin with leads."""
    edges = np.linspace(0, 1, BINS + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, BINS - 1)
    rows = []
    for bin_index in range(BINS):
        mask = which == bin_index
        if mask.any():
            rows.append(
                {
                    "bin": f"{edges[bin_index]:.0%}-{edges[bin_index + 1]:.0%}",
                    "predicted": round(float(probability[mask].mean()), 4),
                    "observed": round(float(won[mask].mean()), 4),
                    "leads": int(mask.sum()),
                }
            )
    return rows


def calibration_error(won: np.ndarray, probability: np.ndarray) -> float | None:
    """Expected calibration error: |mean predicted - observed| per bin, weighted by leads."""
    if not len(won):
        return None
    rows = calibration(won, probability)
    return round(sum(abs(row["predicted"] - row["observed"]) * row["leads"] for row in rows) / len(won), 4)


def calibration_noise(probability: np.ndarray) -> float | None:
    """How far a perfectly calibrated score's bands would stray from their stated chance by
    chance alone on this many leads: 1.96 standard errors per band, weighted by leads. The
    guard allows it on top of its tolerance, so a small held-out set is not mistaken for a
    badly calibrated model."""
    if not len(probability):
        return None
    edges = np.linspace(0, 1, BINS + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, BINS - 1)
    total = 0.0
    for bin_index in range(BINS):
        mask = which == bin_index
        count = int(mask.sum())
        if count:
            mean = float(probability[mask].mean())
            total += count * 1.96 * (mean * (1 - mean) / count) ** 0.5
    return round(total / len(probability), 4)


def deciles(won: np.ndarray, probability: np.ndarray) -> list[dict]:
    """Leads ranked by the score, best first, in ten groups: win rate and lift over the base rate."""
    if not len(won):
        return []
    base = won.mean()
    order = np.argsort(-probability, kind="stable")
    rows = []
    for number, group in enumerate(np.array_split(order, BINS), start=1):
        if not len(group):
            continue
        rate = float(won[group].mean())
        rows.append(
            {
                "decile": number,
                "leads": len(group),
                "win_rate": round(rate, 4),
                "lift": round(rate / base, 2) if base > 0 else None,
            }
        )
    return rows
