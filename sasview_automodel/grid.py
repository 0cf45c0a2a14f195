"""Preprocessing shared by training and runtime: a curve on any q points -> classifier input.

The classifier sees a fixed log-q grid (``GRID_Q``, 256 points, 3e-4..1 1/A) with five
channels (``CHANNELS``; names, order and scalings live in :mod:`sasview_automodel.encoding`):

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

from .encoding import (CHANNELS, DQ_OVER_Q, LOG_INTENSITY, MASK, REL_ERROR, SLIT, encode_dq_over_q,
                       encode_rel_error, encode_slit)

GRID_Q_MIN = 3e-4
GRID_Q_MAX = 1.0
GRID_SIZE = 256
GRID_Q = np.logspace(np.log10(GRID_Q_MIN), np.log10(GRID_Q_MAX), GRID_SIZE)
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

    feats[LOG_INTENSITY, span] = mean_full - mean_full.mean()
    feats[MASK, span] = 1.0
    feats[REL_ERROR, span] = encode_rel_error(err_full)
    feats[DQ_OVER_Q, span] = encode_dq_over_q(dqq_full)
    if slit_length:
        feats[SLIT, span] = encode_slit(float(slit_length), GRID_Q[span])
    info = GridInfo(n_points, int(idx.size), n_nonpositive, n_outside, first, last, estimated)
    return feats, info


PASS_CURVES = 128  # curves per vectorised pass of featurize_many (larger passes leave the caches)
MIN_PASS_CURVES = 3  # smaller passes go curve by curve (a pass costs ~100 us more than one featurize)


def featurize_many(curves) -> tuple[np.ndarray, list[GridInfo]]:
    """Featurize an iterable of (q, I, sigma, dq, slit_length) tuples into one float32 batch.

    Bit-for-bit the same as :func:`featurize` on each curve (tests/test_equivalence.py), but
    the numpy work runs over the points of ``PASS_CURVES`` curves at once instead of curve by
    curve. Curves outside the common case (q not ascending, fewer than two filled bins,
    input that does not convert, ...) go through :func:`featurize` itself.
    """
    curves = list(curves)
    feats = np.zeros((len(curves), len(CHANNELS), GRID_SIZE), dtype=np.float32)
    infos: list = [None] * len(curves)  # every entry is set below
    for start in range(0, len(curves), PASS_CURVES):
        part = curves[start:start + PASS_CURVES]
        part_infos: list = [None] * len(part)
        arrays, rest = _batch_arrays(part) if len(part) >= MIN_PASS_CURVES else (None, list(range(len(part))))
        if arrays is not None:
            rest += _featurize_batch(arrays, feats[start:start + len(part)], part_infos)
        for b in rest:
            feats[start + b], part_infos[b] = featurize(*part[b])
        infos[start:start + len(part)] = part_infos
    return feats, infos


@dataclass
class _Batch:
    """Every batch curve's points, concatenated (see ``_batch_arrays``)."""

    rows: np.ndarray         # (n,) batch index of each curve taken here
    n_points: np.ndarray     # (n,) points per curve
    sigma_none: np.ndarray   # (n,) sigma argument was None
    has_sigma: np.ndarray    # (n,) sigma given with one value per point
    has_slit: np.ndarray     # (n,) slit_length is truthy
    slit: np.ndarray         # (n,) float(slit_length) where truthy, else 0
    q: np.ndarray            # (P,) concatenated, then per point
    intensity: np.ndarray
    sigma: np.ndarray        # 1.0 where the curve has no per-point sigma
    dq: np.ndarray           # NaN where the curve's dq is not used


def _batch_arrays(curves: list) -> tuple[_Batch | None, list[int]]:
    """Concatenate the curves that the batch path takes; returns (arrays, the others' indices)."""
    rows, rest, qs, ints, sigmas, dqs = [], [], [], [], [], []
    n_points, sigma_none, has_sigma, has_slit, slit = [], [], [], [], []
    for b, (q, i, s, d, sl) in enumerate(curves):
        try:  # the same conversions as featurize; anything unusual is left to featurize
            q = np.asarray(q, dtype=np.float64).ravel()
            i = np.asarray(i, dtype=np.float64).ravel()
            n = q.size
            s = None if s is None else np.asarray(s, dtype=np.float64).ravel()
            d = None if d is None or sl is not None else np.asarray(d, dtype=np.float64).ravel()
            slit_value = float(sl) if sl else 0.0
        except (TypeError, ValueError, OverflowError):
            rest.append(b)
            continue
        if i.size != n or n == 0:
            rest.append(b)
            continue
        rows.append(b)
        n_points.append(n)
        qs.append(q)
        ints.append(i)
        sigma_none.append(s is None)
        has_sigma.append(s is not None and s.size == n)
        sigmas.append(s if has_sigma[-1] else np.ones(n))
        dqs.append(d if d is not None and d.size == n else np.full(n, np.nan))
        has_slit.append(bool(sl))
        slit.append(slit_value)
    if not rows:
        return None, rest
    return _Batch(np.array(rows), np.array(n_points), np.array(sigma_none, bool), np.array(has_sigma, bool),
                  np.array(has_slit, bool), np.array(slit, np.float64), np.concatenate(qs), np.concatenate(ints),
                  np.concatenate(sigmas), np.concatenate(dqs)), rest


