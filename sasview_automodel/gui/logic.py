"""Qt-free logic of the SasView plugin: everything here is plain Python and numpy.

* ``curve_from_data``: a SasView/sasdata Data1D (duck-typed) -> a validated :class:`Curve`.
* ``find_category``: the Fitting page category of a model, read from SasView's own table (the
  page's dictionary itself is ``Suggestion.to_sasview``'s).
* ``confidence_level``: the colour band a person reads at a glance.
* ``structure_text``: what the panel says about a structure factor S(q).
* ``family_text``: the shape family, the plausible models and, when the top-1 is uncertain, what
  that means in plain words.
"""
from __future__ import annotations

import os
import threading
from typing import Mapping

from ..curve import Curve, curve_from_data as _curve_from_data

#: Environment variable that points the plugin at another model card (tests, development).
CARD_ENV = "SASVIEW_AUTOMODEL_CARD"

# Confidence bands: (lower bound, level name, background colour, text colour).
CONFIDENCE_BANDS = (
    (0.8, "high", "#2e7d32", "#ffffff"),
    (0.5, "medium", "#f9a825", "#000000"),
    (0.0, "low", "#c62828", "#ffffff"),
)


def confidence_level(confidence: float) -> tuple[str, str, str]:
    """(level, background colour, text colour) for a confidence in [0, 1]."""
    for low, level, bg, fg in CONFIDENCE_BANDS:
        if confidence >= low:
            return level, bg, fg
    return CONFIDENCE_BANDS[-1][1:]


def structure_text(structure) -> str:
    """The panel's line about S(q), the sentence with its probability ("concentrated: hard-sphere-like
    interactions suggested (p = 0.87)", "dilute: no structure factor needed (p = 0.93)"), or ""
    when the bundle has no structure-factor head."""
    return "" if structure is None else structure.summary


def family_text(suggestion) -> str:
    """The panel's shape-family line: the family with its probability and the plausible models,
    then, when the top-1 model is uncertain, the plain-words note (sets.family_note); "" for a
    suggestion without a family."""
    if suggestion is None or not getattr(suggestion, "family", ""):
        return ""
    from .. import catalog

    plausible = list(getattr(suggestion, "plausible_models", []) or [])
    names = ", ".join(catalog.get(m).label if m in catalog.BY_NAME else m for m in plausible)
    text = (f"Shape family: {catalog.family(suggestion.family).label} ({suggestion.family_probability:.0%}). "
            f"Plausible models (\u2713, the right one is among them about 9 times in 10): {names}.")
    note = suggestion.family_note
    return text + ("\n" + note if note else "")


def curve_from_data(data, name: str | None = None) -> Curve:
    """A validated Curve from a sasdata Data1D as SasView holds it (raises InputError)."""
    return _curve_from_data(data, name)


def find_category(model: str, master_category_dict: Mapping) -> str | None:
    """The category under which SasView's Fitting page lists ``model`` (None if absent).

    ``master_category_dict`` is ``{category: [[model_name, enabled], ...]}`` in SasView 6;
    entries that are plain names are accepted too. "Plugin Models" and the "Structure Factor"
    list are never returned for a form factor that also appears elsewhere.
    """
    found = []
    for category, models in master_category_dict.items():
        for entry in models or ():
            entry_name = entry[0] if isinstance(entry, (list, tuple)) else entry
            if entry_name == model:
                found.append(category)
    for category in found:
        if category not in ("Plugin Models", "Structure Factor"):
            return category
    return found[0] if found else None


class SuggesterCache:
    """One Suggester per card path for the whole session (the ONNX session is made once).

    ``card_path`` None means: ``$SASVIEW_AUTOMODEL_CARD`` if set, else the shipped bundle.
    Thread-safe: the first call (in a worker thread) loads, later calls reuse.
    """

    def __init__(self, card_path: str | None = None):
        self._card_path = card_path
        self._lock = threading.Lock()
        self._suggester = None

    @property
    def card_path(self) -> str | None:
        return self._card_path or os.environ.get(CARD_ENV) or None

    def get(self):
        with self._lock:
            if self._suggester is None:
                from ..suggest import Suggester
                self._suggester = Suggester(self.card_path, threads=1)
            return self._suggester

    def suggest(self, curve: Curve, fit: bool = True):
        """Classify, then quick-fit the top candidates (on by default in the GUI)."""
        return self.get().suggest_curves([curve], fit=fit)[0]
