"""Quick, resolution-aware fit of the top candidates with sasmodels, from the network's starting values.

For each candidate model the shape parameters and the polydispersity width of the catalog's
size parameter are refined by ``scipy.optimize.least_squares`` (sizes in log space); scale and
flat background are solved exactly (linear least squares) at every step. The data's own
resolution is used (pinhole dq, or the slit length) through sasmodels' ``DirectModel``, and its
uncertainties weight the residuals. Each fit is bounded in evaluations and, in production, in
time (``time_budget=None`` leaves only the evaluation bound: tests do not depend on machine speed).

Concentrated samples: given a structure factor (the suggestion's ``structure_factor``), the
product ``model@S`` is fitted instead (sasview_automodel.product): P*S, sasmodels' effective
radius from the form factor, the volume fraction refined within 0.001..0.6 (and S's own limit),
the S(q)-specific parameters held at the middle of the catalog ranges.

Fit evidence (documented in docs/design.md): for fitted candidates,
``weight = p_classifier * exp(-(BIC - BIC_min) / 2)``, normalised over the fitted candidates, with
``BIC = chi2 + k ln(n)`` and k the number of refined parameters plus scale and background. It is
reported, not used to re-rank: on held-out curves a 0.3 s quick fit too often leaves the true
model in a worse minimum than a wrong one (top-1 fell from 93.7 % to 74.3 %), so the classifier's
ranking decides and the fit refines the starting values.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import catalog, product
from .curve import Curve
from .sasmodels_env import load_model

FIT_PD_POINTS = 11          # polydispersity points while fitting (the page uses the catalog's own)
SIZE_BOUNDS = (1.0, 1e5)    # A
RATIO_BOUNDS = (0.02, 50.0)
PD_MAX = 0.4
NO_SIGMA_RELATIVE = 0.02
MAX_FIT_POINTS = 120        # a quick fit uses at most this many points, log-spaced in q


def _decimate(curve: Curve) -> Curve:
    """At most MAX_FIT_POINTS points, spread evenly in log q (speed; resolution kept per point)."""
    if curve.q.size <= MAX_FIT_POINTS:
        return curve
    targets = np.geomspace(curve.q[0], curve.q[-1], MAX_FIT_POINTS)
    idx = np.unique(np.clip(np.searchsorted(curve.q, targets), 0, curve.q.size - 1))
    pick = (lambda a: None if a is None else a[idx])
    return Curve(curve.q[idx], curve.intensity[idx], pick(curve.sigma), pick(curve.dq), curve.slit_length,
                 curve.name, curve.source, curve.entry)


@dataclass
class FitResult:
    """One candidate's quick fit."""

    model: str
    parameters: dict            # refined start parameters (+ "<pd_param>_pd")
    scale: float
    background: float
    chi2_reduced: float
    bic: float
    n_points: int
    n_parameters: int
    evaluations: int
    seconds: float
    converged: bool
    message: str = ""
    weight: float = field(default=float("nan"))   # its fit-evidence weight (combine; NaN: not weighed)
    q: np.ndarray | None = field(default=None, repr=False)       # the points fitted (1/A)
    curve: np.ndarray | None = field(default=None, repr=False)   # the fitted model there (with scale, bkg)
    structure_factor: str | None = None     # sasmodels S(q) name when the product model@S was fitted
    structure_parameters: dict = field(default_factory=dict)  # volfraction (fitted), S values held, radius_effective

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("q")
        d.pop("curve")
        d["parameters"] = {k: float(f"{v:.5g}") for k, v in self.parameters.items()}
        d["structure_parameters"] = {k: float(f"{v:.5g}") for k, v in self.structure_parameters.items()}
        for k in ("scale", "background", "chi2_reduced", "bic", "seconds", "weight"):
            d[k] = float(f"{d[k]:.5g}")
        return d


_MODELS: dict = {}


def _model(name: str):
    if name not in _MODELS:
        _MODELS[name] = load_model(name)
    return _MODELS[name]


def _sas_data(curve: Curve, sigma: np.ndarray):
    from sasmodels.data import Data1D

    data = Data1D(x=curve.q, y=curve.intensity, dx=curve.dq, dy=sigma)
    if curve.slit_length:
        data.dxl = np.full(curve.q.size, curve.slit_length)
        data.dxw = np.zeros(curve.q.size)
        data.dx = None
    elif curve.dq is None:
        data.dx = np.zeros(curve.q.size)
    return data


