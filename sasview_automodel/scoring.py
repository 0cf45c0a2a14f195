"""From network outputs to calibrated probabilities, an outlier score and a confidence value."""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def mahalanobis_min(emb: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each embedding to its nearest class mean (shared covariance)."""
    diff = np.asarray(emb, np.float64)[:, None, :] - np.asarray(means, np.float64)[None, :, :]
    d2 = np.einsum("bke,ef,bkf->bk", diff, np.asarray(precision, np.float64), diff)
    return d2.min(axis=1)


def confidence(prob_top1: np.ndarray, outlier_score: np.ndarray, threshold: float) -> np.ndarray:
    """Confidence in [0, 1]: the calibrated top-1 probability, scaled down smoothly once the
    outlier score passes half the threshold and down to 1/3 of it at twice the threshold."""
    ratio = np.asarray(outlier_score, np.float64) / threshold
    damp = np.clip(1.0 - (ratio - 0.5) / 2.25, 1.0 / 3.0, 1.0)
    return np.clip(np.asarray(prob_top1, np.float64) * damp, 0.0, 1.0)
