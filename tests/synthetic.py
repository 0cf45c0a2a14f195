"""Synthetic SAS curves and broken data files, for tests and benchmarks (not installed).

``synthetic_curves`` gives noisy, polydisperse-looking sphere curves with varied q windows;
``make_dataset_folder`` writes them as column files with every ``bad_every``-th file broken in one
of the ``BAD_KINDS`` ways (empty, binary junk, 5 points, negative intensities, q out of range,
header only). Shared by the tests and by benchmarks/ (bench_suggest.py, batch_10k.py).
"""
from __future__ import annotations

import os

import numpy as np


def sphere_intensity(q: np.ndarray, radius: float) -> np.ndarray:
    x = q * radius
    return (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2


def synthetic_curves(n: int, n_points: int = 200, seed: int = 0) -> list[tuple]:
    """``n`` noisy polydisperse-looking sphere curves (q, I, sigma, dq) with varied q windows."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        qmin = 10 ** rng.uniform(-3.0, -2.0)
        qmax = qmin * 10 ** rng.uniform(1.3, 2.5)
        q = np.geomspace(qmin, min(qmax, 0.9), n_points)
        r = 10 ** rng.uniform(1.3, 2.5)
        radii = r * (1 + 0.08 * rng.standard_normal(5))
        i = 100 * np.mean([sphere_intensity(q, x) for x in radii], axis=0) + 10 ** rng.uniform(-4, -1)
        sigma = 0.02 * i + 1e-5
        out.append((q, i * (1 + 0.02 * rng.standard_normal(n_points)), sigma, 0.05 * q))
    return out


BAD_KINDS = ("empty", "junk", "few_points", "negative", "out_of_range", "header_only")


def _write_bad(path: str, kind: str) -> None:
    if kind == "empty":
        open(path, "w").close()
    elif kind == "junk":
        with open(path, "wb") as f:
            f.write(bytes(range(256)) * 4)
    elif kind == "few_points":
        np.savetxt(path, np.column_stack([np.geomspace(0.01, 0.1, 5), np.ones(5)]))
    elif kind == "negative":
        np.savetxt(path, np.column_stack([np.geomspace(0.01, 0.1, 50), -np.ones(50)]))
    elif kind == "out_of_range":
        np.savetxt(path, np.column_stack([np.geomspace(5, 50, 50), np.ones(50)]))
    else:
        with open(path, "w") as f:
            f.write("# Q I dI\n")


def make_dataset_folder(folder: str, n: int, bad_every: int = 10, seed: int = 0,
                        n_points: int = 200) -> dict[str, str]:
    """Write ``n`` files into ``folder``: column files of synthetic curves, and every
    ``bad_every``-th one broken in one of several ways (``BAD_KINDS``). Returns
    ``{path: "ok" | kind}``."""
    os.makedirs(folder, exist_ok=True)
    curves = synthetic_curves(n, n_points, seed)
    expected = {}
    for k, (q, i, s, dq) in enumerate(curves):
        if bad_every and k % bad_every == bad_every - 1:
            kind = BAD_KINDS[(k // bad_every) % len(BAD_KINDS)]
            path = os.path.join(folder, f"curve{k:06d}_{kind}.txt")
            _write_bad(path, kind)
        else:
            kind, path = "ok", os.path.join(folder, f"curve{k:06d}.txt")
            np.savetxt(path, np.column_stack([q, i, s, dq]), fmt="%.6e", header="Q(1/A) I(1/cm) dI(1/cm) dQ(1/A)")
        expected[path] = kind
    return expected
