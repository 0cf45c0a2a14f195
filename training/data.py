"""The simulated database in memory, its splits, and observed-through-an-instrument batches.

Splits are fixed by the parameter-set index, so they never depend on how far a database got:
``index % 20 == 0`` is test, ``== 1`` is validation (calibration, thresholds), the rest train.
"""
from __future__ import annotations

from dataclasses import dataclass

import json

import h5py
import numpy as np

from sasview_automodel.catalog import CLASSES
from sasview_automodel.grid import featurize
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

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, split: str) -> "Database":
        mod = self.index % 20
        keep = np.isin(mod, SPLITS[split]) if split in SPLITS else ~np.isin(mod, sum(SPLITS.values(), ()))
        return Database(self.q, self.intensity[keep], self.label[keep], self.lengths[keep], self.index[keep],
                        None if self.params is None else self.params[keep])


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
        ok[sel] = [CLASSES[labels[i]].allows(json.loads(params[i])) for i in np.flatnonzero(sel)]
        stop = int(np.flatnonzero(ok)[-1]) + 1 if ok.any() else 0
        db = Database(
            q=f["q"][:], intensity=f["intensity"][:stop][ok[:stop]], label=labels[ok],
            lengths=f["lengths"][:stop][ok[:stop]], index=np.flatnonzero(ok),
            params=params[ok] if with_params else None,
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


def batch(db: Database, rows: np.ndarray, rng: np.random.Generator, family: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Features (B, C, G) float32 and labels (B,) for ``rows``, each through a new instrument."""
    samples = [observe_row(db, int(r), rng, family) for r in rows]
    return np.stack([s.features for s in samples]), np.array([s.label for s in samples], dtype=np.int64)
