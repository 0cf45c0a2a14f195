"""From network outputs to calibrated probabilities, an outlier score and a confidence value."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .encoding import MASK, REL_ERROR


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def mahalanobis_min(emb: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each embedding to its nearest class mean (shared covariance)."""
    diff = np.asarray(emb, np.float64)[:, None, :] - np.asarray(means, np.float64)[None, :, :]
    # (diff @ P) . diff: a BLAS matmul; the three-operand einsum loops in C (20x slower at E = 128)
    d2 = np.einsum("bke,bke->bk", diff @ np.asarray(precision, np.float64), diff)
    return d2.min(axis=1)


def knn_distance(emb: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    """1 - the ``k``-th largest cosine similarity of each embedding to the rows of ``bank``
    (L2-normalised training embeddings): deep k-NN outlier distance (Sun et al. 2022). The
    bundle computes it inside the ONNX graph (output ``knn_distance``); this is its reference."""
    e = np.asarray(emb, np.float64)
    sims = (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)) @ np.asarray(bank, np.float64).T
    return 1.0 - np.sort(sims, axis=1)[:, -k]


# the outlier scores that read the embedding's class means and shared precision matrix; the
# others (``knn+msp``) do not, and their cards need not carry those statistics
MAHALANOBIS_METHODS = ("mahalanobis", "mahalanobis+msp")


def uses_mahalanobis(method: str) -> bool:
    """Whether outlier score ``method`` (a card's ``ood.method_id``) reads the class means and
    precision matrix (training/export.py writes them into the card only then)."""
    return method in MAHALANOBIS_METHODS


@dataclass(frozen=True, eq=False)
class OutlierModel:
    """The card's outlier detector (``card["ood"]``).

    ``mahalanobis``: squared Mahalanobis distance of the embedding to the nearest class mean.
    ``mahalanobis+msp``: z(log distance) + z(-log max calibrated probability), each standardised
    with the mean and spread of in-distribution validation curves (``standardise``: mean and
    std of the log distance, then of -log max probability).
    ``knn+msp``: z(k-NN distance, the network's ``knn_distance`` output) + z(-log max calibrated
    probability), standardised the same way.
    ``msp``: z(-log max calibrated probability) alone (``standardise``'s last two values; the
    first two are unused). Flagged above ``threshold``.

    ``means`` (K, E) and ``precision`` (E, E) are None where the card has none (a ``knn+msp``
    card need not carry them, ``uses_mahalanobis``)."""

    means: np.ndarray | None
    precision: np.ndarray | None
    threshold: float
    method: str = "mahalanobis"
    standardise: tuple[float, float, float, float] | None = None

    @classmethod
    def from_card(cls, ood: dict) -> "OutlierModel":
        """From the card's ``ood`` entry; raises KeyError, TypeError or ValueError when an entry the
        method reads is missing or malformed (bundle.ModelCard turns that into a BundleError)."""
        method = ood.get("method_id", "mahalanobis")
        std = ood.get("standardise")
        has_stats = ood.get("means") is not None or ood.get("precision") is not None
        if uses_mahalanobis(method) or has_stats:
            means, precision = np.asarray(ood["means"], np.float64), np.asarray(ood["precision"], np.float64)
        else:
            means = precision = None
        if method != "mahalanobis" and not std:
            raise KeyError(f"'standardise' (the {method} score needs it)")
        return cls(means, precision, float(ood["threshold"]), method,
                   tuple(float(v) for v in std) if std else None)

    @property
    def uses_mahalanobis(self) -> bool:
        return uses_mahalanobis(self.method)

    def score(self, embedding: np.ndarray, probs: np.ndarray, knn: np.ndarray | None = None) -> np.ndarray:
        """The outlier score per curve; ``knn``: the network's ``knn_distance`` output (``knn+msp``)."""
        if self.method == "msp":
            m_p, s_p = self.standardise[2:]
            return (neg_log_max_prob(probs) - m_p) / s_p
        if self.method == "knn+msp":
            if knn is None:
                raise ValueError("the knn+msp outlier score needs the network's knn_distance output")
            return combined_score(np.asarray(knn, np.float64), probs, self.standardise, log_distance=False)
        d2 = mahalanobis_min(embedding, self.means, self.precision)
        if self.method == "mahalanobis":
            return d2
        return combined_score(d2, probs, self.standardise)

    def excess(self, score: np.ndarray) -> np.ndarray:
        """How far above the threshold, on the score's log scale (negative: inside)."""
        score = np.asarray(score, np.float64)
        if self.method == "mahalanobis":
            return np.log(np.maximum(score, 1e-6) / self.threshold)
        return score - self.threshold


def neg_log_max_prob(probs: np.ndarray) -> np.ndarray:
    """-log of each curve's largest probability (the max-softmax outlier evidence)."""
    return -np.log(np.clip(np.asarray(probs, np.float64).max(axis=1), 1e-12, 1.0))


