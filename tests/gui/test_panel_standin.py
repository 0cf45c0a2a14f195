"""The panel's logic with a stand-in host (no SasView): worker thread, display, hand-off,
bad data, superseded requests."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from sasview_automodel.gui.panel import TOP_K, SuggestionPanel


class FakeData:
    """What SasView's Data1D offers the plugin."""

    def __init__(self, x, y, dy=None, dx=None, name="fake"):
        self.x, self.y, self.dy, self.dx, self.dxl = x, y, dy, dx, None
        self.name = self.filename = name


class StandInHost:
    def __init__(self, items):
        self.items = items
        self.opened = []
        self.fail_with = None

    def selected_items(self):
        return list(self.items)

    def data_from_item(self, item):
        return item["data"]

    def item_name(self, item):
        return item["name"]

    def open_in_fitting(self, item, suggestion, model):
        if self.fail_with:
            raise self.fail_with
        line = suggestion.to_sasview(model, category="Some category")
        self.opened.append((item, model, line))
        return line


def sphere_item(r=60.0, name="sphere60"):
    q = np.geomspace(0.003, 0.4, 150)
    x = q * r
    i = 100 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 0.01
    return {"name": name, "data": FakeData(q, i, 0.03 * i, 0.05 * q, name)}


@pytest.fixture
def panel(qtbot, card_path):
    item = sphere_item()
    p = SuggestionPanel(host=StandInHost([item]), card_path=card_path)
    qtbot.addWidget(p)
    p.show()
    return p


def test_suggest_selected_then_open(panel, qtbot):
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000) as blocker:
        qtbot.mouseClick(panel.cmdSuggest, Qt.LeftButton)
    s = blocker.args[0]
    assert panel.lblName.text() == "sphere60"
    assert len(panel.fit_buttons) == TOP_K
    assert list(panel.fit_buttons) == [m for m, _ in s.top(TOP_K)]
    bars = [panel.rankGrid.itemAtPosition(r, 2).widget() for r in range(TOP_K)]
    assert [b.value() for b in bars] == sorted((b.value() for b in bars), reverse=True)
    assert f"{s.confidence:.0%}" in panel.lblConfidence.text()
    assert panel.lblOutlier.isHidden() == (not s.outlier)
    best = s.best
    with qtbot.waitSignal(panel.fittingOpened, timeout=5000) as opened:
        qtbot.mouseClick(panel.fit_buttons[best], Qt.LeftButton)
    item, model, line = panel.host.opened[-1]
    assert model == best and opened.args[0] == best and item["name"] == "sphere60"
    assert line["fitpage_structure"] == ["None"] and line["model_name"] == [best]
    assert not panel.lblStructure.isHidden() and panel.lblStructure.text().startswith("dilute")  # shipped head: dilute


def test_inference_runs_off_the_gui_thread(panel, qtbot, monkeypatch):
    import threading
    seen = {}
    real = panel.cache.suggest

    def spy(curve):
        seen["thread"] = threading.current_thread()
        return real(curve)

    monkeypatch.setattr(panel.cache, "suggest", spy)
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000):
        panel.suggest_selected()
    assert seen["thread"] is not threading.main_thread()


def test_bad_data_message_no_crash(panel, qtbot):
    bad = {"name": "negative", "data": FakeData(np.geomspace(0.01, 0.3, 50), -np.ones(50))}
    with qtbot.waitSignal(panel.suggestionFailed, timeout=30000) as blocker:
        panel.suggest_items([bad])
    assert "negative" in blocker.args[0]
    assert panel.lblStatus.text() == blocker.args[0]
    assert panel.fit_buttons == {}


def test_2d_and_missing_data(panel, qtbot):
    class Data2D:
        qx_data = np.zeros(3)
        x = y = None
    with qtbot.waitSignal(panel.suggestionFailed, timeout=30000) as blocker:
        panel.suggest_items([{"name": "img", "data": Data2D()}])
    assert "2D" in blocker.args[0]
    panel.suggest_items([])
    assert "No data selected" in panel.lblStatus.text()