def _counts(curve: np.ndarray, where: np.ndarray, n: int) -> np.ndarray:
    """Per-curve number of points where ``where`` holds."""
    return np.bincount(curve[where], minlength=n)


def _featurize_batch(a: _Batch, feats: np.ndarray, infos: list) -> list[int]:
    """``featurize`` for every curve in ``a`` at once, written into ``feats``/``infos`` (batch
    rows ``a.rows``); returns the batch rows it leaves to ``featurize``.

    Each step is the element-wise operation ``featurize`` does, on all points together; bin
    sums are ``np.bincount`` over (curve, bin) keys in the same point order, so every sum
    adds the same numbers in the same order. Only the medians (``estimate_log_noise``,
    sigma repair) and each curve's mean log intensity stay per curve.
    """
    n = len(a.rows)
    curve = np.repeat(np.arange(n), a.n_points)
    q, intensity = a.q, a.intensity
    finite = np.isfinite(q) & np.isfinite(intensity) & (q > 0)
    positive = finite & (intensity > 0)
    n_nonpositive = _counts(curve, finite & (intensity <= 0), n)
    lq = np.log10(np.where(positive, q, 1.0))
    idx = np.searchsorted(GRID_EDGES, lq, side="right") - 1
    inside = positive & (idx >= 0) & (idx < GRID_SIZE)
    n_outside = _counts(curve, positive & ~inside, n)

    pick = np.flatnonzero(inside)
    curve, idx, lq, q = curve[pick], idx[pick], lq[pick], q[pick]
    intensity, sigma, dq = intensity[pick], a.sigma[pick], a.dq[pick]
    n_used = np.bincount(curve, minlength=n)
    same = curve[1:] == curve[:-1]
    # featurize sorts by q (stable): a no-op where q already ascends
    unsorted = np.zeros(n, bool)
    unsorted[curve[1:][same & (q[1:] < q[:-1])]] = True
    start = np.concatenate([[0], np.cumsum(n_used)])
    y = np.log10(intensity)

    n_positive_sigma = _counts(curve, sigma > 0, n)
    usable = a.has_sigma & (_counts(curve, ~np.isfinite(sigma), n) == 0) & (n_positive_sigma > 0)
    with np.errstate(all="ignore"):  # rows without a usable sigma are overwritten below
        s_log = np.maximum(sigma / (intensity * _LN10), 1e-4)
    for k in np.flatnonzero(usable & (n_positive_sigma < n_used)):  # points without a usable sigma
        seg = slice(start[k], start[k + 1])
        ok = sigma[seg] > 0
        s_log[seg] = np.where(ok, s_log[seg], np.median(s_log[seg][ok]))
    for k in np.flatnonzero(~usable & (n_used > 0)):
        seg = slice(start[k], start[k + 1])
        s_log[seg] = estimate_log_noise(y[seg])
    w = 1.0 / s_log**2

    size = n * GRID_SIZE
    key = curve * GRID_SIZE + idx
    wsum = np.bincount(key, w, size)
    filled = wsum > 0
    # "cells": the filled (curve, bin) pairs in curve, then bin order; xp/fp of np.interp
    cell = np.flatnonzero(filled)
    cell_sum = wsum[cell]
    mean = np.bincount(key, w * y, size)[cell] / cell_sum
    log_err = np.log10(1.0 / np.sqrt(cell_sum) * _LN10)
    with np.errstate(all="ignore"):
        dqq_point = dq / q  # NaN where featurize ignores dq
    ok = np.isfinite(dqq_point) & (dqq_point >= 0)
    counts = np.bincount(key[ok], None, size)[cell]
    sums = np.bincount(key[ok], dqq_point[ok], size)[cell]
    dqq = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    xbar = np.bincount(key, w * lq, size)[cell] / cell_sum

    cell_curve = cell // GRID_SIZE
    cell_start = np.concatenate([[0], np.cumsum(np.bincount(cell_curve, minlength=n))])
    n_filled = np.diff(cell_start)
    same = cell_curve[1:] == cell_curve[:-1]
    bad = np.zeros(n, bool)
    bad[cell_curve[1:][same & ~(xbar[1:] > xbar[:-1])]] = True  # np.interp needs increasing xp
    fast = (n_used > 0) & (n_filled >= 2) & ~unsorted & ~bad
    c_first = np.minimum(cell_start[:-1], cell.size - 1)
    c_last = np.maximum(cell_start[1:] - 1, 0)
    first = last = np.zeros(n, np.int64)
    if cell.size:
        first, last = cell[c_first] % GRID_SIZE, cell[c_last] % GRID_SIZE

    # every grid point of every fast curve's span, curve by curve
    length = np.where(fast, last - first + 1, 0)
    r = np.repeat(np.arange(n), length)
    j = first[r] + np.arange(r.size) - np.repeat(np.cumsum(length) - length, length)
    at = _LOG_GRID[j]
    # np.interp's interval: the last cell with xp <= x. A bin's xbar lies inside the bin,
    # so that is the last filled bin <= j, or the one before when bin j's xbar is beyond x.
    pos = r * GRID_SIZE + j
    lo = np.cumsum(filled)[pos] - 1
    lo -= filled[pos] & (xbar[lo] > at)
    below, above = lo < c_first[r], lo == c_last[r]     # x < xp[0], x >= xp[-1]
    lo = np.where(below, c_first[r], lo)
    hi = np.where(above, lo, lo + 1)
    x_lo, x_hi = xbar[lo], xbar[hi]
    inner = ~below & ~above & (at != x_lo)

    def interp(fp: np.ndarray) -> np.ndarray:
        f_lo = fp[lo]
        with np.errstate(all="ignore"):  # the quotient is used only inside ``inner``
            return np.where(inner, (fp[hi] - f_lo) / (x_hi - x_lo) * (at - x_lo) + f_lo, f_lo)

    mean_full = interp(mean)
    # _interp_linear_ends: linear, not flat, over the half bin at each end
    c0, cn = c_first[r], c_last[r]
    x0, x1, xm, xn = xbar[c0], xbar[c0 + 1], xbar[cn - 1], xbar[cn]
    f0, f1, fm, fn = mean[c0], mean[c0 + 1], mean[cn - 1], mean[cn]
    with np.errstate(all="ignore"):
        mean_full = np.where(below & (x1 - x0 >= _STEP / 2), f0 + (at - x0) * (f1 - f0) / (x1 - x0), mean_full)
        mean_full = np.where((at > xn) & (xn - xm >= _STEP / 2), fn + (at - xn) * (fn - fm) / (xn - xm), mean_full)
    err_full = interp(log_err)
    dqq_full = interp(dqq)
    regular = np.isfinite(mean_full) & np.isfinite(err_full) & np.isfinite(dqq_full)
    if not regular.all():  # np.interp has its own rules for non-finite values: leave those to it
        fast[r[~regular]] = False
        keep = fast[r]
        r, j, mean_full, err_full, dqq_full = r[keep], j[keep], mean_full[keep], err_full[keep], dqq_full[keep]

    # the mean over the span, per curve (numpy's pairwise sum of exactly those values)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))]).tolist()
    offset = np.array([np.add.reduce(mean_full[b0:b1]) / (b1 - b0) if b1 > b0 else 0.0
                       for b0, b1 in zip(bounds[:-1], bounds[1:])])
    out = feats.reshape(-1)  # a view: channel c of grid point j of batch row b is b*C*G + c*G + j
    dest = a.rows[r] * (len(CHANNELS) * GRID_SIZE) + j
    out[dest + LOG_INTENSITY * GRID_SIZE] = mean_full - offset[r]
    out[dest + MASK * GRID_SIZE] = 1.0
    out[dest + REL_ERROR * GRID_SIZE] = encode_rel_error(err_full)
    out[dest + DQ_OVER_Q * GRID_SIZE] = encode_dq_over_q(dqq_full)
    slit = a.has_slit[r]
    out[dest[slit] + SLIT * GRID_SIZE] = encode_slit(a.slit[r][slit], GRID_Q[j[slit]])

    estimated = ~usable
    for k in range(n):
        if n_used[k] == 0:
            infos[a.rows[k]] = GridInfo(int(a.n_points[k]), 0, int(n_nonpositive[k]), int(n_outside[k]), 0, -1,
                                        bool(a.sigma_none[k]))
        elif fast[k]:
            infos[a.rows[k]] = GridInfo(int(a.n_points[k]), int(n_used[k]), int(n_nonpositive[k]),
                                        int(n_outside[k]), int(first[k]), int(last[k]), bool(estimated[k]))
    return [int(a.rows[k]) for k in np.flatnonzero(~fast & (n_used > 0))]
