"""The public API: ``Suggester().suggest(q, intensity) -> Suggestion``.

Results flow one way: ``Suggester.suggest*`` returns finished ``Suggestion`` objects (frozen: a
step that changes an answer makes a new one); ``refine(suggestion, curve)`` is the quick-fit step,
a new Suggestion with refined parameters and the fit evidence (``suggest(..., fit=True)`` calls
it); ``Suggestion.to_sasview(model)`` is the one producer of SasView's Fitting-page dictionary.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np

from . import catalog, grid, scoring, sets
from .bundle import ModelBundle, ModelCard
from .curve import Curve, load_file, make_curve
from .encoding import decode_volfraction
from .errors import InputError


def floor6(p: float) -> float:
    """A probability rounded down to 6 decimals: a rounded distribution still sums to at most 1."""
    return float(np.floor(float(p) * 1e6) / 1e6)

PARAMETERS_UNCHECKED = ("starting parameters come from the network's regression head and are not yet "
                        "checked by a fit")
PARAMETERS_PENDING = "this model bundle has no regression head: 'parameters' is empty"
N_CANDIDATE_PARAMETERS = 5  # as many as the SasView panel lists
ONNX_BATCH = 128  # curves per onnxruntime call
STRUCTURE_NEEDED = 0.5  # a structure factor is suggested when P(some S(q)) reaches this
FIT_TOP = 3             # candidates quick-fitted with fit=True
FIT_BUDGET = 0.3        # seconds per candidate's quick fit (kernel compilation excluded)


def structure_summary(sentence: str, probability: float) -> str:
    """One line for people (GUI, CLI) from a structure-factor sentence and its probability."""
    return f"{sentence} (p = {probability:.2f})"


@dataclass(frozen=True)
class StructureFactorSuggestion:
    """Whether the curve needs a structure factor S(q), and which (None: dilute is enough)."""

    name: str | None                    # sasmodels name (catalog.STRUCTURE_FACTORS) or None
    probability: float                  # calibrated probability of that answer
    p_needed: float                     # P(some structure factor) = 1 - P(none)
    probabilities: dict = field(default_factory=dict)  # {"none" | sasmodels name: probability}
    volfraction: float | None = None    # starting volume fraction S sees (P@S's volfraction for solid bodies)
    radius_effective_mode: str | None = None  # sasmodels' choice for the suggested form factor

    @property
    def label(self) -> str:
        return catalog.structure_factor(self.name).label if self.name else "none (dilute)"

    @property
    def summary(self) -> str:
        """The sentence with its probability, e.g. "concentrated: ... suggested (p = 0.87)"."""
        return structure_summary(self.sentence, self.probability)

    @property
    def sentence(self) -> str:
        """What the GUI and CLI say, e.g. "concentrated: hard-sphere-like interactions suggested"."""
        if self.name is None:
            return "dilute: no structure factor needed"
        return f"concentrated: {catalog.structure_factor(self.name).interactions} suggested"

    def to_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "probability": round(float(self.probability), 6),
                "p_needed": round(float(self.p_needed), 6),
                "probabilities": {k: floor6(v) for k, v in self.probabilities.items()},
                "volfraction": None if self.volfraction is None else float(f"{self.volfraction:.4g}"),
                "radius_effective_mode": self.radius_effective_mode, "sentence": self.sentence}


@dataclass(frozen=True)
class Suggestion:
    """What the classifier says about one curve. Plain data, frozen (``refine`` makes a new one);
    ``to_dict()`` is JSON-ready, ``to_sasview(model)`` SasView's Fitting-page dictionary."""

    ranking: list[tuple[str, float]]     # (sasmodels name, calibrated probability), best first
    confidence: float                    # in [0, 1], see scoring.confidence
    outlier: bool                        # unlike anything the classifier was trained on
    outlier_score: float                 # the card's outlier score (scoring.OutlierModel); outlier above the threshold
    outlier_threshold: float
    parameters: dict = field(default_factory=dict)   # starting values of the best model (sasmodels names)
    warnings: list[str] = field(default_factory=list)
    candidate_parameters: dict = field(default_factory=dict)  # {model: {param: value}} for the top candidates
    fits: dict = field(default_factory=dict)         # {model: FitResult} when a quick fit ran (refine)
    fit_ranking: list = field(default_factory=list)  # [(model, weight)] fit evidence, reported, not a re-rank
    name: str = "curve"
    source: str | None = None
    entry: int = 0
    reason: str = ""
    structure_factor: StructureFactorSuggestion | None = None  # None: the bundle has no structure head
    family: str = ""                     # shape family of catalog.FAMILIES (the most probable one)
    family_probability: float = 0.0      # its calibrated probability (sets.SetModel)
    plausible_models: list[str] = field(default_factory=list)  # the plausible set, best first (sets.py)
    q_unit_used: str = "1/A"             # the unit the input q was read in (curve.Curve.q_unit_used)

    @property
    def family_note(self) -> str:
        """Plain words when the top-1 is uncertain (several plausible models), else ""."""
        return sets.family_note(self.family, self.family_probability, self.plausible_models)

    @property
    def best(self) -> str:
        """The suggested model: the classifier's first. The quick fit refines parameters and
        reports its evidence (``fit_ranking``) but does not re-rank: on held-out curves, ranking
        by quick-fit BIC lowered top-1 accuracy (docs/evaluation.md)."""
        return self.ranking[0][0]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return self.ranking[:k]

    def fitting_model(self, model: str | None = None) -> str:
        """The model a Fitting page set up by ``to_sasview(model)`` shows: ``model`` (default: the
        best), or ``model@S`` when a structure factor is suggested (e.g. "cylinder@hardsphere")."""
        model = model or self.best
        sf = self.structure_factor
        return f"{model}@{sf.name}" if sf is not None and sf.name else model

    def to_sasview(self, model: str | None = None, category: str | None = None) -> dict:
        """SasView's ``updateFromParameters`` dictionary for ``model`` (default: the best), the one
        producer of it (the GUI sends it unchanged): ``fitpage_category``, ``fitpage_model``,
        ``fitpage_structure`` (the suggested S(q) name, "None" when dilute), the starting
        parameters with their bounds and polydispersity rows, and the S(q) rows when a structure
        factor is suggested (``structure_for``: volfraction, radius_effective_mode and
        structure_factor_mode as choice indices, ...). ``category`` defaults to the one SasView
        derives from sasmodels (inside SasView, pass the page's own)."""
        from .sasview_format import fitting_line_dict, parameter_bounds, sasview_category, split_parameters

        model = model or self.best
        pars = self.candidate_parameters.get(model) or (self.parameters if model == self.best else {})
        values, pd = split_parameters(pars, model)
        limits = parameter_bounds(model)
        values = {k: (v, *limits.get(k, ("-inf", "inf"))) for k, v in values.items()}
        structure = self.structure_for(model)
        return fitting_line_dict(model, category or sasview_category(model), values, pd,
                                 structure=structure[0] if structure else None,
                                 structure_parameters=structure[1] if structure else None)

    def structure_for(self, model: str | None = None) -> tuple[str, dict] | None:
        """(S(q) name, its Fitting-page rows) for ``model@S``, or None when no structure factor is
        suggested. Values come from ``model``'s quick fit of the product when it ran, else from the
        suggestion (volfraction) and the catalog (sasview_format.structure_rows)."""
        from .sasview_format import structure_rows

        sf = self.structure_factor
        if sf is None or not sf.name:
            return None
        model = model or self.best
        fit = self.fits.get(model)
        fitted = dict(fit.structure_parameters) if fit is not None and fit.structure_factor == sf.name else {}
        volfraction = fitted.pop("volfraction", sf.volfraction)
        return sf.name, structure_rows(model, sf.name, volfraction, fitted)

    def sasview_paste(self, model: str | None = None) -> str:
        """The ``sasview_parameter_values:`` text for Edit > Paste in a SasView fit page."""
        from .sasview_format import paste_string
        return paste_string(self.to_sasview(model))

    def to_dict(self, top: int | None = None) -> dict:
        ranking = self.ranking if top is None else self.ranking[:top]
        return {
            "name": self.name,
            "file": self.source,
            "entry": self.entry,
            "ranking": [{"model": m, "probability": floor6(p),
                         "label": catalog.get(m).label} for m, p in ranking],
            "confidence": round(float(self.confidence), 6),
            "outlier": bool(self.outlier),
            "outlier_score": round(float(self.outlier_score), 4),
            "outlier_threshold": round(float(self.outlier_threshold), 4),
            "reason": self.reason,
            "parameters": dict(self.parameters),
            "candidate_parameters": {m: dict(v) for m, v in self.candidate_parameters.items()},
            "fit": ({"ranking": [{"model": m, "weight": round(w, 6)} for m, w in self.fit_ranking],
                     "candidates": {m: f.to_dict() for m, f in self.fits.items()}} if self.fits else None),
            "structure_factor": self.structure_factor.to_dict() if self.structure_factor else None,
            "family": self.family,
            "family_probability": round(float(self.family_probability), 6),
            "plausible_models": list(self.plausible_models),
            "q_unit_used": self.q_unit_used,
            "warnings": list(self.warnings),
        }


