"""Evaluation metrics of the reports (training/ood.py, evaluate.py, stress.py, calibrate_sets.py).

One module, library code where a library defines the metric:

* outlier detection: ``auroc`` (scikit-learn's ``roc_auc_score``), ``fpr_at_tpr`` (numpy's
  quantile) and the ``energy`` baseline score (scipy's ``logsumexp``). Outlier scores follow the
  runtime's sign convention: higher = stranger; ``score_in`` holds in-distribution curves,
  ``score_out`` outliers;
* calibration: ``ece_of_confidence`` (a stated confidence against 0/1 correctness),
  ``ece_of_probs`` (the top-1 probability of class probabilities against the true labels) and
  ``brier`` (multi-class Brier score). ECE has no scikit-learn function; it is the usual 15-bin
  equal-width one, written with numpy here and nowhere else.

Training-side only (scikit-learn and scipy are "train" extras): the runtime package
``sasview_automodel`` does not import this module.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

ECE_BINS = 15


# -- outlier detection ---------------------------------------------------------------------------
def auroc(score_in: np.ndarray, score_out: np.ndarray) -> float:
    """P(an outlier scores higher than an in-distribution curve), ties counted half (the area under
    the ROC curve with outliers as the positive class). NaN where either set is empty."""
    score_in, score_out = np.ravel(score_in), np.ravel(score_out)
    if score_in.size == 0 or score_out.size == 0:
        return float("nan")
    y = np.concatenate([np.zeros(score_in.size, np.int8), np.ones(score_out.size, np.int8)])
    return float(roc_auc_score(y, np.concatenate([score_in, score_out])))


def fpr_at_tpr(score_in: np.ndarray, score_out: np.ndarray, tpr: float = 0.95) -> float:
    """Fraction of outliers accepted when ``tpr`` of in-distribution curves are accepted: the
    threshold is numpy's (linearly interpolated) ``tpr`` quantile of ``score_in``, a curve is
    accepted where its score is at or below it."""
    thr = np.quantile(score_in, tpr)
    return float(np.mean(np.asarray(score_out) <= thr))


def energy(logits: np.ndarray) -> np.ndarray:
    """Energy score of each row of logits (B, K), -logsumexp (Liu et al. 2020): higher = stranger."""
    return -logsumexp(np.asarray(logits, np.float64), axis=1)


# -- calibration ---------------------------------------------------------------------------------
def ece_of_confidence(conf: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of a confidence ``conf`` (B,) against ``correct`` (B,), 0/1 or bool.

    ``bins`` equal-width bins (lo, hi] on [0, 1]; sum over bins of (share of all curves in the bin)
    x |mean confidence - accuracy| in the bin. A confidence of exactly 0 (or outside [0, 1]) is in
    no bin but counts in the total."""
    conf = np.asarray(conf, np.float64)
    correct = np.asarray(correct, np.float64)
    edges = np.linspace(0, 1, bins + 1)
    # bin b holds edges[b] < conf <= edges[b + 1]: searchsorted(side="left") returns b + 1 there
    which = np.searchsorted(edges, conf, side="left") - 1
    total = 0.0
    for b in np.unique(which[(which >= 0) & (which < bins)]):
        m = which == b
        total += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(total)


def ece_of_probs(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the top-1 probability of ``probs`` (B, K) against whether the top-1 class is ``labels`` (B,)."""
    probs = np.asarray(probs)
    return ece_of_confidence(probs.max(1), probs.argmax(1) == np.asarray(labels), bins)


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean over curves of the squared distance between ``probs`` (B, K) and
    the one-hot true label (range 0 to 2; not halved)."""
    probs = np.asarray(probs)
    onehot = np.eye(probs.shape[1])[np.asarray(labels)]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))
