"""Preprocessing shared by training and runtime: a curve on any q points -> classifier input.

The classifier sees a fixed log-q grid (``GRID_Q``, 256 points, 3e-4..1 1/A) with five
channels (``CHANNELS``):

``log_intensity``  log10 I averaged per grid bin (inverse-variance weights), minus its mean
                   over the covered bins (so the absolute scale never matters)
``mask``           1 between the first and last bin holding data, 0 elsewhere
``rel_error``      (log10(relative error of the bin mean) + 2) / 2, from sigma or, when the
                   file has none, from the scatter of the data themselves
``dq_over_q``      5 x pinhole dq/q (0 when unknown or slit-smeared)
``slit``           log10(1 + slit_length / q) (0 for pinhole data)

Empty bins inside the covered range are linearly interpolated; everything outside the mask
is 0. Training (training/instrument.py) calls exactly these functions, so the two can never
drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_Q_MIN = 3e-4
GRID_Q_MAX = 1.0
GRID_SIZE = 256
GRID_Q = np.logspace(np.log10(GRID_Q_MIN), np.log10(GRID_Q_MAX), GRID_SIZE)
CHANNELS = ("log_intensity", "mask", "rel_error", "dq_over_q", "slit")
_LOG_GRID = np.log10(GRID_Q)
_STEP = _LOG_GRID[1] - _LOG_GRID[0]
GRID_EDGES = np.concatenate([[_LOG_GRID[0] - _STEP / 2], _LOG_GRID + _STEP / 2])  # log10 q
GRID_EDGES_Q = 10**GRID_EDGES
MIN_COVERED_BINS = 32  # an eighth of the grid, about half a decade
_LN10 = np.log(10.0)


@dataclass
class GridInfo:
    """What the resampling did, for warnings and identifiability checks."""

    n_points: int          # points given
    n_used: int            # finite, positive points inside the grid
    n_nonpositive: int     # points with I <= 0 (dropped)
    n_outside: int         # points outside the grid q range (dropped)
    first_bin: int
    last_bin: int
    sigma_estimated: bool

    @property
    def covered_bins(self) -> int:
        return self.last_bin - self.first_bin + 1 if self.n_used else 0


def estimate_log_noise(log_i: np.ndarray) -> float:
    """Noise of log10 I from the data alone: robust scatter of second differences."""
    if log_i.size < 5:
        return 0.05
    d2 = log_i[2:] - 2 * log_i[1:-1] + log_i[:-2]
    mad = np.median(np.abs(d2 - np.median(d2)))
    return float(max(mad / 0.6745 / np.sqrt(6.0), 1e-4))


def _interp_linear_ends(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp, but extrapolated linearly (not held flat) over the half bin at each end."""
    y = np.interp(x, xp, fp)
    if xp.size >= 2:  # slopes from neighbours closer than half a bin are noise: keep flat then
        lo, hi = x < xp[0], x > xp[-1]
        if xp[1] - xp[0] >= _STEP / 2:
            y[lo] = fp[0] + (x[lo] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
        if xp[-1] - xp[-2] >= _STEP / 2:
            y[hi] = fp[-1] + (x[hi] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return y


def featurize(q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray | None = None,
              dq: np.ndarray | None = None, slit_length: float | None = None
              ) -> tuple[np.ndarray, GridInfo]:
    """Resample one curve (q in 1/A) onto the classifier grid; returns (features[5, 256], info).

    Non-finite and non-positive intensities are dropped (counted in ``info``); q need not be
    sorted. The caller decides whether ``info.covered_bins`` is enough (see ``MIN_COVERED_BINS``).
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    intensity = np.asarray(intensity, dtype=np.float64).ravel()
    n_points = q.size
    finite = np.isfinite(q) & np.isfinite(intensity) & (q > 0)
    positive = finite & (intensity > 0)
    n_nonpositive = int(np.count_nonzero(finite & (intensity <= 0)))
    lq = np.log10(np.where(positive, q, 1.0))
    idx = np.searchsorted(GRID_EDGES, lq, side="right") - 1
    inside = positive & (idx >= 0) & (idx < GRID_SIZE)
    n_outside = int(np.count_nonzero(positive & ~inside))
    feats = np.zeros((len(CHANNELS), GRID_SIZE), dtype=np.float32)
    if not np.any(inside):
        return feats, GridInfo(n_points, 0, n_nonpositive, n_outside, 0, -1, sigma is None)

    order = np.argsort(q[inside], kind="stable")
    idx = idx[inside][order]
    qi = q[inside][order]
    y = np.log10(intensity[inside][order])
    s_log = None
    if sigma is not None:
        s = np.asarray(sigma, dtype=np.float64).ravel()
        s = s[inside][order] if s.size == n_points else None
        if s is not None and np.all(np.isfinite(s)) and np.any(s > 0):
            s_log = np.maximum(s / (intensity[inside][order] * _LN10), 1e-4)
            # points without a usable sigma borrow the median of the others
            if not np.all(s > 0):
                s_log = np.where(s > 0, s_log, np.median(s_log[s > 0]))
    estimated = s_log is None
    if estimated:
        s_log = np.full(y.size, estimate_log_noise(y))
    w = 1.0 / s_log**2
    wsum = np.bincount(idx, w, GRID_SIZE)
    filled = wsum > 0
    mean = np.bincount(idx, w * y, GRID_SIZE)[filled] / wsum[filled]
    err = 1.0 / np.sqrt(wsum[filled])

    dqq = np.zeros(int(filled.sum()))
    if dq is not None and slit_length is None:
        d = np.asarray(dq, dtype=np.float64).ravel()
        if d.size == n_points:
            d = d[inside][order] / qi
            ok = np.isfinite(d) & (d >= 0)
            counts = np.bincount(idx[ok], None, GRID_SIZE)[filled]
            sums = np.bincount(idx[ok], d[ok], GRID_SIZE)[filled]
            dqq = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)

    # Each bin's mean sits at the weighted mean log q of its points, not at the bin centre:
    # interpolating from there keeps sparse data (fewer points than bins) unbiased.
    xbar = np.bincount(idx, w * np.log10(qi), GRID_SIZE)[filled] / wsum[filled]
    bins = np.flatnonzero(filled)
    first, last = int(bins[0]), int(bins[-1])
    span = np.arange(first, last + 1)
    at = _LOG_GRID[span]
    mean_full = _interp_linear_ends(at, xbar, mean)
    err_full = np.interp(at, xbar, np.log10(err * _LN10))
    dqq_full = np.interp(at, xbar, dqq)

    feats[0, span] = mean_full - mean_full.mean()
    feats[1, span] = 1.0
    feats[2, span] = (np.clip(err_full, -4.0, 1.0) + 2.0) / 2.0
    feats[3, span] = 5.0 * np.clip(dqq_full, 0.0, 0.5)
    if slit_length:
        feats[4, span] = np.log10(1.0 + float(slit_length) / GRID_Q[span])
    info = GridInfo(n_points, int(idx.size), n_nonpositive, n_outside, first, last, estimated)
    return feats, info


def featurize_many(curves) -> tuple[np.ndarray, list[GridInfo]]:
    """Featurize an iterable of (q, I, sigma, dq, slit_length) tuples into one float32 batch."""
    out, infos = [], []
    for q, i, s, d, slit in curves:
        f, info = featurize(q, i, s, d, slit)
        out.append(f)
        infos.append(info)
    batch = np.stack(out) if out else np.zeros((0, len(CHANNELS), GRID_SIZE), np.float32)
    return batch, infos
