"""The real start-up path: ``sasview-automodel gui FILE`` -> ``sas.cli.main()`` -> SasView runs
our launcher script -> plugin installed, FILE loaded into the Data Explorer. Runs SasView in a
subprocess (under the Xvfb display pytest-xvfb started)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from sasview_automodel.gui import host

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "sphere_saxs.txt")


def run_probe(tmp_path, plugin=True, files=(EXAMPLE,)):
    out = tmp_path / f"probe-{int(plugin)}.json"
    env = dict(os.environ, PROBE_PLUGIN="1" if plugin else "0", PROBE_T0=repr(time.time()))
    code = ("import sys, sas.cli; sys.argv = ['sasview', sys.argv[1], *sys.argv[2:]]; "
            "sys.exit(sas.cli.main())")
    r = subprocess.run([sys.executable, "-c", code, os.path.join(HERE, "launch_probe.py"), str(out), *files],
                       env=env, capture_output=True, text=True, timeout=180)
    assert out.exists(), f"SasView did not come up (rc {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return json.loads(out.read_text())


def test_sasview_runs_our_launcher(tmp_path, sasview_env):
    rep = run_probe(tmp_path)
    assert rep["plugin_enabled"]
    assert host.PERSPECTIVE_NAME in rep["perspectives"] and "Fitting" in rep["perspectives"]
    assert host.PERSPECTIVE_NAME in rep["combo"]
    assert host.ACTION_TEXT in rep["context_menu"] and host.ACTION_TEXT in rep["analysis_menu"]
    assert rep["loaded"] == ["sphere_saxs.txt"]
    assert rep["modules"] == []  # onnxruntime is loaded at the first suggestion, not at start-up


def test_gui_command_reports_missing_file(capsys):
    from sasview_automodel.cli import main
    assert main(["gui", "/no/such/file.xml"]) == 2
    assert "no such file" in capsys.readouterr().err
