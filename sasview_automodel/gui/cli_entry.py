"""``sasview-automodel gui [FILES]``: start SasView with the plugin, reusing ``sas.cli.main``.

SasView's own start-up (logging, sasmodels' SAS_DLL_PATH/SAS_OPENCL, Qt environment) runs
unchanged; it then runs our launcher script, which installs the plugin and opens the GUI.
"""
from __future__ import annotations

import os
import sys

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")


def launcher_path() -> str:
    return LAUNCHER


def run_gui(files: list[str], card_path: str | None = None) -> int:
    """Start SasView with the plugin; ``files`` are loaded into the Data Explorer.

    ``card_path`` selects another model bundle (same as ``$SASVIEW_AUTOMODEL_CARD``).
    Returns SasView's exit status (2 if SasView is missing or a file does not exist)."""
    try:
        import sas.cli
    except ImportError:
        print("error: SasView is not installed in this environment: pip install 'sasview>=6.1' "
              "(or pip install 'sasview-automodel[gui]')", file=sys.stderr)
        return 2
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if card_path:
        from .logic import CARD_ENV
        os.environ[CARD_ENV] = os.path.abspath(card_path)
    sys.argv = ["sasview", LAUNCHER, *[os.path.abspath(f) for f in files]]
    rc = sas.cli.main()
    return int(rc or 0)
