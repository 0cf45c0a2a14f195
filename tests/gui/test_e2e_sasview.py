"""End to end in the REAL SasView (6.1.3 in CI) under Xvfb: Data Explorer -> "Suggest model..."
-> panel result -> "Open in Fitting" -> the Fitting page shows the model."""
from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from sasview_automodel.gui import host as host_module
from tests.gui.sasview_helpers import fitting_state

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")

SHOTS = os.environ.get("AUTOMODEL_SCREENSHOTS")  # a folder: save screenshots there


def _shot(widget, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        assert widget.grab().save(os.path.join(SHOTS, name))


def test_plugin_is_registered(sasview):
    window, gm, h = sasview
    assert host_module.is_enabled()
    assert host_module.PERSPECTIVE_NAME in gm.loadedPerspectives
    combo = gm.filesWidget.cbFitting
    assert combo.findText(host_module.PERSPECTIVE_NAME) >= 0
    texts = [a.text() for a in gm.filesWidget.context_menu.actions()]
    assert host_module.ACTION_TEXT in texts
    assert host_module.ACTION_TEXT in [a.text() for a in window.menuAnalysis.actions()]
    # SasView's own perspectives are all still there
    for name in ("Fitting", "Invariant", "Inversion", "Corfunc"):
        assert name in gm.loadedPerspectives


def test_suggest_and_open_in_fitting(sasview, qtbot):
    window, gm, h = sasview
    items = h.load_files([os.path.join(EXAMPLES, "sphere_saxs.txt")])
    assert len(items) == 1
    item = items[0]
    # select the row as a right-click would, then trigger the context-menu action
    view = gm.filesWidget.current_view
    proxy = view.model()
    view.setCurrentIndex(proxy.mapFromSource(item.index()))
    action = next(a for a in gm.filesWidget.context_menu.actions() if a.text() == host_module.ACTION_TEXT)
    panel = gm.loadedPerspectives[host_module.PERSPECTIVE_NAME]
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000) as blocker:
        action.trigger()
    suggestion = blocker.args[0]
    assert gm.perspective() is panel
    assert gm.filesWidget.cbFitting.currentText() == host_module.PERSPECTIVE_NAME
    assert panel.lblName.text().startswith("sphere_saxs.txt")
    assert len(panel.fit_buttons) == 5
    assert sum(p for _, p in suggestion.ranking) == pytest.approx(1.0, abs=1e-4)
    assert "%" in panel.lblConfidence.text()
    # the quick-fitted candidates are drawn over the data
    labels = [line.get_label() for line in panel.figure.axes[0].get_lines()]
    assert suggestion.fits and all(any(l.startswith(m + " (chi2") for l in labels) for m in suggestion.fits)
    qtbot.wait(200)  # let Qt show the new rows (queued), as the event loop does in use
    assert all(b.isVisible() and b.isEnabled() for b in panel.fit_buttons.values())
    _shot(window, "sasview-panel-window.png")
    _shot(panel, "panel.png")

    model = "sphere"  # a candidate row for every class with catalog probability; pick sphere if shown
    if model not in panel.fit_buttons:
        model = suggestion.best
    with qtbot.waitSignal(panel.fittingOpened, timeout=10000) as opened:
        qtbot.mouseClick(panel.fit_buttons[model], Qt.LeftButton)
    assert opened.args[0] == model
    state = fitting_state(gm)
    assert gm.perspective() is state["perspective"]
    assert gm.filesWidget.cbFitting.currentText() == "Fitting"
    assert state["model"] == model
    assert state["category"] == opened.args[1]["fitpage_category"][0]
    assert state["widget"].data is h.data_from_item(item)
    assert state["parameters"]  # the model's parameters are on the page
    # the starting values of that candidate were set on the page
    expected = suggestion.candidate_parameters[model]
    assert expected
    for name, value in expected.items():
        if name.endswith("_pd"):
            assert state["parameters"][name[:-3] + ".width"] == pytest.approx(value, rel=1e-6, abs=1e-9), name
        else:
            assert state["parameters"][name] == pytest.approx(value, rel=1e-6), name
    # the page computes the model curve once, then is usable again
    qtbot.waitUntil(lambda: state["widget"].cbModel.isEnabled(), timeout=30000)
    qtbot.wait(300)
    _shot(window, "fitting-page-window.png")
    _shot(state["perspective"], "fitting-page.png")


