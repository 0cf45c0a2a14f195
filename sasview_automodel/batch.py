"""Batch classification of many files: one row per dataset, error rows for bad files.

Files are processed in chunks (one ONNX call per chunk), inline, in local worker processes,
or on a dask.distributed cluster (``scheduler=``); each worker builds its Suggester once.
The output (CSV or JSON) is written to a temporary file beside the target and renamed at the
end, so an interrupted batch never leaves a half file.
"""
from __future__ import annotations

import contextlib
import csv
import glob
import json
import multiprocessing
import os
import sys
import tempfile
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterable, Iterator

from .errors import AutomodelError, BundleError

DATA_EXTENSIONS = (".xml", ".h5", ".hdf5", ".nxs", ".txt", ".csv", ".dat", ".abs", ".pdh", ".asc")
CHUNK = 64


def expand_inputs(items: Iterable[str]) -> list[str]:
    """Files, folders (recursively, known data extensions) and glob patterns -> sorted file list."""
    out: list[str] = []
    for item in items:
        if os.path.isdir(item):
            for root, _, files in os.walk(item):
                out += [os.path.join(root, f) for f in files if f.lower().endswith(DATA_EXTENSIONS)]
        elif any(c in item for c in "*?[") and not os.path.exists(item):
            out += [p for p in glob.glob(item, recursive=True) if os.path.isfile(p)]
        else:
            out.append(item)  # a missing file becomes an error row, not a silent skip
    seen: set[str] = set()
    return [p for p in sorted(out) if not (p in seen or seen.add(p))]


# -- worker side ----------------------------------------------------------------------------
# One Suggester per worker process (local pool or dask worker), made on first use and reused
# for every chunk; keyed by the model card so one worker can serve several bundles.
_SUGGESTERS: dict = {}
_LOCK = threading.Lock()


def _suggester(card_path: str | None, onnx_sha256: str | None = None):
    """This worker's Suggester for ``card_path``; refuses a bundle other than the caller's
    (``onnx_sha256``), e.g. a dask worker with another version installed."""
    with _LOCK:
        if card_path not in _SUGGESTERS:
            from .suggest import Suggester
            _SUGGESTERS[card_path] = Suggester(card_path, threads=1)
            _SUGGESTERS[card_path].onnx_batch = ONNX_BATCH
        s = _SUGGESTERS[card_path]
    if onnx_sha256 and s.card.onnx_sha256 != onnx_sha256:
        import socket
        raise BundleError(f"worker {socket.gethostname()} (pid {os.getpid()}) has another model bundle than the "
                          f"client ({s.card.path}, ONNX sha256 {str(s.card.onnx_sha256)[:12]}... "
                          f"instead of {onnx_sha256[:12]}...): install the same sasview-automodel version on "
                          "every worker or pass --model with a card on a shared filesystem")
    return s


def _card_sha256(card_path: str | None) -> str | None:
    """The ONNX checksum named by the card the caller would use (None if the card is unusable:
    the workers then report the problem themselves)."""
    from .bundle import ModelCard, default_card_path
    try:
        return ModelCard.read(card_path or default_card_path()).onnx_sha256
    except BundleError:
        return None


def classify_files(paths: list[str], card_path: str | None = None, q_unit: str | None = None,
                   top: int = 3, onnx_sha256: str | None = None, slit_length: float | None = None) -> list[dict]:
    """Rows for ``paths`` in this worker: suggestion rows, or one error row per failed file."""
    from .curve import load_file

    s, rows, curves = _suggester(card_path, onnx_sha256), [], []
    for path in paths:
        try:
            loaded = load_file(path, q_unit=q_unit, slit_length=slit_length)
        except AutomodelError as exc:
            rows.append({"file": path, "entry": None, "error": str(exc)})
            continue
        except Exception as exc:  # never let one file stop the batch
            rows.append({"file": path, "entry": None, "error": f"unexpected {type(exc).__name__}: {exc}"})
            continue
        curves += loaded
    try:
        results = s.suggest_curves(curves)
    except AutomodelError:  # one dataset is unusable: classify one by one to isolate it
        results = []
        for c in curves:
            try:
                results.append(s.suggest_curves([c])[0])
            except AutomodelError as exc:
                rows.append({"file": c.source, "entry": c.entry, "error": str(exc)})
    for r in results:
        d = r.to_dict(top=top)
        d["error"] = None
        rows.append(d)
    return rows


ONNX_BATCH = 32  # curves per ONNX call in a worker (1 thread: ~7 % faster than 128)


def suggest_chunk(curves, card_path: str | None = None, onnx_sha256: str | None = None) -> list:
    """Suggestions for validated in-memory curves (a list or a :class:`CurveChunk`) in this
    worker: the whole chunk featurized and scored at once, ``ONNX_BATCH`` curves per ONNX call
    (each row's output does not depend on the batch it ran in)."""
    return _suggester(card_path, onnx_sha256).suggest_curves(list(curves))


_PACKED_ARRAYS = ("q", "intensity", "sigma", "dq")
_PACKED_FIELDS = ("slit_length", "name", "source", "entry", "warnings", "q_unit_used", "q_unit_origin")


