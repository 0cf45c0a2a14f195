"""Export-time calibration of the confidence value (training/export.py), on validation curves.

The runtime only evaluates what these fit (``sasview_automodel.scoring.confidence``: a logistic
model of P(top-1 correct) whose output is mapped through isotonic knots with ``np.interp``).
"""
from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Weights (features..., bias) of an L2-regularised logistic regression of ``y`` on ``x``
    (penalty ``l2 / 2 * |w|^2`` on the feature weights, none on the bias)."""
    model = LogisticRegression(C=1.0 / l2, tol=1e-10, max_iter=1000).fit(np.asarray(x, np.float64), np.asarray(y) > 0.5)
    return np.r_[model.coef_[0], model.intercept_[0]]


def fit_isotonic(x: np.ndarray, y: np.ndarray, knots: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Monotone (non-decreasing) map from scores ``x`` to outcome rates ``y`` (isotonic regression),
    returned as at most ``knots`` (x, y) points, increasing in x, for ``np.interp``."""
    xs = np.sort(np.asarray(x, np.float64))
    fitted = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(x, y).predict(xs)
    picks = np.unique(np.linspace(0, len(xs) - 1, knots).round().astype(int))
    kx, first = np.unique(xs[picks], return_index=True)
    return kx, np.maximum.accumulate(fitted[picks][first])
