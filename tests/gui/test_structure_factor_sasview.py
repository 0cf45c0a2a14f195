"""A P@S suggestion handed to the REAL SasView (6.1.3 in CI) under Xvfb: "Open in Fitting" sets up
model@S with the volume fraction and the effective-radius mode, and the paste text sets the S(q)
values on a P@S page. The suggestion is built by hand (the shipped bundle has no structure head)."""
from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from sasview_automodel.gui import host as host_module
from sasview_automodel.suggest import StructureFactorSuggestion, Suggestion
from tests.gui.sasview_helpers import fitting_state

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def concentrated(volfraction: float, radius: float) -> Suggestion:
    hs = StructureFactorSuggestion("hardsphere", 0.87, 0.9, {"none": 0.1, "hardsphere": 0.87}, volfraction, "radius")
    pars = {"radius": radius, "radius_pd": 0.08}
    return Suggestion(ranking=[("sphere", 0.8), ("vesicle", 0.15), ("cylinder", 0.05)], confidence=0.9,
                      outlier=False, outlier_score=1.0, outlier_threshold=22.0, parameters=dict(pars),
                      candidate_parameters={"sphere": dict(pars)}, structure_factor=hs, name="sphere_saxs.txt")


def test_open_p_at_s_in_fitting_then_paste(sasview, qtbot):
    window, gm, h = sasview
    (item,) = h.load_files([os.path.join(EXAMPLES, "sphere_saxs.txt")])
    panel = h.switch_to(host_module.PERSPECTIVE_NAME)
    panel.item, panel.data = item, h.data_from_item(item)
    panel.suggestion = concentrated(0.25, 80.0)
    panel.show_result(panel.suggestion)
    assert panel.lblStructure.text() == "concentrated: hard-sphere-like interactions suggested (p = 0.87)"

    with qtbot.waitSignal(panel.fittingOpened, timeout=10000) as opened:
        qtbot.mouseClick(panel.fit_buttons["sphere"], Qt.LeftButton)
    assert opened.args[1]["fitpage_structure"] == ["hardsphere"]
    state = fitting_state(gm)
    widget = state["widget"]
    assert widget.data is panel.data
    assert (state["model"], state["structure"]) == ("sphere", "hardsphere")
    params = state["parameters"]
    assert params["volfraction"] == pytest.approx(0.25)
    assert params["radius_effective_mode"] == 1 and params["structure_factor_mode"] == 0  # "radius", P*S
    assert params["radius"] == pytest.approx(80.0) and params["radius.width"] == pytest.approx(0.08)
    # SasView's own view of the page (its copy format) agrees
    page = widget.getParameterDict()
    assert page["fitpage_structure"] == ["hardsphere"] and page["fitpage_model"] == ["sphere"]
    assert float(page["volfraction"][1]) == pytest.approx(0.25) and page["volfraction"][0] == "True"
    assert page["radius_effective_mode"][1] == "1"
    qtbot.waitUntil(lambda: widget.cbModel.isEnabled(), timeout=30000)

    # Edit > Paste of the CLI's text on this P@S page sets the S(q) values too
    from PySide6 import QtWidgets
    QtWidgets.QApplication.clipboard().setText(concentrated(0.31, 70.0).sasview_paste("sphere"))
    widget.clipboard_paste()
    qtbot.wait(200)
    params = fitting_state(gm)["parameters"]
    assert params["volfraction"] == pytest.approx(0.31) and params["radius"] == pytest.approx(70.0)
    assert fitting_state(gm)["structure"] == "hardsphere"

    # another candidate gets its own effective-radius mode (sasmodels' default is 1 for every product)
    assert panel.open_in_fitting("cylinder")
    state = fitting_state(gm)
    assert (state["model"], state["structure"]) == ("cylinder", "hardsphere")
    assert state["parameters"]["radius_effective_mode"] == 2  # "equivalent volume sphere"
    assert state["parameters"]["volfraction"] == pytest.approx(0.25)
    qtbot.waitUntil(lambda: state["widget"].cbModel.isEnabled(), timeout=30000)
