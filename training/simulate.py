"""Simulate the training database: sasmodels form factors on one wide, fine q grid.

Physics only, no instrument: resolution, q window, noise, background and scale are drawn
at random every time a curve is used (training/instrument.py). Parameter set ``i`` is a
pure function of ``(seed, i)``, its class is ``CLASS_NAMES[i % 9]``, and the file records
which chunks are finished, so an interrupted run resumes where it stopped and a larger
``--n`` extends an existing database.

    python -m training.simulate --out data/db.h5 --n 150000            # full database
    python -m training.simulate --out data/smoke.h5 --n 270 --chunk 27  # seconds
    python -m training.simulate --out data/db.h5 --n 300000 --scheduler tcp://host:8786  # on a dask cluster
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

os.environ.setdefault("SAS_OPENCL", "none")

import h5py
import numpy as np
from tqdm import tqdm

from sasview_automodel.catalog import CLASSES, CLASS_NAMES

# The physics grid: wide enough for every instrument window (3e-4..1 1/A) plus slit
# smearing and resolution tails, fine enough (1.9 % spacing) for the classifier grid.
Q_FINE = np.logspace(np.log10(1e-4), np.log10(1.5), 512)

_KERNELS: dict = {}


def _kernel(name: str):
    if name not in _KERNELS:
        from sasmodels.core import load_model
        _KERNELS[name] = load_model(name).make_kernel([Q_FINE])
    return _KERNELS[name]


def simulate_one(index: int, seed: int) -> tuple[int, np.ndarray, dict, tuple[float, float]]:
    """Simulate parameter set ``index``: (class id, I(Q_FINE) normalised to I[0] = 1, params, lengths)."""
    from sasmodels.direct_model import call_kernel

    label = index % len(CLASSES)
    spec = CLASSES[label]
    for attempt in range(10):
        rng = np.random.default_rng([seed, index, attempt])
        pars = spec.draw(rng)
        intensity = np.asarray(call_kernel(_kernel(spec.name), dict(pars, scale=1.0, background=0.0)))
        if np.all(np.isfinite(intensity)) and np.all(intensity > 0):
            return label, (intensity / intensity[0]).astype(np.float32), pars, spec.feature_lengths(pars)
    raise RuntimeError(f"parameter set {index} of {spec.name} gave no valid curve in 10 draws")


def simulate_chunk(start: int, stop: int, seed: int) -> tuple[int, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Simulate indices [start, stop) in one worker."""
    rows = [simulate_one(i, seed) for i in range(start, stop)]
    labels = np.array([r[0] for r in rows], dtype=np.int8)
    curves = np.stack([r[1] for r in rows])
    params = [json.dumps(r[2]) for r in rows]
    lengths = np.array([r[3] for r in rows], dtype=np.float32)
    return start, labels, curves, params, lengths


def open_database(path: str, n: int, chunk: int, seed: int) -> h5py.File:
    """Create the database or open it for resuming/extension (same seed and chunk size only)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    f = h5py.File(path, "a")
    if "intensity" not in f:
        f.attrs.update(seed=seed, chunk=chunk, classes=json.dumps(CLASS_NAMES), created=time.ctime())
        f.create_dataset("q", data=Q_FINE)
        f.create_dataset("intensity", shape=(0, Q_FINE.size), maxshape=(None, Q_FINE.size),
                         dtype="f4", chunks=(chunk, Q_FINE.size))
        f.create_dataset("label", shape=(0,), maxshape=(None,), dtype="i1")
        f.create_dataset("params", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype())
        f.create_dataset("lengths", shape=(0, 2), maxshape=(None, 2), dtype="f4")
        f.create_dataset("done", shape=(0,), maxshape=(None,), dtype=bool)
    if int(f.attrs["seed"]) != seed or int(f.attrs["chunk"]) != chunk:
        raise SystemExit(f"{path} was made with seed={f.attrs['seed']} chunk={f.attrs['chunk']}; "
                         "use the same values to resume or extend it")
    if json.loads(f.attrs["classes"]) != list(CLASS_NAMES):
        raise SystemExit(f"{path} holds other classes than the catalog; simulate a new database")
    n_chunks = -(-n // chunk)
    if f["done"].shape[0] < n_chunks:
        f["done"].resize((n_chunks,))
        for name in ("intensity", "label", "params", "lengths"):
            f[name].resize(n_chunks * chunk, axis=0)
    return f


def run(out: str, n: int, chunk: int = 900, seed: int = 20241, workers: int = 2, progress: bool = True,
        scheduler=None) -> str:
    """Fill ``out`` with ``n`` parameter sets (rounded up to whole chunks), resuming if present.

    Chunks run in ``workers`` local processes, or on a dask.distributed cluster when
    ``scheduler`` is given (an address such as ``tcp://host:8786``, a ``distributed.Client``,
    or ``"local"`` for a LocalCluster of ``workers`` processes). Either way this process alone
    writes the HDF5 file, and the content is identical: set ``i`` depends only on ``(seed, i)``.
    """
    with open_database(out, n, chunk, seed) as f:
        n_chunks = -(-n // chunk)
        todo = [k for k in range(n_chunks) if not f["done"][k]]
        bar = tqdm(total=n_chunks * chunk, initial=(n_chunks - len(todo)) * chunk, unit="curve",
                   disable=not progress, desc="simulate")
        for start, labels, curves, params, lengths in _results(todo, chunk, seed, workers, scheduler):
            sl = slice(start, start + len(labels))
            f["intensity"][sl] = curves
            f["label"][sl] = labels
            f["params"][sl] = params
            f["lengths"][sl] = lengths
            f.flush()
            f["done"][start // chunk] = True
            f.flush()
            bar.update(len(labels))
        bar.close()
    return out


def _results(todo: list[int], chunk: int, seed: int, workers: int, scheduler):
    """Chunk results in completion order, from local processes or a dask cluster."""
    if scheduler is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(simulate_chunk, k * chunk, (k + 1) * chunk, seed) for k in todo]
            for fut in as_completed(futures):
                yield fut.result()
        return
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    def can_simulate() -> bool:  # nested: sent by value, so it runs even where training is absent
        import importlib.util
        try:
            return importlib.util.find_spec("training.simulate") is not None
        except ImportError:
            return False

    cluster = client = None
    own = not isinstance(scheduler, Client)
    try:
        if not own:
            client = scheduler
        else:
            if scheduler == "local":
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(cluster or scheduler, timeout="20s")
        missing = [w for w, ok in client.run(can_simulate).items() if not ok]
        if missing:
            raise SystemExit(f"dask workers {missing} cannot import training.simulate: start them from the "
                             "repository folder (or put it on PYTHONPATH) with sasview-automodel[train] installed")
        futures = [client.submit(simulate_chunk, k * chunk, (k + 1) * chunk, seed, pure=False) for k in todo]
        for fut in dask_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        if own and client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="HDF5 database to create, resume or extend")
    ap.add_argument("--n", type=int, default=150_000, help="number of parameter sets")
    ap.add_argument("--chunk", type=int, default=900, help="parameter sets per task (a multiple of 9)")
    ap.add_argument("--seed", type=int, default=20241)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="local processes (or LocalCluster workers with --scheduler local)")
    ap.add_argument("--scheduler", metavar="ADDRESS",
                    help="submit chunks to an existing dask.distributed cluster (tcp://host:8786), or 'local' "
                         "for a dask LocalCluster; this process still writes the HDF5 file")
    args = ap.parse_args(argv)
    run(args.out, args.n, args.chunk, args.seed, args.workers, progress=sys.stderr.isatty() or True,
        scheduler=args.scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
