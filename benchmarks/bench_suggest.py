"""Speed and memory of the runtime, measured in one run: the table of docs/benchmarks.md.

    python benchmarks/bench_suggest.py [--workers 2] [--repeats 300] [--batch 10000] [--files 1000]
        [--fit-curves 1] [--quick-fit-passes 3] [--model CARD] [--json FILE]
    python benchmarks/bench_suggest.py --workers 2 --gui-startup 3 --write-docs   # make bench-docs

``sasview-automodel bench [...]`` runs this script from a source checkout (benchmarks/ is not
installed with the package); ``make bench`` too. ``--write-docs`` also writes docs/benchmarks.md
(the table, the machine, the command); ``--gui-startup PAIRS`` adds SasView's start-up with and
without the plugin (benchmarks/bench_gui_startup.py, needs xvfb-run and SasView).

Rows (all in this process unless stated):

* import time of the package and of the GUI plugin module (fresh interpreters, median of 3);
  the Qt panel needs PySide6 and is measured only where it is installed
* ``Suggester()`` construction (card check, sha256, ONNX session)
* one in-memory curve end to end (``suggest(q, I, sigma)``), median and p95, and its stages:
  validation (``make_curve``), featurize (``grid.featurize``), ONNX, scoring + result objects
* load + suggest one file, median and p95, over the packaged example formats when present
* batch throughput of in-memory curves (one process, and over ``--workers`` processes) and of
  files (``run_batch`` on a folder of generated column files with some bad ones), per stage
* the quick fit of the top 3 candidates (``suggest_curves(fit=True)`` at the production time
  budget), seconds per curve over the example curves, after one untimed pass that compiles the
  sasmodels kernels (once per process); goal: well under 1 s per curve
* peak memory (``resource.getrusage``: this process and its children)
* fitting every catalog model to the same curve with sasmodels + scipy ``least_squares`` (the
  "fit everything, keep the best chi-square" alternative) and the speed-up ratios.

The fit is a deliberately cheap version of what a user does: no polydispersity, no
resolution, one start per model from sasmodels' default values, scale, background and the
model's size parameters free (log-scaled, within broad bounds), at most 400 evaluations per
model, kernels compiled before timing. A real fit (polydispersity, resolution, several
starts) costs more, so the ratio is a lower bound.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the package and tests/synthetic.py of this checkout

import numpy as np  # noqa: E402

from tests.synthetic import make_dataset_folder, synthetic_curves  # noqa: E402

# -- timing helpers ---------------------------------------------------------------------------


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "p95": float(np.quantile(values, 0.95)), "n": len(values)}


def import_time(module: str, repeats: int = 3) -> float | str:
    """Seconds to import ``module`` in a fresh interpreter (median), or why it cannot be imported."""
    code = ("import time; t = time.perf_counter(); import " + module + "; print(time.perf_counter() - t)")
    times = []
    for _ in range(repeats):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if r.returncode:
            last = (r.stderr.strip().splitlines() or ["failed"])[-1]
            return last
        times.append(float(r.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def peak_memory_mb() -> dict:
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20  # ru_maxrss: KiB on Linux, bytes on macOS
    return {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
            "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale}


# -- the fit-everything baseline --------------------------------------------------------------


def fit_all_models(q, intensity, sigma, models=None, max_nfev: int = 400, log=None) -> list[dict]:
    """Fit each model with scipy least_squares; returns one dict per model (time, chi2, nfev)."""
    from scipy.optimize import least_squares
    from sasmodels.direct_model import call_kernel

    from sasview_automodel import catalog
    from sasview_automodel.encoding import slot_kind
    from sasview_automodel.sasmodels_env import load_model

    out = []
    for name in models or catalog.CLASS_NAMES:
        spec = catalog.get(name)
        model = load_model(name)
        kernel = model.make_kernel([np.asarray(q, float)])
        defaults = {p.name: p.default for p in model.info.parameters.kernel_parameters}
        free = ["scale", "background"] + list(spec.start_params)
        x0 = np.log10([max(abs(intensity[0]), 1e-3) * 1e-2 if k == "scale" else
                       max(abs(intensity[-1]), 1e-6) if k == "background" else
                       max(defaults.get(k, 1.0), 1e-3) for k in free])
        # bounds a careful user sets: sizes 1 A..2 um, axis ratios 0.02..50, scale and
        # background over many decades (unbounded sizes let a fit wander to lengths where
        # the orientation average takes seconds per evaluation)
        lo = np.log10([1e-10 if k in ("scale", "background") else 0.02 if slot_kind(k) == "ratio" else 1.0
                       for k in free])
        hi = np.log10([1e10 if k == "scale" else 1e4 if k == "background" else
                       50.0 if slot_kind(k) == "ratio" else 2e4 for k in free])
        x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
        fixed = {k: v for k, v in defaults.items() if k not in free}

        def residuals(x):
            pars = dict(fixed, **dict(zip(free, 10 ** x)))
            return (np.asarray(call_kernel(kernel, pars)) - intensity) / sigma

        residuals(x0)  # kernel compiled and loaded before the clock starts
        t = time.perf_counter()
        res = least_squares(residuals, x0, bounds=(lo, hi), method="trf", max_nfev=max_nfev)
        dt = time.perf_counter() - t
        out.append({"model": name, "seconds": dt, "nfev": int(res.nfev),
                    "chi2_reduced": float(2 * res.cost / max(len(q) - len(free), 1))})
        if log:
            log(f"  {name}: {dt:.2f} s, {res.nfev} evaluations")
    return out


# -- the benchmark ----------------------------------------------------------------------------


def quick_fit_timing(s, curves: list, passes: int) -> dict:
    """Seconds per curve of classifying and quick-fitting the top candidates (``suggest_curves(fit=True)``
    with the production budget), over ``passes`` passes through ``curves``; a first untimed pass
    compiles and loads the sasmodels kernels."""
    from sasview_automodel.suggest import FIT_BUDGET, FIT_TOP

    for c in curves:
        s.suggest_curves([c], fit=True)
    times = [_t(lambda c=c: s.suggest_curves([c], fit=True)) for _ in range(passes) for c in curves]
    return {**_stats(times), "curves": len(curves), "passes": passes, "top": FIT_TOP, "budget_s": FIT_BUDGET}


def measure(card_path: str | None = None, repeats: int = 300, n_batch: int = 10000, n_files: int = 1000,
            workers: int = 2, fit_curves: int = 1, log=print, quick_fit_passes: int = 3) -> dict:
    """Run every measurement; returns a JSON-ready dict (seconds)."""
    from sasview_automodel import grid
    from sasview_automodel.batch import ONNX_BATCH, Runner, expand_inputs, run_batch, suggest_many
    from sasview_automodel.curve import load_file, make_curve
    from sasview_automodel.suggest import Suggester

    r: dict = {"machine": machine(), "card": card_path or "packaged"}
    log("imports (fresh interpreters)...")
    r["import"] = {m: import_time(m) for m in ("sasview_automodel", "sasview_automodel.gui.logic",
                                                "sasview_automodel.gui.panel")}
    t = time.perf_counter()
    s = Suggester(card_path)
    r["suggester_init"] = time.perf_counter() - t
    s1 = Suggester(card_path, threads=1)
    r["bundle"] = {"onnx_bytes": os.path.getsize(s.bundle.onnx_path), "name": s.bundle.card.get("name")}

    log("single in-memory curves...")
    curves = synthetic_curves(max(repeats, 50), seed=1)
    for c in curves[:20]:
        s.suggest(c[0], c[1], sigma=c[2], dq=c[3])
    it = iter(curves * 2)
    r["single"] = _stats(timed(lambda: _one(s, next(it)), repeats))
    # stages of one call (same curves, one at a time)
    cs = [make_curve(q, i, sg, dq) for q, i, sg, dq in curves[:repeats]]
    st = {"validation": _stats([_t(lambda c=c: make_curve(*c)) for c in curves[:repeats]]),
          "featurize": _stats([_t(lambda c=c: grid.featurize(*c.as_tuple())) for c in cs])}
    feats = [grid.featurize(*c.as_tuple())[0][None] for c in cs]
    st["onnx"] = _stats([_t(lambda f=f: s.bundle.run(f)) for f in feats])
    st["onnx_1thread"] = _stats([_t(lambda f=f: s1.bundle.run(f)) for f in feats])
    st["suggest_curves"] = _stats([_t(lambda c=c: s.suggest_curves([c])) for c in cs])
    st["scoring_and_results"] = {"median": max(st["suggest_curves"]["median"] - st["featurize"]["median"]
                                               - st["onnx"]["median"], 0.0)}
    r["single_stages"] = st
    r["peak_memory_mb_after_single"] = peak_memory_mb()["self"]

    log("one file...")
    examples = os.path.join(ROOT, "examples")
    tmp = tempfile.mkdtemp(prefix="automodel-bench-")
    files = sorted(os.path.join(examples, f) for f in os.listdir(examples)
                   if not f.endswith(".py")) if os.path.isdir(examples) else []
    if not files:
        files = [p for p, k in make_dataset_folder(os.path.join(tmp, "one"), 5, bad_every=0).items()]
    for f in files:
        s.suggest_file(f)
    n_file = max(repeats // 5, 3 * len(files))
    seq = [files[k % len(files)] for k in range(n_file)]
    r["file"] = _stats([_t(lambda f=f: s.suggest_file(f)) for f in seq])
    r["file_load"] = _stats([_t(lambda f=f: load_file(f)) for f in seq])
    r["file_formats"] = sorted({os.path.splitext(f)[1] for f in files})
    r["file_by_name"] = {os.path.basename(f): statistics.median(_t(lambda f=f: s.suggest_file(f)) for _ in range(5))
                         for f in files}
    if quick_fit_passes:
        log(f"quick fit of the top candidates ({len(files)} curves x {quick_fit_passes})...")
        try:
            r["quick_fit"] = quick_fit_timing(s, [c for f in files for c in load_file(f)], quick_fit_passes)
        except ImportError as exc:  # scipy or sasmodels missing: say so, keep the other rows
            log(f"quick fit row skipped: {exc}")

    log(f"batch of {n_batch} in-memory curves...")
    big = synthetic_curves(n_batch, seed=2)
    t = time.perf_counter()
    bc = [make_curve(q, i, sg, dq) for q, i, sg, dq in big]
    t_val = time.perf_counter() - t
    t = time.perf_counter()   # in chunks of 1024 curves, as suggest_many's workers featurize
    parts = [grid.featurize_many(c.as_tuple() for c in bc[i:i + 1024]) for i in range(0, n_batch, 1024)]
    t_feat = time.perf_counter() - t
    f_all = np.concatenate([p[0] for p in parts])
    def onnx_time(sug) -> float:
        t = time.perf_counter()
        outs = [sug.bundle.run(f_all[i:i + ONNX_BATCH]) for i in range(0, n_batch, ONNX_BATCH)]
        return time.perf_counter() - t, {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    t_onnx, out = onnx_time(s)
    t_onnx1, _ = onnx_time(s1)
    t = time.perf_counter()
    s.bundle.run(f_all)
    t_onnx_one_call = time.perf_counter() - t
    t_score = _scoring_seconds(s, f_all, out, t_onnx)
    t = time.perf_counter()
    s.suggest_batch(big)
    t_api = time.perf_counter() - t
    t = time.perf_counter()
    suggest_many(bc, card_path, workers=1)
    t_many = time.perf_counter() - t
    r["batch_memory"] = {
        "n": n_batch, "seconds": t_api, "curves_per_s": n_batch / t_api,
        "suggest_many_seconds": t_many, "suggest_many_curves_per_s": n_batch / t_many,
        "stages_per_curve": {
            "validation (make_curve)": t_val / n_batch, "featurize": t_feat / n_batch,
            f"onnx, batches of {ONNX_BATCH}, {s.bundle.session.get_session_options().intra_op_num_threads} threads":
                t_onnx / n_batch,
            f"onnx, batches of {ONNX_BATCH}, 1 thread": t_onnx1 / n_batch,
            f"onnx, one call of {n_batch}": t_onnx_one_call / n_batch,
            "scoring (softmax, outlier score, confidence)": t_score / n_batch,
            "results (ranking, parameters, Suggestion)":
                max(t_many - t_feat - t_onnx1 - t_score, 0) / n_batch}}  # suggest_many gets validated curves
    r["peak_memory_mb_after_batch"] = peak_memory_mb()["self"]
    if workers > 1:
        with Runner(workers) as runner:
            t = time.perf_counter()
            suggest_many(bc[: 2 * workers], card_path, runner=runner, chunk=2)  # workers up, sessions made
            t_start = time.perf_counter() - t
            t = time.perf_counter()
            suggest_many(bc, card_path, runner=runner, chunk=max(ONNX_BATCH, n_batch // (4 * workers)))
            t_par = time.perf_counter() - t
        r["batch_memory_parallel"] = {"n": n_batch, "workers": workers, "seconds": t_par, "startup_s": t_start,
                                      "curves_per_s": n_batch / t_par}

    log(f"batch of {n_files} files...")
    expected = make_dataset_folder(os.path.join(tmp, "files"), n_files, seed=3)
    paths = expand_inputs([os.path.join(tmp, "files")])
    t = time.perf_counter()
    rows = run_batch(paths, card_path, workers=1, progress=False)
    t_files = time.perf_counter() - t
    n_ok = sum(not row["error"] for row in rows)
    r["batch_files"] = {"n": n_files, "good": sum(k == "ok" for k in expected.values()), "rows_ok": n_ok,
                        "rows_error": len(rows) - n_ok, "seconds": t_files, "files_per_s": n_files / t_files}
    if workers > 1:
        t = time.perf_counter()
        rows2 = run_batch(paths, card_path, workers=workers, progress=False)
        t_files2 = time.perf_counter() - t
        r["batch_files_parallel"] = {"n": n_files, "workers": workers, "seconds": t_files2,
                                     "files_per_s": n_files / t_files2, "same_rows": rows2 == rows}

    if fit_curves:
        log(f"fitting all {len(s.classes)} models with sasmodels ({fit_curves} curve(s))...")
        fits = []
        try:
            for q, i, sg, _ in synthetic_curves(fit_curves, seed=4):
                per_model = fit_all_models(q, i, sg, s.classes, log=log)
                fits.append({"seconds": sum(m["seconds"] for m in per_model), "models": per_model})
        except ImportError as exc:  # scipy or sasmodels missing: say so, keep the other rows
            log(f"fit baseline skipped: {exc}")
        if fits:
            r["fit_all"] = {"curves": fit_curves, "seconds_per_curve": statistics.median(f["seconds"] for f in fits),
                            "runs": fits}
    r["peak_memory_mb"] = peak_memory_mb()
    shutil.rmtree(tmp, ignore_errors=True)
    return r


def _scoring_seconds(s, feats: np.ndarray, out: dict, onnx_seconds: float) -> float:
    """Seconds spent turning network outputs into probabilities, outlier scores and confidence."""
    from sasview_automodel.batch import ONNX_BATCH

    t = time.perf_counter()
    for i in range(0, len(feats), ONNX_BATCH):
        s.score(feats[i:i + ONNX_BATCH])
    return max(time.perf_counter() - t - onnx_seconds, 0.0)


def _t(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _one(s, c):
    return s.suggest(c[0], c[1], sigma=c[2], dq=c[3])


def machine() -> dict:
    import onnxruntime
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "onnxruntime": onnxruntime.__version__,
            "loadavg_at_start": load, "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def report(r: dict) -> str:
    """The table and the ratios."""
    def ms(v):
        return f"{1e3 * v:9.3f} ms"

    def us(v):
        return f"{1e6 * v:7.0f} us"

    m = r["machine"]
    lines = [f"machine  {m['cpu']}, {m['cores']} cores, Python {m['python']}, onnxruntime {m['onnxruntime']}, "
             f"load average at start {m['loadavg_at_start'][0]:.2f}" if m["loadavg_at_start"] else "",
             f"bundle   {r['card']} ({r['bundle']['name']}, ONNX {r['bundle']['onnx_bytes'] / 1e6:.2f} MB)", ""]
    lines.append(f"{'measure':58s} {'median':>12s} {'p95':>12s}")
    for mod, v in r["import"].items():
        lines.append(f"{'import ' + mod:58s} " + (f"{ms(v):>12s}" if isinstance(v, float) else f"  not measured: {v}"))
    lines.append(f"{'Suggester() (card, sha256, ONNX session)':58s} {ms(r['suggester_init']):>12s}")
    sg = r["single"]
    lines.append(f"{'suggest(): one in-memory curve, 200 points, end to end':58s} {ms(sg['median']):>12s} {ms(sg['p95']):>12s}")
    for k, v in r["single_stages"].items():
        if k == "suggest_curves":
            continue
        lines.append(f"{'  ' + k.replace('_', ' '):58s} {ms(v['median']):>12s}"
                     + (f" {ms(v['p95']):>12s}" if "p95" in v else ""))
    f = r["file"]
    lines.append(f"{'suggest_file(): load + suggest one file ' + '/'.join(r['file_formats']):58s} "
                 f"{ms(f['median']):>12s} {ms(f['p95']):>12s}")
    lines.append(f"{'  of which load_file (sasdata)':58s} {ms(r['file_load']['median']):>12s} {ms(r['file_load']['p95']):>12s}")
    for name, v in r.get("file_by_name", {}).items():
        lines.append(f"{'    ' + name:58s} {ms(v):>12s}")
    if "quick_fit" in r:
        qf = r["quick_fit"]
        label = f"suggest + quick fit of the top {qf['top']} per curve ({qf['curves']} examples)"
        lines.append(f"{label:58s} {ms(qf['median']):>12s} {ms(qf['p95']):>12s}")
    b = r["batch_memory"]
    lines.append("")
    lines.append(f"{'throughput':58s} {'curves/s':>12s} {'total':>12s}")
    lines.append(f"{'suggest_batch(): ' + str(b['n']) + ' in-memory curves, 1 process, 1 call':58s} "
                 f"{b['curves_per_s']:12,.0f} {b['seconds']:11.2f}s")
    lines.append(f"{'suggest_many(): ' + str(b['n']) + ' in-memory curves, 1 process':58s} "
                 f"{b['suggest_many_curves_per_s']:12,.0f} {b['suggest_many_seconds']:11.2f}s")
    for k, v in b["stages_per_curve"].items():
        lines.append(f"{'  ' + k.replace('_', ' ') + ' per curve':58s} {us(v):>12s}")
    if "batch_memory_parallel" in r:
        p = r["batch_memory_parallel"]
        label = f"suggest_many(): {p['n']} in-memory curves, {p['workers']} processes"
        lines.append(f"{label:58s} "
                     f"{p['curves_per_s']:12,.0f} {p['seconds']:11.2f}s  (+{p['startup_s']:.2f}s start-up)")
    bf = r["batch_files"]
    lines.append(f"{'run_batch(): ' + str(bf['n']) + ' files, 1 process':58s} {bf['files_per_s']:12,.0f} "
                 f"{bf['seconds']:11.2f}s  ({bf['rows_ok']} rows, {bf['rows_error']} error rows)")
    if "batch_files_parallel" in r:
        p = r["batch_files_parallel"]
        label = f"run_batch(): {p['n']} files, {p['workers']} processes"
        lines.append(f"{label:58s} "
                     f"{p['files_per_s']:12,.0f} {p['seconds']:11.2f}s  (same rows: {p['same_rows']})")
    pm = r["peak_memory_mb"]
    lines.append(f"{'peak memory (max RSS) after the single-curve rows':58s} {r['peak_memory_mb_after_single']:9.0f} MB")
    lines.append(f"{'  after the batch rows (one ONNX call of ' + str(b['n']) + ' curves)':58s} "
                 f"{r['peak_memory_mb_after_batch']:9.0f} MB")
    lines.append(f"{'  at the end: this process / largest worker process':58s} {pm['self']:9.0f} MB {pm['children']:9.0f} MB")
    if "fit_all" in r:
        fa = r["fit_all"]
        lines.append("")
        lines.append(f"fit all {len(fa['runs'][0]['models'])} models (sasmodels + least_squares, no polydispersity, "
                     "one start each; a lower bound):")
        for mdl in fa["runs"][0]["models"]:
            lines.append(f"  {mdl['model']:22s} {mdl['seconds']:8.3f} s  {mdl['nfev']:4d} evaluations  "
                         f"chi2/N {mdl['chi2_reduced']:.3g}")
        lines.append(f"{'  total per curve':24s} {fa['seconds_per_curve']:8.3f} s")
    lines.append("")
    lines.append("ratios")
    best = max(b["curves_per_s"], b["suggest_many_curves_per_s"], r.get("batch_memory_parallel", {}).get("curves_per_s", 0))
    lines.append(f"  batch per curve (best row) / single call  {1 / best / sg['median']:8.2f}")
    if "fit_all" in r:
        fa = r["fit_all"]["seconds_per_curve"]
        lines.append(f"  fit all models / suggest() in memory      {fa / sg['median']:10,.0f}x")
        lines.append(f"  fit all models / load + suggest one file  {fa / f['median']:10,.0f}x")
        lines.append(f"  fit all models / batch per curve (best)   {fa * best:10,.0f}x")
    lines.append("goals: one curve <= 5 ms median: " + _ok(sg["median"] <= 5e-3)
                 + f"; batch >= 5,000 curves/s in memory: "
                 + _ok(max(b["curves_per_s"], b["suggest_many_curves_per_s"],
                           r.get("batch_memory_parallel", {}).get("curves_per_s", 0)) >= 5000)
                 + ("; >= 1000x faster than fitting: " + _ok(r["fit_all"]["seconds_per_curve"] / sg["median"] >= 1000)
                    if "fit_all" in r else ""))
    if "quick_fit" in r:
        lines.append("goal: quick fit of the top 3 candidates well under 1 s per curve (p95 < 1 s): "
                     + _ok(r["quick_fit"]["p95"] < 1.0))
    return "\n".join(lines)


def _ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


def gui_startup(pairs: int) -> dict | str:
    """SasView's start-up without and with the plugin (benchmarks/bench_gui_startup.py under
    xvfb-run), or why it was not measured."""
    import importlib.util

    if not shutil.which("xvfb-run"):
        return "xvfb-run not found"
    if importlib.util.find_spec("sas") is None:
        return "SasView is not installed in this environment"
    out = os.path.join(tempfile.mkdtemp(prefix="automodel-bench-gui-"), "gui.json")
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import bench_gui_startup as b; "
            "json.dump(b.summary(b.measure(int(sys.argv[2]))), open(sys.argv[3], 'w'))")
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", code, HERE,
                        str(pairs), out], capture_output=True, text=True)
    if r.returncode or not os.path.exists(out):
        return (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
    with open(out) as f:
        return json.load(f)


def _cpu_seconds() -> tuple[float, float, float] | None:
    """(wall clock, CPU seconds of the whole machine, CPU seconds of this process and its reaped children)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")   # all but idle and iowait
    own = sum(getattr(resource.getrusage(w), k) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for k in ("ru_utime", "ru_stime"))
    return time.time(), busy, own