def test_newer_request_wins(panel, qtbot):
    panel.suggest_items([sphere_item(40.0, "first")])
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000):
        panel.suggest_items([sphere_item(90.0, "second")])
    qtbot.wait(200)
    assert panel.lblName.text() == "second"


def test_fitting_error_is_shown(panel, qtbot):
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000):
        panel.suggest_selected()
    panel.host.fail_with = KeyError("model 'x' is not listed")
    assert panel.open_in_fitting(panel.suggestion.best) is False
    assert "Could not open" in panel.lblStatus.text()


def test_suggestion_without_item_cannot_open(panel, qtbot):
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000):
        panel.suggest_data(sphere_item()["data"], "loose data")
    assert not any(b.isEnabled() for b in panel.fit_buttons.values())
    assert panel.open_in_fitting("sphere") is False


def test_outlier_banner_and_confidence_colour(panel, qtbot):
    from sasview_automodel.suggest import Suggestion
    s = Suggestion(ranking=[("sphere", 0.6), ("vesicle", 0.3), ("cylinder", 0.1)], confidence=0.2,
                   outlier=True, outlier_score=99.0, outlier_threshold=22.0,
                   reason="unlike any trained shape (outlier score 99 > 22): consider a structure factor")
    panel.item = {"name": "x", "data": None}
    panel.show_result(s)
    assert panel.lblOutlier.isVisibleTo(panel)
    assert "structure factor" in panel.lblOutlier.text()
    assert "20%" in panel.lblConfidence.text() and "#c62828" in panel.lblConfidence.styleSheet()
    assert list(panel.fit_buttons) == ["sphere", "vesicle", "cylinder"]


def _concentrated(structure):
    from sasview_automodel.suggest import Suggestion
    return Suggestion(ranking=[("sphere", 0.8), ("vesicle", 0.15), ("cylinder", 0.05)], confidence=0.9,
                      outlier=False, outlier_score=1.0, outlier_threshold=22.0,
                      parameters={"radius": 60.0, "radius_pd": 0.1},
                      candidate_parameters={"sphere": {"radius": 60.0, "radius_pd": 0.1}},
                      structure_factor=structure)


def test_structure_factor_is_shown_and_opened_as_p_at_s(panel, qtbot):
    from sasview_automodel.suggest import StructureFactorSuggestion
    hs = StructureFactorSuggestion("hardsphere", 0.87, 0.9, {"none": 0.1, "hardsphere": 0.87}, 0.25, "radius")
    panel.item = {"name": "conc", "data": None}
    panel.suggestion = _concentrated(hs)
    panel.show_result(panel.suggestion)
    assert panel.lblStructure.isVisibleTo(panel)
    assert panel.lblStructure.text() == "concentrated: hard-sphere-like interactions suggested (p = 0.87)"
    assert "sphere@hardsphere" in panel.fit_buttons["sphere"].toolTip()
    with qtbot.waitSignal(panel.fittingOpened, timeout=5000) as opened:
        qtbot.mouseClick(panel.fit_buttons["sphere"], Qt.LeftButton)
    _, model, line = panel.host.opened[-1]
    assert model == "sphere" and opened.args[1] == line
    assert line["fitpage_structure"] == ["hardsphere"] and line["volfraction"][:2] == ["True", "0.25"]
    assert line["radius_effective_mode"][1] == "1" and line["radius"][1] == "60.0"


def test_dilute_answer_says_dilute_and_opens_the_form_factor(panel, qtbot):
    from sasview_automodel.suggest import StructureFactorSuggestion
    panel.item = {"name": "dil", "data": None}
    panel.suggestion = _concentrated(StructureFactorSuggestion(None, 0.93, 0.07, {"none": 0.93}))
    panel.show_result(panel.suggestion)
    assert panel.lblStructure.isVisibleTo(panel) and panel.lblStructure.text().startswith("dilute")
    assert panel.open_in_fitting("sphere")
    assert panel.host.opened[-1][2]["fitpage_structure"] == ["None"]
    panel.suggestion = _concentrated(None)
    panel.show_result(panel.suggestion)
    assert panel.lblStructure.isHidden()