class CurveChunk:
    """Validated curves on their way to a worker process. Pickled as four flat float64 arrays,
    the lengths and one tuple of the other fields per curve instead of one pickled object and
    four arrays per curve: about ten times less pickling work in the process that sends them,
    which shares the CPUs with the workers. Unpickled, the same curves (bit for bit; their
    arrays are views into the flat ones). Curves whose arrays are not 1-D float64 (never the
    case for :func:`~.curve.make_curve` output) are pickled as they are."""

    def __init__(self, curves) -> None:
        self.curves = list(curves)

    def __len__(self) -> int:
        return len(self.curves)

    def __iter__(self):
        return iter(self.curves)

    def __reduce__(self):
        import numpy as np

        cs = self.curves
        packable = all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 1
                       and len(a) == len(c.q)
                       for c in cs for a in (getattr(c, f) for f in _PACKED_ARRAYS) if a is not None)
        if not packable:
            return (CurveChunk, (cs,))
        lengths = np.array([len(c.q) for c in cs], np.int64)
        arrays = {f: np.concatenate([getattr(c, f) for c in cs if getattr(c, f) is not None] or [np.empty(0)])
                  for f in _PACKED_ARRAYS}
        present = {f: [getattr(c, f) is not None for c in cs] for f in ("sigma", "dq")}
        fields = [tuple(getattr(c, f) for f in _PACKED_FIELDS) for c in cs]
        return (_unpack_chunk, (lengths, arrays, present, fields))


def _unpack_chunk(lengths, arrays: dict, present: dict, fields: list) -> CurveChunk:
    """The curves of a pickled :class:`CurveChunk` (its ``__reduce__``)."""
    import numpy as np

    from .curve import Curve

    def split(name: str, keep) -> list:
        parts = iter(np.split(arrays[name], np.cumsum([n for n, k in zip(lengths, keep) if k])[:-1]))
        return [next(parts) if k else None for k in keep]

    every = [True] * len(lengths)
    columns = [split("q", every), split("intensity", every), split("sigma", present["sigma"]),
               split("dq", present["dq"])]
    return CurveChunk(Curve(*arrays4, **dict(zip(_PACKED_FIELDS, rest)))
                      for *arrays4, rest in zip(*columns, fields))


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- scheduling -------------------------------------------------------------------------------
class Runner:
    """Runs ``fn(chunk, *args)`` over chunks: inline, in local processes, or on dask.

    ``scheduler`` is the address of a running dask.distributed scheduler
    (``tcp://host:8786``), a ``distributed.Client``, or ``"local"`` for a dask LocalCluster
    of ``workers`` single-threaded processes made for this run. Without it, ``workers > 1``
    uses a local process pool and ``workers <= 1`` runs in this process.
    ``map`` yields ``(index, result)`` as chunks finish; a chunk that raises yields the
    exception object as its result, so the caller decides what a failure means.
    """

    def __init__(self, workers: int = 1, scheduler=None, connect_timeout: float = 20.0):
        self.workers, self.scheduler = max(int(workers or 1), 1), scheduler
        self.connect_timeout = connect_timeout
        self._pool = self._client = self._cluster = None
        self._own_client = False

    def __enter__(self) -> "Runner":
        if self.scheduler is not None:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise AutomodelError("--scheduler needs dask.distributed: pip install "
                                     "'sasview-automodel[dask]'") from None
            if isinstance(self.scheduler, Client):
                self._client = self.scheduler
            else:
                if self.scheduler == "local":
                    self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                 dashboard_address=":0")
                    address = self._cluster
                else:
                    address = self.scheduler
                try:
                    self._client = Client(address, timeout=f"{self.connect_timeout}s")
                except (OSError, TimeoutError) as exc:
                    if self._cluster is not None:
                        self._cluster.close()
                    raise AutomodelError(f"cannot reach the dask scheduler at {self.scheduler} ({exc}): start it "
                                         "(dask scheduler; dask worker ADDRESS) or check the address") from None
                self._own_client = True
        elif self.workers > 1:
            # forkserver where there is one (Linux): workers start from a clean process, not a
            # fork of one that may hold onnxruntime threads and gigabytes of curves
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._own_client:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def map(self, fn, chunks: list, *args) -> Iterator[tuple[int, object]]:
        if self._client is not None:
            from distributed import as_completed as dask_completed
            futures = {self._client.submit(fn, c, *args, pure=False): k for k, c in enumerate(chunks)}
            for fut in dask_completed(futures):
                k = futures.pop(fut)
                yield k, _outcome(fut)
                fut.release()
        elif self._pool is not None:
            futures = {self._pool.submit(fn, c, *args): k for k, c in enumerate(chunks)}
            for fut in as_completed(futures):
                yield futures[fut], _outcome(fut)
        else:
            for k, c in enumerate(chunks):
                try:
                    yield k, fn(c, *args)
                except Exception as exc:
                    yield k, exc


@contextlib.contextmanager
def _using(runner: "Runner | None", workers: int, scheduler):
    """The caller's open runner (left open), or a new one for this call."""
    if runner is not None:
        yield runner
    else:
        with Runner(workers, scheduler) as new:
            yield new


