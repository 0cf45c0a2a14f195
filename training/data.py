"""The simulated database in memory, its splits, and observed-through-an-instrument batches.

Splits are fixed by the parameter-set index, so they never depend on how far a database got:
``index % 20 == 0`` is test, ``== 1`` is validation (calibration, thresholds), the rest train.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import json
import os

import h5py
import numpy as np

from sasview_automodel.catalog import CLASSES, REGRESSION_SLOTS
from sasview_automodel.encoding import MASK, encode_slot, encode_volfraction
from sasview_automodel.grid import GRID_Q, MIN_COVERED_BINS, featurize
from training.exposure import LEGACY_FAMILIES
from training.instrument import Instrument, Observation, draw_instrument, identifiable, observe

# class index -> index of the catalog's ``near_degenerate_as`` class (-1: none)
SIMPLER = tuple(next((k for k, o in enumerate(CLASSES) if o.name == c.near_degenerate_as), -1) for c in CLASSES)

SPLITS = {"test": (0,), "val": (1,)}
MAX_REDRAWS = 20  # instrument draws tried per row before an uncovered curve is kept


@dataclass
class Database:
    q: np.ndarray            # fine grid
    intensity: np.ndarray    # (n, len(q)) float32
    label: np.ndarray        # (n,) int
    lengths: np.ndarray      # (n, 2) largest / smallest characteristic length, A
    index: np.ndarray        # parameter-set index of each row
    params: np.ndarray | None = None
    slot_values: np.ndarray | None = None   # (n, len(REGRESSION_SLOTS)) raw start-parameter values
    sq_label: np.ndarray | None = None      # (n,) int8: -1 dilute, else row of catalog.STRUCTURE_FACTORS
    radius_effective: np.ndarray | None = None  # (n,) sasmodels' effective radius, A (training/structure.py)
    near_degenerate: np.ndarray | None = None   # (n,) bool: catalog row's near_degenerate rule holds

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, split: str) -> "Database":
        mod = self.index % 20
        keep = np.isin(mod, SPLITS[split]) if split in SPLITS else ~np.isin(mod, sum(SPLITS.values(), ()))
        return self.take(keep)

    def take(self, keep: np.ndarray) -> "Database":
        """The rows where the bool mask ``keep`` holds (every per-row field; the fine grid shared)."""
        return replace(self, **{f.name: getattr(self, f.name)[keep] for f in fields(self)
                                if f.name != "q" and getattr(self, f.name) is not None})

    def rows_of_class(self, label: int) -> np.ndarray:
        """Rows of class ``label`` (cached)."""
        cache = self.__dict__.setdefault("_rows_by_class", {})
        if label not in cache:
            cache[label] = np.flatnonzero(self.label == label)
        return cache[label]


def load_database(path: str, limit: int | None = None, with_params: bool = False,
                  with_radius_effective: bool = False) -> Database:
    """Load every finished chunk of a database made by training/simulate.py.

    Rows whose parameters break the catalog's current rules (a database simulated before a
    rule was tightened) are dropped: rejection after the fact, same distribution as redrawing.
    """
    with h5py.File(path, "r") as f:
        chunk = int(f.attrs["chunk"])
        done = np.flatnonzero(f["done"][:])
        if limit is not None:
            done = done[: -(-limit // chunk)]
        rows = np.concatenate([np.arange(k * chunk, (k + 1) * chunk) for k in done]) if done.size else np.zeros(0, int)
        rows = rows[rows < f["label"].shape[0]]
        sel = np.zeros(f["label"].shape[0], bool)
        sel[rows] = True
        labels = f["label"][:].astype(np.int64)
        params = f["params"][:]
        ok = sel.copy()
        slots = np.zeros((len(labels), len(REGRESSION_SLOTS)), np.float32)
        near = np.zeros(len(labels), bool)
        for i in np.flatnonzero(sel):
            pars = json.loads(params[i])
            ok[i] = CLASSES[labels[i]].allows(pars)
            near[i] = ok[i] and CLASSES[labels[i]].near_degenerate(pars)
            slots[i] = [pars[name] if k == labels[i] else 0.0 for k, name, _ in REGRESSION_SLOTS]
        stop = int(np.flatnonzero(ok)[-1]) + 1 if ok.any() else 0
        sq_label = f["sq_label"][:].astype(np.int8) if "sq_label" in f else np.full(len(labels), -1, np.int8)
        db = Database(
            q=f["q"][:], intensity=f["intensity"][:stop][ok[:stop]], label=labels[ok],
            lengths=f["lengths"][:stop][ok[:stop]], index=np.flatnonzero(ok),
            params=params[ok] if with_params else None, slot_values=slots[ok], sq_label=sq_label[ok],
            near_degenerate=near[ok],
        )
    if with_radius_effective:
        db.radius_effective = cached_radius_effective(path, labels, params, np.flatnonzero(ok))
    return db


def cached_radius_effective(path: str, labels: np.ndarray, params: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Effective radius of database ``rows``, cached in ``<path>.reff.npy`` (NaN = not computed yet)."""
    from training.structure import effective_radii

    cache = path + ".reff.npy"
    reff = np.load(cache) if os.path.exists(cache) else np.full(len(labels), np.nan, np.float32)
    if len(reff) < len(labels):
        reff = np.concatenate([reff, np.full(len(labels) - len(reff), np.nan, np.float32)])
    todo = rows[np.isnan(reff[rows])]
    if todo.size:
        reff[todo] = effective_radii(labels[todo], params[todo])
        np.save(cache + ".tmp.npy", reff)
        os.replace(cache + ".tmp.npy", cache)
    return reff[rows]


