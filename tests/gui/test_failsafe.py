"""Fail-safe: a SasView that lacks a call we need -> one log line, plugin disabled, no exception,
SasView's registry and GuiManager untouched."""
from __future__ import annotations

import logging

import pytest

from sasview_automodel.gui import host
from tests.gui.sasview_helpers import uninstall


def _registry():
    import sas.qtgui.MainWindow.GuiManager as gm_module
    import sas.qtgui.Perspectives as perspectives
    return gm_module, perspectives


@pytest.fixture
def pristine(sasview_env):
    """SasView as shipped for the test; whatever was installed before is put back after."""
    gm_module, perspectives = _registry()
    saved = gm_module.GuiManager, dict(perspectives.PERSPECTIVES), dict(host._state)
    uninstall()
    host._state.update(enabled=False, reason="", logged=False)
    yield
    gm_module.GuiManager = saved[0]
    perspectives.PERSPECTIVES.clear()
    perspectives.PERSPECTIVES.update(saved[1])
    host._state.clear()
    host._state.update(saved[2])


def test_missing_host_attribute_disables_plugin(pristine, monkeypatch, caplog):
    gm_module, perspectives = _registry()
    monkeypatch.delattr(gm_module.GuiManager, "perspectiveChanged")
    original, before = gm_module.GuiManager, dict(perspectives.PERSPECTIVES)
    with caplog.at_level(logging.INFO, logger="sasview_automodel.gui"):
        assert host.install() is False
    assert not host.is_enabled()
    assert "perspectiveChanged" in host.disabled_reason()
    lines = [r for r in caplog.records if r.name == "sasview_automodel.gui"]
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    assert lines[0].getMessage().startswith("sasview-automodel: plugin disabled")
    assert gm_module.GuiManager is original
    assert perspectives.PERSPECTIVES == before


def test_missing_module_disables_plugin(pristine, caplog):
    gm_module, perspectives = _registry()
    original = gm_module.GuiManager
    required = host.REQUIRED + (("sas.qtgui.NoSuchModule", "Thing"),)
    with caplog.at_level(logging.ERROR, logger="sasview_automodel.gui"):
        assert host.install(required=required) is False
    assert "sas.qtgui.NoSuchModule" in host.disabled_reason()
    assert len(caplog.records) == 1
    assert gm_module.GuiManager is original
    assert host.PERSPECTIVE_NAME not in perspectives.PERSPECTIVES


def test_late_failure_in_gui_manager_is_contained(pristine, caplog):
    """If adding the actions fails inside a built GuiManager, SasView's own __init__ has run
    and stays valid; the plugin removes its perspective and logs one line."""

    class FakeGuiManager:  # SasView's GuiManager without a Data Explorer context menu
        def __init__(self, parent=None):
            self.loadedPerspectives = {host.PERSPECTIVE_NAME: object(), "Fitting": object()}
            self._workspace = parent

    cls = host.make_gui_manager_class(FakeGuiManager)
    with caplog.at_level(logging.ERROR, logger="sasview_automodel.gui"):
        gm = cls(parent=None)  # must not raise
    assert host.PERSPECTIVE_NAME not in gm.loadedPerspectives
    assert "Fitting" in gm.loadedPerspectives
    assert not host.is_enabled()
    assert len(caplog.records) == 1 and "plugin disabled" in caplog.records[0].getMessage()


def test_install_uninstall_roundtrip(pristine):
    gm_module, perspectives = _registry()
    original = gm_module.GuiManager
    assert host.install() is True
    try:
        assert gm_module.GuiManager is not original and issubclass(gm_module.GuiManager, original)
        assert host.PERSPECTIVE_NAME in perspectives.PERSPECTIVES
    finally:
        uninstall()
    assert gm_module.GuiManager is original
    assert host.PERSPECTIVE_NAME not in perspectives.PERSPECTIVES
