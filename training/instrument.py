"""Instrument randomisation: observe a simulated I(q) through a randomly drawn instrument.

A physics curve on the fine grid (training/simulate.py) becomes what a file would hold:
q points in a window, pinhole (Gaussian dq) or slit smearing, counting noise, flat
background (sometimes subtracted), arbitrary scale, and sometimes no dq or sigma column.
The families live in ``configs/instruments.yaml``; held-out families are never drawn in
training. The same file's ``nuisances`` table holds what measured curves carry beside the
instrument (docs/design.md, "Physics once, instrument every time"): a low-q upturn, sloped and
power-law backgrounds, over- and under-subtraction, constant relative errors, misestimated or
absent error bars, data merged from two or three settings, beam-stop shadowing. Each is drawn
per curve with the instrument (``Instrument`` fields, zero = absent); a table without
``nuisances`` draws exactly the instruments of before. numpy only, so the runtime tests and
examples can use it without torch.
"""
from __future__ import annotations

import os
import copy
from dataclasses import asdict, dataclass, replace
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
    # nuisances (configs/instruments.yaml ``nuisances``); 0 = absent
    upturn_exponent: float = 0.0     # low-q power law A q^-p added to the sample's I(q)
    upturn_crossover: float = 0.0    # q (1/A) where it equals the form factor
    background_slope: float = 0.0    # background varies as (1 + slope q / qmax)
    tail_level: float = 0.0          # weak power-law tail, relative to I(qmax) at qmax
    tail_exponent: float = 0.0
    subtraction_error: float = 0.0   # relative error of a subtracted background (over/under)
    relative_error: float = 0.0      # constant relative errors replace counting statistics
    sigma_factor: float = 1.0        # reported sigma = factor x the true one
    segments: int = 1                # settings merged into one curve
    segment_seed: int = 0            # their resolution, scale mismatch and overlap
    beamstop_points: int = 0         # lowest-q points shadowed by the beam stop
    beamstop_attenuation: float = 1.0

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
            return draw_nuisances(rng, inst, cfg.get("nuisances")) if cfg.get("nuisances") else inst
    raise RuntimeError(f"could not draw an instrument for family {family!r}")


def _share(rng: np.random.Generator, spec: dict | None) -> bool:
    return bool(spec) and rng.uniform() < float(spec.get("share", 0.0))


def draw_nuisances(rng: np.random.Generator, inst: Instrument, table: dict) -> Instrument:
    """``inst`` with the nuisances of ``table`` (the ``nuisances`` block of an instrument table) drawn."""
    n: dict = {}
    decades = np.log10(inst.qmax / inst.qmin)
    if _share(rng, t := table.get("upturn")):
        n["upturn_exponent"] = float(rng.uniform(*t["exponent"]))
        lo, hi = t["crossover_decades"]   # decades above qmin, hi as a share of the window
        n["upturn_crossover"] = float(inst.qmin * 10 ** rng.uniform(lo, hi * decades))
    if inst.background > 0 and _share(rng, t := table.get("background_slope")):
        n["background_slope"] = float(rng.uniform(*t["slope"]))
    if _share(rng, t := table.get("background_tail")):
        n["tail_level"] = _logu(rng, t["level"])
        n["tail_exponent"] = float(rng.uniform(*t["exponent"]))
    if inst.subtracted and (t := table.get("subtraction_error")):
        n["subtraction_error"] = float(rng.uniform(*t))
    if _share(rng, t := table.get("relative_error")):
        n["relative_error"] = _logu(rng, t["level"])
    if _share(rng, t := table.get("sigma_misestimate")):
        n["sigma_factor"] = _logu(rng, t["factor"])
    if _share(rng, t := table.get("merged")) and decades >= 1.2:
        n["segments"] = int(rng.integers(t["segments"][0], t["segments"][1] + 1))
        n["segment_seed"] = int(rng.integers(2**31))
    if _share(rng, t := table.get("beamstop")):
        n["beamstop_points"] = int(rng.integers(t["points"][0], t["points"][1] + 1))
        n["beamstop_attenuation"] = float(rng.uniform(*t["attenuation"]))
    return replace(inst, **n)


def stressed(table: dict, overrides: dict) -> dict:
    """A copy of instrument ``table`` with a stress set's ``overrides`` ({"train": {...},
    "nuisances": {...}}) replacing its keys; a nuisance given as a dict replaces that nuisance's keys."""
    out = copy.deepcopy(table)
    for section, values in overrides.items():
        block = out.setdefault(section, {})
        for key, value in values.items():
            block[key] = dict(block.get(key) or {}, **value) if isinstance(value, dict) else value
    return out


def without_nuisances(table: dict) -> dict:
    """A copy of instrument ``table`` that draws no nuisances (the clean instruments of before)."""
    out = copy.deepcopy(table)
    out.pop("nuisances", None)
    return out


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


def _window(inst: Instrument) -> np.ndarray:
    if inst.spacing == "log":
        return np.geomspace(inst.qmin, inst.qmax, inst.n_points)
    return np.linspace(inst.qmin, inst.qmax, inst.n_points)


def with_upturn(q_fine: np.ndarray, i_fine: np.ndarray, inst: Instrument) -> np.ndarray:
    """The sample's I(q) plus the low-q power law of ``inst`` (aggregates, dust), equal to the form
    factor at ``upturn_crossover``."""
    if inst.upturn_exponent <= 0:
        return i_fine
    at_cross = float(_interp_loglog(np.array([inst.upturn_crossover]), q_fine, i_fine)[0])
    return i_fine + at_cross * (q_fine / inst.upturn_crossover) ** (-inst.upturn_exponent)


