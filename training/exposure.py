"""Outlier exposure: generic curves that are none of the catalog shapes, made on the fly.

Training shows the network a few such curves per batch and asks for a flat (uniform) class
posterior on them (Hendrycks et al. 2019, "outlier exposure"); in the contrastive loss they form
one extra group, away from every catalog class. The families here are deliberately generic and
analytic (numpy only, no sasmodels): smooth random log-log curves, unified Guinier/power-law
levels with non-Porod exponents, power laws carrying bumps, polymer solutions (Ornstein-Zernike
blobs, Debye coils), long-period correlation peaks (semicrystalline and lamellar materials) and
Bragg peaks of ordered mesophases; a recipe picks its families (``exposure_families``, default
the first three). Plus ``two_populations``, sums
of two database curves of well-separated sizes (a bimodal sample is not a catalog shape, and no
analytic family resembles one). The evaluation set of
training/ood.py is built separately from sasmodels models and junk; docs/evaluation.md lists
which of its kinds resemble these families, so the gain is not read off seen kinds alone.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

# family -> the training/ood.py evaluation kinds it resembles (reported as seen-like there)
FAMILIES: dict[str, tuple[str, ...]] = {
    "smooth_random": ("junk_random_walk",),
    "unified_levels": ("mass_fractal", "surface_fractal", "power_law", "gel"),
    "bumpy_power_law": ("gaussian_peak", "broad_peak"),
    "polymer_solution": ("polymer_coil", "gel"),
    "long_period": ("broad_peak", "microemulsion"),
    "ordered_peaks": ("lamellar_stack", "gaussian_peak"),
}
LEGACY_FAMILIES = ("smooth_random", "unified_levels", "bumpy_power_law")   # bundles without `exposure_families`


def recipe_families(config: dict) -> tuple[str, ...]:
    """The exposure families a training config (or a card's ``training.config``) names."""
    return tuple(config.get("exposure_families") or LEGACY_FAMILIES)


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


def polymer_solution(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Chains in solution or a swollen gel: an Ornstein-Zernike-like blob term with a Flory
    exponent (high-q slope 1/nu, nu 0.3-0.62), optionally a coil's Guinier knee at larger scale and
    a low-q cluster upturn; no particle shape anywhere."""
    xi, m = _lu(rng, 5, 400), 1.0 / rng.uniform(0.3, 0.62)
    i = 1.0 / (1.0 + (q * xi) ** m)
    if rng.uniform() < 0.5:   # a Debye-like coil (Rg above the blob size) on top
        rg = xi * _lu(rng, 2, 30)
        x = (q * rg) ** 2
        debye = np.where(x > 1e-6, 2 * (np.expm1(-x) + x) / np.maximum(x, 1e-6) ** 2, 1.0)
        i = i + _lu(rng, 0.3, 30) * debye
    if rng.uniform() < 0.5:   # clusters / inhomogeneities
        i = i + _lu(rng, 1e-4, 1e-1) * i[0] * (q / q[0]) ** -rng.uniform(2.0, 4.0)
    return i


def long_period(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A semicrystalline or lamellar long period: one broad correlation peak (Lorentzian or
    Gaussian in q, relative width 0.1-0.6, sometimes a second order) on a power law with a
    Porod-like fall beyond it: the peak belongs to no particle's form factor."""
    q_star = _lu(rng, 2e-3, 0.3)
    width = q_star * rng.uniform(0.1, 0.6)
    shape = (lambda d: 1.0 / (1.0 + d ** 2)) if rng.uniform() < 0.5 else (lambda d: np.exp(-0.5 * d ** 2))
    peak = shape((q - q_star) / width)
    if rng.uniform() < 0.4:
        peak = peak + rng.uniform(0.05, 0.5) * shape((q - 2 * q_star) / (1.5 * width))
    fall = 1.0 / (1.0 + (q / (q_star * rng.uniform(1.2, 3.0))) ** rng.uniform(2.0, 4.0))
    # scattering of larger structures: a power law below the peak, levelling off at q_star / 1.5..30
    # at 0.01..30 times the peak's height (below it, the peak dominates; above, it is a shoulder)
    q_low, p = q_star / _lu(rng, 1.5, 30), rng.uniform(1.0, 4.0)
    base = _lu(rng, 0.01, 30.0) / (1.0 + (q / q_low) ** p)
    return peak * fall + base + 1e-6


PEAK_SERIES = {   # ordered mesophases: peak positions relative to the first
    "lamellar": (1.0, 2.0, 3.0, 4.0),
    "hexagonal": (1.0, np.sqrt(3), 2.0, np.sqrt(7), 3.0),
    "cubic": (1.0, np.sqrt(2), np.sqrt(3), 2.0, np.sqrt(5), np.sqrt(6)),
    "bcc": (1.0, np.sqrt(2), np.sqrt(3), 2.0),
    "fcc": (1.0, np.sqrt(4 / 3), np.sqrt(8 / 3), np.sqrt(11 / 3), 2.0),
}


def ordered_peaks(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bragg peaks of an ordered phase (lamellar, hexagonal, cubic lattices of micelles or
    crystallites: relative width 0.01-0.08) on a smooth envelope (a Guinier knee or a power law)
    and a weak diffuse part: sharper and higher than any structure factor of the catalog."""
    series = PEAK_SERIES[list(PEAK_SERIES)[int(rng.integers(len(PEAK_SERIES)))]]
    q1 = _lu(rng, 2e-3, 0.5)
    rel = rng.uniform(0.01, 0.08)
    peaks = np.zeros_like(q)
    for k, r in enumerate(series):
        amp = _lu(rng, 0.05, 1.0) if k else 1.0
        peaks += amp * np.exp(-0.5 * ((q - r * q1) / (rel * r * q1)) ** 2)
    rg = _lu(rng, 0.3, 3.0) / q1
    envelope = 1.0 / (1.0 + (q * rg) ** 2 / 3) ** rng.uniform(1.0, 2.0)
    diffuse = envelope * _lu(rng, 1e-3, 0.2)
    upturn = (q / q[0]) ** -rng.uniform(2.0, 4.0) * _lu(rng, 1e-5, 1e-2) if rng.uniform() < 0.4 else 0.0
    return envelope * peaks * _lu(rng, 3, 100) + diffuse + upturn + 1e-6


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


def exposure_curve(q: np.ndarray, rng: np.random.Generator,
                   families: tuple[str, ...] = LEGACY_FAMILIES) -> np.ndarray:
    """One exposure curve on ``q`` (normalised to I[0] = 1), its family drawn uniformly from ``families``."""
    family = families[int(rng.integers(len(families)))]
    i = globals()[family](q, rng)
    i = np.maximum(i, 1e-12 * i.max())
    return i / i[0]
