"""The script SasView runs: ``sasview path/to/launcher.py [FILES...]``, on every route that starts
SasView with a script.

* ``sasview-automodel gui [FILES]`` runs exactly this file, in the package.
* The official SasView bundles (PyInstaller, no pip, PYTHONPATH and .pth files ignored) run a
  copy of it as ``DIR/launch.py`` (``sasview-automodel plugin bundle DIR`` writes it; copying this
  file by hand does the same). DIR holds sasview-automodel and onnxruntime for the bundle's Python:
  ``pip install --target DIR --only-binary=:all: --python-version 3.X --no-deps sasview-automodel
  onnxruntime`` (numpy, PySide6 and sasmodels come from the bundle); then start SasView with
  ``sasview DIR/launch.py [FILES]`` (sasview.exe on Windows, SasView6 on macOS/Linux). A copy
  that has our package beside it puts its folder first on sys.path.

SasView's own start-up (``sas.cli.main``) has set up logging, sasmodels and Qt when this runs
(as ``__main__``, before any QApplication exists). ``host.start`` installs the plugin and runs
SasView's GUI; if SasView does not match, it logs one line and SasView starts without the plugin.
If the package cannot be imported at all (a broken folder), one line is logged and SasView
starts without it: the only SasView call outside ``host.py``, since ``host`` is what failed.
"""
import logging
import os
import sys


def main(argv=None) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(os.path.join(here, "sasview_automodel")):  # DIR/launch.py of an official bundle
        root = here
        if root not in sys.path:
            sys.path.insert(0, root)
    else:  # sasview_automodel/gui/launcher.py in an environment
        root = os.path.dirname(os.path.dirname(here))
    argv = list(sys.argv[1:] if argv is None else argv)
    files = [a for a in argv if not a.startswith("-") and os.path.exists(a)]
    try:
        from sasview_automodel.gui import host
    except Exception as exc:  # noqa: BLE001 - a broken install must not stop SasView
        logging.getLogger("sasview_automodel.gui").error(
            "sasview-automodel: plugin disabled (cannot import it from %s: %s); SasView runs without it",
            root, exc)
        from sas.qtgui.MainWindow.MainWindow import run_sasview
        run_sasview()
        return
    host.start(files)


if __name__ == "__main__":
    main()
