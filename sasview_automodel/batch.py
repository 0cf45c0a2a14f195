"""Batch classification of many files: one row per dataset, error rows for bad files.

Files are processed in chunks (one ONNX call per chunk), in parallel worker processes that
each build their Suggester once. The output (CSV or JSON) is written to a temporary file
beside the target and renamed at the end, so an interrupted batch never leaves a half file.
"""
from __future__ import annotations

import csv
import glob
import json
import os
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, Iterator

from .errors import AutomodelError

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


_WORKER: dict = {}


def _init_worker(card_path: str | None, q_unit: str | None, top: int) -> None:
    from .suggest import Suggester
    _WORKER.update(suggester=Suggester(card_path, threads=1), q_unit=q_unit, top=top)


def classify_files(paths: list[str]) -> list[dict]:
    """Rows for ``paths`` in this worker: suggestion rows, or one error row per failed file."""
    from .curve import load_file

    s, rows, curves = _WORKER["suggester"], [], []
    for path in paths:
        try:
            loaded = load_file(path, q_unit=_WORKER["q_unit"])
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
        d = r.to_dict(top=_WORKER["top"])
        d["error"] = None
        rows.append(d)
    return rows


def _chunks(paths: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(paths), size):
        yield paths[i:i + size]


def run_batch(paths: list[str], card_path: str | None = None, q_unit: str | None = None, top: int = 3,
              workers: int = 1, progress: bool = True) -> list[dict]:
    """Classify every dataset of every file; rows keep the input order."""
    chunks = list(_chunks(paths, CHUNK))
    bar = _progress(len(paths), progress)
    rows: list[dict] = []
    if workers <= 1:
        _init_worker(card_path, q_unit, top)
        for chunk in chunks:
            rows += classify_files(chunk)
            bar(len(chunk))
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(card_path, q_unit, top)) as pool:
            for chunk, result in zip(chunks, pool.map(classify_files, chunks)):
                rows += result
                bar(len(chunk))
    bar(0, done=True)
    order = {p: k for k, p in enumerate(paths)}
    rows.sort(key=lambda r: (order.get(r["file"], len(order)), r["entry"] or 0))
    return rows


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
    """One CSV row: file, entry, model_k/probability_k for k <= top, confidence, outlier, error."""
    out = {"file": row.get("file"), "entry": row.get("entry"), "error": row.get("error") or ""}
    ranking = row.get("ranking") or []
    for k in range(top):
        out[f"model_{k + 1}"] = ranking[k]["model"] if k < len(ranking) else ""
        out[f"probability_{k + 1}"] = ranking[k]["probability"] if k < len(ranking) else ""
    out["confidence"] = row.get("confidence", "")
    out["outlier"] = row.get("outlier", "")
    out["outlier_score"] = row.get("outlier_score", "")
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
