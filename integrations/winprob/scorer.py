"""A trained model as plain numbers, and scoring with it: no scikit-learn, no pickle.

``parameters`` (stored on ``WinModel``): ``features`` (names, in column order), ``mean`` and
``scale`` (the standardisation), ``coef`` and ``intercept`` (the logistic regression, on
standardised features) and ``calibration`` ``{"a", "b"}`` (Platt scaling of the regression's
score ``z``: ``p = 1 / (1 + exp(a * z + b))``, as scikit-learn's sigmoid calibration fits it).
"""

import math
from dataclasses import dataclass

import numpy as np

from integrations.winprob.features import FEATURE_GROUPS, FEATURE_NAMES, describe


class ModelLoadError(Exception):
    """The stored parameters cannot be used; the message says why, in plain words."""


@dataclass(frozen=True)
class Scorer:
    version: int
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    a: float
    b: float

    def logit(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept

    def calibrate(self, z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(np.clip(self.a * z + self.b, -500, 500)))

    def probability(self, X: np.ndarray) -> np.ndarray:
        return self.calibrate(self.logit(X))

    def explain(self, X: np.ndarray, facts: dict[str, np.ndarray], top: int) -> list[list[dict]]:
        """Each row's ``top`` factors: the percentage points its group adds to the chance,
        against the same lead with that group at the team's average, largest first."""
        contributions = ((X - self.mean) / self.scale) * self.coef
        groups = sorted(set(FEATURE_GROUPS))
        by_group = np.stack(
            [contributions[:, [i for i, g in enumerate(FEATURE_GROUPS) if g == group]].sum(axis=1) for group in groups],
            axis=1,
        )
        z = contributions.sum(axis=1) + self.intercept
        p = self.calibrate(z)
        without = self.calibrate(z[:, None] - by_group)
        points = (p[:, None] - without) * 100
        explained = []
        for row in range(len(X)):
            order = np.argsort(-np.abs(points[row]))[:top]
            row_facts = {name: float(values[row]) for name, values in facts.items()}
            factors = []
            for column in order:
                value = round(float(points[row, column]), 1)
                if abs(value) < 0.5:
                    continue
                words = describe(groups[column], X[row], row_facts)
                factors.append({"feature": groups[column], "points": value, "text": f"{value:+.0f} pts: {words}"})
            explained.append(factors)
        return explained


def load(version: int, parameters: object) -> Scorer:
    """The scorer of a stored model; ModelLoadError (with the reason) when its record is
    damaged or was made for other features than this code computes."""
    if not isinstance(parameters, dict) or not parameters:
        raise ModelLoadError("its record holds no parameters")
    if parameters.get("features") != FEATURE_NAMES:
        raise ModelLoadError("it was trained on other features than this version of the product computes")
    try:
        mean = _vector(parameters, "mean")
        scale = _vector(parameters, "scale")
        coef = _vector(parameters, "coef")
        intercept = float(parameters["intercept"])
        a = float(parameters["calibration"]["a"])
        b = float(parameters["calibration"]["b"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"its parameters are incomplete or not numbers ({error})") from None
    if not all(math.isfinite(value) for value in (intercept, a, b)) or np.any(scale <= 0):
        raise ModelLoadError("its parameters are not finite numbers")
    return Scorer(version=version, mean=mean, scale=scale, coef=coef, intercept=intercept, a=a, b=b)


def _vector(parameters: dict, key: str) -> np.ndarray:
    values = np.asarray(parameters[key], dtype=np.float64)
    if values.shape != (len(FEATURE_NAMES),) or not np.all(np.isfinite(values)):
        raise ValueError(f"{key} has the wrong length or a value that is not a number")
    return values
