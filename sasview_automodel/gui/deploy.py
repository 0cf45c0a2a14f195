"""Deployment for facility staff: ``sasview-automodel plugin enable`` / ``disable`` / ``status``
and ``plugin bundle DIR`` (the launcher script for the official SasView bundles).

``LAUNCHER`` is the one script SasView runs (``sasview-automodel gui`` runs it in place,
``plugin bundle`` copies it to ``DIR/launch.py``).

``enable`` writes two small files into the environment's site-packages (no SasView file is
touched):

* ``sasview_automodel_enable.pth``: one line that Python runs at every start-up of that
  environment. It compares ``sys.argv[0]`` with "sasview" (a string test, no import) and only
  in a SasView process imports
* ``sasview_automodel_autoload.py`` (a copy of ``gui/autoload.py``, standard library only),
  which installs the plugin when SasView builds its main window, exactly as ``sasview
  launcher.py`` does (SasView's ``run_sasview`` goes through ``host.start``, see
  ``host.wrap_run_sasview``).

``disable`` deletes both files (and the module's cached bytecode): the environment is as before.
Nothing here imports SasView, Qt or numpy.
"""
from __future__ import annotations

import glob
import json
import os
import sys
import sysconfig

PTH_NAME = "sasview_automodel_enable.pth"
MODULE_NAME = "sasview_automodel_autoload"
HERE = os.path.dirname(os.path.abspath(__file__))
AUTOLOAD_SOURCE = os.path.join(HERE, "autoload.py")
LAUNCHER = os.path.join(HERE, "launcher.py")

# One line, run by site.py in every process of the environment: a string comparison, and the
# import of the tiny autoload module only when argv[0] looks like SasView (or ``python -m``).
PTH_LINE = ("import sys; _a = (getattr(sys, 'argv', None) or [''])[0]; "
            f"(_a == '-m' or 'sasview' in _a.lower()) and __import__('{MODULE_NAME}').main()\n")

BUNDLE_LAUNCHER = "launch.py"


def default_site_dir() -> str:
    """site-packages of the running environment (where ``pip install`` puts packages)."""
    return sysconfig.get_paths()["purelib"]


def _paths(site_dir):
    site_dir = os.path.abspath(site_dir or default_site_dir())
    return site_dir, os.path.join(site_dir, PTH_NAME), os.path.join(site_dir, MODULE_NAME + ".py")


def _autoload_source() -> str:
    with open(AUTOLOAD_SOURCE, encoding="utf-8") as f:
        return f.read()


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def enable(site_dir: str | None = None) -> str:
    """Make the plain ``sasview`` command of this environment load the plugin (for every user
    of the environment). Idempotent; also refreshes the hook after an upgrade. Returns the path
    of the ``.pth`` file written. Raises OSError (e.g. PermissionError) if ``site_dir`` is not
    writable: run it as the environment's owner."""
    site_dir, pth, module = _paths(site_dir)
    if not os.path.isdir(site_dir):
        raise FileNotFoundError(f"no such site-packages folder: {site_dir}")
    _write(module, _autoload_source())  # the module first: the .pth line needs it
    _write(pth, PTH_LINE)
    return pth


def disable(site_dir: str | None = None) -> bool:
    """Remove what ``enable`` wrote. Returns True if something was removed."""
    site_dir, pth, module = _paths(site_dir)
    removed = False
    for path in [pth, module, *glob.glob(os.path.join(site_dir, "__pycache__", MODULE_NAME + ".*.pyc"))]:
        try:
            os.remove(path)
            removed = True
        except FileNotFoundError:
            pass
    return removed


def status(site_dir: str | None = None) -> dict:
    """Whether the plain ``sasview`` of this environment loads the plugin, and where from."""
    site_dir, pth, module = _paths(site_dir)
    has_pth, has_module = os.path.exists(pth), os.path.exists(module)
    current = False
    if has_module:
        with open(module, encoding="utf-8") as f:
            current = f.read() == _autoload_source()
    try:  # the SasView installed in that site-packages folder (no import of SasView)
        from importlib.metadata import distributions
        dist = next(iter(distributions(name="sasview", path=[site_dir])), None)
        sasview = dist.version if dist is not None else None
    except Exception:  # noqa: BLE001 - a broken install
        sasview = None
    return {"enabled": has_pth and has_module, "site_dir": site_dir,
            "pth": pth if has_pth else None, "module": module if has_module else None,
            "hook_current": current, "sasview": sasview,
            "package": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}


# --------------------------------------------------------------------------------------------
# Command line (``sasview-automodel plugin enable|disable|status|bundle``): print, return rc
# --------------------------------------------------------------------------------------------
def cmd_enable(site_dir: str | None = None) -> int:
    try:
        pth = enable(site_dir)
    except OSError as exc:
        print(f"error: cannot write the start-up hook: {exc} (run this as the owner of the "
              "environment, or pass --site-dir)", file=sys.stderr)
        return 1
    st = status(site_dir)
    print(f"enabled: `sasview` of this environment now loads the plugin for every user ({pth})")
    if st["sasview"] is None:
        print(f"warning: no SasView installed in {st['site_dir']}: pip install 'sasview>=6.1'",
              file=sys.stderr)
    print("undo with: sasview-automodel plugin disable; skip it for one run: SASVIEW_AUTOMODEL_DISABLE=1 sasview")
    return 0


def cmd_disable(site_dir: str | None = None) -> int:
    try:
        removed = disable(site_dir)
    except OSError as exc:
        print(f"error: cannot remove the start-up hook: {exc}", file=sys.stderr)
        return 1
    where = _paths(site_dir)[0]
    print(f"disabled: removed the start-up hook from {where}" if removed
          else f"was not enabled in {where}; nothing to remove")
    return 0


def cmd_status(site_dir: str | None = None, as_json: bool = False) -> int:
    st = status(site_dir)
    if as_json:
        print(json.dumps(st, indent=1))
    else:
        state = "enabled" if st["enabled"] else "not enabled"
        if st["enabled"] and not st["hook_current"]:
            state += " (hook from another version: run `sasview-automodel plugin enable` again)"
        print(f"plain `sasview`: {state}\nsite-packages:   {st['site_dir']}\n"
              f"SasView:         {st['sasview'] or 'not installed there'}\npackage:         {st['package']}")
    return 0


def cmd_bundle(target_dir: str) -> int:
    path = write_bundle_launcher(target_dir)
    print(f"wrote {path}; start SasView with: sasview {path}   (sasview.exe on Windows)")
    return 0


# --------------------------------------------------------------------------------------------
# Official bundles (PyInstaller one-folder; no pip, PYTHONPATH and .pth files ignored)
# --------------------------------------------------------------------------------------------
def write_bundle_launcher(target_dir: str) -> str:
    """Write ``target_dir/launch.py``, a copy of ``gui/launcher.py`` (which a
    ``pip install --target DIR`` also puts at DIR/sasview_automodel/gui/launcher.py, so
    copying that file by hand does the same); returns its path."""
    os.makedirs(target_dir, exist_ok=True)
    path = os.path.join(os.path.abspath(target_dir), BUNDLE_LAUNCHER)
    with open(LAUNCHER, encoding="utf-8") as f:
        _write(path, f.read())
    return path