def _segments(inst: Instrument) -> list[tuple[Instrument, float]]:
    """(instrument, scale factor) of each merged setting: the window split in log q with overlaps,
    each part with its own resolution, point count, counting statistics and a small scale mismatch."""
    rng = np.random.default_rng(inst.segment_seed)
    k = inst.segments
    cuts = np.sort(rng.uniform(0.25, 0.75, k - 1)) if k == 2 else np.sort(rng.uniform(0.2, 0.8, k - 1))
    edges = np.log10(inst.qmin) + np.concatenate([[0.0], cuts, [1.0]]) * np.log10(inst.qmax / inst.qmin)
    out = []
    for j in range(k):
        overlap = rng.uniform(0.0, 0.15) * (edges[-1] - edges[0])
        lo = edges[j] - (overlap if j > 0 else 0.0)
        hi = edges[j + 1]
        share = (hi - lo) / (edges[-1] - edges[0])
        dq = inst.dq_over_q * float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))) if inst.dq_over_q > 0 else 0.0
        seg = replace(inst, qmin=float(10 ** lo), qmax=float(10 ** hi), segments=1,
                      n_points=max(12, int(round(inst.n_points * share))), dq_over_q=min(dq, 0.3),
                      counts=inst.counts * float(np.exp(rng.uniform(np.log(0.1), np.log(10.0)))))
        out.append((seg, 1.0 if j == 0 else float(1.0 + rng.normal(0.0, 0.05))))
    return out


def observe(q_fine: np.ndarray, i_fine: np.ndarray, inst: Instrument, rng: np.random.Generator) -> Observation:
    """Observe one physics curve through ``inst``, with counting noise drawn from ``rng``."""
    sample = with_upturn(q_fine, i_fine, inst)
    if inst.segments > 1:
        i_top = float(smear(q_fine, sample, np.array([inst.qmax]), inst)[0]) * inst.scale
        parts = [_observe_window(q_fine, sample, seg, rng, i_top, factor) for seg, factor in _segments(inst)]
        order = np.argsort(np.concatenate([p.q for p in parts]), kind="stable")
        cat = lambda name: (None if any(getattr(p, name) is None for p in parts)
                            else np.concatenate([getattr(p, name) for p in parts])[order])
        q = np.concatenate([p.q for p in parts])[order]
        obs = Observation(q=q, intensity=cat("intensity"), sigma=cat("sigma"), dq=cat("dq"),
                          slit_length=parts[0].slit_length, q_visible_max=max(p.q_visible_max for p in parts))
    else:
        obs = _observe_window(q_fine, sample, inst, rng, None, 1.0)
    if inst.beamstop_points > 0:
        k = min(inst.beamstop_points, obs.q.size // 4)
        obs.intensity[:k] *= np.linspace(inst.beamstop_attenuation, 1.0, k + 1)[:-1]
    return obs


def _observe_window(q_fine: np.ndarray, i_fine: np.ndarray, inst: Instrument, rng: np.random.Generator,
                    i_top: float | None, factor: float) -> Observation:
    """One setting's observation. ``i_top``: the smeared intensity at the merged curve's qmax (the
    background's reference), None for a single setting; ``factor``: its scale mismatch."""
    q = _window(inst)
    clean = smear(q_fine, i_fine, q, inst) * inst.scale * factor
    ref = clean[-1] if i_top is None else i_top
    bkg = inst.background * ref * np.maximum(1.0 + inst.background_slope * q / inst.qmax, 0.0)
    if inst.tail_level > 0:
        bkg = bkg + inst.tail_level * ref * (q / inst.qmax) ** (-inst.tail_exponent)
    total = clean + bkg
    weight = (q / q[0]) ** inst.ring_exponent
    k = inst.counts / (total[0] * weight[0])
    if inst.relative_error > 0:
        sigma = inst.relative_error * total
    else:
        counts = k * total * weight
        sigma = np.sqrt(counts) / (k * weight)
        sigma = np.sqrt(sigma**2 + (inst.rel_floor * total) ** 2)
    measured = total + sigma * rng.standard_normal(q.size)
    subtracted = inst.subtracted and np.any(bkg > 0)
    if subtracted:
        error = inst.subtraction_error if inst.subtraction_error else 0.02 * rng.standard_normal()
        measured = measured - bkg * (1 + error)
    visible = clean >= 3 * sigma
    q_vis = float(q[visible][-1]) if np.any(visible) else 0.0
    dq = None
    if inst.report_dq and inst.resolution == "pinhole" and (inst.dq_over_q > 0 or inst.dq0 > 0):
        dq = np.sqrt((inst.dq_over_q * q) ** 2 + inst.dq0**2) * (1 + 0.1 * rng.uniform(-1, 1))
    return Observation(
        q=q, intensity=measured, sigma=sigma * inst.sigma_factor if inst.report_sigma else None, dq=dq,
        slit_length=inst.slit_length if inst.resolution == "slit" else None, q_visible_max=q_vis,
    )


def identifiable(obs: Observation, lengths: tuple[float, float]) -> bool:
    """The size features are inside the visible window: qmin <= 2/largest, q_visible >= 5/smallest.

    ``lengths`` are the (largest, smallest) characteristic lengths from the catalog (A).
    """
    large, small = lengths
    return bool(obs.q[0] <= 2.0 / large and obs.q_visible_max >= 5.0 / small)
