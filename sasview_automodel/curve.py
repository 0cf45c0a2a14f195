"""A validated 1D curve, from arrays or from any file SasView's loaders (sasdata) read.

Every problem with the input ends in an :class:`~sasview_automodel.errors.InputError` or
:class:`~sasview_automodel.errors.FileFormatError` whose message says what is wrong and what to
do; small, common defects (a few NaN rows, a few non-positive intensities after background
subtraction, unsorted q) are repaired and reported in ``Curve.warnings`` with a count.
docs/errors.md lists every message.

Units: q is in 1/A inside the package.

* A file that states its q unit (canSAS XML, NXcanSAS, NIST ABS) is converted to 1/A by sasdata;
  that unit wins. Plain column files (text, CSV, PDH read as columns) state none: they are read
  in ``q_unit`` (default 1/A). ``q_unit`` never re-scales a file that states its unit (sasdata
  already converted it); a note says so when the two disagree.
* Plausibility rule (:func:`unit_warning`), warnings only, never a refusal:
  labelled 1/A but q starts at or above 0.02 1/A AND ends at or above 2 1/A -> probably 1/nm;
  labelled 1/nm (q_unit="nm") but q ends below 0.05 1/A (0.5 1/nm) -> probably 1/A.
  No window inside 3e-4..1.5 1/A labelled 1/A ever triggers it.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import FileFormatError, InputError
from .grid import GRID_EDGES, GRID_Q_MAX, GRID_Q_MIN, GRID_SIZE, MIN_COVERED_BINS

MIN_POINTS = 10                # usable points needed to classify a curve
MAX_DROPPED_FRACTION = 0.5     # more NaN / q<=0 / I<=0 points than this refuses the curve
MAX_FILE_BYTES = 1 << 30       # a 1D curve file is never this large (1e6 points as text is ~40 MB)
Q_UNITS = {"A": 1.0, "nm": 0.1}  # factor to 1/A
# Plausibility rule (documented in docs/errors.md), in 1/A
NM_AS_A_QMIN, NM_AS_A_QMAX = 0.02, 2.0   # labelled 1/A, probably 1/nm when q_min >= 0.02 and q_max >= 2
A_AS_NM_QMAX = 0.05                      # labelled 1/nm, probably 1/A when q_max < 0.05 (0.5 1/nm)
_UNSTATED_LOADERS = ("ASCII", "CSV")     # sasdata readers that assume 1/A instead of reading a unit
SUPPORTED = ("canSAS XML (.xml), NXcanSAS HDF5 (.h5), NIST ABS, Anton Paar PDH, or text/CSV columns "
             "q I [dI [dq]]")


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
    q_unit_used: str = "1/A"       # the unit the input q was read in ("1/A" or "1/nm"); q itself is in 1/A
    q_unit_origin: str = "given"   # given (q_unit argument), header (column file header), file, assumed

    def as_tuple(self):
        return self.q, self.intensity, self.sigma, self.dq, self.slit_length


def normalize_q_unit(unit) -> str | None:
    """'A' or 'nm' for the usual spellings of 1/A and 1/nm ('1/A', 'A^-1', 'Å⁻¹', 'nm^{-1}', ...);
    None for an empty unit; raises InputError for anything else."""
    if unit is None:
        return None
    if type(unit) is str and unit in ("A", "nm"):
        return unit
    if not isinstance(unit, str):
        raise InputError(f"q unit must be a string such as 'A' or 'nm', not {type(unit).__name__}")
    u = unit.strip().lower()
    for old, new in (("å", "a"), ("angstroms", "a"), ("angstrom", "a"), ("ang", "a"), ("⁻¹", "-1"),
                     (" ", ""), ("{", ""), ("}", ""), ("^", ""), ("**", ""), ("(", ""), (")", "")):
        u = u.replace(old, new)
    if not u:
        return None
    if u in ("a", "1/a", "a-1", "inva"):
        return "A"
    if u in ("nm", "1/nm", "nm-1", "invnm"):
        return "nm"
    raise InputError(f"unknown q unit {unit!r}: use 'A' (1/A) or 'nm' (1/nm)")


def _vector(a, what: str) -> np.ndarray:
    """A float64 1D array, or InputError saying why not."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{what} must be a 1D array of numbers ({type(exc).__name__}: {exc})") from None
    if arr.ndim > 1 and sum(n > 1 for n in arr.shape) > 1:
        raise InputError(f"{what} must be a 1D array, got shape {arr.shape}: pass one column "
                         "(e.g. data[:, 0] for q, data[:, 1] for I)")
    return arr.ravel()


def _optional(a, n: int, what: str) -> np.ndarray | None:
    if a is None:
        return None
    a = _vector(a, what)
    if a.size != n:
        raise InputError(f"{what} has {a.size} values but q has {n}: give one {what} per q point or none")
    return a


