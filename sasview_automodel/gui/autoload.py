"""Start-up hook written by ``sasview-automodel plugin enable`` (copied into site-packages as
``sasview_automodel_autoload.py``; the ``.pth`` file imports it only in a SasView process).

Self-contained on purpose: it imports nothing but ``sys`` and ``importlib`` (already loaded at
start-up), so the plain ``sasview`` command pays for one tiny module and every other Python
process of the environment pays for nothing (the ``.pth`` line checks ``sys.argv`` first).

``activate()`` puts a one-shot finder in ``sys.meta_path`` that waits for SasView to import
``sas.qtgui.MainWindow.MainWindow`` (which ``sas.cli.main`` does only after it set up logging,
sasmodels and Qt, just before it builds the main window). Then, and only then, our package is
imported and ``host.wrap_run_sasview`` makes SasView's ``run_sasview`` go through
``host.start``, the entry that ``sasview launcher.py`` calls too. Any failure logs one line and
SasView runs without the plugin. ``SASVIEW_AUTOMODEL_DISABLE=1`` in the environment skips the
plugin for one run.
"""
import sys

TARGET = "sas.qtgui.MainWindow.MainWindow"
DISABLE_ENV = "SASVIEW_AUTOMODEL_DISABLE"
_MARK = "_sasview_automodel_autoload"


def is_sasview(argv=None, orig_argv=None) -> bool:
    """True for the ``sasview`` console script (``sasview``, ``sasview.exe``,
    ``sasview-script.py``) and for ``python -m sas``."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return False
    name = argv[0].replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in (".exe", "-script.pyw", "-script.py", ".py"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name == "sasview":
        return True
    orig = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    return argv[0] == "-m" and any(orig[i] == "-m" and orig[i + 1] in ("sas", "sas.cli")
                                   for i in range(len(orig) - 1))


def _log_disabled(reason) -> None:
    try:
        import logging
        logging.getLogger("sasview_automodel.gui").error(
            "sasview-automodel: plugin disabled (%s); SasView runs without it", reason)
    except Exception:  # noqa: BLE001 - never stop SasView
        pass


def _hook(module) -> None:
    """SasView's MainWindow module was just imported: let our host shim wrap run_sasview."""
    try:
        from sasview_automodel.gui import host
        host.wrap_run_sasview(module)
    except Exception as exc:  # noqa: BLE001 - a broken install must not stop SasView
        _log_disabled(f"cannot load it: {type(exc).__name__}: {exc}")


class _Loader:
    """Delegates to SasView's own loader; calls ``_hook`` once the module has run."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _hook(module)


class _Finder:
    _sasview_automodel_autoload = True

    def find_spec(self, name, path=None, target=None):
        if name != TARGET:
            return None
        try:
            sys.meta_path.remove(self)  # one shot
        except ValueError:
            pass
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader)
        return spec


def activate() -> bool:
    """Arrange for the plugin to be installed when SasView builds its main window.
    Idempotent (a ``.pth`` file can be read twice when lib64 links to lib); never raises."""
    try:
        import os
        if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
            return False
        if any(getattr(f, _MARK, False) for f in sys.meta_path):
            return True
        module = sys.modules.get(TARGET)
        if module is not None:
            _hook(module)
        else:
            sys.meta_path.insert(0, _Finder())
        return True
    except Exception as exc:  # noqa: BLE001
        _log_disabled(f"start-up hook failed: {exc}")
        return False


def main() -> bool:
    """Called by the ``.pth`` line (after its cheap pre-check): activate in SasView only."""
    try:
        return is_sasview() and activate()
    except Exception:  # noqa: BLE001 - never break interpreter start-up
        return False
