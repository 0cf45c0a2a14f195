"""10,000 files through `batch`: correct rows for good files, error rows for bad ones, and the
same rows locally (processes) as on a dask LocalCluster.

    python benchmarks/batch_10k.py [--n 10000] [--workers 2] [--folder /tmp/automodel-10k] [--model CARD]

Writes the files (every 10th broken in one of six ways: empty, binary junk, 5 points,
negative intensities, q out of range, header only), runs ``run_batch`` in this process, over
local processes, and on a LocalCluster of ``--workers`` single-threaded processes, checks
every row and prints the timings. Exit status 0 only if every check passes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package and tests/synthetic.py of this checkout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--folder", default=None, help="where to write the files (default: a temporary folder)")
    ap.add_argument("--model", default=None, help="model card (default: the packaged bundle)")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    from sasview_automodel.batch import expand_inputs, run_batch, summary, write_rows
    from tests.synthetic import make_dataset_folder

    folder = args.folder or tempfile.mkdtemp(prefix="automodel-10k-")
    t = time.perf_counter()
    expected = make_dataset_folder(folder, args.n, bad_every=10, seed=10)
    print(f"wrote {args.n} files to {folder} in {time.perf_counter() - t:.1f} s")
    paths = expand_inputs([folder])
    assert len(paths) == args.n, (len(paths), args.n)

    timings, results = {}, {}
    t = time.perf_counter()
    results["inline"] = run_batch(paths, args.model, workers=1, progress=False)
    timings["inline (1 process)"] = time.perf_counter() - t
    t = time.perf_counter()
    results["processes"] = run_batch(paths, args.model, workers=args.workers, progress=False)
    timings[f"local processes ({args.workers})"] = time.perf_counter() - t
    t = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, \
            Client(cl) as client:
        t_up = time.perf_counter() - t
        t = time.perf_counter()
        results["dask"] = run_batch(paths, args.model, progress=False, scheduler=client)
        timings[f"dask LocalCluster ({args.workers} workers; +{t_up:.1f} s start-up)"] = time.perf_counter() - t

    failures = []
    rows = results["inline"]
    if [r["file"] for r in rows] != paths:
        failures.append("not exactly one row per file, in input order")
    for r in rows:
        kind = expected[r["file"]]
        if kind == "ok" and (r["error"] or len(r.get("ranking", [])) != 3):
            failures.append(f"good file got {r['error'] or 'no ranking'}: {r['file']}")
        elif kind != "ok" and not r["error"]:
            failures.append(f"bad file ({kind}) got no error row: {r['file']}")
    ref = json.dumps(rows, sort_keys=True)
    for name in ("processes", "dask"):
        if json.dumps(results[name], sort_keys=True) != ref:
            failures.append(f"rows from {name} differ from the in-process rows")
    out = os.path.join(folder, "results.csv")
    write_rows(results["dask"], out, 3)

    print(summary(rows))
    for name, sec in timings.items():
        print(f"{name:58s} {sec:7.1f} s  {args.n / sec:7.0f} files/s")
    n_bad = sum(k != "ok" for k in expected.values())
    print(f"{args.n - n_bad} good files -> {sum(not r['error'] for r in rows)} rows; {n_bad} bad files -> "
          f"{sum(bool(r['error']) for r in rows)} error rows; local vs LocalCluster identical: "
          f"{'dask' not in ' '.join(failures)}")
    for f in failures[:20]:
        print("FAIL", f)
    if not args.keep and not args.folder:
        shutil.rmtree(folder)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