class Suggester:
    """Suggests sasmodels form factors for 1D curves. The ONNX session is made once, here.

    ``card_path`` selects another bundle (default: the one shipped in the package). Every
    constant comes from the bundle's typed card (``self.card``, bundle.ModelCard).
    """

    def __init__(self, card_path: str | None = None, threads: int | None = None):
        self.bundle = ModelBundle.load(card_path, threads=threads)
        self.onnx_batch = ONNX_BATCH   # curves per onnxruntime call (the batch workers use fewer: 1 thread)
        self._outlier_hint = ("aggregates, a mixture of sizes, lamellar or Bragg peaks, polymer chains, or a model "
                              "outside the catalog" if self.card.structure else
                              "a structure factor, aggregates, a mixture, or a model outside the catalog")

    # -- the card's constants (read-only views of self.card) ---------------------------------
    @property
    def card(self) -> ModelCard:
        return self.bundle.model_card

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    @property
    def temperature(self) -> float:
        return self.card.temperature

    @property
    def outliers(self) -> scoring.OutlierModel:
        return self.card.outliers

    @property
    def ood_threshold(self) -> float:
        return self.card.outliers.threshold

    @property
    def confidence_weights(self) -> np.ndarray:
        return self.card.confidence_weights

    @property
    def confidence_recalibration(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self.card.confidence_recalibration

    @property
    def structure_names(self) -> list[str]:
        """The S(q) names of the structure-factor head ([] for a bundle without one)."""
        return list(self.card.structure.classes) if self.card.structure else []

    @property
    def structure_temperature(self) -> float:
        return self.card.structure.temperature if self.card.structure else 1.0

    @property
    def sets(self) -> sets.SetModel:
        """Shape families and plausible sets (fallback constants for a card without them)."""
        return self.card.sets

    # -- public API -------------------------------------------------------------------------
    def suggest(self, q, intensity, sigma=None, dq=None, *, slit_length: float | None = None,
                q_unit: str = "A", name: str = "curve", fit: bool = False) -> Suggestion:
        """Rank the catalog models for one curve (q in 1/A unless ``q_unit="nm"``).

        ``fit=True`` then refines the top candidates' parameters with a quick resolution-aware
        sasmodels fit (``refine``); the fit evidence is reported, the ranking stays the classifier's."""
        curve = make_curve(q, intensity, sigma, dq, slit_length, q_unit=q_unit, name=name)
        return self.suggest_curves([curve], fit=fit)[0]

    def suggest_batch(self, curves: Iterable) -> list[Suggestion]:
        """Rank models for many curves in one pass; each item is a :class:`Curve`, a tuple
        ``(q, I[, sigma[, dq]])`` or a dict with keys q, intensity, sigma, dq, slit_length."""
        prepared = []
        for k, c in enumerate(curves):
            if isinstance(c, Curve):
                prepared.append(c)
            elif isinstance(c, dict):
                if "q" not in c or "intensity" not in c:
                    raise InputError(f"curve{k}: a dict needs the keys 'q' and 'intensity' (optional: sigma, dq, "
                                     "slit_length, q_unit, name)")
                prepared.append(make_curve(c["q"], c["intensity"], c.get("sigma"), c.get("dq"),
                                           c.get("slit_length"), q_unit=c.get("q_unit", "A"),
                                           name=c.get("name", f"curve{k}")))
            else:
                try:
                    q, i, *rest = c
                except (TypeError, ValueError):
                    raise InputError(f"curve{k}: give a Curve, a tuple (q, I[, sigma[, dq]]) or a dict with keys "
                                     f"q and intensity, not {type(c).__name__}") from None
                prepared.append(make_curve(q, i, *(rest[:2]), name=f"curve{k}"))
        return self.suggest_curves(prepared)

    def suggest_file(self, path: str, q_unit: str | None = None, fit: bool = False,
                     slit_length: float | None = None) -> list[Suggestion]:
        """Rank models for every 1D dataset in a file (canSAS XML, NXcanSAS, ABS, PDH, columns).

        ``q_unit`` overrides the unit a column file's header states; ``slit_length`` (in the unit
        of q) declares slit smearing (curve.load_file); ``fit`` as in ``suggest``."""
        return self.suggest_curves(load_file(path, q_unit=q_unit, slit_length=slit_length), fit=fit)

    def score(self, features: np.ndarray) -> scoring.Scores:
        """Network + scoring for a featurized batch (B, C, G): calibrated ``probs`` (B, K) in
        ``self.classes`` order, ``outlier_score``, ``outlier``, ``confidence``, raw ``params`` and
        the rest of :class:`scoring.Scores` (which also reads as the dict of earlier versions)."""
        # sub-batches keep the activations in cache (about 25 % faster than one call of
        # thousands, and memory stays flat); each row's output does not depend on the batch
        n = self.onnx_batch
        parts = [self.bundle.run(features[i:i + n]) for i in range(0, len(features), n)]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else self.bundle.run(features)
        card = self.card
        probs = scoring.softmax(out["logits"], card.temperature)
        scores = card.outliers.score(out["embedding"], probs, out.get("knn_distance"))
        outliers = scores > card.outliers.threshold
        conf = scoring.confidence(scoring.confidence_features(probs, card.outliers.excess(scores), features),
                                  card.confidence_weights, outliers, card.confidence_recalibration)
        structure = {}
        if card.structure and "structure_logits" in out:
            structure = dict(structure_probs=scoring.softmax(out["structure_logits"], card.structure.temperature),
                             volfraction=decode_volfraction(out["volfraction"][:, 0]))
        return scoring.Scores(probs=probs, outlier_score=scores, outlier=outliers, confidence=conf,
                              family_probs=card.sets.family_probs(probs), plausible_size=card.sets.sizes(probs),
                              logits=out["logits"], embedding=out["embedding"], params=out.get("params"),
                              knn_distance=out.get("knn_distance"), **structure)

    def refine(self, suggestion: Suggestion, curve: Curve, top: int = FIT_TOP,
               budget: float | None = FIT_BUDGET) -> Suggestion:
        """``refine(suggestion, curve, top, budget)`` (the module function)."""
        return refine(suggestion, curve, top, budget)

    # -- internals --------------------------------------------------------------------------
    def suggest_curves(self, curves: Sequence[Curve], fit: bool = False, fit_top: int = FIT_TOP,
                       fit_budget: float | None = FIT_BUDGET) -> list[Suggestion]:
        """Rank models for validated curves (one ONNX call for the whole batch); with ``fit``,
        ``refine`` each: quick-fit the ``fit_top`` candidates, ``fit_budget`` seconds each at most
        (None: bounded by the number of evaluations only, independent of the machine's speed)."""
        if not curves:
            return []
        feats, infos = grid.featurize_many(c.as_tuple() for c in curves)
        for c, info in zip(curves, infos):
            if info.covered_bins < grid.MIN_COVERED_BINS:
                raise InputError(
                    f"{c.name}: the data cover {info.covered_bins} of the classifier's {grid.GRID_SIZE} grid bins "
                    f"(q {c.q[0]:.3g}..{c.q[-1]:.3g} 1/A); at least {grid.MIN_COVERED_BINS} (about half a decade "
                    f"inside {grid.GRID_Q_MIN:g}..{grid.GRID_Q_MAX:g} 1/A) are needed")
        scored = self.score(feats)
        threshold = self.ood_threshold
        # the per-curve loop reads Python lists (one conversion per batch, not per value); the
        # row-wise argsort is the per-row np.argsort(-p), so ties keep their order
        orders = np.argsort(-scored.probs, axis=1).tolist()
        families = scored.family_probs.argmax(axis=1).tolist()
        family_probs = scored.family_probs.max(axis=1).tolist()
        set_sizes = scored.plausible_size.tolist()
        classes = self.classes
        slots = [[(s, name) for s, name, _ in catalog.SLOTS_BY_CLASS.get(catalog.CLASS_NAMES.index(m), ())]
                 for m in classes]
        q_refs = grid.GRID_Q[[info.first_bin for info in infos]]
        rows = (catalog.decode_all_targets(scored.params, q_refs).tolist() if scored.params is not None
                else [None] * len(curves))
        results = []
        for n, (c, info, p, order, s, cf, outlier, row) in enumerate(zip(
                curves, infos, scored.probs.tolist(), orders, scored.outlier_score.tolist(),
                scored.confidence.tolist(), scored.outlier.tolist(), rows)):
            ranking = [(classes[j], p[j]) for j in order]
            candidates = {}
            if row is not None:
                for j in order[:N_CANDIDATE_PARAMETERS]:
                    candidates[classes[j]] = {name: float(f"{row[k]:.4g}") for k, name in slots[j]}
            warnings = list(c.warnings) + _grid_warnings(info) + [PARAMETERS_UNCHECKED if candidates else PARAMETERS_PENDING]
            reason = (f"unlike any trained shape (outlier score {s:.3g} > {threshold:.3g}): consider "
                      f"{self._outlier_hint}" if outlier else "")
            structure = (self._structure(scored.structure_probs[n], float(scored.volfraction[n]),
                                         ranking[0][0], candidates.get(ranking[0][0], {}))
                         if scored.structure_probs is not None else None)
            result = Suggestion(
                ranking=ranking, confidence=cf, outlier=outlier, outlier_score=s,
                outlier_threshold=threshold, parameters=dict(candidates.get(ranking[0][0], {})),
                candidate_parameters=candidates, warnings=warnings, name=c.name, source=c.source, entry=c.entry,
                reason=reason, structure_factor=structure, family=catalog.FAMILY_NAMES[families[n]],
                family_probability=family_probs[n], plausible_models=[m for m, _ in ranking[:set_sizes[n]]],
                q_unit_used=c.q_unit_used)
            results.append(refine(result, c, fit_top, fit_budget) if fit and candidates else result)
        return results

    def _structure(self, p: np.ndarray, volfraction: float, form: str, form_params: dict) -> StructureFactorSuggestion:
        """The structure-factor entry from the head's calibrated probabilities (``none`` first)."""
        names = self.structure_names
        probs = dict(zip(["none"] + names, (float(v) for v in p)))
        p_needed = 1.0 - probs["none"]
        if p_needed < STRUCTURE_NEEDED:
            return StructureFactorSuggestion(None, probs["none"], p_needed, probs)
        k = int(np.argmax(p[1:]))
        name = names[k]
        ratio = catalog.HOLLOW_VOLUME_RATIO.get(form)
        if ratio is not None and form_params:   # P@S's volfraction for hollow bodies: S sees the enclosed volume
            try:
                volfraction = volfraction / ratio(form_params)
            except (KeyError, ZeroDivisionError):
                pass
        return StructureFactorSuggestion(name, float(p[1 + k]), p_needed, probs, volfraction,
                                         catalog.EFFECTIVE_RADIUS_MODE.get(form))


def refine(suggestion: Suggestion, curve: Curve, top: int = FIT_TOP, budget: float | None = FIT_BUDGET) -> Suggestion:
    """The quick-fit step: a new Suggestion (``suggestion`` is left as it was) whose ``top``
    candidates are fitted to ``curve`` (the product model@S when a structure factor is suggested;
    ``budget`` seconds each at most, None: bounded by evaluations only, sasview_automodel.fit).

    The new one has ``fits`` and ``fit_ranking`` (the fit evidence, reported), the refined
    parameters of every fitted candidate, the best model's refined ``parameters`` and, for P@S,
    its fitted volume fraction. The ranking, ``best`` and the probabilities stay the classifier's:
    the quick fit does not re-rank (docs/design.md, "Starting parameters and the quick fit")."""
    from .fit import combine, quick_fit

    s = suggestion
    structure = s.structure_factor if s.structure_factor is not None and s.structure_factor.name else None
    fits = {}
    for model, _ in s.ranking[:top]:
        start = s.candidate_parameters.get(model)
        if start:
            fits[model] = quick_fit(curve, model, start, time_budget=budget, structure=structure)
    fit_ranking = combine(s.ranking, fits)
    weights = dict(fit_ranking)
    fits = {m: replace(f, weight=weights[m]) if m in weights else f for m, f in fits.items()}
    candidates = {m: dict(v) for m, v in s.candidate_parameters.items()}   # the new one shares no container
    if not fit_ranking:   # no candidate could be fitted: the evidence is empty, the parameters stay
        return replace(s, fits=fits, fit_ranking=fit_ranking, parameters=dict(s.parameters),
                       candidate_parameters=candidates, warnings=list(s.warnings))
    best = s.best if s.best in fits else fit_ranking[0][0]
    for model, f in fits.items():
        candidates[model] = _rounded(f.parameters)
    structure_factor = s.structure_factor
    if structure is not None and "volfraction" in fits[best].structure_parameters:
        structure_factor = replace(structure, volfraction=float(f"{fits[best].structure_parameters['volfraction']:.4g}"))
    product = f"@{structure.name}" if structure is not None else ""
    evidence = f"reduced chi-square {fits[best].chi2_reduced:.3g} for the suggested {best}{product}"
    finite = [m for m in fits if np.isfinite(fits[m].chi2_reduced)]
    lowest = min(finite, key=lambda m: fits[m].chi2_reduced) if finite else best
    if fits[lowest].chi2_reduced < fits[best].chi2_reduced:   # the evidence disagrees: say so, it does not re-rank
        evidence += f", lowest {fits[lowest].chi2_reduced:.3g} for {lowest}{product}"
    warnings = [w for w in s.warnings if w != PARAMETERS_UNCHECKED] + [
        f"parameters refined by a quick fit of {len(fits)} candidates ({evidence})"]
    return replace(s, fits=fits, fit_ranking=fit_ranking, parameters=_rounded(fits[best].parameters),
                   candidate_parameters=candidates, structure_factor=structure_factor, warnings=warnings)


def _rounded(parameters: dict) -> dict:
    return {k: float(f"{v:.5g}") for k, v in parameters.items()}


def _grid_warnings(info: grid.GridInfo) -> list[str]:
    w = []
    if info.n_outside:
        w.append(f"{info.n_outside} points outside {grid.GRID_Q_MIN:g}..{grid.GRID_Q_MAX:g} 1/A were not used")
    if info.sigma_estimated:
        w.append("no usable uncertainties: noise estimated from the scatter of the data")
    return w