def _linear(model_i: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> tuple[float, float, np.ndarray]:
    a = np.column_stack([model_i, np.ones_like(model_i)]) / sigma[:, None]
    (scale, bkg), *_ = np.linalg.lstsq(a, y / sigma, rcond=None)
    if scale <= 0:  # fall back to the best positive scale with no background
        scale, bkg = max(float(model_i @ (y / sigma**2)) / float(model_i @ (model_i / sigma**2)), 1e-30), 0.0
    return float(scale), float(bkg), (y - scale * model_i - bkg) / sigma


@dataclass
class _Space:
    """How the fit vector x maps onto sasmodels parameters: log sizes, the polydispersity width,
    then (optionally) the core/shell contrast ratio and the P@S volume fraction."""

    base: dict                  # parameters held fixed (contrasts, PD options, S(q) modes and values)
    log_names: list[str]
    pd_name: str
    contrast: str | None        # the core SLD of a core-shell body (shell 1, solvent 0), refined
    volfraction: bool           # P@S: volfraction refined (linear)
    lo: np.ndarray
    hi: np.ndarray
    starts: list[np.ndarray]

    def unpack(self, x: np.ndarray) -> dict:
        pars = dict(self.base)
        n = len(self.log_names)
        pars.update({k: float(np.exp(v)) for k, v in zip(self.log_names, x[:n])})
        pars[self.pd_name] = float(x[n])
        extra = [float(v) for v in x[n + 1:]]
        if self.contrast:
            pars[self.contrast] = extra.pop(0)
        if self.volfraction:
            pars["volfraction"] = extra.pop(0)
        return pars

    def clip(self, x) -> np.ndarray:
        return np.clip(np.asarray(x, float), self.lo + 1e-9, self.hi - 1e-9)


def _structure_start(structure) -> tuple[str | None, float | None]:
    """(sasmodels S(q) name, start volfraction) of a StructureFactorSuggestion, a name or None."""
    if structure is None or isinstance(structure, str):
        return structure, None
    return getattr(structure, "name", None), getattr(structure, "volfraction", None)


def _space(model: str, start: dict, structure: str | None, volfraction: float | None) -> _Space:
    """The parameter space of a quick fit of ``model`` (or ``model@structure``) from ``start``."""
    spec = catalog.get(model)
    names = list(spec.start_params)
    pd_name = spec.pd_param + "_pd"
    # Contrast only scales a homogeneous body; for core-shell bodies the core/shell contrast
    # ratio changes the shape and is refined too (shell contrast 1, solvent 0).
    base = dict(spec.fixed)
    base.update({spec.sld_names[0]: 1.0, spec.sld_names[-1]: 0.0})
    contrast = spec.sld_names[0] if spec.contrast == "core_shell" else None
    if contrast:
        base[spec.sld_names[1]] = 1.0
    base.update({spec.pd_param + "_pd_n": FIT_PD_POINTS, spec.pd_param + "_pd_type": "gaussian"})
    lo = [np.log(RATIO_BOUNDS[0] if n_.startswith("x_") else SIZE_BOUNDS[0]) for n_ in names] + [0.0]
    hi = [np.log(RATIO_BOUNDS[1] if n_.startswith("x_") else SIZE_BOUNDS[1]) for n_ in names] + [PD_MAX]
    x_start = [np.log(max(start.get(n_, 50.0), 1e-3)) for n_ in names] + [min(start.get(pd_name, 0.1), PD_MAX)]
    starts = [x_start]
    if contrast:  # core contrast relative to the shell: two starts, either side of the shell
        lo, hi = lo + [-4.0], hi + [4.0]
        starts = [x_start + [-1.0], x_start + [2.5]]
    if structure:
        base.update(product.fixed_parameters(model, structure))
        v_lo, v_hi = product.volfraction_bounds(model, structure)
        lo, hi = lo + [v_lo], hi + [v_hi]
        starts = [x + [product.start_volfraction(model, structure, volfraction)] for x in starts]
    return _Space(base, names, pd_name, contrast, bool(structure), np.array(lo), np.array(hi),
                  [np.array(x, float) for x in starts])


def quick_fit(curve: Curve, model: str, start: dict, time_budget: float | None = 0.3, max_nfev: int = 100,
              structure=None) -> FitResult:
    """Refine ``start`` (a candidate's starting parameters) against ``curve`` for ``model``.

    ``structure`` (a StructureFactorSuggestion, an S(q) name, or None) fits the product
    ``model@structure`` instead (sasview_automodel.product): volfraction refined from the
    suggestion's value, the S(q)'s other parameters held at mid values. ``time_budget`` bounds the
    fit in seconds (kernel compilation excluded); None bounds it by ``max_nfev`` alone, which makes
    it independent of the machine's speed (tests). Long curves are decimated to MAX_FIT_POINTS
    log-spaced points; chi-square and BIC refer to them.
    """
    from scipy.optimize import least_squares
    from sasmodels.direct_model import DirectModel

    t0 = time.perf_counter()
    curve = _decimate(curve)
    structure_name, volfraction = _structure_start(structure)
    space = _space(model, start, structure_name, volfraction)
    sigma = curve.sigma if curve.sigma is not None else NO_SIGMA_RELATIVE * np.abs(curve.intensity) + 1e-30
    name = product.product_name(model, structure_name) if structure_name else model
    loaded = name in _MODELS
    calc = DirectModel(_sas_data(curve, sigma), _model(name))
    count = [0]
    # the first call of a model in a process compiles/loads its kernel: not part of the budget (a model
    # loaded by an earlier fit is, as any evaluation); its result is least_squares' first evaluation (the
    # first start point), so it is not computed twice
    x_first = space.clip(space.starts[0])
    t_load = time.perf_counter()
    i_first = calc(**space.unpack(x_first), scale=1.0, background=0.0)
    t_loaded = time.perf_counter()
    t_fit = t_load if loaded else t_loaded
    # seconds of the latest evaluation: no evaluation starts that would end past the budget
    last_eval = [t_loaded - t_load if loaded else 0.0]

    class _OutOfTime(Exception):
        pass

    best = {"cost": np.inf, "x": space.clip(space.starts[0]), "linear": (1.0, 0.0)}

    def residuals(x: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        if time_budget is not None and t - t_fit + last_eval[0] > time_budget and count[0] > 0:
            raise _OutOfTime
        count[0] += 1
        if count[0] == 1 and np.array_equal(x, x_first):
            i = np.asarray(i_first, dtype=np.float64)
        else:
            i = np.asarray(calc(**space.unpack(x), scale=1.0, background=0.0), dtype=np.float64)
            last_eval[0] = time.perf_counter() - t
        if not np.all(np.isfinite(i)):
            return np.full(curve.q.size, 1e6)
        scale, bkg, r = _linear(i, curve.intensity, sigma)
        cost = float(r @ r)
        if cost < best["cost"]:
            best.update(cost=cost, x=np.array(x), linear=(scale, bkg), i=i)
        return r

    converged, message = False, ""
    for x0 in space.starts:
        try:
            res = least_squares(residuals, space.clip(x0), bounds=(space.lo, space.hi), method="trf",
                                x_scale="jac", diff_step=1e-4, max_nfev=max_nfev // len(space.starts))
            converged, message = converged or bool(res.success), str(res.message)
        except _OutOfTime:
            message = f"stopped at the time budget ({time_budget:.2f} s)"
            break
    n, k = curve.q.size, len(space.lo) + 2
    chi2 = best["cost"]
    pars = space.unpack(best["x"])
    out = {n_: pars[n_] for n_ in space.log_names}
    out[space.pd_name] = pars[space.pd_name]
    if space.contrast:
        out.update({sld: pars[sld] for sld in catalog.get(model).sld_names})
    fitted = best["linear"][0] * best["i"] + best["linear"][1] if "i" in best else None
    s_pars = _structure_parameters(calc, pars, structure_name) if structure_name else {}
    return FitResult(model, out, best["linear"][0], best["linear"][1], chi2 / max(n - k, 1), chi2 + k * np.log(n),
                     n, k, count[0], time.perf_counter() - t0, converged, message, q=curve.q, curve=fitted,
                     structure_factor=structure_name, structure_parameters=s_pars)


def _structure_parameters(calc, pars: dict, structure: str) -> dict:
    """The S(q) side of a fitted product: volfraction, the S-specific values held, and the
    effective radius sasmodels computed from the form factor at the fitted parameters."""
    out = {"volfraction": pars["volfraction"], **catalog.structure_factor(structure).mid_values()}
    calc(**pars, scale=1.0, background=0.0)
    results = calc.results() if callable(getattr(calc, "results", None)) else {}
    if "radius_effective" in results:
        out["radius_effective"] = float(results["radius_effective"])
    return out


def combine(ranking: list[tuple[str, float]], fits: dict[str, FitResult]) -> list[tuple[str, float]]:
    """The fit evidence of the fitted candidates (finite BIC), heaviest first:
    ``[(model, p_classifier x exp(-dBIC/2), normalised)]``. Reported beside the classifier's
    ranking, not a re-rank of it (module docstring); ``fits`` is not changed (suggest.refine
    copies each weight into its FitResult)."""
    fitted = [(m, p) for m, p in ranking if m in fits and np.isfinite(fits[m].bic)]
    if not fitted:
        return []
    bic_min = min(fits[m].bic for m, _ in fitted)
    w = np.array([p * np.exp(-0.5 * (fits[m].bic - bic_min)) for m, p in fitted])
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    return sorted(((m, float(v)) for (m, _), v in zip(fitted, w)), key=lambda t: -t[1])
