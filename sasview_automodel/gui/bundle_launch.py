"""SasView + sasview-automodel from one folder, for the official SasView bundles.

Copy this file to the top of the folder (DIR/launch.py; ``sasview-automodel bundle-launcher DIR``
or ``deploy.write_bundle_launcher(DIR)`` do it), then start SasView with

    sasview DIR/launch.py [FILES]          (sasview.exe on Windows, SasView6 on macOS/Linux)

DIR holds sasview-automodel and onnxruntime for the bundle's Python, installed with
  pip install --target DIR --only-binary=:all: --python-version 3.X --no-deps \\
      sasview-automodel onnxruntime
numpy, PySide6 and sasmodels come from the bundle. The bundles ignore PYTHONPATH and .pth
files: this script itself puts DIR first on sys.path. If the folder is broken, one line is
logged and SasView starts without the plugin.
"""
import logging
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        from sasview_automodel.gui.launcher import main as launch
    except Exception as exc:  # noqa: BLE001 - a broken folder must not stop SasView
        logging.getLogger("sasview_automodel.gui").error(
            "sasview-automodel: plugin disabled (cannot import it from %s: %s); "
            "SasView runs without it", here, exc)
        from sas.qtgui.MainWindow.MainWindow import run_sasview
        run_sasview()
        return
    launch(sys.argv[1:])


if __name__ == "__main__":
    main()
