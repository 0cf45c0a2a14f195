"""Simulate the training database: sasmodels form factors on one wide, fine q grid.

Physics only, no instrument: resolution, q window, noise, background and scale are drawn
at random every time a curve is used (training/instrument.py). Parameter set ``i`` is a
pure function of ``(seed, i)``, its class is ``CLASS_NAMES[i % 9]``, and the file records
which chunks are finished, so an interrupted run resumes where it stopped and a larger
``--n`` extends an existing database.

Concentrated samples (issue 9): with ``--sq-fraction F`` (default 0, the dilute database of
before, bit for bit) a fraction F of parameter sets, chosen by a pure function of
``(seed, i)``, is simulated as the product ``form@S`` with a structure factor from
``catalog.STRUCTURE_FACTORS``; the form-factor class stays ``i % 9`` and the form parameters are
drawn exactly as for a dilute set. Such a database carries two more datasets, ``sq_label``
(int8, -1 dilute, else the row of STRUCTURE_FACTORS) and ``sq_params`` (JSON: the S parameters,
the effective radius and volume fraction S really used, the modes, max S), and records the
fraction: resuming it with another fraction is refused.

    python -m training.simulate --out data/db.h5 --n 150000            # full database
    python -m training.simulate --out data/smoke.h5 --n 270 --chunk 27  # seconds
    python -m training.simulate --out data/db.h5 --n 300000 --scheduler tcp://host:8786  # on a dask cluster
    python -m training.simulate --out data/db_sq.h5 --n 150000 --sq-fraction 0.4       # 40 % P@S products
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import h5py
import numpy as np
from tqdm import tqdm

from sasview_automodel.catalog import (CLASSES, CLASS_NAMES, EFFECTIVE_RADIUS_MODE, HOLLOW_VOLUME_RATIO,
                                       SQ_NAMES, STRUCTURE_FACTORS)
from sasview_automodel.product import radius_effective_mode  # the index of the catalog's mode in form@S
from sasview_automodel.sasmodels_env import load_model

# The physics grid: wide enough for every instrument window (3e-4..1 1/A) plus slit
# smearing and resolution tails, fine enough (1.9 % spacing) for the classifier grid.
Q_FINE = np.logspace(np.log10(1e-4), np.log10(1.5), 512)

_KERNELS: dict = {}
# Worker processes start from a forkserver where there is one (Linux): a forked child of a process
# that already runs threads (onnxruntime, torch: a test session, a notebook) can deadlock on a lock
# it copied.
START_METHOD = "forkserver"


def _kernel(name: str):
    if name not in _KERNELS:
        _KERNELS[name] = load_model(name).make_kernel([Q_FINE])
    return _KERNELS[name]


# Seed-sequence keys of the structure-factor streams. The form-factor draw of set i uses
# [seed, i, attempt] (attempt < 10) as before, so these never touch it.
_SQ_CHOICE = 1_000_003
_SQ_DRAW = 1_000_033
S_MAX_VALID = 10.0   # an S(q) above this is an approximation breaking down (MSA near its spinodal)


def _valid(intensity: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(intensity)) and np.all(intensity > 0))


def is_product(index: int, seed: int, sq_fraction: float) -> bool:
    """Whether parameter set ``index`` is a P@S product: a pure function of (seed, index)."""
    if sq_fraction <= 0:
        return False
    return bool(np.random.default_rng([seed, index, _SQ_CHOICE]).uniform() < sq_fraction)


def _product_kernel(form: str, sq: str):
    key = f"{form}@{sq}"
    if key not in _KERNELS:
        _KERNELS[key] = load_model(key).make_kernel([Q_FINE])
    return _KERNELS[key]


def draw_structure_factor(index: int, seed: int, attempt: int) -> tuple[int, dict]:
    """(row of STRUCTURE_FACTORS, S parameters) for attempt ``attempt`` of set ``index``."""
    rng = np.random.default_rng([seed, index, attempt, _SQ_DRAW])
    w = np.array([s.weight for s in STRUCTURE_FACTORS], float)
    k = int(rng.choice(len(w), p=w / w.sum()))
    return k, STRUCTURE_FACTORS[k].draw(rng)


def simulate_product(form: str, pars: dict, sq_label: int, sq_pars: dict) -> tuple[np.ndarray, dict] | None:
    """I(Q_FINE) of ``form@S`` (unnormalised) and the S record, or None for an invalid curve."""
    from sasmodels.direct_model import call_kernel

    sq = SQ_NAMES[sq_label]
    kernel = _product_kernel(form, sq)
    mode = radius_effective_mode(form, sq)
    target = float(sq_pars["volfraction"])
    ratio = HOLLOW_VOLUME_RATIO[form](pars) if form in HOLLOW_VOLUME_RATIO else 1.0
    call = {**pars, **sq_pars, "volfraction": target / ratio, "radius_effective_mode": mode,
            "structure_factor_mode": 0, "scale": 1.0, "background": 0.0}
    intensity = np.asarray(call_kernel(kernel, call))
    parts = kernel.results()
    s_q = np.asarray(parts["S(Q)"][1])
    if not (_valid(intensity) and _valid(s_q) and s_q.max() < S_MAX_VALID):
        return None
    record = dict(sq_pars, name=sq, volfraction=float(target / ratio * parts["volume_ratio"]),
                  volfraction_target=target, radius_effective=float(parts["radius_effective"]),
                  radius_effective_mode=EFFECTIVE_RADIUS_MODE[form], structure_factor_mode="P*S",
                  s_max=float(s_q.max()), q_s_max=float(Q_FINE[int(np.argmax(s_q))]))
    return intensity, record


def simulate_row(index: int, seed: int, sq_fraction: float = 0.0):
    """Simulate parameter set ``index``: (class id, I(Q_FINE) normalised to I[0] = 1, form params,
    lengths, sq_label, S record or None). With ``sq_fraction`` 0 this is the dilute database."""
    from sasmodels.direct_model import call_kernel

    label = index % len(CLASSES)
    spec = CLASSES[label]
    product = is_product(index, seed, sq_fraction)
    for attempt in range(10):
        rng = np.random.default_rng([seed, index, attempt])
        pars = spec.draw(rng)
        if product:
            sq_label, sq_pars = draw_structure_factor(index, seed, attempt)
            out = simulate_product(spec.name, pars, sq_label, sq_pars)
            if out is None:
                continue
            intensity, record = out
            return (label, (intensity / intensity[0]).astype(np.float32), pars, spec.feature_lengths(pars),
                    sq_label, record)
        intensity = np.asarray(call_kernel(_kernel(spec.name), dict(pars, scale=1.0, background=0.0)))
        if _valid(intensity):
            return label, (intensity / intensity[0]).astype(np.float32), pars, spec.feature_lengths(pars), -1, None
    kind = "product" if product else "curve"
    raise RuntimeError(f"parameter set {index} of {spec.name} gave no valid {kind} in 10 draws")


def simulate_one(index: int, seed: int) -> tuple[int, np.ndarray, dict, tuple[float, float]]:
    """Simulate dilute parameter set ``index``: (class id, I(Q_FINE) normalised to I[0] = 1, params, lengths)."""
    return simulate_row(index, seed)[:4]


def simulate_chunk(start: int, stop: int, seed: int, sq_fraction: float = 0.0):
    """Simulate indices [start, stop) in one worker: (start, labels, curves, params, lengths),
    plus (sq_label, sq_params) when ``sq_fraction`` > 0."""
    rows = [simulate_row(i, seed, sq_fraction) for i in range(start, stop)]
    labels = np.array([r[0] for r in rows], dtype=np.int8)
    curves = np.stack([r[1] for r in rows])
    params = [json.dumps(r[2]) for r in rows]
    lengths = np.array([r[3] for r in rows], dtype=np.float32)
    if sq_fraction <= 0:
        return start, labels, curves, params, lengths
    sq_label = np.array([r[4] for r in rows], dtype=np.int8)
    sq_params = [json.dumps(r[5]) if r[5] is not None else "" for r in rows]
    return start, labels, curves, params, lengths, sq_label, sq_params


def _sq_record(f: h5py.File) -> tuple[float, list]:
    """(sq_fraction, structure-factor names) a database was made with; (0, []) for a dilute one."""
    if "sq_fraction" not in f.attrs:
        return 0.0, []
    return float(f.attrs["sq_fraction"]), json.loads(f.attrs["structure_factors"])


def open_database(path: str, n: int, chunk: int, seed: int, sq_fraction: float = 0.0) -> h5py.File:
    """Create the database or open it for resuming/extension (same seed, chunk size and
    structure-factor fraction only)."""
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
        if sq_fraction > 0:  # a dilute database keeps exactly the layout it always had
            f.attrs.update(sq_fraction=float(sq_fraction), structure_factors=json.dumps(SQ_NAMES))
            f.create_dataset("sq_label", shape=(0,), maxshape=(None,), dtype="i1")
            f.create_dataset("sq_params", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype())
    if int(f.attrs["seed"]) != seed or int(f.attrs["chunk"]) != chunk:
        raise SystemExit(f"{path} was made with seed={f.attrs['seed']} chunk={f.attrs['chunk']}; "
                         "use the same values to resume or extend it")
    if json.loads(f.attrs["classes"]) != list(CLASS_NAMES):
        raise SystemExit(f"{path} holds other classes than the catalog; simulate a new database")
    made_fraction, made_sq = _sq_record(f)
    if made_fraction != float(sq_fraction):
        f.close()
        raise SystemExit(f"{path} was made with --sq-fraction {made_fraction:g}, not {float(sq_fraction):g}; "
                         "use the same value to resume or extend it, or simulate a new database")
    if made_fraction > 0 and made_sq != list(SQ_NAMES):
        f.close()
        raise SystemExit(f"{path} holds other structure factors ({made_sq}) than the catalog; simulate a new database")
    n_chunks = -(-n // chunk)
    if f["done"].shape[0] < n_chunks:
        f["done"].resize((n_chunks,))
        names = ("intensity", "label", "params", "lengths") + (("sq_label", "sq_params") if made_fraction > 0 else ())
        for name in names:
            f[name].resize(n_chunks * chunk, axis=0)
    return f


def run(out: str, n: int, chunk: int = 900, seed: int = 20241, workers: int = 2, progress: bool = True,
        scheduler=None, sq_fraction: float = 0.0) -> str:
    """Fill ``out`` with ``n`` parameter sets (rounded up to whole chunks), resuming if present.

    Chunks run in ``workers`` local processes, or on a dask.distributed cluster when
    ``scheduler`` is given (an address such as ``tcp://host:8786``, a ``distributed.Client``,
    or ``"local"`` for a LocalCluster of ``workers`` processes). Either way this process alone
    writes the HDF5 file, and the content is identical: set ``i`` depends only on ``(seed, i)``.
    ``sq_fraction`` > 0 makes that fraction of sets P@S products (module docstring).
    """
    if not 0.0 <= sq_fraction <= 1.0:
        raise SystemExit(f"--sq-fraction must lie in [0, 1], not {sq_fraction}")
    with open_database(out, n, chunk, seed, sq_fraction) as f:
        n_chunks = -(-n // chunk)
        todo = [k for k in range(n_chunks) if not f["done"][k]]
        bar = tqdm(total=n_chunks * chunk, initial=(n_chunks - len(todo)) * chunk, unit="curve",
                   disable=not progress, desc="simulate")
        for start, labels, curves, params, lengths, *sq in _results(todo, chunk, seed, workers, scheduler,
                                                                      sq_fraction):
            sl = slice(start, start + len(labels))
            f["intensity"][sl] = curves
            f["label"][sl] = labels
            f["params"][sl] = params
            f["lengths"][sl] = lengths
            if sq:
                f["sq_label"][sl] = sq[0]
                f["sq_params"][sl] = sq[1]
            f.flush()
            f["done"][start // chunk] = True
            f.flush()
            bar.update(len(labels))
        bar.close()
    return out


def _results(todo: list[int], chunk: int, seed: int, workers: int, scheduler, sq_fraction: float = 0.0):
    """Chunk results in completion order, from local processes or a dask cluster."""
    extra = (sq_fraction,) if sq_fraction > 0 else ()  # the default call stays what it was
    if scheduler is None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context(START_METHOD if START_METHOD in methods else None)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(simulate_chunk, k * chunk, (k + 1) * chunk, seed, *extra) for k in todo]
            try:
                for fut in as_completed(futures):
                    yield fut.result()
            except BaseException:
                # a failed chunk (or an interrupted writer) stops the run now: without this the
                # pool's exit would first simulate every pending chunk, then discard them all
                pool.shutdown(wait=False, cancel_futures=True)
                raise
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
        futures = [client.submit(simulate_chunk, k * chunk, (k + 1) * chunk, seed, *extra, pure=False) for k in todo]
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
    ap.add_argument("--sq-fraction", type=float, default=0.0, metavar="F",
                    help="fraction of parameter sets simulated as form@structure-factor products "
                         "(catalog.STRUCTURE_FACTORS); 0 (default) = dilute only. Fixed for a database's life")
    args = ap.parse_args(argv)
    run(args.out, args.n, args.chunk, args.seed, args.workers, progress=sys.stderr.isatty() or True,
        scheduler=args.scheduler, sq_fraction=args.sq_fraction)
    return 0


if __name__ == "__main__":
    sys.exit(main())
