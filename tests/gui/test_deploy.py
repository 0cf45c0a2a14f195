"""Deployment for facility staff: ``plugin enable``/``disable`` (the plain ``sasview`` command
loads the plugin) and the official-bundle launcher (``plugin bundle``). SasView runs in subprocesses under pytest-xvfb's
display; the hook is written into a temporary site dir (``site.addsitedir`` in the subprocess),
never into this venv's site-packages."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sasview_automodel.gui import autoload, deploy, host

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "sphere_saxs.txt")
PROBE_MODULES = ("sasview_automodel", "sasview_automodel_autoload", "numpy", "sas", "PySide6", "onnxruntime")


def _modules_code(argv0=None):
    """Python code: (optionally pose as ``sasview``,) read the temp site dir like site.py
    does, print the interesting modules and whether a hook sits in sys.meta_path."""
    pose = f"sys.argv[0] = {argv0!r}; " if argv0 else ""
    return ("import sys, site, json; " + pose + "site.addsitedir(sys.argv[1]); "
            f"mods = sorted(m for m in sys.modules if m.split('.')[0] in {PROBE_MODULES!r}); "
            "hook = any(getattr(f, '_sasview_automodel_autoload', False) for f in sys.meta_path); "
            "print(json.dumps([mods, hook]))")


def _run_modules(site_dir, argv0=None):
    r = subprocess.run([sys.executable, "-c", _modules_code(argv0), str(site_dir)], capture_output=True,
                       text=True, timeout=60, cwd=str(site_dir))
    assert r.returncode == 0, r.stderr
    assert "Error processing line" not in r.stderr, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("argv, orig, expected", [
    (["/env/bin/sasview"], [], True),
    (["C:\\SasView\\sasview.exe", "x.xml"], [], True),
    (["C:\\env\\Scripts\\sasview-script.py"], [], True),
    (["/env/bin/SasView"], [], True),
    (["-m"], ["python", "-m", "sas"], True),
    (["-m"], ["python", "-m", "pip", "install", "sas"], False),
    (["-c"], ["python", "-c", "pass"], False),
    (["/env/bin/sasview-automodel", "gui"], [], False),
    (["/home/u/sasview-scripts/run.py"], [], False),
    ([], [], False),
])
def test_is_sasview(argv, orig, expected):
    assert autoload.is_sasview(argv, orig) is expected


def test_enable_disable_status(tmp_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    assert deploy.status(str(site_dir))["enabled"] is False
    pth = deploy.enable(str(site_dir))
    assert pth == str(site_dir / deploy.PTH_NAME)
    assert deploy.enable(str(site_dir)) == pth  # idempotent
    st = deploy.status(str(site_dir))
    assert st["enabled"] and st["hook_current"] and st["pth"] == pth
    lines = (site_dir / deploy.PTH_NAME).read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("import ")
    assert sorted(os.listdir(site_dir)) == sorted([deploy.PTH_NAME, deploy.MODULE_NAME + ".py"])
    _run_modules(site_dir, "/env/bin/sasview")  # leaves __pycache__/sasview_automodel_autoload.*.pyc
    assert deploy.disable(str(site_dir)) is True
    assert deploy.disable(str(site_dir)) is False
    leftovers = [p for p in site_dir.rglob("*") if p.is_file()]
    assert leftovers == []
    assert deploy.status(str(site_dir))["enabled"] is False
    with pytest.raises(FileNotFoundError):
        deploy.enable(str(tmp_path / "no-such-dir"))


def test_enable_is_inert_outside_sasview(tmp_path):
    deploy.enable(str(tmp_path))
    mods, hook = _run_modules(tmp_path)  # python -c ...: not SasView
    assert mods == [] and hook is False
    # posing as `sasview`: only the tiny standard-library hook is loaded at start-up; our
    # package, numpy, SasView and Qt wait until SasView itself imports its main window
    mods, hook = _run_modules(tmp_path, "/env/bin/sasview")
    assert mods == ["sasview_automodel_autoload"] and hook is True
    env = dict(os.environ, SASVIEW_AUTOMODEL_DISABLE="1")
    r = subprocess.run([sys.executable, "-c", _modules_code("/env/bin/sasview"), str(tmp_path)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert json.loads(r.stdout)[1] is False  # switched off for one run


def _start_plain_sasview(tmp_path, site_dir, card_path, name, files=(), expect_loaded=None):
    """``sasview`` with no arguments, as the console script runs it: argv[0] is the script,
    site.py reads the site dir (here: addsitedir), then ``sas.cli.main()``. The probe replaces
    the GuiManager from inside SasView's start-up (after sasmodels and Qt are set up)."""
    out = tmp_path / f"{name}.json"
    code = f"""
import os, sys, site
sys.argv = [os.path.join(os.path.dirname(sys.executable), "sasview"), *{list(files)!r}]
site.addsitedir({str(site_dir)!r})
sys.path.insert(0, {HERE!r})
import sas.system.lib as lib
_setup_qt_env = lib.setup_qt_env
def setup_qt_env(*a, **k):
    r = _setup_qt_env(*a, **k)
    import launch_probe
    launch_probe.install_probe({str(out)!r}, {list(files if expect_loaded is None else expect_loaded)!r})
    return r
lib.setup_qt_env = setup_qt_env
from sas.cli import main
sys.exit(main())
"""
    env = dict(os.environ, SASVIEW_AUTOMODEL_CARD=card_path)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=180, cwd=str(tmp_path))
    assert out.exists(), f"SasView did not come up (rc {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return json.loads(out.read_text()), r