def grid_coverage(q: np.ndarray) -> tuple[int, float, float]:
    """(classifier grid bins spanned, first q, last q inside the grid) for positive finite q in
    ascending order.

    The same binning as ``grid.featurize`` (bins are log-spaced; edges ``grid.GRID_EDGES``)."""
    log_q = np.log10(q)
    lo, hi = np.searchsorted(log_q, (GRID_EDGES[0], GRID_EDGES[GRID_SIZE]))  # points inside: lo .. hi-1
    if lo >= hi:
        return 0, float("nan"), float("nan")
    first_bin, last_bin = np.searchsorted(GRID_EDGES, log_q[[lo, hi - 1]], side="right") - 1
    return int(last_bin - first_bin + 1), float(q[lo]), float(q[hi - 1])


def unit_warning(q_min: float, q_max: float, unit: str, origin: str) -> str | None:
    """The q-unit plausibility rule (see the module docstring); q in 1/A after conversion.

    ``origin`` is how the unit was decided: "given" (q_unit argument), "file" (stated in the
    file) or "assumed" (the file states none, read as 1/A)."""
    if unit == "A" and q_min >= NM_AS_A_QMIN and q_max >= NM_AS_A_QMAX:
        why = {"file": "although the file states 1/A",
               "assumed": "read as 1/A because the file states no unit",
               "given": "taken as 1/A"}[origin]
        todo = ("if the unit written in the file is wrong, correct it in the file" if origin == "file"
                else "if q is in 1/nm, use q_unit='nm' (CLI: --q-unit nm)")
        return (f"q runs from {q_min:.3g} to {q_max:.3g} 1/A ({why}): that looks like 1/nm, since SAS curves in "
                f"1/A rarely start above {NM_AS_A_QMIN:g} and reach {NM_AS_A_QMAX:g} 1/A; {todo}, otherwise "
                "ignore this note")
    if unit == "nm" and q_max < A_AS_NM_QMAX:
        return (f"q ends at {q_max * 10:.3g} 1/nm ({q_max:.3g} 1/A), unusually low for data in 1/nm: if q is in "
                "1/A, use q_unit='A' (CLI: --q-unit A, the default), otherwise ignore this note")
    return None


def make_curve(q, intensity, sigma=None, dq=None, slit_length: float | None = None, q_unit: str | None = "A",
               name: str = "curve", source: str | None = None, entry: int = 0,
               unit_origin: str = "given") -> Curve:
    """Validate arrays into a :class:`Curve` (q converted to 1/A); raises :class:`InputError`.

    Repaired with a counted warning: a few NaN/inf rows, a few q <= 0 or I <= 0 points (dropped),
    unsorted q (sorted), a few repeated q values (kept: the classifier averages them per bin),
    non-finite sigma values (those points use the median relative error).
    """
    unit = normalize_q_unit(q_unit) or "A"
    factor = Q_UNITS[unit]
    name = str(name)
    q = _vector(q, "q") * factor
    intensity = _vector(intensity, "intensity")
    if q.size != intensity.size:
        raise InputError(f"{name}: q has {q.size} values but intensity has {intensity.size}: they must pair up")
    n = q.size
    sigma = _optional(sigma, n, "sigma")
    dq = _optional(dq, n, "dq")
    if dq is not None:
        dq = dq * factor
    if slit_length is not None:
        try:
            slit_length = float(np.asarray(slit_length, dtype=np.float64).ravel()[0]) * factor
        except (TypeError, ValueError, IndexError) as exc:
            raise InputError(f"{name}: slit_length must be one number in the unit of q ({exc})") from None
        if not np.isfinite(slit_length) or slit_length <= 0:
            slit_length = None
    if n == 0:
        raise InputError(f"{name}: no data points: at least {MIN_POINTS} (q, I) pairs are needed")
    if n < MIN_POINTS:
        raise InputError(f"{name}: only {n} points; at least {MIN_POINTS} are needed to classify a curve "
                         "(measure or export the full curve)")

    warnings: list[str] = []
    with np.errstate(invalid="ignore", over="ignore"):
        # the usual curve needs no repair: four reductions say so (a NaN fails min() > 0)
        clean = q.min() > 0 and intensity.min() > 0 and np.isfinite(q.max()) and np.isfinite(intensity.max())
    if not clean:
        q, intensity, sigma, dq = _drop_unusable(q, intensity, sigma, dq, name, warnings)
    steps = np.diff(q)
    if not steps.min() > 0:  # unsorted or repeated q: the rare path
        q, intensity, sigma, dq = _sort_and_check_repeats(q, intensity, sigma, dq, steps, name, warnings)

    if sigma is not None and not (sigma.min() > 0 and np.isfinite(sigma.max())):  # else all usable
        ok = np.isfinite(sigma)
        if not np.any(ok & (sigma > 0)):
            sigma = None  # reported by the grid warnings ("no usable uncertainties")
        elif not ok.all():
            warnings.append(f"{int((~ok).sum())} uncertainties (dI) were NaN or infinite; those points use the "
                            "median relative error")
            sigma = np.where(ok, sigma, 0.0)
    if dq is not None and not dq.max() > 0 and not np.any(np.isfinite(dq) & (dq > 0)):
        dq = None

    bins, first, last = grid_coverage(q)
    hint = ("if q is in 1/A, use q_unit='A' (CLI: --q-unit A)" if unit == "nm"
            else "if q is in 1/nm, use q_unit='nm' (CLI: --q-unit nm)")
    if bins == 0:
        raise InputError(f"{name}: q spans {q[0]:.3g}..{q[-1]:.3g} 1/A, outside the classifier's range "
                         f"{GRID_Q_MIN:g}..{GRID_Q_MAX:g} 1/A; {hint}")
    if bins < MIN_COVERED_BINS:
        decades = np.log10(last / first) if last > first else 0.0
        raise InputError(f"{name}: only {bins} of the classifier's {GRID_SIZE} grid bins hold data (q {first:.3g}.."
                         f"{last:.3g} 1/A inside its range {GRID_Q_MIN:g}..{GRID_Q_MAX:g} 1/A, {decades:.2f} decades); "
                         f"at least {MIN_COVERED_BINS} (about half a decade) are needed to tell the shapes apart: "
                         f"give a wider q range (merge detector distances); {hint}")
    if np.all(intensity == intensity[0]):
        raise InputError(f"{name}: all {intensity.size} intensities are equal ({intensity[0]:.6g}): this is not a "
                         "scattering curve; check the column order (q, I, dI)")
    note = unit_warning(float(q[0]), float(q[-1]), unit, unit_origin) if unit_origin != "header" else None
    if note:
        warnings.append(note)
    if slit_length is None and dq is None:
        hint = slit_hint(q, intensity, sigma)
        if hint:
            warnings.append(hint)
    return Curve(q, intensity, sigma, dq, slit_length, name, source, entry, warnings, q_unit_used=f"1/{unit}",
                 q_unit_origin=unit_origin)


