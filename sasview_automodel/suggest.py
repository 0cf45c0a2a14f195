"""The public API: ``Suggester().suggest(q, intensity) -> Suggestion``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from . import catalog, grid, scoring, sets
from .bundle import ModelBundle
from .curve import Curve, load_file, make_curve
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


@dataclass
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


@dataclass
class Suggestion:
    """What the classifier says about one curve. Plain data; ``to_dict()`` is JSON-ready."""

    ranking: list[tuple[str, float]]     # (sasmodels name, calibrated probability), best first
    confidence: float                    # in [0, 1], see scoring.confidence
    outlier: bool                        # unlike anything the classifier was trained on
    outlier_score: float                 # the card's outlier score (scoring.OutlierModel); outlier above the threshold
    outlier_threshold: float
    parameters: dict = field(default_factory=dict)   # starting values of the best model (sasmodels names)
    warnings: list[str] = field(default_factory=list)
    candidate_parameters: dict = field(default_factory=dict)  # {model: {param: value}} for the top candidates
    fits: dict = field(default_factory=dict)         # {model: FitResult} when a quick fit ran
    fit_ranking: list = field(default_factory=list)  # [(model, weight)] combining classifier and fit
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

    def to_sasview(self, model: str | None = None, category: str | None = None) -> dict:
        """SasView's ``updateFromParameters`` dictionary for ``model`` (default: the best) with its
        starting parameters and polydispersity, and the structure factor with its rows when one is
        suggested (``structure_for``); ``category`` defaults to the one SasView derives from
        sasmodels (inside SasView, pass the page's own)."""
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

    ``card_path`` selects another bundle (default: the one shipped in the package).
    """

    def __init__(self, card_path: str | None = None, threads: int | None = None):
        self.bundle = ModelBundle.load(card_path, threads=threads)
        self.onnx_batch = ONNX_BATCH   # curves per onnxruntime call (the batch workers use fewer: 1 thread)
        card = self.bundle.card
        self.classes = self.bundle.classes
        unknown = [c for c in self.classes if c not in catalog.BY_NAME]
        if unknown:
            from .errors import BundleError
            raise BundleError(f"model card {self.bundle.card_path} names classes {unknown} unknown to this catalog")
        self.temperature = float(card["temperature"])
        self.outliers = scoring.OutlierModel.from_card(card["ood"])
        self.ood_threshold = self.outliers.threshold
        self.confidence_weights = np.asarray(card["confidence"]["weights"], np.float64)
        recal = card["confidence"].get("recalibration")   # isotonic knots (x, y); absent in older cards
        self.confidence_recalibration = (np.asarray(recal["x"], np.float64), np.asarray(recal["y"], np.float64)) if recal else None
        structure = card.get("structure")   # absent in bundles without a structure-factor head
        self.structure_names = list(structure["classes"]) if structure else []
        unknown = [c for c in self.structure_names if c not in catalog.SQ_NAMES]
        if unknown:
            from .errors import BundleError
            raise BundleError(f"model card {self.bundle.card_path} names structure factors {unknown} unknown to "
                              "this catalog: use the sasview-automodel version the bundle was exported with")
        self.structure_temperature = float(structure["temperature"]) if structure else 1.0
        self.sets = sets.SetModel.from_card(card)   # shape families and plausible sets (fallback without constants)
        self._outlier_hint = ("aggregates, a mixture of sizes, lamellar or Bragg peaks, polymer chains, or a model "
                              "outside the catalog" if structure else
                              "a structure factor, aggregates, a mixture, or a model outside the catalog")

    # -- public API -------------------------------------------------------------------------
    def suggest(self, q, intensity, sigma=None, dq=None, *, slit_length: float | None = None,
                q_unit: str = "A", name: str = "curve", fit: bool = False) -> Suggestion:
        """Rank the catalog models for one curve (q in 1/A unless ``q_unit="nm"``).

        ``fit=True`` refines the top candidates with a quick resolution-aware sasmodels fit
        (sasview_automodel.fit) and re-ranks them with the fit evidence."""
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
        of q) declares slit smearing (curve.load_file)."""
        return self.suggest_curves(load_file(path, q_unit=q_unit, slit_length=slit_length), fit=fit)

    def score(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Network + scoring for a featurized batch (B, C, G): calibrated ``probs`` (B, K) in
        ``self.classes`` order, ``outlier_score``, ``outlier``, ``confidence`` and raw ``params``."""
        # sub-batches keep the activations in cache (about 25 % faster than one call of
        # thousands, and memory stays flat); each row's output does not depend on the batch
        n = self.onnx_batch
        parts = [self.bundle.run(features[i:i + n]) for i in range(0, len(features), n)]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else self.bundle.run(features)
        probs = scoring.softmax(out["logits"], self.temperature)
        scores = self.outliers.score(out["embedding"], probs, out.get("knn_distance"))
        outliers = scores > self.ood_threshold
        conf = scoring.confidence(scoring.confidence_features(probs, self.outliers.excess(scores), features),
                                  self.confidence_weights, outliers, self.confidence_recalibration)
        result = {"probs": probs, "outlier_score": scores, "outlier": outliers, "confidence": conf,
                  "family_probs": self.sets.family_probs(probs), "plausible_size": self.sets.sizes(probs),
                  "params": out.get("params"), "logits": out["logits"], "embedding": out["embedding"],
                  "knn_distance": out.get("knn_distance")}
        if self.structure_names and "structure_logits" in out:
            result["structure_probs"] = scoring.softmax(out["structure_logits"], self.structure_temperature)
            result["volfraction"] = np.clip(out["volfraction"][:, 0] / 4.0, 0.001, 0.6)
        return result

    # -- internals --------------------------------------------------------------------------
    def suggest_curves(self, curves: Sequence[Curve], fit: bool = False, fit_top: int = FIT_TOP,
                       fit_budget: float | None = FIT_BUDGET) -> list[Suggestion]:
        """Rank models for validated curves (one ONNX call for the whole batch); with ``fit``,
        quick-fit the ``fit_top`` candidates of each curve, ``fit_budget`` seconds each at most
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
        probs, scores, outliers, conf = scored["probs"], scored["outlier_score"], scored["outlier"], scored["confidence"]
        regression = scored.get("params")
        # the per-curve loop reads Python lists (one conversion per batch, not per value); the
        # row-wise argsort is the per-row np.argsort(-p), so ties keep their order
        orders = np.argsort(-probs, axis=1).tolist()
        families = scored["family_probs"].argmax(axis=1).tolist()
        family_probs = scored["family_probs"].max(axis=1).tolist()
        set_sizes = scored["plausible_size"].tolist()
        labels = [catalog.CLASS_NAMES.index(m) for m in self.classes]
        rows = regression.tolist() if regression is not None else [None] * len(curves)
        q_refs = grid.GRID_Q[[info.first_bin for info in infos]].tolist()
        results = []
        for n, (c, info, p, order, s, cf, outlier, row, q_ref) in enumerate(zip(
                curves, infos, probs.tolist(), orders, scores.tolist(), conf.tolist(), outliers.tolist(), rows, q_refs)):
            ranking = [(self.classes[j], p[j]) for j in order]
            candidates = {}
            if row is not None:
                for j in order[:N_CANDIDATE_PARAMETERS]:
                    values = catalog.decode_targets(row, labels[j], q_ref)
                    candidates[self.classes[j]] = {k: float(f"{v:.4g}") for k, v in values.items()}
            warnings = list(c.warnings) + _grid_warnings(info) + [PARAMETERS_UNCHECKED if candidates else PARAMETERS_PENDING]
            reason = (f"unlike any trained shape (outlier score {s:.3g} > {self.ood_threshold:.3g}): consider "
                      f"{self._outlier_hint}" if outlier else "")
            structure = (self._structure(scored["structure_probs"][n], float(scored["volfraction"][n]),
                                         ranking[0][0], candidates.get(ranking[0][0], {}))
                         if "structure_probs" in scored else None)
            results.append(Suggestion(
                ranking=ranking, confidence=cf, outlier=outlier, outlier_score=s,
                outlier_threshold=self.ood_threshold, parameters=dict(candidates.get(ranking[0][0], {})),
                candidate_parameters=candidates, warnings=warnings, name=c.name, source=c.source, entry=c.entry,
                reason=reason, structure_factor=structure, family=catalog.FAMILY_NAMES[families[n]],
                family_probability=family_probs[n], plausible_models=[m for m, _ in ranking[:set_sizes[n]]],
                q_unit_used=c.q_unit_used))
            if fit and candidates:
                self._fit(results[-1], c, fit_top, fit_budget)
        return results

    def _structure(self, p: np.ndarray, volfraction: float, form: str, form_params: dict) -> StructureFactorSuggestion:
        """The structure-factor entry from the head's calibrated probabilities (``none`` first)."""
        probs = dict(zip(["none"] + self.structure_names, (float(v) for v in p)))
        p_needed = 1.0 - probs["none"]
        if p_needed < STRUCTURE_NEEDED:
            return StructureFactorSuggestion(None, probs["none"], p_needed, probs)
        k = int(np.argmax(p[1:]))
        name = self.structure_names[k]
        ratio = catalog.HOLLOW_VOLUME_RATIO.get(form)
        if ratio is not None and form_params:   # P@S's volfraction for hollow bodies: S sees the enclosed volume
            try:
                volfraction = volfraction / ratio(form_params)
            except (KeyError, ZeroDivisionError):
                pass
        return StructureFactorSuggestion(name, float(p[1 + k]), p_needed, probs, volfraction,
                                         catalog.EFFECTIVE_RADIUS_MODE.get(form))

    @staticmethod
    def _fit(s: Suggestion, curve: Curve, top: int, budget: float | None) -> None:
        """Quick-fit the ``top`` candidates (the product model@S when a structure factor is
        suggested) and take their refined parameters and the best one's volume fraction."""
        from .fit import combine, quick_fit

        structure = s.structure_factor if s.structure_factor is not None and s.structure_factor.name else None
        for model, _ in s.ranking[:top]:
            start = s.candidate_parameters.get(model)
            if start:
                s.fits[model] = quick_fit(curve, model, start, time_budget=budget, structure=structure)
        s.fit_ranking = combine(s.ranking, s.fits)
        if s.fit_ranking:
            best = s.best if s.best in s.fits else s.fit_ranking[0][0]
            s.parameters = {k: float(f"{v:.5g}") for k, v in s.fits[best].parameters.items()}
            if structure is not None and "volfraction" in s.fits[best].structure_parameters:
                structure.volfraction = float(f"{s.fits[best].structure_parameters['volfraction']:.4g}")
            for model, f in s.fits.items():
                s.candidate_parameters[model] = {k: float(f"{v:.5g}") for k, v in f.parameters.items()}
            s.warnings = [w for w in s.warnings if w != PARAMETERS_UNCHECKED]
            product = f"@{structure.name}" if structure is not None else ""
            s.warnings.append(f"parameters refined by a quick fit of {len(s.fits)} candidates "
                              f"(best reduced chi-square {s.fits[best].chi2_reduced:.3g} for {best}{product})")


def _grid_warnings(info: grid.GridInfo) -> list[str]:
    w = []
    if info.n_outside:
        w.append(f"{info.n_outside} points outside {grid.GRID_Q_MIN:g}..{grid.GRID_Q_MAX:g} 1/A were not used")
    if info.sigma_estimated:
        w.append("no usable uncertainties: noise estimated from the scatter of the data")
    return w
