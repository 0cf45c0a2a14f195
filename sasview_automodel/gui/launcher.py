"""The script SasView runs: ``sasview path/to/launcher.py [FILES...]``.

SasView's own start-up (``sas.cli.main``) has set up logging, sasmodels and Qt when this runs
(as ``__main__``, before any QApplication exists). We install the plugin (a "Model Suggestion"
perspective and "Suggest model..." actions) and start SasView's GUI; if SasView does not match,
``host.install`` logs one line and SasView starts without the plugin.

``sasview-automodel gui [FILES]`` runs exactly this (``cli_entry.run_gui``).
"""
from __future__ import annotations

import os
import sys


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    files = [a for a in argv if not a.startswith("-") and os.path.exists(a)]
    try:
        from sasview_automodel.gui import host
    except Exception as exc:  # noqa: BLE001 - a broken install must not stop SasView
        import logging
        logging.getLogger("sasview_automodel.gui").error(
            "sasview-automodel: plugin disabled (cannot import it: %s); SasView runs without it", exc)
        from sas.qtgui.MainWindow.MainWindow import run_sasview
        run_sasview()
        return
    host.install()
    host.run_sasview(files)


if __name__ == "__main__":
    main()