# "Looks slit-smeared" rule (docs/errors.md): a long slit turns the q^-4 Porod tail of a particle
# with sharp interfaces into q^-3. Warn when no resolution is declared and the upper part of the
# log-q range holds a straight q^-3 stretch and no q^-4 (or steeper) stretch anywhere.
SLIT_SLOPE = (-3.4, -2.6)      # local log-log slope: -3 +- 0.4
SLIT_MIN_DECADES = 0.5         # length of the q^-3 stretch
SLIT_NO_STEEPER = -3.8         # no window in the upper part steeper than this (a Porod -4 tail)
SLIT_UPPER = 0.6               # the upper 60 % of the log-q range is searched
SLIT_WINDOW = 0.25             # decades per local slope
SLIT_SNR = 3.0                 # points with I > 3 sigma only


def slit_hint(q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray | None) -> str | None:
    """The warning for a curve that looks slit-smeared, or None. q in 1/A, ascending, I > 0.

    Measured on 180 simulated polydisperse curves (6 shapes, random windows, noise and
    background) per resolution: no pinhole curve flagged, 10 % of the slit-smeared ones (27 %
    of those with a slit longer than a third of q_max); a conservative, cheap O(n) rule, see
    docs/errors.md."""
    keep = intensity > (SLIT_SNR * sigma if sigma is not None else 0.0)
    if sigma is not None:
        keep &= np.isfinite(sigma)
    if keep.sum() < 20:
        return None
    lq, li = np.log10(q[keep]), np.log10(intensity[keep])
    span = lq[-1] - lq[0]
    if span < 1.0:
        return None
    start = np.searchsorted(lq, lq[-1] - SLIT_UPPER * span)
    ends = np.searchsorted(lq, lq + SLIT_WINDOW, side="right")   # window k: points k .. ends[k]-1
    cx, cy = np.r_[0.0, np.cumsum(lq)], np.r_[0.0, np.cumsum(li)]
    cxx, cxy = np.r_[0.0, np.cumsum(lq * lq)], np.r_[0.0, np.cumsum(lq * li)]
    k = np.arange(start, lq.size)
    n = ends[k] - k
    full = (n >= 5) & (lq[np.minimum(ends[k], lq.size) - 1] - lq[k] >= 0.8 * SLIT_WINDOW)
    k, n = k[full], n[full]
    if k.size == 0:
        return None
    sx, sy = cx[ends[k]] - cx[k], cy[ends[k]] - cy[k]
    sxx, sxy = cxx[ends[k]] - cxx[k], cxy[ends[k]] - cxy[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    if not np.all(np.isfinite(slope)) or slope.min() < SLIT_NO_STEEPER:
        return None
    inside = (slope >= SLIT_SLOPE[0]) & (slope <= SLIT_SLOPE[1])
    best, run_start = 0.0, None
    for j in range(k.size):
        if inside[j]:
            run_start = lq[k[j]] if run_start is None else run_start
            best = max(best, lq[k[j]] + SLIT_WINDOW - run_start)
        else:
            run_start = None
    if best < SLIT_MIN_DECADES:
        return None
    return (f"the curve looks slit-smeared: it falls as q^-3 over {best:.1f} decades at high q and nowhere as q^-4, "
            "as a long slit makes of a particle's q^-4 (Porod) tail, but no slit length is declared; if the data "
            "are slit-smeared, give the slit length (CLI: --slit-length L in the unit of q; API: slit_length; "
            "column files: a '# slit_length: L' header line), otherwise ignore this note")


def _drop_unusable(q, intensity, sigma, dq, name: str, warnings: list[str]):
    """Drop NaN/inf rows and q <= 0 or I <= 0 points (counted in ``warnings``), or refuse the curve."""
    n = q.size
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~(np.isfinite(q) & np.isfinite(intensity))
        if bad.any():
            if bad.sum() > MAX_DROPPED_FRACTION * n:
                raise InputError(f"{name}: {bad.sum()} of {n} points have a NaN or infinite q or intensity: check "
                                 "that the file's columns are q, I (and dI, dq) and that the reduction succeeded")
            warnings.append(f"{bad.sum()} of {n} points with a NaN or infinite q or intensity were ignored")
        nonpos_q = ~bad & (q <= 0)
        if nonpos_q.any():
            if nonpos_q.sum() > MAX_DROPPED_FRACTION * n:
                raise InputError(f"{name}: {nonpos_q.sum()} of {n} q values are zero or negative; q must be the "
                                 "positive scattering vector magnitude: check that the first column is q (not an "
                                 "index, a detector position or 2-theta)")
            warnings.append(f"{nonpos_q.sum()} of {n} points with q <= 0 were ignored")
        keep = ~bad & ~nonpos_q
        n_keep = int(keep.sum())
        nonpos_i = keep & (intensity <= 0)
        n_nonpos = int(nonpos_i.sum())
        if n_nonpos and np.all(intensity[keep] == 0):
            raise InputError(f"{name}: all {n_keep} intensities are 0: the file may hold only one column, or the "
                             "intensity column is empty; give columns q I [dI [dq]]")
        if n_nonpos > MAX_DROPPED_FRACTION * n_keep:
            raise InputError(f"{name}: {n_nonpos} of {n_keep} intensities are zero or negative; a scattering curve "
                             "must be mostly positive: check the background subtraction (too much subtracted?) "
                             "and the column order (q, I, dI)")
        if n_nonpos:
            warnings.append(f"{n_nonpos} of {n_keep} points with zero or negative intensity (usually from "
                            "background subtraction) were ignored")
        keep &= ~nonpos_i

    q, intensity = q[keep], intensity[keep]
    sigma = sigma[keep] if sigma is not None else None
    dq = dq[keep] if dq is not None else None
    if q.size < MIN_POINTS:
        raise InputError(f"{name}: only {q.size} usable points remain of {n}; at least {MIN_POINTS} are needed")
    return q, intensity, sigma, dq


def _sort_and_check_repeats(q, intensity, sigma, dq, steps, name: str, warnings: list[str]):
    """Sort q (stable, with its columns) and refuse too many repeated q values; ``steps`` = diff(q)."""
    if np.any(steps < 0):
        order = np.argsort(q, kind="stable")
        q, intensity = q[order], intensity[order]
        sigma = sigma[order] if sigma is not None else None
        dq = dq[order] if dq is not None else None
        warnings.append("q was not in ascending order; the points were sorted")
        steps = np.diff(q)
    n_dup = int(np.count_nonzero(steps == 0))
    if n_dup:
        distinct = q.size - n_dup
        if n_dup >= distinct or distinct < MIN_POINTS:
            raise InputError(f"{name}: {n_dup} of {q.size} points have a duplicate q value ({distinct} "
                             "distinct q): the data seem listed twice, q is written with too few digits, or the "
                             "first column is not q; remove the repeated points or export q with more digits")
        warnings.append(f"{n_dup} points have a duplicate q value (overlapping ranges?); the classifier "
                        "averages them")
    return q, intensity, sigma, dq


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


def _check_path(path: str) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise FileFormatError(f"a file path is needed, not {type(path).__name__}")
    if not os.path.exists(path):
        raise FileFormatError(f"{path}: no such file: check the path")
    if os.path.isdir(path):
        raise FileFormatError(f"{path} is a folder: give a data file (the CLI's 'batch' command takes folders)")
    size = os.path.getsize(path)
    if size == 0:
        raise FileFormatError(f"{path} is empty (0 bytes): nothing to classify; export the curve again")
    if size > MAX_FILE_BYTES:
        raise FileFormatError(f"{path} is {size / 2**30:.1f} GiB, larger than any 1D curve file "
                              f"({MAX_FILE_BYTES / 2**30:.0f} GiB at most): is it 2D or raw detector data? Reduce "
                              "it to I(q) first")
    try:
        with open(path, "rb") as f:  # read-only, and closed at once
            head = f.read(4096)
    except OSError as exc:
        raise FileFormatError(f"{path} cannot be read ({exc.strerror or exc}): check its permissions") from None
    if not head.strip():
        raise FileFormatError(f"{path} holds only blank space: nothing to classify; export the curve again")


def _looks_binary(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096)
    return b"\x00" in head and not head.startswith(b"\x89HDF")


def _binary_message(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return f"{path}: text in UTF-16, which the loaders do not read: save it as UTF-8 or ASCII text"
    if head[:2] == b"\x1f\x8b" or head[:4] == b"PK\x03\x04":
        return f"{path}: a compressed archive (gzip/zip): unpack it and give the data file inside"
    return f"{path}: binary content that none of the SAS loaders recognise: save the curve as {SUPPORTED}"


def _failed_read_message(path: str, data) -> str:
    """What sasdata's readers said about a file none of them could read."""
    reasons = [str(e) for e in (getattr(data, "errors", None) or []) if str(e)]
    if _looks_binary(path):
        return _binary_message(path)
    if any("Fewer than five" in r for r in reasons) and not path.lower().endswith((".xml", ".h5", ".hdf5", ".nxs")):
        return (f"{path}: fewer than 5 rows of numbers were found: a text file needs columns q I [dI [dq]], one "
                "row per point, numbers with a decimal point (not a comma), separated by spaces, tabs or commas; "
                f"at least {MIN_POINTS} points are needed to classify a curve")
    said = "; ".join(dict.fromkeys(r[:160] for r in reasons))[:480]
    return (f"{path}: not a readable SAS data file" + (f" (the loaders said: {said})" if said else "")
            + f". Supported: {SUPPORTED}")


def _is_2d(data) -> bool:
    return hasattr(data, "qx_data") or getattr(data, "x", None) is None and getattr(data, "data", None) is not None


# --------------------------------------------------------------------------------------------
# Column files (text, CSV): what sasdata's column readers ignore (docs/errors.md, "Column files")
# --------------------------------------------------------------------------------------------
_PREFIX = r"^\s*[#;!%*]*\s*"
_UNIT_KEY = re.compile(_PREFIX + r"(?:q[\s_-]*units?|units?[\s_-]*(?:of|for)?[\s_-]*q)\s*[:=]\s*(.+?)\s*$", re.I)
_UNIT_KEY_PYFAI = re.compile(_PREFIX + r"units?\s*[:=]\s*q_(\S+)\s*$", re.I)       # pyFAI: "# Unit: q_nm^-1"
_COL_BRACKET = re.compile(_PREFIX + r"q\s*[\[(]\s*([^\])]{1,24}?)\s*[\])]", re.I)  # Q [1/nm], q(nm^-1), Q (1/A)
_COL_PYFAI = re.compile(_PREFIX + r"q_(\S+?)(?=[\s,;]|$)", re.I)                    # q_nm^-1, q_A^-1
_COL_SLASH = re.compile(_PREFIX + r"q\s*/\s*([^\s,;]+)", re.I)                          # q / nm^-1
_NOT_Q = re.compile(_PREFIX + r"(2th|2theta|2-theta|tth|chi|r)_(deg|rad|mm|m)\b", re.I)  # pyFAI 2θ, radius
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_SLIT = re.compile(_PREFIX + r"(?:slit[\s_-]*length|dq[\s_-]*l|delta[\s_-]*q[\s_-]*l|slit)(?![a-z])\s*"
                   r"(?:[\[(]\s*([^\])]{1,24}?)\s*[\])])?\s*(?:[:=]\s*|\s+)" + _NUM + r"\s*(.*?)\s*$", re.I)
_SPLIT = re.compile(r"[\s,;]+")
_COLUMNS = ("q", "I", "dI", "dQ")   # what sasdata's column readers read, in this order
MAX_HEADER_LINES = 500


@dataclass
class ColumnScan:
    """What the text of a column file says that sasdata's column readers ignore."""

    q_unit: str | None = None         # 'A' or 'nm' when the header states it
    q_unit_text: str = ""             # the header line that stated it
    slit_length: float | None = None  # in the header's q unit (q_unit, else 1/A)
    slit_text: str = ""
    data_rows: int = 0                # rows of numbers
    nonfinite: dict = field(default_factory=dict)  # column -> rows with NaN/inf there (q, I, dI, dQ)
    nonfinite_rows: int = 0
    first_nonfinite_line: int = 0
    slit_unit: str | None = None      # the unit written beside the slit length, if any


_UNIT_LIKE = re.compile(r"^(?:1\s*/\s*|inv(?:erse)?\s*)?[a-zµå]{1,3}(?:\s*\^?\s*\{?\s*-\s*1\s*\}?|⁻¹)?$", re.I)


def _unit_or_error(text: str, line: str, path: str) -> str | None:
    """The q unit in a bracket after q: 'A'/'nm'; None when the text is no unit (a word in
    brackets); InputError for another unit (1/m, mm^-1, ...)."""
    text = re.sub(r"^\s*in\s+", "", text.strip().strip("[]()"), flags=re.I)
    try:
        return normalize_q_unit(text)
    except InputError:
        if not _UNIT_LIKE.match(text.strip()):
            return None
        raise InputError(f"{path}: the header states q in {text.strip()!r} ({line.strip()[:80]!r}), which is "
                         "neither 1/A nor 1/nm: convert q to 1/A or 1/nm, or give the unit with q_unit "
                         "(CLI: --q-unit A|nm), which overrides the header") from None


def scan_column_file(path: str, need_unit: bool = True) -> ColumnScan:
    """Read a text/CSV column file once: the q unit and slit length its header states, and the
    rows of numbers holding NaN or inf (sasdata's column readers skip those rows silently).

    Header statements, case-insensitive, in the lines before the first row of numbers (with or
    without a comment sign ``# ; ! %``): ``Q_unit: 1/nm`` / ``q units = A^-1`` / pyFAI's
    ``Unit: q_nm^-1``, and column headers ``Q [1/nm]``, ``q(nm^-1)``, ``Q (1/A)``, ``q_nm^-1``,
    ``q / Å^-1``; slit lines ``slit_length: 0.05``, ``dQl = 0.05``, ``Slit length [1/nm]: 0.5``,
    ``slit length 0.02 1/A``. Two different q units in one header, or a unit that is neither
    1/A nor 1/nm, raise InputError (``need_unit=False``, i.e. q_unit given, skips those checks).
    A first column named as pyFAI's 2-theta/chi/radius raises InputError: it is not q."""
    scan = ColumnScan()
    units: list[tuple[str, str]] = []
    in_header = True
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            tokens = [t for t in _SPLIT.split(line.strip()) if t]
            values = None
            if len(tokens) >= 2:
                try:
                    values = [float(t) for t in tokens]
                except ValueError:
                    values = None
            if values is not None:
                in_header = False
                scan.data_rows += 1
                bad = [c for c, v in zip(_COLUMNS, values) if v != v or v in (float("inf"), float("-inf"))]
                if bad:
                    scan.nonfinite_rows += 1
                    scan.first_nonfinite_line = scan.first_nonfinite_line or lineno
                    for c in bad:
                        scan.nonfinite[c] = scan.nonfinite.get(c, 0) + 1
                continue
            if not in_header or lineno > MAX_HEADER_LINES or not line.strip():
                continue
            m = _SLIT.match(line)
            if m and scan.slit_length is None:
                bracket, value, rest = m.group(1), float(m.group(2)), m.group(3)
                slit_unit = None
                for text in (bracket, rest):
                    if text:
                        try:
                            slit_unit = normalize_q_unit(text.strip().strip("[]()"))
                        except InputError:
                            slit_unit = None
                        if slit_unit:
                            break
                scan.slit_length, scan.slit_text = value, line.strip()[:80]
                scan.slit_unit = slit_unit  # resolved below, once the q unit is known
                continue
            if _NOT_Q.match(line) and need_unit:
                raise InputError(f"{path}: the first column is {_NOT_Q.match(line).group(0).strip(' #;!%*')!r}, "
                                 "not q: export the curve as a function of q (pyFAI: unit='q_nm^-1' or 'q_A^-1')")
            for rx in (_UNIT_KEY, _UNIT_KEY_PYFAI, _COL_BRACKET, _COL_PYFAI, _COL_SLASH):
                m = rx.match(line)
                if not m:
                    continue
                text = m.group(1)
                if rx is _COL_SLASH or rx is _COL_PYFAI or not need_unit:
                    try:  # loose forms: only a recognised unit counts
                        unit = normalize_q_unit(text.strip().strip("[]()"))
                    except InputError:
                        unit = None
                else:
                    unit = _unit_or_error(text, line, path)
                if unit:
                    units.append((unit, line.strip()[:80]))
                break
    if units:
        distinct = {u for u, _ in units}
        if len(distinct) > 1 and need_unit:
            raise InputError(f"{path}: the header states q both in 1/A and in 1/nm ({units[0][1]!r}, "
                             f"{next(t for u, t in units if u != units[0][0])!r}): correct the header, or give the "
                             "unit with q_unit (CLI: --q-unit A|nm)")
        scan.q_unit, scan.q_unit_text = units[0]
    if scan.slit_length is not None:
        slit_unit = scan.slit_unit
        if slit_unit and slit_unit != (scan.q_unit or "A"):  # to the header's q unit
            scan.slit_length *= Q_UNITS[slit_unit] / Q_UNITS[scan.q_unit or "A"]
    return scan


def _nonfinite_warning(scan: ColumnScan) -> str | None:
    if not scan.nonfinite_rows:
        return None
    where = ", ".join(f"{c}: {scan.nonfinite[c]}" for c in _COLUMNS if c in scan.nonfinite)
    return (f"{scan.nonfinite_rows} of {scan.data_rows} data rows hold NaN or infinite values ({where}; first at "
            f"line {scan.first_nonfinite_line}) and were dropped: the result describes the other "
            f"{scan.data_rows - scan.nonfinite_rows} rows")


def load_file(path: str, q_unit: str | None = None, slit_length: float | None = None) -> list[Curve]:
    """Every 1D dataset in ``path`` as a :class:`Curve`. Files are only read, never written.

    ``q_unit`` ("A" or "nm") is the unit of q in column files (text, CSV); it overrides the unit
    their header states (:func:`scan_column_file`), and without either they are read in 1/A with
    the plausibility check of :func:`unit_warning`. Files whose format states the unit (canSAS
    XML, NXcanSAS, ABS) are converted to 1/A by sasdata and keep it. ``slit_length`` (in the
    unit of q) declares slit smearing for every dataset of the file; it overrides a slit length
    in the file (header line or canSAS ``dQl``). Rows of a column file with NaN/inf, which
    sasdata drops, are counted in a warning. 2D datasets in a file that also holds 1D ones are
    skipped with a warning.
    """
    unit = normalize_q_unit(q_unit)
    _check_path(path)
    path = os.fspath(path)
    from sasdata.dataloader.loader import Loader

    try:
        with _quiet(), np.errstate(all="ignore"):
            datasets = Loader().load(path)
    except Exception as exc:  # sasdata raises many types for unreadable files  # noqa: BLE001
        msg = str(exc).splitlines()[0][:200] if str(exc) else ""
        if _looks_binary(path):
            raise FileFormatError(_binary_message(path)) from None
        raise FileFormatError(f"{path}: not a readable SAS data file ({type(exc).__name__}: {msg}). "
                              f"Supported: {SUPPORTED}") from None
    datasets = list(datasets or [])
    if not datasets:
        raise FileFormatError(f"{path}: the loaders found no data in this file. Supported: {SUPPORTED}")
    # sasdata returns one Data1D with x = array(None) when every reader failed
    ok = [d for d in datasets if _is_2d(d) or np.asarray(getattr(d, "x", None), dtype=object).ndim == 1]
    if not ok:
        raise FileFormatError(_failed_read_message(path, datasets[0]))
    ok_ids = {id(d) for d in ok}
    one_d = [(k, d) for k, d in enumerate(datasets) if id(d) in ok_ids and not _is_2d(d)]
    if not one_d:
        raise InputError(f"{path} holds 2D data only ({len(ok)} dataset(s)); the classifier needs a 1D curve I(q): "
                         "reduce it first (e.g. SasView's Data Operations or a circular average)")
    empty = [k for k, d in one_d if np.size(getattr(d, "x", None)) == 0]
    if len(empty) == len(one_d):
        raise FileFormatError(f"{path}: no numeric data rows were read (the loaders skip rows holding NaN, inf or "
                              f"text): give columns q I [dI [dq]] with at least {MIN_POINTS} rows of numbers")
    one_d = [(k, d) for k, d in one_d if k not in empty]
    skipped = len(ok) - len(one_d)
    base = os.path.basename(path)
    scan = None
    if any(_is_column(d) for _, d in one_d):
        scan = scan_column_file(path, need_unit=unit is None)
        if scan.nonfinite_rows > MAX_DROPPED_FRACTION * max(scan.data_rows, 1):
            raise InputError(f"{path}: {scan.nonfinite_rows} of {scan.data_rows} data rows hold NaN or infinite "
                             "values: check that the file's columns are q, I (and dI, dq) and that the reduction "
                             "succeeded")
    dropped = _nonfinite_warning(scan) if scan is not None else None
    curves = []
    for k, data in one_d:
        header = scan if _is_column(data) else None
        c = curve_from_data(data, base if len(datasets) == 1 else f"{base}[{k}]", path, k, unit,
                            slit_length=slit_length, header=header)
        if dropped and header is not None:
            c.warnings.insert(0, dropped)
        if skipped:
            c.warnings.append(f"{skipped} other dataset(s) in this file (2D or empty) were skipped")
        curves.append(c)
    return curves


def _is_column(data) -> bool:
    """Read by one of sasdata's column readers (ASCII, CSV), which ignore headers."""
    meta = getattr(data, "meta_data", None)
    return isinstance(meta, dict) and str(meta.get("loader", "")).upper() in _UNSTATED_LOADERS


def stated_q_unit(data) -> tuple[str | None, str]:
    """(unit, raw text) the data state for q: 'A', 'nm', or None when they state none.

    sasdata's column readers (ASCII, CSV) always write 1/A without reading a unit: unstated."""
    meta = getattr(data, "meta_data", None)
    loader = str(meta.get("loader", "")) if isinstance(meta, dict) else ""
    raw = str(getattr(data, "_xunit", "") or getattr(data, "x_unit", "") or "")
    if loader.upper() in _UNSTATED_LOADERS:
        return None, ""
    try:
        return normalize_q_unit(raw), raw
    except InputError:
        return None, raw


def curve_from_data(data, name: str | None = None, source: str | None = None, entry: int = 0,
                    q_unit: str | None = None, slit_length: float | None = None,
                    header: ColumnScan | None = None) -> Curve:
    """A validated :class:`Curve` from a sasdata/SasView Data1D (duck-typed; raises InputError).

    Slit-smeared data (``dxl``) keep their slit length; ``slit_length`` (in the unit of q)
    overrides it. The unit the data state wins; else ``q_unit``; else the unit ``header`` (the
    :func:`scan_column_file` of the column file the data came from) states; else 1/A.
    """
    if data is None:
        raise InputError("no data: select or load a 1D data set")
    name = str(name or getattr(data, "name", None) or getattr(data, "filename", None) or "data")
    if _is_2d(data):
        raise InputError(f"{name} is 2D data; the classifier needs a 1D curve I(q): reduce it first "
                         "(e.g. a circular average in SasView's Data Operations)")
    x, y = getattr(data, "x", None), getattr(data, "y", None)
    if x is None or y is None or np.asarray(x, dtype=object).ndim == 0:
        raise InputError(f"{name} holds no q/I values: load the file again or choose another data set")
    given = normalize_q_unit(q_unit)
    stated, raw = stated_q_unit(data)
    notes = []
    if stated:
        unit, origin = stated, "file"
        if given and given != stated:
            notes.append(f"the file states its q unit (converted to 1/A on loading), so q_unit='{given}' was not "
                         "applied; if the unit written in the file is wrong, correct it there")
    elif given:
        unit, origin = given, "given"
        if header is not None and header.q_unit and header.q_unit != given:
            notes.append(f"q was read in 1/{given} as asked (q_unit / --q-unit), although the file's header states "
                         f"1/{header.q_unit} ({header.q_unit_text!r})")
    elif header is not None and header.q_unit:
        unit, origin = header.q_unit, "header"
        notes.append(f"q in 1/{unit}, as the file's header states ({header.q_unit_text!r}); q_unit (CLI: --q-unit) "
                     "overrides it")
    else:
        unit, origin = "A", "assumed"
        if raw and raw.strip() not in ("", "None"):
            notes.append(f"the q unit {raw!r} of the data is not recognised; q was read as 1/{unit}")
    slit = None
    dxl = getattr(data, "dxl", None)
    if slit_length is not None:
        slit = _positive_slit(slit_length, name)
        dxl = None
    elif header is not None and header.slit_length is not None:
        value = header.slit_length * Q_UNITS[header.q_unit or "A"] / Q_UNITS[unit]  # to the unit of q
        if np.isfinite(value) and value > 0:
            slit = value
            notes.append(f"slit-smeared: slit length {value:.4g} 1/{unit} from the file's header "
                         f"({header.slit_text!r}); --slit-length overrides it")
        else:
            notes.append(f"the header's slit length ({header.slit_text!r}) is not positive: read as pinhole data")
        dxl = None
    if dxl is not None and np.size(dxl):
        try:
            with np.errstate(all="ignore"):
                d = np.asarray(dxl, dtype=np.float64).ravel()
                m = float(np.nanmax(d)) if np.any(np.isfinite(d)) else float("nan")
        except (TypeError, ValueError):
            m = float("nan")
        slit = m if np.isfinite(m) and m > 0 else None
    curve = make_curve(x, y, getattr(data, "dy", None), None if slit else getattr(data, "dx", None), slit,
                       q_unit=unit, name=name, source=source or getattr(data, "filename", None) or None,
                       entry=entry, unit_origin=origin)
    curve.warnings[:0] = notes
    return curve


def _positive_slit(value, name: str) -> float:
    """A slit length given by the caller: one positive finite number, else InputError."""
    try:
        v = float(np.asarray(value, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{name}: slit_length must be one number in the unit of q ({exc})") from None
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{name}: slit_length must be a positive number in the unit of q, not {value!r} (omit it "
                         "for pinhole data)")
    return v
