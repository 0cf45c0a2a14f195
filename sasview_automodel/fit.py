"""Quick, resolution-aware fit of the top candidates with sasmodels, from the network's starting values.

For each candidate model the shape parameters and the polydispersity width of the catalog's
size parameter are refined by ``scipy.optimize.least_squares`` (sizes in log space); scale and
flat background are solved exactly (linear least squares) at every step. The data's own
resolution is used (pinhole dq, or the slit length) through sasmodels' ``DirectModel``, and its
uncertainties weight the residuals. Each fit is bounded in evaluations and in time.

Fit evidence (documented in docs/design.md): for fitted candidates,
``weight = p_classifier * exp(-(BIC - BIC_min) / 2)``, normalised over the fitted candidates, with
``BIC = chi2 + k ln(n)`` and k the number of refined parameters plus scale and background. It is
reported, not used to re-rank: on held-out curves a 0.3 s quick fit too often leaves the true
model in a worse minimum than a wrong one (top-1 fell from 93.7 % to 74.3 %), so the classifier's
ranking decides and the fit refines the starting values.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import catalog
from .curve import Curve

os.environ.setdefault("SAS_OPENCL", "none")

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
    weight: float = field(default=float("nan"))
    q: np.ndarray | None = field(default=None, repr=False)       # the points fitted (1/A)
    curve: np.ndarray | None = field(default=None, repr=False)   # the fitted model there (with scale, bkg)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("q")
        d.pop("curve")
        d["parameters"] = {k: float(f"{v:.5g}") for k, v in self.parameters.items()}
        for k in ("scale", "background", "chi2_reduced", "bic", "seconds", "weight"):
            d[k] = float(f"{d[k]:.5g}")
        return d


_MODELS: dict = {}


def _model(name: str):
    if name not in _MODELS:
        from sasmodels.core import load_model
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


def quick_fit(curve: Curve, model: str, start: dict, time_budget: float = 0.3, max_nfev: int = 100) -> FitResult:
    """Refine ``start`` (a candidate's starting parameters) against ``curve`` for ``model``.

    Long curves are decimated to MAX_FIT_POINTS log-spaced points; chi-square and BIC refer to them.
    """
    from scipy.optimize import least_squares
    from sasmodels.direct_model import DirectModel

    t0 = time.perf_counter()
    curve = _decimate(curve)
    spec = catalog.get(model)
    sigma = curve.sigma if curve.sigma is not None else NO_SIGMA_RELATIVE * np.abs(curve.intensity) + 1e-30
    calc = DirectModel(_sas_data(curve, sigma), _model(model))
    pd_name = spec.pd_param + "_pd"
    names = list(spec.start_params)
    # Contrast only scales a homogeneous body; for core-shell bodies the core/shell contrast
    # ratio changes the shape and is refined too (shell contrast 1, solvent 0).
    base = dict(spec.fixed)
    base.update({spec.sld_names[0]: 1.0, spec.sld_names[-1]: 0.0})
    core_shell = spec.contrast == "core_shell"
    if core_shell:
        base[spec.sld_names[1]] = 1.0
    base.update({spec.pd_param + "_pd_n": FIT_PD_POINTS, spec.pd_param + "_pd_type": "gaussian"})
    n_log = len(names)

    def unpack(x: np.ndarray) -> dict:
        pars = dict(base)
        for n_, v in zip(names, x[:n_log]):
            pars[n_] = float(np.exp(v))
        pars[pd_name] = float(x[n_log])
        if core_shell:
            pars[spec.sld_names[0]] = float(x[n_log + 1])
        return pars

    lo = [np.log(RATIO_BOUNDS[0] if n_.startswith("x_") else SIZE_BOUNDS[0]) for n_ in names] + [0.0]
    hi = [np.log(RATIO_BOUNDS[1] if n_.startswith("x_") else SIZE_BOUNDS[1]) for n_ in names] + [PD_MAX]
    x_start = [np.log(max(start.get(n_, 50.0), 1e-3)) for n_ in names] + [min(start.get(pd_name, 0.1), PD_MAX)]
    starts = [x_start]
    if core_shell:  # core contrast relative to the shell: two starts, either side of the shell
        lo, hi = lo + [-4.0], hi + [4.0]
        starts = [x_start + [-1.0], x_start + [2.5]]
    lo_a, hi_a = np.array(lo), np.array(hi)
    count = [0]
    # the first call of a model in a process compiles/loads its kernel: not part of the budget
    calc(**unpack(np.clip(starts[0], lo_a + 1e-9, hi_a - 1e-9)), scale=1.0, background=0.0)
    t_fit = time.perf_counter()

    class _OutOfTime(Exception):
        pass

    best = {"cost": np.inf, "x": np.clip(starts[0], lo_a + 1e-9, hi_a - 1e-9), "linear": (1.0, 0.0)}

    def residuals(x: np.ndarray) -> np.ndarray:
        if time.perf_counter() - t_fit > time_budget and count[0] > 0:
            raise _OutOfTime
        count[0] += 1
        i = np.asarray(calc(**unpack(x), scale=1.0, background=0.0), dtype=np.float64)
        if not np.all(np.isfinite(i)):
            return np.full(curve.q.size, 1e6)
        scale, bkg, r = _linear(i, curve.intensity, sigma)
        cost = float(r @ r)
        if cost < best["cost"]:
            best.update(cost=cost, x=np.array(x), linear=(scale, bkg), i=i)
        return r

    converged, message = False, ""
    for x0 in starts:
        try:
            res = least_squares(residuals, np.clip(x0, lo_a + 1e-9, hi_a - 1e-9), bounds=(lo_a, hi_a), method="trf",
                                x_scale="jac", diff_step=1e-4, max_nfev=max_nfev // len(starts))
            converged, message = converged or bool(res.success), str(res.message)
        except _OutOfTime:
            message = f"stopped at the time budget ({time_budget:.2f} s)"
            break
    n, k = curve.q.size, len(lo) + 2
    chi2 = best["cost"]
    pars = unpack(best["x"])
    out = {n_: pars[n_] for n_ in names}
    out[pd_name] = pars[pd_name]
    if core_shell:
        out.update({sld: pars[sld] for sld in spec.sld_names})
    fitted = best["linear"][0] * best["i"] + best["linear"][1] if "i" in best else None
    return FitResult(model, out, best["linear"][0], best["linear"][1], chi2 / max(n - k, 1), chi2 + k * np.log(n),
                     n, k, count[0], time.perf_counter() - t0, converged, message, q=curve.q, curve=fitted)


def combine(ranking: list[tuple[str, float]], fits: dict[str, FitResult]) -> list[tuple[str, float]]:
    """Final ranking of the fitted candidates: p_classifier x exp(-dBIC/2), normalised."""
    fitted = [(m, p) for m, p in ranking if m in fits and np.isfinite(fits[m].bic)]
    if not fitted:
        return []
    bic_min = min(fits[m].bic for m, _ in fitted)
    w = np.array([p * np.exp(-0.5 * (fits[m].bic - bic_min)) for m, p in fitted])
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    for (m, _), v in zip(fitted, w):
        fits[m].weight = float(v)
    return sorted(((m, float(v)) for (m, _), v in zip(fitted, w)), key=lambda t: -t[1])
