"""The panel shows the shape family, marks the plausible models (each with its Open in Fitting
button) and says in plain words when the family is clear but the model is not (issue 25)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from sasview_automodel.gui.panel import TOP_K, SuggestionPanel
from tests.gui.test_panel_standin import StandInHost, sphere_item


@pytest.fixture
def panel(qtbot, card_path):
    p = SuggestionPanel(host=StandInHost([sphere_item()]), card_path=card_path)
    qtbot.addWidget(p)
    p.show()
    return p


def _uncertain(plausible, family="compact", family_probability=0.97):
    from sasview_automodel.suggest import Suggestion
    ranking = [("core_shell_sphere", 0.45), ("vesicle", 0.3), ("sphere", 0.2), ("ellipsoid", 0.02),
               ("cylinder", 0.01), ("core_shell_ellipsoid", 0.01), ("core_shell_cylinder", 0.005),
               ("hollow_cylinder", 0.003), ("parallelepiped", 0.002)]
    return Suggestion(ranking=ranking, confidence=0.4, outlier=False, outlier_score=1.0, outlier_threshold=22.0,
                      family=family, family_probability=family_probability, plausible_models=plausible)


def test_family_is_shown_and_plausible_models_marked_with_buttons(panel, qtbot):
    panel.item = {"name": "x", "data": None}
    panel.suggestion = _uncertain(["core_shell_sphere", "vesicle", "sphere"])
    panel.show_result(panel.suggestion)
    text = panel.lblFamily.text()
    assert panel.lblFamily.isVisibleTo(panel)
    assert text.startswith("Shape family: Compact (sphere-like) (97%)")
    # top-1 uncertain, family certain: the plain-words note
    assert "clearly show a compact, sphere-like particle" in text and "cannot tell" in text
    assert list(panel.plausible_marks) == ["core_shell_sphere", "vesicle", "sphere"]
    assert all("\u2713" in panel.plausible_marks[m].text() for m in panel.plausible_marks)
    assert "\u2713" not in panel.rankGrid.itemAtPosition(3, 0).widget().text()   # ellipsoid: not plausible
    for m in panel.plausible_marks:
        assert panel.fit_buttons[m].isEnabled()
    qtbot.mouseClick(panel.fit_buttons["vesicle"], Qt.LeftButton)
    assert panel.host.opened[-1][1] == "vesicle"


def test_every_plausible_model_gets_a_row_even_beyond_the_top_k(panel):
    panel.item = {"name": "x", "data": None}
    many = [m for m, _ in _uncertain([]).ranking][:7]
    panel.show_result(_uncertain(many, family_probability=0.55))
    assert len(many) > TOP_K and list(panel.fit_buttons)[:7] == many and list(panel.plausible_marks) == many
    assert "do not decide the shape" in panel.lblFamily.text()


def test_single_plausible_model_has_no_note(panel):
    panel.item = {"name": "x", "data": None}
    panel.show_result(_uncertain(["core_shell_sphere"], family_probability=0.99))
    assert "cannot tell" not in panel.lblFamily.text() and "do not decide" not in panel.lblFamily.text()
    assert list(panel.plausible_marks) == ["core_shell_sphere"] and len(panel.fit_buttons) == TOP_K