def _outcome(fut):
    try:
        return fut.result()
    except Exception as exc:
        return exc


def run_batch(paths: list[str], card_path: str | None = None, q_unit: str | None = None, top: int = 3,
              workers: int = 1, progress: bool = True, scheduler=None, chunk: int = CHUNK,
              runner: "Runner | None" = None, slit_length: float | None = None) -> list[dict]:
    """Classify every dataset of every file; rows keep the input order.

    ``slit_length`` (in the unit of q) declares slit smearing for every file (curve.load_file).

    ``workers``/``scheduler``: see :class:`Runner` (or pass an open ``runner`` to reuse its
    processes). The model card (default: the packaged one) and the files must be readable at
    the same paths on dask workers.
    """
    chunks = list(_chunks(paths, chunk))
    bar = _progress(len(paths), progress)
    results: list = [None] * len(chunks)
    if scheduler is None and len(chunks) <= 1:
        workers = 1  # one chunk: starting a pool would cost more than it saves
    with _using(runner, workers, scheduler) as runner:
        for k, rows in runner.map(classify_files, chunks, card_path, q_unit, top, _card_sha256(card_path),
                                 slit_length):
            if isinstance(rows, AutomodelError):  # the bundle does not load: every chunk would fail
                raise rows
            if isinstance(rows, BaseException):  # a worker died (or worse) on this chunk: say so per file
                rows = [{"file": p, "entry": None, "error": f"worker failed: {type(rows).__name__}: {rows}"}
                        for p in chunks[k]]
            results[k] = rows
            bar(len(chunks[k]))
    bar(0, done=True)
    order = {p: k for k, p in enumerate(paths)}
    rows = [r for chunk_rows in results for r in chunk_rows]
    rows.sort(key=lambda r: (order.get(r["file"], len(order)), r["entry"] or 0))
    return rows


def suggest_many(curves: list, card_path: str | None = None, workers: int = 1, scheduler=None,
                 chunk: int = 1024, runner: "Runner | None" = None) -> list:
    """Suggestions for many validated in-memory :class:`~.curve.Curve` objects, in order,
    split into chunks of ``chunk`` curves over local processes or a dask cluster."""
    chunks = list(_chunks(list(curves), chunk))
    results: list = [None] * len(chunks)
    if scheduler is None and len(chunks) <= 1:
        workers = 1
    with _using(runner, workers, scheduler) as runner:
        for k, out in runner.map(suggest_chunk, [CurveChunk(c) for c in chunks], card_path, _card_sha256(card_path)):
            if isinstance(out, BaseException):
                raise out
            results[k] = out
    return [s for part in results for s in part]


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
        t = tqdm(total=total, unit="file", disable=not enabled, file=sys.stderr)

        def update(n: int, done: bool = False) -> None:
            t.update(n)
            if done:
                t.close()
        return update
    except ImportError:
        count = [0]

        def update(n: int, done: bool = False) -> None:
            count[0] += n
            if enabled and (done or count[0] % 1000 < n):
                print(f"\r{count[0]}/{total} files", end="\n" if done else "", file=sys.stderr)
        return update


def flat_row(row: dict, top: int) -> dict:
    """One CSV row: file, entry, model_k/probability_k for k <= top, confidence, outlier, family,
    family_probability, plausible_models (space-separated, best first), parameters, warnings, error."""
    out = {"file": row.get("file"), "entry": row.get("entry"), "error": row.get("error") or ""}
    ranking = row.get("ranking") or []
    for k in range(top):
        out[f"model_{k + 1}"] = ranking[k]["model"] if k < len(ranking) else ""
        out[f"probability_{k + 1}"] = ranking[k]["probability"] if k < len(ranking) else ""
    out["confidence"] = row.get("confidence", "")
    out["outlier"] = row.get("outlier", "")
    out["outlier_score"] = row.get("outlier_score", "")
    out["family"] = row.get("family", "")
    out["family_probability"] = row.get("family_probability", "")
    out["plausible_models"] = " ".join(row.get("plausible_models") or [])
    out["parameters"] = json.dumps(row["parameters"]) if row.get("parameters") else ""
    out["warnings"] = " | ".join(row.get("warnings") or [])
    return out


def write_rows(rows: list[dict], out: str, top: int) -> None:
    """Write CSV (by extension .csv) or JSON atomically: temporary file, then rename."""
    folder = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".automodel-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            if out.lower().endswith(".csv"):
                flat = [flat_row(r, top) for r in rows]
                fields = list(flat_row({}, top))
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(flat)
            else:
                json.dump(rows, f, indent=1)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def summary(rows: list[dict]) -> str:
    """A short table: datasets per top-1 class, flagged outliers, failed files."""
    ok = [r for r in rows if not r.get("error")]
    counts = Counter(r["ranking"][0]["model"] for r in ok)
    lines = [f"{len(ok)} datasets classified, {sum(bool(r.get('outlier')) for r in ok)} flagged as outliers, "
             f"{len(rows) - len(ok)} failed"]
    lines += [f"  {m:<22s} {n:6d}" for m, n in counts.most_common()]
    return "\n".join(lines)