def combined_score(distance: np.ndarray, probs: np.ndarray, standardise, log_distance: bool = True) -> np.ndarray:
    """z(log distance) (or z(distance)) + z(-log max probability) (``OutlierModel``)."""
    m_d, s_d, m_p, s_p = standardise
    msp = neg_log_max_prob(probs)
    d = np.log(np.maximum(distance, 1e-6)) if log_distance else np.asarray(distance, np.float64)
    return (d - m_d) / s_d + (msp - m_p) / s_p


@dataclass(frozen=True, eq=False)
class Scores:
    """What ``Suggester.score`` returns for a featurized batch of B curves (K classes in the
    bundle's order). Read it by attribute; ``scores["probs"]``, ``scores.get("knn_distance")``,
    ``"structure_probs" in scores`` and ``to_dict()`` keep the mapping of earlier versions (a
    field that is None because the bundle lacks that output is absent from the mapping, except
    ``params`` and ``knn_distance``, which the mapping always held)."""

    probs: np.ndarray                  # (B, K) calibrated probabilities (temperature softmax)
    outlier_score: np.ndarray          # (B,) the card's outlier score (OutlierModel.score)
    outlier: np.ndarray                # (B,) bool, outlier_score above the card's threshold
    confidence: np.ndarray             # (B,) in [0, 1] (confidence)
    family_probs: np.ndarray           # (B, F) shape-family probabilities (sets.SetModel)
    plausible_size: np.ndarray         # (B,) models in each curve's plausible set
    logits: np.ndarray                 # (B, K) raw network outputs
    embedding: np.ndarray              # (B, E)
    params: np.ndarray | None = None   # (B, S) regression head (encoded), None without one
    knn_distance: np.ndarray | None = None     # (B,) the network's k-NN distance, None without one
    structure_probs: np.ndarray | None = None  # (B, 1 + n S(q)) calibrated, ``none`` first
    volfraction: np.ndarray | None = None      # (B,) starting volume fraction S sees

    _ALWAYS = ("probs", "outlier_score", "outlier", "confidence", "family_probs", "plausible_size", "params",
               "logits", "embedding", "knn_distance")
    _OPTIONAL = ("structure_probs", "volfraction")

    def keys(self) -> list[str]:
        return list(self._ALWAYS) + [k for k in self._OPTIONAL if getattr(self, k) is not None]

    def __getitem__(self, key: str):
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def to_dict(self) -> dict:
        """The mapping of earlier versions: {name: array or None} (keys as ``keys()``)."""
        return {k: getattr(self, k) for k in self.keys()}


CONFIDENCE_FEATURES = ("logit_p1", "margin", "outlier_excess", "noise", "coverage")
OUTLIER_CONFIDENCE_CAP = 0.5


def confidence_features(probs: np.ndarray, outlier_excess: np.ndarray, features: np.ndarray) -> np.ndarray:
    """What the confidence combines, per curve (B, 5): logit of the calibrated top-1 probability,
    margin to the second, how far the outlier score lies above its threshold
    (``OutlierModel.excess``), median relative-error channel over the data (signal-to-noise) and
    the fraction of the grid the data cover."""
    p = np.sort(np.asarray(probs, np.float64), axis=1)[:, ::-1]
    p1 = np.clip(p[:, 0], 1e-6, 1 - 1e-6)
    mask = features[:, MASK] > 0
    noise = masked_median(features[:, REL_ERROR], mask, empty=1.0)
    return np.column_stack([np.log(p1 / (1 - p1)), p[:, 0] - p[:, 1], np.asarray(outlier_excess, np.float64),
                            noise, mask.mean(axis=1)])


def masked_median(values: np.ndarray, mask: np.ndarray, empty: float) -> np.ndarray:
    """Row-wise ``np.median(values[b][mask[b]])`` as float64, ``empty`` where a row's mask is
    all False; the same numbers as np.median (the middle value, or the mean of the two middle
    values in the dtype of ``values``) without a Python loop over rows. Values must be finite."""
    n = mask.sum(axis=1)
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    rows = np.arange(len(values))
    lower = ordered[rows, np.maximum((n - 1) // 2, 0)]
    upper = ordered[rows, np.minimum(n // 2, values.shape[1] - 1)]
    middle = (lower + upper) / values.dtype.type(2)
    return np.where(n > 0, middle.astype(np.float64), empty)


def confidence(x: np.ndarray, weights: np.ndarray, outlier: np.ndarray,
               recalibration: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Confidence in [0, 1]: a logistic model of "the top-1 model is right" over
    ``confidence_features`` (weights fitted on held-out validation curves, in the model card),
    mapped through the card's monotone recalibration (isotonic, knots ``(x, y)``) where the card
    has one, and capped at ``OUTLIER_CONFIDENCE_CAP`` for curves flagged as outliers."""
    w = np.asarray(weights, np.float64)
    z = x @ w[:-1] + w[-1]
    c = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    if recalibration is not None:
        c = np.interp(c, *recalibration)
    return np.where(np.asarray(outlier, bool), np.minimum(c, OUTLIER_CONFIDENCE_CAP), c)
