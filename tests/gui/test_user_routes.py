"""Every documented way a user starts SasView with the plugin, run exactly as the user runs it.

Each route is a subprocess under the Xvfb display of pytest-xvfb with the environment a user
has: built from scratch (PATH with the environment's ``bin`` first, as after ``activate``,
DISPLAY, a fresh HOME = a new user's profile), so no QT_API, no PYTHONPATH, no
SASVIEW_AUTOMODEL_* variable, no SAS_OPENCL and no test fixture; the working directory is a
temporary folder outside the repository. Nothing is injected into the process: the test reads
SasView's own log (stdout/stderr) for the plugin's lines

    sasview-automodel: plugin installed in SasView X (from DIR)
    sasview-automodel: ready: perspective 'Model Suggestion' loaded and in the Data Explorer's
        perspective list; action 'Suggest model...' in the Data Explorer menu and the Analysis menu; ...
    sasview-automodel: in the Data Explorer: FILE ...

which the plugin writes from what the running window holds (``SasViewHost.report_ready``), then
ends the process. Routes (README, docs/install.md):

* ``sasview-automodel gui FILE``
* ``make gui`` (the Makefile's ``.venv``; skipped in other environments, e.g. the SasView 6.2
  venv of tests/gui/run_sasview62.sh, because that target always uses ``.venv``)
* ``sasview-automodel plugin enable`` then plain ``sasview`` (written into THIS environment's
  site-packages, as the user does, and removed again by ``sasview-automodel plugin disable``; a
  ``sasview FILE`` loads FILE only on SasView >= 6.2: 6.1.x runs a command-line argument as a
  script, so on 6.1.x no file is given)
* the official-bundle recipe: ``pip install --target DIR ... --no-deps`` of our wheel,
  ``sasview-automodel plugin bundle DIR``, ``sasview DIR/launch.py FILE``

This test failed on the code before issue 26: the launcher's host check imported
``sas.qtgui.Perspectives`` before PySide6, so matplotlib looked for Qt5 bindings and the plugin
disabled itself ("plugin disabled ... PyQt5, PySide2") on every route but ``enable``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from sasview_automodel.gui import host

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "sphere_saxs.txt")
BIN = os.path.dirname(sys.executable)   # the environment under test (.venv or the 6.2 venv)
ROUTE_TIMEOUT = 150                     # s per route; SasView's window is up after about 5 s
SASVIEW_OWN = ("Fitting", "Invariant", "Inversion", "Corfunc")
READY = (f"sasview-automodel: ready: perspective '{host.PERSPECTIVE_NAME}' loaded and in the Data "
         f"Explorer's perspective list; action '{host.ACTION_TEXT}' in the Data Explorer menu and the "
         "Analysis menu")


def _sasview_version() -> tuple[int, int]:
    import sas
    return tuple(int(x) for x in sas.__version__.split(".")[:2])


def plain_env(home) -> dict:
    """What a user's shell gives SasView: nothing of this test session's environment."""
    env = {k: os.environ[k] for k in ("DISPLAY", "XAUTHORITY", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env["PATH"] = BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
    env["HOME"] = str(home)
    os.makedirs(home, exist_ok=True)
    return env


def _tool(*args, env, cwd) -> subprocess.CompletedProcess:
    r = subprocess.run([os.path.join(BIN, "sasview-automodel"), *args], env=env, cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"sasview-automodel {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r


def run_route(cmd, cwd, env, files) -> str:
    """Start ``cmd`` as the user would, read its log until the plugin said it is ready and every
    file arrived in the Data Explorer (or it said it is disabled, or the process ended, or the
    time ran out), then end it. Returns the log."""
    proc = subprocess.Popen(cmd, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    names = [os.path.basename(f) for f in files]

    def done(text: str) -> bool:
        if "sasview-automodel: plugin disabled" in text or "Traceback" in text:
            return True
        loaded = [line for line in text.splitlines() if "sasview-automodel: in the Data Explorer:" in line]
        return READY in text and all(any(n in line for line in loaded) for n in names)

    deadline = time.time() + ROUTE_TIMEOUT
    try:
        while time.time() < deadline and proc.poll() is None and not done("".join(lines)):
            time.sleep(0.2)
        time.sleep(0.5)  # a late error line (a traceback after the ready line)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        reader.join(timeout=10)
    return "".join(lines)


def check_log(log: str, files, from_dir: str) -> None:
    tail = log[-4000:]
    assert "sasview-automodel: plugin disabled" not in log, tail
    assert "Traceback" not in log, tail
    installed = [line for line in log.splitlines() if "sasview-automodel: plugin installed in SasView" in line]
    assert len(installed) == 1, tail
    assert f"(from {from_dir})" in installed[0], installed[0]
    ready = [line for line in log.splitlines() if READY in line]
    assert len(ready) == 1, tail
    for name in SASVIEW_OWN:  # SasView's own perspectives are all there beside ours
        assert name in ready[0].split("SasView's perspectives:")[1], ready[0]
    loaded = " ".join(line for line in log.splitlines() if "sasview-automodel: in the Data Explorer:" in line)
    for f in files:
        assert os.path.basename(f) in loaded, tail


OUR_PACKAGE = os.path.join(ROOT, "sasview_automodel")


def test_route_sasview_automodel_gui(tmp_path):
    """README: ``sasview-automodel gui FILE``."""
    env = plain_env(tmp_path / "home")
    log = run_route(["sasview-automodel", "gui", EXAMPLE], tmp_path, env, [EXAMPLE])
    check_log(log, [EXAMPLE], OUR_PACKAGE)


def test_route_make_gui(tmp_path):
    """README/Makefile: ``make gui`` (loads examples/sphere_saxs.txt)."""
    if os.path.realpath(BIN) != os.path.realpath(os.path.join(ROOT, ".venv", "bin")):
        pytest.skip(f"`make gui` always runs the Makefile's .venv, not this environment ({BIN})")
    env = plain_env(tmp_path / "home")
    log = run_route(["make", "--no-print-directory", "-C", ROOT, "gui"], tmp_path, env, [EXAMPLE])
    check_log(log, [EXAMPLE], OUR_PACKAGE)


def test_route_enable_then_plain_sasview(tmp_path):
    """docs/install.md: ``sasview-automodel plugin enable``, then the plain ``sasview`` (SasView >= 6.2
    also with a file: ``sasview FILE``); ``plugin disable`` afterwards puts the environment back."""
    env = plain_env(tmp_path / "home")
    status = json.loads(_tool("plugin", "status", "--json", env=env, cwd=tmp_path).stdout)
    was_enabled = bool(status.get("enabled"))
    files = [EXAMPLE] if _sasview_version() >= (6, 2) else []
    _tool("plugin", "enable", env=env, cwd=tmp_path)
    try:
        log = run_route(["sasview", *files], tmp_path, env, files)
    finally:
        if not was_enabled:
            _tool("plugin", "disable", env=env, cwd=tmp_path)
    check_log(log, files, OUR_PACKAGE)


def test_route_bundle_launcher(tmp_path):
    """docs/install.md, official bundles: our wheel installed with ``pip install --target DIR
    --only-binary=:all: --python-version X.Y --no-deps``, ``sasview-automodel plugin bundle
    DIR``, then ``sasview DIR/launch.py FILE`` (this environment's SasView stands in for the
    bundle's; onnxruntime comes from the environment, as pip would put it into DIR)."""
    env = plain_env(tmp_path / "home")
    wheels, target = tmp_path / "wheels", tmp_path / "addon"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), ROOT],
                   check=True, timeout=300, cwd=str(tmp_path), capture_output=True)
    (wheel,) = wheels.glob("sasview_automodel-*.whl")
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run(pip + ["install", "--target", str(target), "--only-binary=:all:", "--python-version", py,
                          "--no-deps", "--no-index", str(wheel)], check=True, timeout=300, capture_output=True)
    _tool("plugin", "bundle", str(target), env=env, cwd=tmp_path)
    log = run_route(["sasview", str(target / "launch.py"), EXAMPLE], tmp_path, env, [EXAMPLE])
    check_log(log, [EXAMPLE], str(target / "sasview_automodel"))