@dataclass
class Sample:
    features: np.ndarray
    label: int
    instrument: Instrument
    observation: Observation
    identifiable: bool
    row: int = -1


def observe_row(db: Database, row: int, rng: np.random.Generator, family: str = "train",
                intensity: np.ndarray | None = None, instruments: dict | None = None) -> Sample:
    """Observe database row ``row`` (or ``intensity`` in its place, e.g. the row times an S(q))
    through a freshly drawn instrument of ``family`` (from ``instruments``, default the table)."""
    inst = draw_instrument(rng, family, instruments)
    i_fine = db.intensity[row].astype(np.float64) if intensity is None else intensity
    obs = observe(db.q, i_fine, inst, rng)
    feats, _ = featurize(*obs.as_tuple())
    return Sample(feats, int(db.label[row]), inst, obs, identifiable(obs, tuple(db.lengths[row])), row)


_KIND = np.array([kind for _, _, kind in REGRESSION_SLOTS])
_SLOT_CLASS = np.array([k for k, _, _ in REGRESSION_SLOTS])


def q_reference(features: np.ndarray) -> np.ndarray:
    """The grid q of the first covered bin of each feature row (B,): the regression reference."""
    first = np.argmax(features[:, MASK] > 0, axis=1)
    return GRID_Q[first]


