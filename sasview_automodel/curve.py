"""A validated 1D curve, from arrays or from any file SasView's loaders (sasdata) read.

Units: q is in 1/A inside the package. Files that state their q unit are converted by
sasdata; plain column files carry no unit and are read as 1/A unless ``q_unit="nm"`` is given.
A curve whose q range looks implausible for its stated unit gets a warning saying what to do.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from .errors import FileFormatError, InputError
from .grid import GRID_Q_MAX, GRID_Q_MIN

MIN_POINTS = 10
MAX_DROPPED_FRACTION = 0.5
Q_UNITS = {"A": 1.0, "1/A": 1.0, "nm": 0.1, "1/nm": 0.1}


@dataclass
class Curve:
    """q (1/A, ascending), intensity, optional sigma and pinhole dq, or a slit length."""

    q: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None = None
    dq: np.ndarray | None = None
    slit_length: float | None = None
    name: str = "curve"
    source: str | None = None
    entry: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_tuple(self):
        return self.q, self.intensity, self.sigma, self.dq, self.slit_length


def _optional(a, n: int, what: str) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64).ravel()
    if a.size != n:
        raise InputError(f"{what} has {a.size} values but q has {n}: give one {what} per q point or none")
    if not np.all(np.isfinite(a)) or not np.any(a > 0):
        return None  # unusable uncertainty column: treated as absent
    return a


def make_curve(q, intensity, sigma=None, dq=None, slit_length: float | None = None, q_unit: str = "A",
               name: str = "curve", source: str | None = None, entry: int = 0) -> Curve:
    """Validate arrays into a :class:`Curve` (q converted to 1/A); raises :class:`InputError`."""
    if q_unit not in Q_UNITS:
        raise InputError(f"unknown q unit {q_unit!r}: use 'A' (1/A) or 'nm' (1/nm)")
    try:
        q = np.asarray(q, dtype=np.float64).ravel() * Q_UNITS[q_unit]
        intensity = np.asarray(intensity, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"q and intensity must be numeric arrays ({exc})") from None
    if q.size != intensity.size:
        raise InputError(f"q has {q.size} values but intensity has {intensity.size}: they must pair up")
    n = q.size
    sigma = _optional(sigma, n, "sigma")
    dq = _optional(dq, n, "dq")
    if dq is not None:
        dq = dq * Q_UNITS[q_unit]
    if slit_length is not None:
        slit_length = float(slit_length) * Q_UNITS[q_unit]
        if not np.isfinite(slit_length) or slit_length <= 0:
            slit_length = None
    warnings: list[str] = []
    if n < MIN_POINTS:
        raise InputError(f"{name}: only {n} points; at least {MIN_POINTS} are needed to classify a curve")

    bad = ~(np.isfinite(q) & np.isfinite(intensity))
    if bad.any():
        if bad.mean() > MAX_DROPPED_FRACTION:
            raise InputError(f"{name}: {bad.sum()} of {n} points are NaN or infinite: check the file's columns")
        warnings.append(f"{bad.sum()} points with NaN or infinite values were ignored")
    nonpos_q = np.isfinite(q) & (q <= 0)
    if nonpos_q.any():
        if nonpos_q.mean() > MAX_DROPPED_FRACTION:
            raise InputError(f"{name}: {nonpos_q.sum()} of {n} q values are zero or negative: q must be positive")
        warnings.append(f"{nonpos_q.sum()} points with q <= 0 were ignored")
    keep = ~bad & ~nonpos_q
    nonpos_i = keep & (intensity <= 0)
    if nonpos_i.sum() > MAX_DROPPED_FRACTION * keep.sum():
        raise InputError(f"{name}: {nonpos_i.sum()} of {keep.sum()} intensities are zero or negative; a scattering "
                         "curve must be mostly positive (check the background subtraction or the column order)")
    if nonpos_i.any():
        warnings.append(f"{nonpos_i.sum()} points with zero or negative intensity (background subtraction) were ignored")
    keep &= ~nonpos_i

    q, intensity = q[keep], intensity[keep]
    sigma = sigma[keep] if sigma is not None else None
    dq = dq[keep] if dq is not None else None
    if q.size < MIN_POINTS:
        raise InputError(f"{name}: only {q.size} usable points remain; at least {MIN_POINTS} are needed")
    if np.any(np.diff(q) < 0):
        order = np.argsort(q, kind="stable")
        q, intensity = q[order], intensity[order]
        sigma = sigma[order] if sigma is not None else None
        dq = dq[order] if dq is not None else None
        warnings.append("q was not in ascending order; the points were sorted")
    if np.any(np.diff(q) == 0):
        raise InputError(f"{name}: {int(np.sum(np.diff(q) == 0))} duplicate q values: merge or remove repeated "
                         "points (e.g. overlapping detector ranges) before classifying")

    if q[-1] < GRID_Q_MIN or q[0] > GRID_Q_MAX:
        raise InputError(f"{name}: q spans {q[0]:.3g}..{q[-1]:.3g} 1/A, outside the classifier's range "
                         f"{GRID_Q_MIN:g}..{GRID_Q_MAX:g} 1/A; if q is in 1/nm, use q_unit='nm' (--q-unit nm)")
    if q_unit in ("A", "1/A") and q[-1] > 3.0:
        warnings.append(f"q reaches {q[-1]:.3g} 1/A, unusual for SAS: if the file is in 1/nm, use --q-unit nm")
    if q_unit in ("nm", "1/nm") and q[-1] < 0.01:
        warnings.append(f"q ends at {q[-1]:.3g} 1/A after converting from 1/nm, unusually low: if the file is "
                        "in 1/A, use --q-unit A")
    return Curve(q, intensity, sigma, dq, slit_length, name, source, entry, warnings)


@contextlib.contextmanager
def _quiet():
    """sasdata prints decoding noise and logs warnings; keep the user's terminal clean."""
    logger = logging.getLogger("sasdata")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            yield
        finally:
            logger.setLevel(level)


