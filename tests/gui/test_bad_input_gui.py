"""Bad data in the REAL SasView (6.1.3) under Xvfb: the panel shows the message, SasView keeps running,
and the next good data set is classified as usual."""
from __future__ import annotations

import os

import numpy as np
import pytest

from sasview_automodel.gui import host as host_module

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def _d1(x, y, dy=None, name="bad"):
    from sasdata.dataloader.data_info import Data1D
    d = Data1D(x=np.asarray(x, float), y=np.asarray(y, float), dy=None if dy is None else np.asarray(dy, float))
    d.name = d.filename = name
    return d


def _d2():
    from sasdata.dataloader.data_info import Data2D
    n = 400
    return Data2D(data=np.ones(n), err_data=np.ones(n), qx_data=np.linspace(-0.1, 0.1, n),
                  qy_data=np.linspace(-0.1, 0.1, n), q_data=np.linspace(0.001, 0.1, n), mask=np.ones(n, bool))


def _failed_load():
    """The placeholder sasdata returns when no reader could read a file."""
    from sasdata.dataloader.data_info import Data1D
    d = Data1D(x=[], y=[])
    d.x = np.array(None, dtype=object)
    d.y = np.array(None, dtype=object)
    return d


Q = np.geomspace(0.003, 0.3, 120)
BAD = [
    ("five_points", lambda: _d1(Q[:5], np.ones(5)), "at least 10"),
    ("all_nan", lambda: _d1(Q, np.full(Q.size, np.nan)), "NaN or infinite"),
    ("all_zero", lambda: _d1(Q, np.zeros(Q.size)), "intensities are 0"),
    ("mostly_negative", lambda: _d1(Q, np.where(np.arange(Q.size) % 4, -1.0, 1.0)), "mostly positive"),
    ("negative_q", lambda: _d1(-Q, 1 / Q), "zero or negative"),
    ("duplicate_q", lambda: _d1(np.repeat(Q[:40], 3), np.repeat(1 / Q[:40], 3)), "duplicate q value"),
    ("narrow_window", lambda: _d1(np.linspace(0.1, 0.11, 60), np.linspace(2, 1, 60)), "grid bins"),
    ("outside_grid", lambda: _d1(np.geomspace(3, 30, 60), np.linspace(2, 1, 60)), "--q-unit nm"),
    ("constant", lambda: _d1(Q, np.full(Q.size, 2.0)), "intensities are equal"),
    ("two_d", _d2, "2D data"),
    ("failed_load", _failed_load, "no q/I values"),
    ("nothing", lambda: None, "no data"),
]


@pytest.fixture()
def panel(sasview):
    window, gm, h = sasview
    h.switch_to(host_module.PERSPECTIVE_NAME)
    return gm.loadedPerspectives[host_module.PERSPECTIVE_NAME]


@pytest.mark.parametrize("name,make,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_data_shows_the_message_and_sasview_keeps_running(sasview, panel, qtbot, name, make, phrase):
    window = sasview[0]
    with qtbot.waitSignal(panel.suggestionFailed, timeout=15000) as blocker:
        panel.suggest_data(make(), name)
    message = blocker.args[0]
    assert phrase in message, message
    assert "unexpected error" not in message
    assert panel.lblStatus.text() == message  # shown in the panel, in full
    assert panel.suggestion is None and not panel.fit_buttons  # no stale ranking next to the error
    assert window.isVisible()


def test_good_data_after_bad_data_is_classified_with_counted_notes(sasview, panel, qtbot):
    """A few non-positive points: dropped, counted in the notes; the panel recovered from the errors."""
    window = sasview[0]
    q = np.geomspace(0.003, 0.4, 150)
    x = q * 60
    i = 100 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 0.01
    i[[140, 145, 149]] = [0.0, -0.01, -0.02]
    with qtbot.waitSignal(panel.suggestionFailed, timeout=15000):
        panel.suggest_data(_d1(q[:3], i[:3]), "three_points")
    with qtbot.waitSignal(panel.suggestionReady, timeout=30000) as blocker:
        panel.suggest_data(_d1(q, i, 0.03 * np.abs(i) + 1e-4), "sphere_with_background_subtracted")
    s = blocker.args[0]
    assert any("3 of 150 points with zero or negative intensity" in w for w in s.warnings)
    assert "3 of 150 points with zero or negative intensity" in panel.lblNotes.text()
    assert len(panel.fit_buttons) > 0 and window.isVisible()
