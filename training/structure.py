"""Concentrated samples on the fly: multiply a dilute database curve by a structure factor S(q).

SasView's product model ``P@S`` with ``structure_factor_mode`` P*S computes
``scale * <P(q)> * S(q; radius_effective, ...)`` where the effective radius comes from the form
factor (averaged over polydispersity, mode from catalog.EFFECTIVE_RADIUS_MODE). The dilute
database already holds ``<P(q)>`` on the fine grid, so a concentrated curve is that row times
an S(q) evaluated at the row's effective radius. This makes every (particle, S) pair possible
without simulating a second database.

S(q) of the catalog's structure factors depends on q only through ``x = q * R_eff`` once the
other parameters are dimensionless (hard sphere, sticky hard sphere, square well). For the
Hayter-Penfold MSA the Debye length is absolute: the bank computes it at a random reference
radius, so rescaling to another particle is the same curve for a rescaled salt and charge,
still a member of the family. The bank (``SBank``) holds S on a log x grid for many parameter
draws per structure factor; ``SBank.apply`` picks one, interpolates it at ``q * R_eff`` and
multiplies the dilute curve by it.
``tests/test_structure_aug.py`` checks the product against sasmodels' own ``form@S``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from sasview_automodel.catalog import CLASSES, EFFECTIVE_RADIUS_MODE, HOLLOW_VOLUME_RATIO, STRUCTURE_FACTORS
from sasview_automodel.sasmodels_env import load_model

X_GRID = np.geomspace(1e-3, 2e3, 900)     # q * R_eff
S_MAX_VALID = 10.0                          # beyond: an approximation breaking down (as simulate.py)
VISIBLE_DEVIATION = 0.05                    # max |S - 1| in the window below which S is "none"
HAYTER_R0 = (20.0, 400.0)                   # reference radii (A) of the Hayter bank


def effective_radii(labels: np.ndarray, params: np.ndarray) -> np.ndarray:
    """sasmodels' effective radius (A) of each database row (JSON params), polydispersity included."""
    from sasmodels.direct_model import call_Fq

    out = np.zeros(len(labels), np.float32)
    kernels: dict[int, tuple] = {}
    for i, (k, p) in enumerate(zip(labels, params)):
        if k not in kernels:
            spec = CLASSES[int(k)]
            model = load_model(spec.name)
            modes = list(model.info.radius_effective_modes)
            kernels[k] = (model.make_kernel([np.array([1e-3])]), modes.index(EFFECTIVE_RADIUS_MODE[spec.name]) + 1)
        kernel, mode = kernels[k]
        pars = json.loads(p)
        out[i] = float(call_Fq(kernel, dict(pars, radius_effective_mode=mode))[2])
    return out


def hollow_ratio(label: int, params_json: str) -> float:
    """Volume the structure factor sees / shell volume (1 for solid bodies, catalog rule)."""
    name = CLASSES[int(label)].name
    return float(HOLLOW_VOLUME_RATIO[name](json.loads(params_json))) if name in HOLLOW_VOLUME_RATIO else 1.0


@dataclass
class SBank:
    """S(x = q R_eff) for many parameter draws of each catalog structure factor."""

    s: np.ndarray              # (n, len(X_GRID)) float32
    kind: np.ndarray           # (n,) row of STRUCTURE_FACTORS
    volfraction: np.ndarray    # (n,) the volume fraction S sees
    params: np.ndarray | None = None   # (n,) JSON of the S parameters (radius_effective = the reference radius)

    @classmethod
    def build(cls, per_kind: int = 1500, seed: int = 7) -> "SBank":
        from sasmodels.direct_model import call_kernel

        rng = np.random.default_rng(seed)
        s_rows, kinds, fractions, params = [], [], [], []
        for k, sf in enumerate(STRUCTURE_FACTORS):
            model = load_model(sf.name)
            kernels: dict[float, object] = {}
            made = 0
            while made < per_kind:
                pars = sf.draw(rng)
                r0 = float(np.exp(rng.uniform(*np.log(HAYTER_R0)))) if sf.name == "hayter_msa" else 100.0
                if r0 not in kernels:
                    kernels = {r0: model.make_kernel([X_GRID / r0])}
                s = np.asarray(call_kernel(kernels[r0], dict(pars, radius_effective=r0, scale=1.0, background=0.0)))
                if not (np.all(np.isfinite(s)) and np.all(s > 0) and s.max() < S_MAX_VALID):
                    continue
                s_rows.append(s.astype(np.float32))
                kinds.append(k)
                fractions.append(pars["volfraction"])
                params.append(json.dumps(dict(pars, radius_effective=r0)))
                made += 1
        return cls(np.stack(s_rows), np.array(kinds, np.int64), np.array(fractions, np.float32), np.array(params))

    def save(self, path: str) -> None:
        extra = {} if self.params is None else {"params": self.params}
        np.savez(path, s=self.s, kind=self.kind, volfraction=self.volfraction, **extra)

    @classmethod
    def load_or_build(cls, path: str, **kw) -> "SBank":
        if os.path.exists(path):
            z = np.load(path)
            return cls(z["s"], z["kind"], z["volfraction"], z["params"] if "params" in z else None)
        bank = cls.build(**kw)
        bank.save(path + ".tmp.npz")
        os.replace(path + ".tmp.npz", path)
        return bank

    def s_of_q(self, entry: int, q: np.ndarray, radius_effective: float) -> np.ndarray:
        """S of bank entry ``entry`` at ``q`` for a particle of effective radius ``radius_effective``."""
        x = np.log(np.clip(q * radius_effective, X_GRID[0], None))
        s = np.interp(x, np.log(X_GRID), self.s[entry])
        return np.where(q * radius_effective > X_GRID[-1], 1.0, s)

    def apply(self, rng: np.random.Generator, q: np.ndarray, intensity: np.ndarray,
              radius_effective: float) -> tuple[np.ndarray, int, np.ndarray]:
        """A drawn entry times a dilute curve ``intensity`` (float64 on ``q``) of a particle of
        ``radius_effective``: (the product normalised to I[0] = 1, the entry, its S(q))."""
        entry = self.draw(rng)
        s = self.s_of_q(entry, q, radius_effective)
        product = intensity * s
        return product / product[0], entry, s

    def draw(self, rng: np.random.Generator) -> int:
        """A bank entry: structure factor uniform over the catalog (by weight), then a draw of it."""
        w = np.array([sf.weight for sf in STRUCTURE_FACTORS], float)
        k = int(rng.choice(len(w), p=w / w.sum()))
        return int(rng.choice(np.flatnonzero(self.kind == k)))


def visible_window(obs) -> tuple[float, float]:
    """The q range an observation shows: its first point to the last point above 3 sigma."""
    return obs.q[0], max(obs.q_visible_max, obs.q[0])


def visible(s: np.ndarray, q: np.ndarray, qmin: float, qmax: float, threshold: float = VISIBLE_DEVIATION) -> bool:
    """Whether S departs from 1 by at least ``threshold`` inside the window [qmin, qmax]."""
    inside = (q >= qmin) & (q <= qmax)
    return bool(inside.any() and np.abs(s[inside] - 1.0).max() >= threshold)
