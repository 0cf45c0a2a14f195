"""Fixtures for the GUI tests: the REAL SasView 6 under Xvfb (pytest-xvfb), isolated config.

Isolation: HOME and the XDG folders point to a fresh temporary profile BEFORE SasView is
imported (its folders are computed at import), so the tests neither read nor write the user's
SasView config; "What's New" and the welcome panel are switched off in that profile.
"""
from __future__ import annotations

import os
import tempfile

_PROFILE = tempfile.mkdtemp(prefix="automodel-gui-profile-")
for _var, _sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                   ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
    os.environ[_var] = os.path.join(_PROFILE, _sub)
os.environ.setdefault("SAS_OPENCL", "none")
# No QT_API here: it hid from every GUI test that the plugin disabled itself for users (issue
# 26: matplotlib looked for Qt5 bindings). The plugin imports PySide6 itself (host.bind_qt); a
# QT_API set in the shell is dropped so that the tests see what a user sees.
os.environ.pop("QT_API", None)
os.environ.pop("QT_QPA_PLATFORM", None)  # offscreen segfaults in SasView: Xvfb only

import pytest  # noqa: E402

try:
    import pytestqt  # noqa: F401
    import pytest_xvfb  # noqa: F401
    import importlib.util
    if importlib.util.find_spec("sas") is None:
        raise ImportError("No module named 'sas' (SasView)")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
except ImportError as _exc:  # a loud collection error, never a silent skip
    raise ImportError(f"the GUI tests need SasView, pytest-qt and pytest-xvfb ({_exc}): run "
                      "tests/gui/setup_gui_env.sh .venv (as root: it also installs Xvfb)") from None

# As SasView's run_sasview() does, before the QApplication (made by pytest-qt) exists.
QGuiApplication.setAttribute(Qt.AA_ShareOpenGLContexts)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
DEV_CARD = "/work/main/runs/smoke/bundle/automodel.card.json"


def find_card() -> str:
    """$SASVIEW_AUTOMODEL_CARD, else the shipped bundle, else the development smoke bundle."""
    from sasview_automodel.bundle import default_card_path
    from sasview_automodel.gui.logic import CARD_ENV
    for path in (os.environ.get(CARD_ENV), default_card_path(), DEV_CARD):
        if path and os.path.exists(path):
            return path
    pytest.fail("no model bundle: set SASVIEW_AUTOMODEL_CARD to an automodel.card.json "
                "(the shipped one goes to sasview_automodel/models/)")


@pytest.fixture(scope="session")
def card_path():
    return find_card()


@pytest.fixture(scope="session")
def sasview_env():
    """SasView's own start-up steps of ``sas.cli.main`` (logging, sasmodels, Qt env)."""
    import sas
    from sas.system import config, lib, log
    log.production()
    lib.setup_sasmodels()
    lib.setup_qt_env()
    config.LAST_WHATS_NEW_HIDDEN_VERSION = sas.__version__
    config.SHOW_WELCOME_PANEL = False
    config.save()  # into the temporary profile: SasView subprocesses of the tests read it too
    return sas.__version__


@pytest.fixture(scope="session")
def sasview(qapp, sasview_env, card_path):
    """One real SasView main window with the plugin installed (as the launcher does)."""
    from sasview_automodel.gui import host
    assert host.install(card_path), host.disabled_reason()
    from sas.qtgui.MainWindow.MainWindow import MainSasViewWindow
    window = MainSasViewWindow()
    window.resize(1500, 950)
    window.show()
    gm = window.guiManager
    yield window, gm, gm.automodel_host
    window.hide()
    from tests.gui.sasview_helpers import uninstall
    uninstall()