def test_bad_data_shows_message(sasview, qtbot):
    window, gm, h = sasview
    from sasdata.dataloader.data_info import Data1D
    import numpy as np
    panel = gm.loadedPerspectives[host_module.PERSPECTIVE_NAME]
    h.switch_to(host_module.PERSPECTIVE_NAME)
    bad = Data1D(x=np.linspace(0.01, 0.1, 5), y=np.ones(5))
    with qtbot.waitSignal(panel.suggestionFailed, timeout=10000) as blocker:
        panel.suggest_data(bad, "five_points")
    assert "at least" in blocker.args[0]
    assert "at least" in panel.lblStatus.text()
    assert window.isVisible()


def test_paste_string_sets_the_values_on_a_fit_page(sasview, qtbot):
    """The CLI's --sasview-paste text, pasted with Edit > Paste, sets the values on the page."""
    window, gm, h = sasview
    from PySide6 import QtWidgets
    from sasview_automodel import Suggester
    from sasview_automodel.gui.logic import SuggesterCache

    state = fitting_state(gm)
    widget = state["widget"]
    model = state["model"]
    assert model  # the previous test left a fit page with a model
    (s,) = SuggesterCache().get().suggest_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))
    # ask for this page's model so that SasView does not ask to switch models
    pars = s.candidate_parameters.get(model) or {}
    s.candidate_parameters[model] = {k: (v * 1.5 if not k.endswith("_pd") else 0.07) for k, v in pars.items()} or \
        {"scale": 2.0}
    text = s.sasview_paste(model)
    assert text.startswith("sasview_parameter_values:")
    QtWidgets.QApplication.clipboard().setText(text)
    widget.clipboard_paste()
    qtbot.wait(200)
    params = fitting_state(gm)["parameters"]
    for name, value in s.candidate_parameters[model].items():
        key = name[:-3] + ".width" if name.endswith("_pd") else name
        # pasted values go through the page's table, which keeps 5 significant digits
        assert params[key] == pytest.approx(value, rel=1e-4), name


def test_concentrated_example_opens_p_at_s_in_fitting(sasview, qtbot):
    """The shipped model on a concentrated sample (sphere@hardsphere, volume fraction 0.3): the panel
    names the structure factor and "Open in Fitting" sets up P@S on a real Fitting page."""
    window, gm, h = sasview
    (item,) = h.load_files([os.path.join(EXAMPLES, "sphere_hardsphere_saxs.txt")])
    view = gm.filesWidget.current_view
    view.setCurrentIndex(view.model().mapFromSource(item.index()))
    action = next(a for a in gm.filesWidget.context_menu.actions() if a.text() == host_module.ACTION_TEXT)
    panel = gm.loadedPerspectives[host_module.PERSPECTIVE_NAME]
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000) as blocker:
        action.trigger()
    suggestion = blocker.args[0]
    sf = suggestion.structure_factor
    assert sf is not None and sf.name == "hardsphere", sf
    assert panel.lblStructure.text().startswith("concentrated: hard-sphere-like interactions suggested")
    qtbot.wait(200)
    _shot(panel, "panel-concentrated.png")
    model = suggestion.best
    with qtbot.waitSignal(panel.fittingOpened, timeout=10000):
        qtbot.mouseClick(panel.fit_buttons[model], Qt.LeftButton)
    state = fitting_state(gm)
    assert (state["model"], state["structure"]) == (model, "hardsphere")
    assert state["widget"].data is h.data_from_item(item)
    assert 0.15 < state["parameters"]["volfraction"] < 0.45
    qtbot.waitUntil(lambda: state["widget"].cbModel.isEnabled(), timeout=30000)
