"""Shape families and plausible sets: answers at the level the data support (issue 25).

* **Family probability**: the sum of the calibrated probabilities of a family's members
  (``catalog.FAMILIES``), recalibrated by one temperature fitted on validation curves (NLL of the
  family label): ``p_F ∝ (sum of members)^(1/T_F)``. T_F = 1 is the raw sum.
* **Plausible set**: the best-ranked models, added in the ranking's order until their
  probabilities reach the card's ``level`` (a model is in the set when the probability ranked
  above it is below ``level``). ``level`` is a split-conformal quantile measured on validation
  curves (training/calibrate_sets.py), so that the set holds the true model on at least 90 % of
  curves drawn like them; always at least one model.

Both constants are in the model card (``families`` and ``plausible``). A card without them still
loads: raw family sums (T_F = 1) and a plain 90 % credible set (``level`` 0.9).
numpy only (the runtime has no torch and no scikit-learn).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog

DEFAULT_LEVEL = 0.9          # credible-set level of a card without a measured one
FAMILY_CERTAIN = 0.9         # the panel says "the family is clear" from this family probability on


def family_probabilities(probs: np.ndarray, members: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(B, F) family probabilities from (B, K) class probabilities and a (K, F) membership matrix:
    the members' sums, raised to 1 / ``temperature`` and renormalised (1: the raw sums)."""
    raw = np.asarray(probs, np.float64) @ np.asarray(members, np.float64)
    if temperature == 1.0:
        return raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-300)
    z = np.log(np.maximum(raw, 1e-300)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def plausible_sizes(probs: np.ndarray, level: float) -> np.ndarray:
    """Number of best-ranked models in each curve's plausible set: 1 + the number of ranks r >= 1
    whose cumulative probability of ranks 0..r-1 is below ``level``."""
    p = -np.sort(-np.asarray(probs, np.float64), axis=1)
    cs = np.cumsum(p, axis=1)
    return 1 + (cs[:, :-1] < level).sum(axis=1)


def mass_above_truth(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Probability ranked above the true class (0 where the true class is first): the score whose
    conformal quantile is the set ``level`` (the true class is in the set iff this is < level)."""
    p = np.asarray(probs, np.float64)
    order = np.argsort(-p, axis=1)
    sorted_p = np.take_along_axis(p, order, axis=1)
    before = np.cumsum(sorted_p, axis=1) - sorted_p
    rank = np.argmax(order == np.asarray(labels)[:, None], axis=1)
    return before[np.arange(len(p)), rank]


@dataclass(frozen=True)
class SetModel:
    """The card's family recalibration and plausible-set level, for the classes of a bundle."""

    classes: tuple[str, ...]
    members: np.ndarray                  # (K, F) membership, catalog.FAMILIES order
    family_temperature: float = 1.0
    level: float = DEFAULT_LEVEL
    measured: bool = False               # the constants came from the card (else the fallback)

    @classmethod
    def from_card(cls, card: dict) -> "SetModel":
        """From the card's ``families`` / ``plausible`` entries; a missing entry, or a family
        temperature fitted for another partition than this catalog's, falls back (T_F = 1, level 0.9)."""
        classes = tuple(card["classes"])
        fam = card.get("families") or {}
        partition = {f.name: list(f.members) for f in catalog.FAMILIES}
        t = float(fam["temperature"]) if fam.get("temperature") and fam.get("partition") == partition else 1.0
        plaus = card.get("plausible") or {}
        level = float(plaus["level"]) if plaus.get("level") is not None else DEFAULT_LEVEL
        return cls(classes, catalog.family_matrix(classes), t, min(max(level, 0.0), 1.0),
                   measured=bool(fam.get("temperature")) and "level" in plaus)

    def family_probs(self, probs: np.ndarray) -> np.ndarray:
        return family_probabilities(probs, self.members, self.family_temperature)

    def sizes(self, probs: np.ndarray) -> np.ndarray:
        return plausible_sizes(probs, self.level)


def _names(models: list[str]) -> str:
    labels = [catalog.get(m).label.lower() if m in catalog.BY_NAME else m for m in models]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def family_note(family_name: str, family_probability: float, plausible: list[str]) -> str:
    """What the panel (and the CLI) says in plain words when the top-1 model is uncertain (more
    than one plausible model); "" when the data single out one model."""
    if len(plausible) <= 1 or not family_name:
        return ""
    families = {catalog.FAMILY_OF.get(m) for m in plausible}
    if families == {family_name} and family_probability >= FAMILY_CERTAIN:
        return (f"The data clearly show {catalog.family(family_name).words} ({family_probability:.0%} sure), "
                f"but cannot tell {_names(plausible)} apart: open each in Fitting and keep the one that fits best.")
    return (f"The data do not decide the shape: {_names(plausible)} all remain plausible. Open each in "
            "Fitting and compare the fits.")
