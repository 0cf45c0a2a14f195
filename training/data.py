"""The simulated database in memory, its splits, and observed-through-an-instrument batches.

Splits are fixed by the parameter-set index, so they never depend on how far a database got:
``index % 20 == 0`` is test, ``== 1`` is validation (calibration, thresholds), the rest train.
"""
from __future__ import annotations

from dataclasses import dataclass

import json

import h5py
import numpy as np

from sasview_automodel.catalog import CLASSES, REGRESSION_SLOTS
from sasview_automodel.grid import GRID_Q, featurize
from training.instrument import Instrument, Observation, draw_instrument, identifiable, observe

SPLITS = {"test": (0,), "val": (1,)}


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

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, split: str) -> "Database":
        mod = self.index % 20
        keep = np.isin(mod, SPLITS[split]) if split in SPLITS else ~np.isin(mod, sum(SPLITS.values(), ()))
        return Database(self.q, self.intensity[keep], self.label[keep], self.lengths[keep], self.index[keep],
                        None if self.params is None else self.params[keep],
                        None if self.slot_values is None else self.slot_values[keep],
                        None if self.sq_label is None else self.sq_label[keep])


def load_database(path: str, limit: int | None = None, with_params: bool = False) -> Database:
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
        for i in np.flatnonzero(sel):
            pars = json.loads(params[i])
            ok[i] = CLASSES[labels[i]].allows(pars)
            slots[i] = [pars[name] if k == labels[i] else 0.0 for k, name, _ in REGRESSION_SLOTS]
        stop = int(np.flatnonzero(ok)[-1]) + 1 if ok.any() else 0
        sq_label = f["sq_label"][:].astype(np.int8) if "sq_label" in f else np.full(len(labels), -1, np.int8)
        db = Database(
            q=f["q"][:], intensity=f["intensity"][:stop][ok[:stop]], label=labels[ok],
            lengths=f["lengths"][:stop][ok[:stop]], index=np.flatnonzero(ok),
            params=params[ok] if with_params else None, slot_values=slots[ok], sq_label=sq_label[ok],
        )
    return db


@dataclass
class Sample:
    features: np.ndarray
    label: int
    instrument: Instrument
    observation: Observation
    identifiable: bool
    row: int = -1


def observe_row(db: Database, row: int, rng: np.random.Generator, family: str = "train") -> Sample:
    """Observe database row ``row`` through a freshly drawn instrument of ``family``."""
    inst = draw_instrument(rng, family)
    obs = observe(db.q, db.intensity[row].astype(np.float64), inst, rng)
    feats, _ = featurize(*obs.as_tuple())
    return Sample(feats, int(db.label[row]), inst, obs, identifiable(obs, tuple(db.lengths[row])), row)


_KIND = np.array([kind for _, _, kind in REGRESSION_SLOTS])
_SLOT_CLASS = np.array([k for k, _, _ in REGRESSION_SLOTS])


def q_reference(features: np.ndarray) -> np.ndarray:
    """The grid q of the first covered bin of each feature row (B,): the regression reference."""
    first = np.argmax(features[:, 1] > 0, axis=1)
    return GRID_Q[first]


def regression_targets(db: Database, rows: np.ndarray, q_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoded start-parameter targets and their mask (catalog.encode_targets, vectorised)."""
    raw = db.slot_values[rows].astype(np.float64)
    mask = (_SLOT_CLASS[None, :] == db.label[rows][:, None]).astype(np.float32)
    safe = np.where(mask > 0, raw, 1.0)
    t = np.where(_KIND == "length", np.log10(np.maximum(safe, 1e-9) * q_ref[:, None]),
                 np.where(_KIND == "ratio", np.log10(np.maximum(safe, 1e-9)), 4.0 * raw))
    return (t * mask).astype(np.float32), mask


def batch(db: Database, rows: np.ndarray, rng: np.random.Generator, family: str = "train"):
    """Features (B, C, G) float32, labels (B,), regression targets and mask for ``rows``,
    each observed through a freshly drawn instrument."""
    samples = [observe_row(db, int(r), rng, family) for r in rows]
    x = np.stack([s.features for s in samples])
    t, m = regression_targets(db, np.asarray(rows), q_reference(x))
    return x, np.array([s.label for s in samples], dtype=np.int64), t, m
