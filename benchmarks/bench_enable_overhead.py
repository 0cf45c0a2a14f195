"""What ``sasview-automodel enable`` costs a plain (non-SasView) Python of the environment.

    python benchmarks/bench_enable_overhead.py [RUNS]

Makes a throw-away venv (no pip), then times ``python -c pass`` with and without the hook
files in its site-packages, interleaved (a loaded machine drifts), and prints median and
minimum wall times, the difference, and the ``-X importtime`` lines of the hook. Also checks
that a plain process imports neither sasview_automodel, the autoload module nor numpy.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from sasview_automodel.gui import deploy


def _site(venv: str) -> str:
    py = os.path.join(venv, "bin", "python")
    return subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   text=True).strip()


def _time(cmd, env) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    return time.perf_counter() - t0


def main(runs: int = 200) -> dict:
    venv = tempfile.mkdtemp(prefix="automodel-enable-bench-")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    py, site_dir = os.path.join(venv, "bin", "python"), _site(venv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    cmd = [py, "-c", "pass"]
    off, on = [], []
    for _ in range(5):
        _time(cmd, env)  # warm the file cache
    for _ in range(runs):
        deploy.disable(site_dir)
        off.append(_time(cmd, env))
        deploy.enable(site_dir)
        on.append(_time(cmd, env))
    probe = ("import sys, json; print(json.dumps(sorted(m for m in sys.modules if m.startswith("
             "('sasview_automodel', 'numpy', 'sas', 'PySide6')))))")
    modules = json.loads(subprocess.check_output([py, "-c", probe], env=env, text=True))
    importtime = subprocess.run([py, "-X", "importtime", "-c", "pass"], env=env, capture_output=True,
                                text=True).stderr
    hook_lines = [line for line in importtime.splitlines() if deploy.MODULE_NAME in line]
    deploy.disable(site_dir)
    res = {
        "python": sys.version.split()[0], "runs": runs,
        "median_off_ms": 1e3 * statistics.median(off), "median_on_ms": 1e3 * statistics.median(on),
        "min_off_ms": 1e3 * min(off), "min_on_ms": 1e3 * min(on),
        "plain_process_imports": modules, "importtime_hook_lines": hook_lines,
    }
    res["median_diff_ms"] = res["median_on_ms"] - res["median_off_ms"]
    res["min_diff_ms"] = res["min_on_ms"] - res["min_off_ms"]
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
