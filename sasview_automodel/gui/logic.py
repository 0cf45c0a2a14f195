"""Qt-free logic of the SasView plugin: everything here is plain Python and numpy.

* ``curve_from_data``: a SasView/sasdata Data1D (duck-typed) -> a validated :class:`Curve`.
* ``fitting_line_dict``: the ``updateFromParameters`` dictionary (SasView's project/clipboard
  format) for a model, its category and optional starting parameters and polydispersity.
* ``find_category``: the Fitting page category of a model, read from SasView's own table.
* ``confidence_level``: the colour band a person reads at a glance.
"""
from __future__ import annotations

import os
import threading
from typing import Mapping

import numpy as np

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


def _fmt(x) -> str:
    return repr(float(x)) if isinstance(x, (int, float, np.floating, np.integer)) else str(x)


def fitting_line_dict(model: str, category: str, parameters: Mapping | None = None,
                      polydispersity: Mapping | None = None, fixed: tuple[str, ...] = ()) -> dict:
    """The ``updateFromParameters`` dictionary for a Fitting page (values as strings).

    ``parameters``: ``{name: value}`` or ``{name: (value, min, max)}``; each row becomes
    ``[checked, value, min, max]`` (checked = "True" unless the name is in ``fixed``).
    ``polydispersity``: ``{name: width}`` or ``{name: {"width": w, "function": "gaussian",
    "npts": 35, "nsigmas": 3}}``, written as ``"<name>.width"`` rows with
    ``polydisperse_params: ["True"]``. ``fitpage_structure: ["None"]`` is always sent (SasView
    6.2 raises KeyError without it).
    """
    line = {
        "fitpage_category": [category],
        "fitpage_model": [model],
        "fitpage_structure": ["None"],
        "model_name": [model],
    }
    for name, spec in (parameters or {}).items():
        if isinstance(spec, (list, tuple)):
            value, lo, hi = (list(spec) + ["-inf", "inf"])[:3]
        else:
            value, lo, hi = spec, "-inf", "inf"
        line[str(name)] = [str(name not in fixed), _fmt(value), _fmt(lo), _fmt(hi)]
    if polydispersity:
        line["polydisperse_params"] = ["True"]
        for name, spec in polydispersity.items():
            if not isinstance(spec, Mapping):
                spec = {"width": spec}
            line[f"{name}.width"] = ["True", _fmt(spec["width"]), "0.0", "inf",
                                    str(int(spec.get("npts", 35))), _fmt(float(spec.get("nsigmas", 3.0))),
                                    str(spec.get("function", "gaussian"))]
    return line


def split_parameters(parameters: Mapping | None, model: str) -> tuple[dict, dict]:
    """Split a Suggestion's parameters for ``model`` into (values, polydispersity).

    Accepts ``{model: {...}}`` or a flat ``{...}``; keys ``<p>_pd`` (width) and
    ``<p>_pd_type`` (function) become polydispersity, ``<p>_pd_n``/``_pd_nsigma`` its options.
    Parameters are empty in this version (a later issue adds starting values).
    """
    if not parameters:
        return {}, {}
    pars = parameters.get(model, parameters) if isinstance(parameters.get(model, None), Mapping) else parameters
    values, pd = {}, {}
    for key, val in pars.items():
        if not isinstance(key, str) or isinstance(val, Mapping):
            continue
        if key.endswith("_pd"):
            pd.setdefault(key[:-3], {})["width"] = val
        elif key.endswith("_pd_type"):
            pd.setdefault(key[:-8], {})["function"] = val
        elif key.endswith("_pd_n"):
            pd.setdefault(key[:-5], {})["npts"] = val
        elif key.endswith("_pd_nsigma"):
            pd.setdefault(key[:-10], {})["nsigmas"] = val
        elif isinstance(val, (int, float, np.floating, np.integer, list, tuple)):
            values[key] = val
    pd = {k: v for k, v in pd.items() if "width" in v}
    return values, pd


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

    def suggest(self, curve: Curve):
        return self.get().suggest_curves([curve])[0]