def regression_targets(db: Database, rows: np.ndarray, q_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoded start-parameter targets and their mask (catalog.encode_targets, vectorised:
    sasview_automodel.encoding.encode_slot per kind, logs of other classes' slots kept finite)."""
    raw = db.slot_values[rows].astype(np.float64)
    mask = (_SLOT_CLASS[None, :] == db.label[rows][:, None]).astype(np.float32)
    positive = np.maximum(np.where(mask > 0, raw, 1.0), 1e-9)
    t = np.where(_KIND == "length", encode_slot("length", positive, q_ref[:, None]),
                 np.where(_KIND == "ratio", encode_slot("ratio", positive, q_ref[:, None]),
                          encode_slot("pd", raw, q_ref[:, None])))
    return (t * mask).astype(np.float32), mask


def batch(db: Database, rows: np.ndarray, rng: np.random.Generator, family: str = "train"):
    """Features (B, C, G) float32, labels (B,), regression targets and mask for ``rows``,
    each observed through a freshly drawn instrument."""
    samples = [observe_row(db, int(r), rng, family) for r in rows]
    x = np.stack([s.features for s in samples])
    t, m = regression_targets(db, np.asarray(rows), q_reference(x))
    return x, np.array([s.label for s in samples], dtype=np.int64), t, m


@dataclass
class Augmentation:
    """What a training batch adds to the dilute database: structure factors and outlier exposure."""

    bank: "SBank"                    # training/structure.py
    sq_fraction: float = 0.3         # curves multiplied by a drawn S(q)
    exposure_fraction: float = 0.06  # outlier-exposure curves (label -1)
    mixture_share: float = 0.0       # of those, two-population sums of database curves (exposure.two_populations)
    bimodal_fraction: float = 0.0    # class curves mixed with a second population of the same class
    exposure_families: tuple[str, ...] = LEGACY_FAMILIES   # training/exposure.py families

    def without_exposure(self) -> "Augmentation":
        """The same mix without exposure curves (validation, calibration)."""
        return replace(self, exposure_fraction=0.0, mixture_share=0.0)


BIMODAL_SIZE_RATIO = 2.0       # a second population within this factor of the first's effective radius
BIMODAL_WEIGHT = (0.1, 0.5)    # its share of the normalised forward intensity


def bimodal(db: Database, r: int, rng: np.random.Generator, tries: int = 10) -> np.ndarray | None:
    """Row ``r``'s curve plus a second population of the same class and a similar size (a bimodal or
    broad size distribution, still that class; well-separated sizes are outlier exposure instead)."""
    rows = db.rows_of_class(int(db.label[r]))
    r_a = float(db.radius_effective[r])
    for _ in range(tries):
        r2 = int(rows[rng.integers(rows.size)])
        ratio = float(db.radius_effective[r2]) / r_a
        if r2 != r and 1.0 / BIMODAL_SIZE_RATIO <= ratio <= BIMODAL_SIZE_RATIO:
            w = float(rng.uniform(*BIMODAL_WEIGHT))
            return (1.0 - w) * db.intensity[r].astype(np.float64) + w * db.intensity[r2].astype(np.float64)
    return None


def _mixture(db: Database, r: int, rng: np.random.Generator, family: str, tries: int = 10):
    """(I on db.q, instrument) of a two-population exposure curve built on row ``r`` whose crossover
    lies well inside the instrument's window; None when no partner or window is found."""
    from training.exposure import MIN_SIZE_RATIO, two_populations
    r_a = float(db.radius_effective[r])
    for _ in range(tries):
        r2 = int(rng.integers(len(db)))
        r_b = float(db.radius_effective[r2])
        if max(r_a, r_b) >= MIN_SIZE_RATIO * min(r_a, r_b) > 0:
            break
    else:
        return None
    (big, r_big), (small, r_small) = sorted([(r, r_a), (r2, r_b)], key=lambda t: -t[1])
    i, q_c = two_populations(db.q, db.intensity[big].astype(np.float64), db.intensity[small].astype(np.float64),
                             r_big, r_small, rng)
    for _ in range(tries):
        inst = draw_instrument(rng, family)
        if inst.qmin * 2 <= q_c <= inst.qmax / 2:
            return i, inst
    return None


def train_batch(db: Database, rows: np.ndarray, rng: np.random.Generator, aug: Augmentation | None,
                family: str = "train", with_identifiable: bool = False, with_simpler: bool = False):
    """Like ``batch`` with concentrated and outlier-exposure curves mixed in. Returns
    (x, y, targets, mask, sq_y, volfraction, volfraction_mask): ``y`` is -1 for exposure curves,
    ``sq_y`` 0 for no visible S(q) else 1 + row of STRUCTURE_FACTORS (-1 for exposure curves).
    ``with_identifiable`` appends a bool array: the curve's size features are inside its window
    (instrument.identifiable) and its shape is not near-degenerate (catalog rule); False for
    exposure curves. Training weights the other curves' cross-entropy down. ``with_simpler`` then
    appends an int array: the catalog's ``near_degenerate_as`` class of near-degenerate curves, else -1."""
    from training.exposure import exposure_curve
    from training.structure import visible, visible_window

    def draw(r: int):
        inst = draw_instrument(rng, family)
        u = rng.uniform()
        s = entry = None
        if aug is not None and u < aug.exposure_fraction:
            mixed = _mixture(db, r, rng, family) if rng.uniform() < aug.mixture_share else None
            if mixed is not None:
                (i_fine, inst), label = mixed, -1
            else:
                i_fine, label = exposure_curve(db.q, rng, aug.exposure_families), -1
        else:
            i_fine, label = db.intensity[r].astype(np.float64), int(db.label[r])
            if aug is not None and aug.bimodal_fraction > 0 and rng.uniform() < aug.bimodal_fraction:
                mixed = bimodal(db, r, rng)
                i_fine = i_fine if mixed is None else mixed
            if aug is not None and u < aug.exposure_fraction + aug.sq_fraction:
                i_fine, entry, s = aug.bank.apply(rng, db.q, i_fine, float(db.radius_effective[r]))
        obs = observe(db.q, i_fine, inst, rng)
        feat, info = featurize(*obs.as_tuple())
        return feat, info.covered_bins, label, obs, s, entry

    feats, y, sq_y, vf, ident, simpler = [], [], [], [], [], []
    for r in rows:
        r = int(r)
        for _ in range(MAX_REDRAWS):
            # the runtime refuses a curve with too few covered bins; training on one (an
            # all-zero input) teaches logits of 1e4 there, so such a draw is drawn again
            feat, covered, label, obs, s, entry = draw(r)
            if covered >= MIN_COVERED_BINS:
                break
        feats.append(feat)
        y.append(label)
        near = db.near_degenerate is not None and bool(db.near_degenerate[r])
        ident.append(label >= 0 and not near and identifiable(obs, tuple(db.lengths[r])))
        simpler.append(SIMPLER[label] if label >= 0 and near else -1)
        if label < 0:
            sq_y.append(-1), vf.append(-1.0)
        elif s is not None and visible(s, db.q, *visible_window(obs)):
            sq_y.append(1 + int(aug.bank.kind[entry])), vf.append(float(aug.bank.volfraction[entry]))
        else:
            sq_y.append(0), vf.append(-1.0)
    x = np.stack(feats)
    y = np.array(y, np.int64)
    t, m = regression_targets(db, np.asarray(rows), q_reference(x))
    m = m * (y >= 0)[:, None]
    vf = np.array(vf, np.float32)
    out = (x, y, t, m, np.array(sq_y, np.int64), encode_volfraction(np.maximum(vf, 0)), (vf >= 0).astype(np.float32))
    out = out + (np.array(ident, bool),) if with_identifiable else out
    return out + (np.array(simpler, np.int64),) if with_simpler else out
