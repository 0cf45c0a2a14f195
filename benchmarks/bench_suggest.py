"""Speed of the runtime, measured in one run: prints a table and ratios.

    python benchmarks/bench_suggest.py [--repeats 200]

Rows: Suggester construction (ONNX session), one in-memory curve end to end (validation,
featurize, ONNX, scoring), load+suggest of one example file, and batch throughput for
in-memory curves.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def sphere(q, r):
    x = q * r
    return (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    from sasview_automodel import Suggester
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = Suggester()
    t_init = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    q = np.geomspace(0.003, 0.4, 200)
    i = 100 * sphere(q, 60) + 0.01
    sig = 0.03 * i
    noisy = i * (1 + 0.03 * rng.standard_normal(q.size))
    s.suggest(q, noisy, sigma=sig)
    one = timed(lambda: s.suggest(q, noisy, sigma=sig), args.repeats)
    example = os.path.join(os.path.dirname(HERE), "examples", "sphere_saxs.txt")
    s.suggest_file(example)
    files = timed(lambda: s.suggest_file(example), max(20, args.repeats // 5))
    curves = [(q, 100 * sphere(q, r) + 0.01, 0.03 * (100 * sphere(q, r) + 0.01))
              for r in rng.uniform(20, 200, args.batch)]
    t0 = time.perf_counter()
    s.suggest_batch(curves)
    t_batch = time.perf_counter() - t0

    def ms(v):
        return f"{1e3 * v:8.2f} ms"

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'measure':44s} {'median':>11s} {'p95':>11s}")
    print(f"{'import sasview_automodel':44s} {ms(t_import):>11s}")
    print(f"{'Suggester() (bundle check + ONNX session)':44s} {ms(t_init):>11s}")
    print(f"{'suggest(): one in-memory curve, 200 points':44s} {ms(statistics.median(one)):>11s} {ms(np.quantile(one, 0.95)):>11s}")
    print(f"{'suggest_file(): load + suggest, one file':44s} {ms(statistics.median(files)):>11s} {ms(np.quantile(files, 0.95)):>11s}")
    print(f"{'suggest_batch(): ' + str(args.batch) + ' in-memory curves':44s} {ms(t_batch):>11s}   "
          f"{args.batch / t_batch:,.0f} curves/s")
    print(f"ratio batch per-curve / single call: {t_batch / args.batch / statistics.median(one):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