def run_bench(args, command: str = "") -> int:
    cpu0 = _cpu_seconds()
    r = measure(args.model, args.repeats, args.batch, args.files, args.workers, args.fit_curves,
                log=lambda msg: print(msg, file=sys.stderr), quick_fit_passes=args.quick_fit_passes)
    text = report(r)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1, default=float)
    if args.write_docs:
        gui = None
        if args.gui_startup:
            print(f"SasView start-up ({args.gui_startup} pairs, xvfb-run)...", file=sys.stderr)
            gui = gui_startup(args.gui_startup)
        cpu1 = _cpu_seconds()
        others = ((cpu1[1] - cpu0[1]) - (cpu1[2] - cpu0[2])) / (cpu1[0] - cpu0[0]) if cpu0 and cpu1 else None
        with open(args.write_docs, "w") as f:
            f.write(docs_page(r, text, command, args.model, gui, args.note, max(others, 0.0) if others is not None else None))
        print(f"wrote {args.write_docs}", file=sys.stderr)
    return 0


# -- docs/benchmarks.md -----------------------------------------------------------------------

DOCS = os.path.join(ROOT, "docs", "benchmarks.md")
LOADED = 0.25  # cores used by other processes on average, above which the page says the machine was loaded


def _environment(card_path: str | None) -> dict:
    """What the page states beside machine(): memory, system, libraries, the bundle's checksum."""
    import importlib.metadata

    from sasview_automodel.bundle import ModelBundle

    env = {"system": f"{platform.system()} {platform.release()}", "niceness": os.nice(0),
           "sas_opencl": os.environ.get("SAS_OPENCL", "(unset)")}
    try:
        with open("/proc/meminfo") as f:
            env["memory_gb"] = int(f.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        env["memory_gb"] = None
    versions = {}
    for name in ("sasmodels", "sasdata", "scipy"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    env["versions"] = versions
    bundle = ModelBundle.load(card_path)
    env["bundle"] = {"version": bundle.card.get("version"), "created": bundle.card.get("created"),
                     "sha256": bundle.card.get("onnx_sha256", "")}
    return env


def docs_page(r: dict, text: str, command: str, card_path: str | None = None, gui=None, note: str | None = None,
              others: float | None = None) -> str:
    """docs/benchmarks.md: the figures of one run of this script, the machine, the command. ``others``:
    cores used on average by other processes during the run (None: unknown)."""
    env = _environment(card_path)
    m, b, sg, f = r["machine"], r["batch_memory"], r["single"], r["file"]

    def ms(v):
        return f"{1e3 * v:.2f} ms" if isinstance(v, float) else f"not measured: {v}"

    best = max(b["curves_per_s"], b["suggest_many_curves_per_s"], r.get("batch_memory_parallel", {}).get("curves_per_s", 0))
    load = m["loadavg_at_start"][0] if m["loadavg_at_start"] else None
    v = env["versions"]
    machine_line = (f"{m['cpu']}, {m['cores']} cores" + (f", {env['memory_gb']:.0f} GB RAM" if env["memory_gb"] else "")
                    + f", {env['system']}; Python {m['python']}, numpy {m['numpy']}, onnxruntime {m['onnxruntime']}, "
                    f"sasmodels {v['sasmodels']} (SAS_OPENCL={env['sas_opencl']}), sasdata {v['sasdata']}, "
                    f"scipy {v['scipy']}. Load average at the start: "
                    + (f"{load:.2f}" if load is not None else "unknown")
                    + (f"; the benchmark ran at niceness {env['niceness']}" if env["niceness"] else "") + ".")
    used = (f"other processes used {others:.2f} of the {m['cores']} cores on average during the run"
            if others is not None else "the CPU use of other processes is unknown")
    if others is not None and others > LOADED:
        load_line = (f"**Loaded machine**: {used}, so every figure is pessimistic, the p95 values partly measure the "
                     "other jobs and the rows with several processes cannot show the scaling of an idle machine. "
                     "Rerun `make bench-docs` on an idle machine for release numbers.")
    else:
        load_line = f"Idle machine: {used}."
    card = r["card"] if r["card"] != "packaged" else "the shipped bundle (`sasview_automodel/models/`)"
    bundle = env["bundle"]
    lines = [
        "# Benchmarks: where the time goes",
        "",
        "<!-- Generated by benchmarks/bench_suggest.py --write-docs (make bench-docs): do not edit by hand, rerun it. -->",
        "",
        f"Measured {m['time']} with `{command}` on {card}: {r['bundle']['name']} {bundle['version']} "
        f"({bundle['created']}), ONNX {r['bundle']['onnx_bytes'] / 1e6:.2f} MB, sha256 `{bundle['sha256'][:16]}...`.",
        "",
        f"**Machine**: {machine_line}",
        "",
        load_line,
    ]
    if note:
        lines += ["", note]
    lines += ["", "| measure | median | p95 | goal |", "|---|---:|---:|---|"]
    for mod, t in r["import"].items():
        lines.append(f"| import `{mod}` (fresh interpreter) | {ms(t)} | | |")
    lines.append(f"| `Suggester()` (card, sha256, ONNX session) | {ms(r['suggester_init'])} | | |")
    lines.append(f"| **`suggest()`: one in-memory curve, 200 points, end to end** | **{ms(sg['median'])}** | {ms(sg['p95'])} "
                 f"| <= 5 ms median: {_ok(sg['median'] <= 5e-3)} |")
    lines.append(f"| `suggest_file()`: load + suggest one example file ({', '.join(r['file_formats'])}) | {ms(f['median'])} "
                 f"| {ms(f['p95'])} | |")
    if "quick_fit" in r:
        qf = r["quick_fit"]
        lines.append(f"| suggest + quick fit of the top {qf['top']} per curve ({qf['curves']} example curves) "
                     f"| {qf['median']:.2f} s | {qf['p95']:.2f} s | p95 < 1 s: {_ok(qf['p95'] < 1.0)} |")
    if isinstance(gui, dict):
        lines.append(f"| SasView start-up to a ready window, plain / with the plugin ({gui['pairs']} pairs, Xvfb) "
                     f"| {gui['plain']['gui_ready_s']:.2f} / {gui['plugin']['gui_ready_s']:.2f} s | "
                     f"| plugin adds <= 0.3 s: {_ok(gui['added_s'] <= 0.3)} ({gui['added_s']:+.2f} s) |")
        lines.append(f"| SasView memory (RSS), plain / with the plugin | {gui['plain']['rss_mib']:.0f} / "
                     f"{gui['plugin']['rss_mib']:.0f} MiB | | plugin adds <= 100 MB: {_ok(gui['added_mib'] <= 100)} "
                     f"({gui['added_mib']:+.0f} MiB) |")
    else:
        lines.append("| SasView start-up, plain / with the plugin | not measured"
                     + (f": {gui}" if gui else " (`--gui-startup PAIRS`)") + " | | |")
    goal = f"best batch row >= 5,000 curves/s: {_ok(best >= 5000)}"
    lines += ["", "| throughput | per second | total | goal |", "|---|---:|---:|---|",
              f"| `suggest_batch()`: {b['n']:,} in-memory curves, 1 process, 1 call | {b['curves_per_s']:,.0f} curves "
              f"| {b['seconds']:.2f} s | |",
              f"| `suggest_many()`: {b['n']:,} in-memory curves, 1 process | {b['suggest_many_curves_per_s']:,.0f} curves "
              f"| {b['suggest_many_seconds']:.2f} s | {'' if 'batch_memory_parallel' in r else goal} |"]
    if "batch_memory_parallel" in r:
        p = r["batch_memory_parallel"]
        lines.append(f"| **`suggest_many()`: {p['n']:,} in-memory curves, {p['workers']} processes** "
                     f"| **{p['curves_per_s']:,.0f} curves** | {p['seconds']:.2f} s (+{p['startup_s']:.2f} s start-up) "
                     f"| {goal} |")
    bf = r["batch_files"]
    lines.append(f"| `run_batch()`: {bf['n']:,} generated files, 1 process | {bf['files_per_s']:,.0f} files "
                 f"| {bf['seconds']:.2f} s | {bf['rows_ok']} rows, {bf['rows_error']} error rows |")
    if "batch_files_parallel" in r:
        p = r["batch_files_parallel"]
        lines.append(f"| `run_batch()`: {p['n']:,} files, {p['workers']} processes | {p['files_per_s']:,.0f} files "
                     f"| {p['seconds']:.2f} s | same rows: {p['same_rows']} |")
    if "fit_all" in r:
        fa = r["fit_all"]["seconds_per_curve"]
        lines.append(f"| fitting all {len(r['fit_all']['runs'][0]['models'])} catalog models (sasmodels, a lower bound) "
                     f"/ `suggest()` | {fa / sg['median']:,.0f}x | {fa:.1f} s per curve "
                     f"| >= 1000x: {_ok(fa / sg['median'] >= 1000)} |")
    pm = r["peak_memory_mb"]
    lines += ["", "| peak memory (max RSS) | MB |", "|---|---:|",
              f"| after the single-curve rows | {r['peak_memory_mb_after_single']:.0f} |",
              f"| after the batch rows (one ONNX call of {b['n']:,} curves) | {r['peak_memory_mb_after_batch']:.0f} |",
              f"| at the end: this process / largest worker process | {pm['self']:.0f} / {pm['children']:.0f} |",
              "", "The full output of the command:", "", "```text", text, "```", "", STATIC_DOCS.strip(), ""]
    return "\n".join(lines)


STATIC_DOCS = """
## Commands

```bash
# this page: the tables above for the shipped bundle, with 2 worker processes and SasView's start-up
make bench-docs        # = python benchmarks/bench_suggest.py --workers 2 --gui-startup 3 --write-docs

# the same table, printed only (sasview-automodel bench runs this script from a source checkout)
SAS_OPENCL=none python benchmarks/bench_suggest.py [--model CARD] [--workers 2] [--batch 10000] \\
    [--files 1000] [--repeats 300] [--fit-curves 1] [--quick-fit-passes 3] [--json bench.json]

# 10,000 files: good files give rows, bad files error rows, identical in process,
# over local processes and on a dask LocalCluster
python benchmarks/batch_10k.py --n 10000 --workers 2

# what the plugin adds to SasView's start-up (Xvfb)
xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_gui_startup.py 3

# smaller network shapes against the shipped one: multiply-adds, ONNX us per curve, ratio
# (random weights, interleaved in one run; needs torch)
python benchmarks/network_variants.py

# a timing stand-in for a bundle that is not trained yet (random weights: ONNX cost depends on
# the architecture, not on the weights)
python benchmarks/make_standin_bundle.py --out /tmp/standin
SAS_OPENCL=none python benchmarks/bench_suggest.py --model /tmp/standin/automodel.card.json
```

Figures of earlier bundles and machines (sessions 1-13) are in the git history of this page
(CHANGELOG.md says where).

## What each row measures

Details in `benchmarks/bench_suggest.py`.

| row | what is timed |
|---|---|
| import | `import sasview_automodel` / `sasview_automodel.gui.logic` in a fresh interpreter (median of 3). `gui.panel` (Qt) is timed only where PySide6 is installed |
| `Suggester()` | reading the card, sha256 of the ONNX file, creating the onnxruntime session |
| `suggest()` | one in-memory curve (200 points, sigma and dq) end to end; median and p95 of 300 calls |
| stages | the same curves through validation (`make_curve`), `grid.featurize`, ONNX (batch of one; default threads and 1 thread), and the rest (scoring and result objects) |
| `suggest_file()` | sasdata loading + suggestion, cycling over `examples/` (CSV, TXT, canSAS XML), and per file |
| `suggest_batch()` | the public API, 10,000 in-memory curves in one call |
| `suggest_many()` | `sasview_automodel.batch.suggest_many`: ONNX in batches of 32 (`batch.ONNX_BATCH`, one thread per process), 1 process and `--workers` processes (chunks of n / (4 x workers) curves, sent packed as `batch.CurveChunk`; pool start-up reported apart) |
| per-curve stages | validation, featurize, ONNX (batches of 32 with the default threads and with 1 thread; one call of 10,000), scoring (softmax, the outlier score, confidence), result objects |
| `run_batch()` | 1,000 generated column files (every 10th broken), 1 process and `--workers` processes, rows compared |
| quick fit | `suggest_curves([curve], fit=True)`: classification plus the quick fit of the top 3 candidates at the production budget (0.3 s each, kernel compilation excluded), seconds per curve, median and p95 over `--quick-fit-passes` (default 3) passes through the `examples/` curves after one untimed pass that compiles the kernels; goal: well under 1 s per curve (p95 < 1 s) on 2 cores. A suggested structure factor makes these fits P@S products: one more free parameter, and the S(q) adds about 0.1 ms per model evaluation of 120 points |
| peak memory | `resource.getrusage` max RSS after the single-curve rows, after the batch rows, at the end (and the largest worker) |
| fit all models | sasmodels + `scipy.optimize.least_squares` (trf) for each of the nine catalog models on one curve: scale, background and the model's size parameters free (log-scaled, broad bounds), one start from sasmodels' defaults, no polydispersity, no resolution, kernels compiled before the clock starts. Real fits (polydispersity, resolution, several starts) cost more: the ratio is a lower bound |
| SasView start-up | `benchmarks/bench_gui_startup.py`: SasView 6 started alternately without and with the plugin under Xvfb (tests/gui/launch_probe.py), time to a ready main window and RSS, medians; goal (issue 6): the plugin adds <= 0.3 s and <= 100 MB |

## Scale-out with dask

```bash
pip install "sasview-automodel[dask]"
dask scheduler                                          # on one node: tcp://HOST:8786
dask worker tcp://HOST:8786 --nworkers 8 --nthreads 1   # on every node, same environment

sasview-automodel batch /data/experiment42 --out results.csv --scheduler tcp://HOST:8786
sasview-automodel batch /data/experiment42 --out results.csv --scheduler local --workers 2  # LocalCluster

# the training database: chunks are simulated on the workers, this process writes the HDF5
python -m training.simulate --out data/db.h5 --n 300000 --scheduler tcp://HOST:8786
```

Files and the model card are read by the workers at the paths given (a shared filesystem);
each worker builds its `Suggester` once and reuses it. `training.simulate` checks first that
the workers can import `training.simulate` (start them from the repository folder or with it
on `PYTHONPATH`, `[train]` installed). Parameter set `i` depends only on `(seed, i)`, so a
database made on a cluster is identical to one made locally and can be extended by either.
"""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description="measure speed (single curve, batch, files, memory, imports) "
                                 "and compare with fitting all catalog models")
    ap.add_argument("--model", help="model card of another bundle")
    ap.add_argument("--repeats", type=int, default=300, help="timed single calls (default 300)")
    ap.add_argument("--batch", type=int, default=10000, help="in-memory curves for the throughput rows")
    ap.add_argument("--files", type=int, default=1000, help="files written and classified for the file rows")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the parallel rows")
    ap.add_argument("--fit-curves", type=int, default=1,
                    help="curves fitted with all catalog models for the ratio (0 = skip the fit)")
    ap.add_argument("--quick-fit-passes", type=int, default=3,
                    help="timed passes over the example curves for the quick-fit row (0 = skip)")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    ap.add_argument("--write-docs", nargs="?", const=DOCS, metavar="FILE",
                    help=f"also write the page docs/benchmarks.md (default FILE: {os.path.relpath(DOCS)})")
    ap.add_argument("--gui-startup", type=int, default=0, metavar="PAIRS",
                    help="with --write-docs: also time SasView's start-up without and with the plugin, PAIRS runs "
                         "each (xvfb-run and SasView needed; 0 = skip, the default)")
    ap.add_argument("--note", help="with --write-docs: a sentence for the page (e.g. what else ran on the machine)")
    return ap


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or "python benchmarks/bench_suggest.py"
    args = build_parser(prog).parse_args(argv)
    return run_bench(args, " ".join([prog, *(shlex.quote(a) for a in argv)]))


if __name__ == "__main__":
    sys.exit(main())