def load_file(path: str, q_unit: str | None = None) -> list[Curve]:
    """Every 1D dataset in ``path`` as a :class:`Curve`. Files are only read, never written.

    ``q_unit`` overrides the unit of files that do not state one ("A" or "nm").
    """
    if not os.path.exists(path):
        raise FileFormatError(f"{path}: no such file")
    if os.path.isdir(path):
        raise FileFormatError(f"{path} is a folder: give a data file")
    if os.path.getsize(path) == 0:
        raise FileFormatError(f"{path} is empty: nothing to classify")
    from sasdata.dataloader.loader import Loader

    try:
        with _quiet():
            datasets = Loader().load(path)
    except Exception as exc:  # sasdata raises many types for unreadable files
        raise FileFormatError(f"{path}: not a readable SAS data file ({type(exc).__name__}: {exc}). "
                              "Supported: canSAS XML, NXcanSAS HDF5, ABS, PDH, CSV/TXT columns q I [dI [dq]]") from None
    if not datasets:
        raise FileFormatError(f"{path}: the loaders found no data in this file")
    base = os.path.basename(path)
    return [curve_from_data(data, base if len(datasets) == 1 else f"{base}[{k}]", path, k, q_unit)
            for k, data in enumerate(datasets)]


def curve_from_data(data, name: str | None = None, source: str | None = None, entry: int = 0,
                    q_unit: str | None = None) -> Curve:
    """A validated :class:`Curve` from a sasdata/SasView Data1D (duck-typed; raises InputError).

    Slit-smeared data (``dxl``) keep their slit length; ``q_unit`` overrides the data's unit.
    """
    name = str(name or getattr(data, "name", None) or getattr(data, "filename", None) or "data")
    if data is None:
        raise InputError("no data: select or load a 1D data set")
    if getattr(data, "x", None) is None or getattr(data, "y", None) is None or hasattr(data, "qx_data"):
        raise InputError(f"{name} is 2D data; the classifier needs a 1D curve I(q): reduce it (circular average) first")
    dxl = getattr(data, "dxl", None)
    slit = None
    if dxl is not None and np.size(dxl):
        m = float(np.nanmax(np.asarray(dxl, dtype=float)))
        slit = m if np.isfinite(m) and m > 0 else None
    return make_curve(data.x, data.y, getattr(data, "dy", None), None if slit else getattr(data, "dx", None), slit,
                      q_unit=q_unit or _file_q_unit(data), name=name,
                      source=source or getattr(data, "filename", None) or None, entry=entry)


def _file_q_unit(data) -> str:
    """sasdata converts stated units to 1/A; report 'nm' only if the data still say so."""
    unit = str(getattr(data, "_xunit", "") or getattr(data, "x_unit", "") or "").lower()
    return "nm" if "nm" in unit else "A"
