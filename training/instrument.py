"""Instrument randomisation: observe a simulated I(q) through a randomly drawn instrument.

A physics curve on the fine grid (training/simulate.py) becomes what a file would hold:
q points in a window, pinhole (Gaussian dq) or slit smearing, counting noise, flat
background (sometimes subtracted), arbitrary scale, and sometimes no dq or sigma column.
The families live in ``configs/instruments.yaml``; held-out families are never drawn in
training. numpy only, so the runtime tests and examples can use it without torch.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import yaml

CONFIG = os.path.join(os.path.dirname(__file__), "configs", "instruments.yaml")
# Relative pinhole widths at which smearing matrices are precomputed on the fine grid.
SMEAR_LEVELS = np.geomspace(0.01, 0.32, 11)


@dataclass
class Instrument:
    """One drawn instrument; every field is a plain number or string."""

    family: str
    qmin: float
    qmax: float
    n_points: int
    spacing: str            # "log" | "linear"
    resolution: str         # "pinhole" | "slit"
    dq_over_q: float        # pinhole relative sigma (0 = none)
    dq0: float              # pinhole absolute sigma term, 1/A
    slit_length: float      # 1/A (slit only)
    counts: float           # counts in the first point
    ring_exponent: float
    rel_floor: float
    background: float       # relative to I(qmax); 0 = none
    subtracted: bool
    report_dq: bool
    report_sigma: bool
    scale: float

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=None)
def load_config(path: str = CONFIG) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def _logu(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = (float(v) for v in lo_hi)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _pick(rng: np.random.Generator, weights: dict) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return str(rng.choice(names, p=p / p.sum()))


def _in_box(inst: Instrument, box: dict) -> bool:
    for key, cond in box.items():
        value = getattr(inst, key)
        if isinstance(cond, str):
            if value != cond:
                return False
        elif not (cond[0] <= value <= cond[1]):
            return False
    return True


def _draw_dq_over_q(rng: np.random.Generator, d: dict, t: dict) -> float:
    """Pinhole dq/q: a held-out family's own range, else the training prior (log-uniform over
    ``dq_over_q``, with a share ``dq_over_q_coarse.share`` drawn uniformly over its ``range``).
    With no coarse share the random stream is the one the earlier stages trained on."""
    if "dq_over_q" in d:
        return _logu(rng, d["dq_over_q"])
    coarse = t.get("dq_over_q_coarse") or {}
    if coarse.get("share", 0) > 0 and rng.uniform() < coarse["share"]:
        return float(rng.uniform(*coarse["range"]))
    return _logu(rng, t["dq_over_q"])


def draw_instrument(rng: np.random.Generator, family: str = "train", config: dict | None = None) -> Instrument:
    """Draw an instrument: ``family="train"`` (random, held-out boxes rejected) or a held-out name."""
    cfg = config or load_config()
    t = cfg["train"]
    for _ in range(1000):
        d = dict(cfg["held_out"][family]["draw"]) if family != "train" else {}
        qmin = _logu(rng, d.get("qmin", t["qmin"]))
        if "qmax" in d:
            qmax = _logu(rng, d["qmax"])
        else:
            qmax = min(1.0, qmin * 10 ** rng.uniform(*t["decades"]))
            if qmax / qmin < 10 ** t["decades"][0] * 0.999:
                continue
        resolution = d.get("resolution") or _pick(rng, t["resolution"])
        dq_over_q = dq0 = slit_length = 0.0
        if resolution == "pinhole":
            if "dq_over_q" in d or rng.uniform() > t["dq_over_q_zero"]:
                dq_over_q = _draw_dq_over_q(rng, d, t)
            if "dq0_fraction" in d or rng.uniform() < 0.5:
                dq0 = qmin * rng.uniform(*d.get("dq0_fraction", t["dq0_fraction"]))
        else:
            slit_length = _logu(rng, d.get("slit_length", t["slit_length"]))
        inst = Instrument(
            family=family, qmin=qmin, qmax=qmax,
            n_points=int(round(_logu(rng, d.get("n_points", t["n_points"])))),
            spacing=d.get("spacing") or _pick(rng, t["spacing"]),
            resolution=resolution, dq_over_q=dq_over_q, dq0=dq0, slit_length=slit_length,
            counts=_logu(rng, t["counts"]), ring_exponent=float(rng.uniform(*t["ring_exponent"])),
            rel_floor=float(rng.uniform(*t["rel_floor"])),
            background=0.0 if rng.uniform() < t["background_absent"] else _logu(rng, t["background"]),
            subtracted=bool(rng.uniform() < t["subtracted"]),
            report_dq=bool(rng.uniform() < t["report_dq"]),
            report_sigma=bool(rng.uniform() < t["report_sigma"]),
            scale=float(10 ** rng.uniform(-3, 3)),
        )
        if family != "train" or not any(_in_box(inst, h["box"]) for h in cfg["held_out"].values()):
            return inst
    raise RuntimeError(f"could not draw an instrument for family {family!r}")


_SMEAR_CACHE: dict[tuple, np.ndarray] = {}


def smearing_matrices(q: np.ndarray) -> np.ndarray:
    """Row-normalised Gaussian pinhole smearing matrices on the fine grid, one per SMEAR_LEVEL."""
    key = (q.size, float(q[0]), float(q[-1]))
    if key not in _SMEAR_CACHE:
        _SMEAR_CACHE[key] = _build_smearing(q)
    return _SMEAR_CACHE[key]


def _build_smearing(q: np.ndarray) -> np.ndarray:
    w = np.gradient(q)
    mats = []
    for r in SMEAR_LEVELS:
        g = np.exp(-0.5 * ((q[None, :] - q[:, None]) / (r * q[:, None])) ** 2) * w[None, :]
        mats.append(g / g.sum(axis=1, keepdims=True))
    return np.stack(mats).astype(np.float64)


def _interp_loglog(q_new: np.ndarray, q: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    return 10 ** np.interp(np.log10(q_new), np.log10(q), np.log10(intensity))


def smear(q_fine: np.ndarray, i_fine: np.ndarray, q_obs: np.ndarray, inst: Instrument) -> np.ndarray:
    """The instrument-smeared intensity at the observed q points."""
    if inst.resolution == "slit":
        u = inst.slit_length * (np.arange(32) + 0.5) / 32
        qq = np.sqrt(q_obs[:, None] ** 2 + u[None, :] ** 2)
        qq = np.minimum(qq, q_fine[-1])
        return _interp_loglog(qq.ravel(), q_fine, i_fine).reshape(qq.shape).mean(axis=1)
    r = np.sqrt(inst.dq_over_q**2 + (inst.dq0 / q_obs) ** 2)
    r = np.minimum(r, SMEAR_LEVELS[-1])
    if r.max() < SMEAR_LEVELS[0] * 0.5:
        return _interp_loglog(q_obs, q_fine, i_fine)
    mats = smearing_matrices(q_fine)
    levels = np.concatenate([[0.0], SMEAR_LEVELS])
    pos = np.interp(r, levels, np.arange(levels.size))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, levels.size - 1)
    frac = pos - lo
    out = np.zeros_like(q_obs)
    for k in np.unique(np.concatenate([lo, hi])):
        curve = i_fine if k == 0 else mats[k - 1] @ i_fine
        at_q = _interp_loglog(q_obs, q_fine, curve)
        out += np.where(lo == k, 1 - frac, 0.0) * at_q + np.where(hi == k, frac, 0.0) * at_q
    return out


@dataclass
class Observation:
    """A simulated measurement, as a file would hold it, plus truth for evaluation."""

    q: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None
    dq: np.ndarray | None
    slit_length: float | None
    q_visible_max: float    # largest q where the clean signal exceeds 3 sigma

    def as_tuple(self):
        return self.q, self.intensity, self.sigma, self.dq, self.slit_length


def observe(q_fine: np.ndarray, i_fine: np.ndarray, inst: Instrument, rng: np.random.Generator) -> Observation:
    """Observe one physics curve through ``inst``, with counting noise drawn from ``rng``."""
    if inst.spacing == "log":
        q = np.geomspace(inst.qmin, inst.qmax, inst.n_points)
    else:
        q = np.linspace(inst.qmin, inst.qmax, inst.n_points)
    clean = smear(q_fine, i_fine, q, inst) * inst.scale
    bkg = inst.background * clean[-1]
    weight = (q / q[0]) ** inst.ring_exponent
    k = inst.counts / ((clean[0] + bkg) * weight[0])
    counts = k * (clean + bkg) * weight
    sigma = np.sqrt(counts) / (k * weight)
    sigma = np.sqrt(sigma**2 + (inst.rel_floor * (clean + bkg)) ** 2)
    measured = clean + bkg + sigma * rng.standard_normal(q.size)
    if inst.subtracted and bkg > 0:
        measured = measured - bkg * (1 + 0.02 * rng.standard_normal())
    visible = clean >= 3 * sigma
    q_vis = float(q[visible][-1]) if np.any(visible) else 0.0
    dq = None
    if inst.report_dq and inst.resolution == "pinhole" and (inst.dq_over_q > 0 or inst.dq0 > 0):
        dq = np.sqrt((inst.dq_over_q * q) ** 2 + inst.dq0**2) * (1 + 0.1 * rng.uniform(-1, 1))
    return Observation(
        q=q, intensity=measured, sigma=sigma if inst.report_sigma else None, dq=dq,
        slit_length=inst.slit_length if inst.resolution == "slit" else None, q_visible_max=q_vis,
    )


def identifiable(obs: Observation, lengths: tuple[float, float]) -> bool:
    """The size features are inside the visible window: qmin <= 2/largest, q_visible >= 5/smallest.

    ``lengths`` are the (largest, smallest) characteristic lengths from the catalog (A).
    """
    large, small = lengths
    return bool(obs.q[0] <= 2.0 / large and obs.q_visible_max >= 5.0 / small)
