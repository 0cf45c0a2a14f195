"""What the SasView plugin adds to SasView's start-up (time to a ready main window, RSS).

Runs SasView alternately without and with the plugin (tests/gui/launch_probe.py, the same
``sasview SCRIPT.py`` path as ``sasview-automodel gui``), under Xvfb:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_gui_startup.py [PAIRS]

Target (issue 6): <= 0.3 s and <= 100 MB added.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = os.path.join(ROOT, "tests", "gui", "launch_probe.py")


def once(plugin: bool, profile: str) -> dict:
    out = os.path.join(profile, f"probe-{time.time_ns()}.json")
    env = dict(os.environ, PROBE_PLUGIN="1" if plugin else "0", PROBE_T0=repr(time.time()),
               HOME=profile, XDG_CONFIG_HOME=os.path.join(profile, ".config"),
               XDG_DATA_HOME=os.path.join(profile, ".local/share"), XDG_CACHE_HOME=os.path.join(profile, ".cache"),
               SAS_OPENCL="none")
    code = "import sys, sas.cli; sys.argv = ['sasview', *sys.argv[1:]]; sys.exit(sas.cli.main())"
    subprocess.run([sys.executable, "-c", code, PROBE, out], env=env, capture_output=True, timeout=300)
    with open(out) as f:
        return json.load(f)


def measure(pairs: int = 3) -> dict:
    """Start-up of plain SasView and with the plugin, ``pairs`` runs each after one warm-up run:
    {False: [probe results], True: [...]} (``gui_ready_s``, ``rss_mib`` per run)."""
    profile = tempfile.mkdtemp(prefix="automodel-bench-")
    once(False, profile)  # warm-up: file cache, first-run profile files
    res = {False: [], True: []}
    for _ in range(pairs):
        for plugin in (False, True):
            res[plugin].append(once(plugin, profile))
    return res


def summary(res: dict) -> dict:
    """Medians: ready_s and rss_mib per case ("plain", "plugin") and what the plugin adds."""
    med = {name: {k: statistics.median(r[k] for r in res[plugin]) for k in ("gui_ready_s", "rss_mib")}
           for name, plugin in (("plain", False), ("plugin", True))}
    return {**med, "added_s": med["plugin"]["gui_ready_s"] - med["plain"]["gui_ready_s"],
            "added_mib": med["plugin"]["rss_mib"] - med["plain"]["rss_mib"], "pairs": len(res[True])}


def main(pairs: int = 3) -> None:
    res = measure(pairs)
    for plugin in (False, True):
        t = [r["gui_ready_s"] for r in res[plugin]]
        m = [r["rss_mib"] for r in res[plugin]]
        print(f"{'with plugin   ' if plugin else 'plain SasView '} ready {statistics.median(t):.2f} s "
              f"(runs {', '.join(f'{x:.2f}' for x in t)}), RSS {statistics.median(m):.0f} MiB")
    s = summary(res)
    print(f"plugin adds {s['added_s']:+.2f} s and {s['added_mib']:+.0f} MiB (target <= 0.3 s, <= 100 MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