def test_plain_sasview_loads_plugin_after_enable_and_not_after_disable(tmp_path, sasview_env, card_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    deploy.enable(str(site_dir))
    # SasView >= 6.2 loads `sasview FILE` into the Data Explorer (run_sasview(file_list)): the
    # hook must pass the files through. 6.1.x would run FILE as a script, so no file there.
    files = [EXAMPLE] if tuple(int(x) for x in sasview_env.split(".")[:2]) >= (6, 2) else []
    rep, _ = _start_plain_sasview(tmp_path, site_dir, card_path, "enabled", files)
    assert rep["plugin_enabled"], rep
    assert rep["loaded"] == [os.path.basename(f) for f in files]
    assert host.PERSPECTIVE_NAME in rep["perspectives"] and "Fitting" in rep["perspectives"]
    assert host.PERSPECTIVE_NAME in rep["combo"]
    assert host.ACTION_TEXT in rep["context_menu"] and host.ACTION_TEXT in rep["analysis_menu"]
    assert rep["modules"] == []  # onnxruntime only at the first suggestion

    assert deploy.disable(str(site_dir))
    rep, _ = _start_plain_sasview(tmp_path, site_dir, card_path, "disabled")
    assert not rep["plugin_enabled"]
    assert host.PERSPECTIVE_NAME not in rep["perspectives"] and "Fitting" in rep["perspectives"]
    assert host.PERSPECTIVE_NAME not in rep["combo"]
    assert host.ACTION_TEXT not in rep["context_menu"]


def test_bundle_launcher_imports_our_package_from_its_folder(tmp_path, sasview_env, card_path):
    """The official-bundle recipe with this SasView's Python standing in for the bundle's:
    wheel -> ``pip install --target DIR --only-binary=:all: --python-version 3.X --no-deps``,
    ``write_bundle_launcher(DIR)``, ``sasview DIR/launch.py``; only the launcher puts DIR on
    sys.path (onnxruntime comes from the venv here: the test installs offline)."""
    wheels, target = tmp_path / "wheels", tmp_path / "bundle-addon"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    import importlib.util
    # bdist_wheel from `wheel` or setuptools >= 70.1: build offline; else pip fetches them
    offline = any(importlib.util.find_spec(m) is not None for m in ("wheel", "setuptools.command.bdist_wheel"))
    subprocess.run(pip + ["wheel", "--no-deps", "-w", str(wheels), ROOT]
                   + (["--no-build-isolation", "--no-index"] if offline else []),
                   check=True, timeout=300, cwd=str(tmp_path))
    (wheel,) = wheels.glob("sasview_automodel-*.whl")
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run(pip + ["install", "--target", str(target), "--only-binary=:all:", "--python-version", py,
                          "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    launcher = deploy.write_bundle_launcher(str(target))
    assert launcher == str(target / "launch.py")
    # the same file ships in the package (the launcher `sasview-automodel gui` runs): copying it
    # by hand is equivalent
    shipped = target / "sasview_automodel" / "gui" / "launcher.py"
    assert shipped.read_text() == (target / "launch.py").read_text()

    rep, _ = _start_with_launcher(tmp_path, launcher, card_path, "bundle")
    assert rep["automodel_file"].startswith(str(target) + os.sep), rep["automodel_file"]
    assert rep["plugin_enabled"]
    assert host.PERSPECTIVE_NAME in rep["perspectives"]
    assert host.ACTION_TEXT in rep["context_menu"]


def _start_with_launcher(tmp_path, launcher, card_path, name):
    """``sasview LAUNCHER`` (through launch_probe.py, which runs LAUNCHER as SasView would)."""
    out = tmp_path / f"{name}.json"
    code = "import sys, sas.cli; sys.argv = ['sasview', *sys.argv[1:]]; sys.exit(sas.cli.main())"
    env = dict(os.environ, PROBE_LAUNCHER=launcher, SASVIEW_AUTOMODEL_CARD=card_path)
    r = subprocess.run([sys.executable, "-c", code, os.path.join(HERE, "launch_probe.py"), str(out)],
                       env=env, capture_output=True, text=True, timeout=180, cwd=str(tmp_path))
    assert out.exists(), f"SasView did not come up (rc {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return json.loads(out.read_text()), r


def test_broken_bundle_folder_logs_one_line_and_sasview_runs(tmp_path, sasview_env, card_path):
    target = tmp_path / "broken-addon"
    (target / "sasview_automodel").mkdir(parents=True)
    (target / "sasview_automodel" / "__init__.py").write_text("raise ImportError('onnxruntime is missing')\n")
    launcher = deploy.write_bundle_launcher(str(target))
    rep, r = _start_with_launcher(tmp_path, launcher, card_path, "broken")
    assert not rep["plugin_enabled"]
    assert host.PERSPECTIVE_NAME not in rep["perspectives"] and "Fitting" in rep["perspectives"]
    lines = [line for line in (r.stdout + r.stderr).splitlines() if "sasview-automodel: plugin disabled" in line]
    assert len(lines) == 1 and "onnxruntime is missing" in lines[0], r.stderr[-2000:]


def test_command_line_functions(tmp_path, capsys):
    """What ``sasview-automodel plugin enable|status|disable|bundle`` print and return."""
    site_dir = str(tmp_path)
    assert deploy.cmd_enable(site_dir) == 0
    assert "enabled" in capsys.readouterr().out
    assert deploy.cmd_status(site_dir, as_json=True) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["enabled"] and st["site_dir"] == site_dir
    assert deploy.cmd_disable(site_dir) == 0
    assert "removed" in capsys.readouterr().out
    assert deploy.cmd_disable(site_dir) == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert deploy.cmd_enable(str(tmp_path / "missing")) == 1
    assert "error" in capsys.readouterr().err
    assert deploy.cmd_bundle(str(tmp_path / "addon")) == 0
    assert (tmp_path / "addon" / "launch.py").exists()


def test_enabled_but_broken_install_logs_one_line_and_sasview_runs(tmp_path, sasview_env, card_path):
    """The hook finds a broken sasview_automodel (e.g. uninstalled halfway): SasView starts
    without the plugin and says why in one line."""
    site_dir = tmp_path / "site"
    (site_dir / "sasview_automodel").mkdir(parents=True)
    (site_dir / "sasview_automodel" / "__init__.py").write_text("raise ImportError('half uninstalled')\n")
    deploy.enable(str(site_dir))
    rep, r = _start_plain_sasview(tmp_path, site_dir, card_path, "broken-enabled")
    assert not rep["plugin_enabled"]
    assert host.PERSPECTIVE_NAME not in rep["perspectives"] and "Fitting" in rep["perspectives"]
    lines = [line for line in (r.stdout + r.stderr).splitlines() if "sasview-automodel: plugin disabled" in line]
    assert len(lines) == 1 and "half uninstalled" in lines[0], r.stderr[-2000:]


def test_enabled_and_launcher_install_once(tmp_path, sasview_env, card_path):
    """`plugin enable` plus `sasview launcher.py` (what `sasview-automodel gui` runs): installed once."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    deploy.enable(str(site_dir))
    rep, r = _start_plain_sasview(tmp_path, site_dir, card_path, "enabled-launcher", [deploy.LAUNCHER],
                                expect_loaded=[])
    assert rep["plugin_enabled"] and host.PERSPECTIVE_NAME in rep["perspectives"]
    assert rep["context_menu"].count(host.ACTION_TEXT) == 1
    assert (r.stdout + r.stderr).count("sasview-automodel: plugin installed") == 1
