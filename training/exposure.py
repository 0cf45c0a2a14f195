"""Outlier exposure: generic curves that are none of the catalog shapes, made on the fly.

Training shows the network a few such curves per batch and asks for a flat (uniform) class
posterior on them (Hendrycks et al. 2019, "outlier exposure"); in the contrastive loss they form
one extra group, away from every catalog class. The families here are deliberately generic and
analytic (numpy only, no sasmodels): smooth random log-log curves, unified Guinier/power-law
levels with non-Porod exponents, and power laws carrying bumps; plus ``two_populations``, sums
of two database curves of well-separated sizes (a bimodal sample is not a catalog shape, and no
analytic family resembles one). The evaluation set of
training/ood.py is built separately from sasmodels models and junk; docs/evaluation.md lists
which of its kinds resemble these families, so the gain is not read off seen kinds alone.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

FAMILIES = ("smooth_random", "unified_levels", "bumpy_power_law")


def _lu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def smooth_random(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """log I whose log-log slope is a smoothed random process (mean slope -4.5..0.5)."""
    t = np.log(q)
    width = rng.uniform(3, 40)
    noise = rng.normal(0, 1, q.size + 200)
    kernel = np.exp(-0.5 * (np.arange(-100, 101) / width) ** 2)
    slope = np.convolve(noise, kernel / kernel.sum(), "same")[100:-100]
    slope = slope / (slope.std() + 1e-9) * rng.uniform(0.3, 2.0) + rng.uniform(-4.5, 0.5)
    log_i = np.concatenate([[0.0], np.cumsum(slope[:-1] * np.diff(t))])
    return np.exp(log_i - log_i.max())


def unified_levels(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One or two Beaucage levels with exponents away from Porod's 4 (mass/surface-fractal-like)."""
    out = np.zeros_like(q)
    rg = _lu(rng, 10, 3000)
    for _ in range(int(rng.integers(1, 3))):
        p = rng.uniform(1.0, 3.4)
        g = _lu(rng, 1e-3, 1.0) * rg ** 2
        out += g * np.exp(-(q * rg) ** 2 / 3) + g * p / rg ** p * (erf(q * rg / np.sqrt(6)) ** 3 / q) ** p
        rg = rg / _lu(rng, 3, 30)
    return out


def bumpy_power_law(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A power law with a Guinier knee times one to three Gaussian bumps in log q."""
    rg = _lu(rng, 10, 2000)
    base = 1.0 / (1.0 + (q * rg) ** 2 / 3) ** (rng.uniform(0.5, 2.2))
    t = np.log(q)
    bumps = np.ones_like(q)
    for _ in range(int(rng.integers(1, 4))):
        bumps += _lu(rng, 0.3, 20) * np.exp(-0.5 * ((t - np.log(_lu(rng, 3e-3, 0.5))) / rng.uniform(0.05, 0.4)) ** 2)
    return base * bumps


MIN_SIZE_RATIO = 2.5   # two_populations: effective radii at least this far apart


def two_populations(q: np.ndarray, i_big: np.ndarray, i_small: np.ndarray, r_big: float, r_small: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The sum of two curves (effective radii ``r_big`` > ``r_small``), weighted so that they cross at a
    q_c between the two sizes' Guinier regions: the larger population dominates below q_c, the
    smaller above. Returns (I normalised to I[0] = 1, q_c)."""
    lo, hi = max(1.0 / r_big, q[0]), min(3.0 / r_small, q[-1])
    q_c = _lu(rng, lo, max(hi, lo * 1.01))
    k = min(int(np.searchsorted(q, q_c)), q.size - 1)
    weight = i_big[k] / max(i_small[k], 1e-300) * _lu(rng, 0.3, 3.0)
    i = i_big / i_big[0] + weight * i_small / i_big[0]
    i = np.maximum(i, 1e-12 * i.max())
    return i / i[0], q_c


def exposure_curve(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One exposure curve on ``q`` (normalised to I[0] = 1), family drawn uniformly."""
    family = FAMILIES[int(rng.integers(len(FAMILIES)))]
    i = globals()[family](q, rng)
    i = np.maximum(i, 1e-12 * i.max())
    return i / i[0]
