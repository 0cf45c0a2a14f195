"""Validation messages (arrays, Data1D objects, q units) and the error catalogue docs/errors.md."""
import ast
import glob
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sasview_automodel import AutomodelError, FileFormatError, InputError
from sasview_automodel.curve import (A_AS_NM_QMAX, MIN_POINTS, NM_AS_A_QMAX, NM_AS_A_QMIN, curve_from_data,
                                     make_curve, normalize_q_unit, unit_warning)
from tests.conftest import ROOT, sphere_curve

UNIT_NOTE = "looks like 1/nm"


def _unit_notes(curve):
    return [w for w in curve.warnings if "1/nm" in w and ("looks like" in w or "unusually low" in w)]


# -- arrays: one specific message per defect -------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(q=np.zeros((3, 50)), intensity=np.ones(150)), "1D array"),
    (dict(q=["a"] * 20, intensity=np.ones(20)), "numbers"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.ones(50), sigma=np.ones(49)), "sigma has 49 values"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.ones(50), dq=np.ones(3)), "dq has 3 values"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.ones(50), slit_length="wide"), "slit_length"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.ones(50), q_unit="furlong"), "unknown q unit"),
    (dict(q=[], intensity=[]), "no data points"),
    (dict(q=np.geomspace(0.01, 0.3, MIN_POINTS - 1), intensity=np.ones(MIN_POINTS - 1)), f"at least {MIN_POINTS}"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.r_[np.full(30, np.nan), np.ones(20)]), "NaN or infinite"),
    (dict(q=-np.geomspace(0.01, 0.3, 50), intensity=np.ones(50)), "q values are zero or negative"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.zeros(50)), "all 50 intensities are 0"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.r_[-np.ones(30), np.ones(20)]), "mostly positive"),
    (dict(q=np.geomspace(0.01, 0.3, 50), intensity=np.full(50, 3.0)), "intensities are equal"),
    (dict(q=np.repeat(np.geomspace(0.01, 0.3, 20), 3), intensity=np.ones(60)), "duplicate q value"),
    (dict(q=np.geomspace(2.0, 20.0, 50), intensity=np.ones(50)), "outside the classifier's range"),
    (dict(q=np.geomspace(1e-6, 1e-4, 50), intensity=np.ones(50)), "outside the classifier's range"),
    (dict(q=np.geomspace(0.1, 0.13, 50), intensity=np.ones(50)), "grid bins"),
    (dict(q=np.geomspace(0.5, 30.0, 50), intensity=np.linspace(2, 1, 50)), "grid bins"),
])
def test_each_defect_has_its_own_message(kwargs, match):
    with pytest.raises(InputError, match=match) as err:
        make_curve(**kwargs)
    assert len(str(err.value)) > 30  # says what is wrong and what to do


def test_window_messages_point_at_the_unit():
    with pytest.raises(InputError, match="q_unit='nm'"):
        make_curve(np.geomspace(2.0, 20.0, 50), np.linspace(2, 1, 50))
    with pytest.raises(InputError, match="q_unit='A'"):
        make_curve(np.geomspace(1e-4, 1e-3, 50), np.linspace(2, 1, 50), q_unit="nm")


def test_a_few_bad_points_are_dropped_with_a_counted_warning():
    q, i, s = sphere_curve()
    i = i.copy()
    i[[5, 50, 90]] = [0.0, -1.0, -3.0]           # background subtraction
    q2 = q.copy()
    q2[7] = np.nan                                # one broken row
    q2[0] = -q2[0]                                # one negative q
    c = make_curve(q2, i, s)
    text = " | ".join(c.warnings)
    assert "3 of 148 points with zero or negative intensity" in text
    assert "1 of 150 points with a NaN or infinite q or intensity" in text
    assert "1 of 150 points with q <= 0" in text
    assert c.q.size == 150 - 5 and np.all(c.intensity > 0) and np.all(np.diff(c.q) > 0)


def test_a_few_duplicate_q_are_kept_with_a_warning():
    q, i, s = sphere_curve()
    q2 = np.r_[q, q[40:44]]
    c = make_curve(q2, np.r_[i, i[40:44] * 1.01], np.r_[s, s[40:44]])
    assert any("4 points have a duplicate q value" in w for w in c.warnings)


def test_nan_uncertainties_use_the_median():
    q, i, s = sphere_curve()
    s = s.copy()
    s[:4] = np.nan
    c = make_curve(q, i, s)
    assert c.sigma is not None and np.all(np.isfinite(c.sigma))
    assert any("4 uncertainties (dI) were NaN" in w for w in c.warnings)


@pytest.mark.parametrize("spelling,unit", [("A", "A"), ("1/A", "A"), ("Å^-1", "A"), ("A^{-1}", "A"),
                                           ("1/angstrom", "A"), ("nm", "nm"), ("1/nm", "nm"), ("nm^{-1}", "nm"),
                                           ("NM⁻¹", "nm"), ("", None), (None, None)])
def test_unit_spellings(spelling, unit):
    assert normalize_q_unit(spelling) == unit


# -- q units: stated unit wins, override for unstated data, plausibility rule ---------------------
class D1:
    """A duck-typed sasdata Data1D."""

    def __init__(self, x, y, dy=None, unit="1/A", loader=None, name="d"):
        self.x, self.y, self.dy, self.dx, self.dxl = x, y, dy, None, None
        self._xunit = unit
        self.meta_data = {"loader": loader} if loader else {}
        self.name, self.filename = name, name + ".txt"


def test_stated_unit_wins_and_q_unit_applies_to_unstated_data():
    q, i, s = sphere_curve()
    stated = curve_from_data(D1(q, i, s, unit="A^{-1}", loader="CanSAS XML 1D"), q_unit="nm")
    assert np.allclose(stated.q, q) and any("was not applied" in w for w in stated.warnings)
    unstated = curve_from_data(D1(q * 10, i, s, loader="ASCII"), q_unit="nm")
    assert np.allclose(unstated.q, q) and not unstated.warnings
    in_nm = curve_from_data(D1(q * 10, i, s, unit="1/nm"))
    assert np.allclose(in_nm.q, q)


def test_nm_file_read_as_angstrom_is_flagged():
    q = np.geomspace(0.08, 5.0, 300)  # a lab SAXS curve in 1/nm (Anton Paar PDH style), no unit in the file
    c = curve_from_data(D1(q, 1 / (1 + (q * 40) ** 2) + 1e-3, loader="ASCII"))
    (note,) = _unit_notes(c)
    assert "--q-unit nm" in note and "states no unit" in note
    assert not _unit_notes(curve_from_data(D1(q, 1 / (1 + (q * 40) ** 2) + 1e-3, loader="ASCII"), q_unit="nm"))


def test_angstrom_data_labelled_nm_is_flagged():
    q = np.geomspace(0.002, 0.3, 200)  # 1/A data, but the user said nm
    c = make_curve(q, 1 / (1 + (q * 400) ** 2) + 1e-3, q_unit="nm")
    (note,) = _unit_notes(c)
    assert "--q-unit A" in note


@settings(max_examples=200, deadline=None)
@given(lo=st.floats(np.log10(3e-4), np.log10(0.5)), decades=st.floats(0.5, 3.5))
def test_no_unit_alarm_for_ordinary_angstrom_windows(lo, decades):
    """No false alarm anywhere in 3e-4..1.5 1/A (the rule needs q_max >= 2 1/A)."""
    q_min = 10**lo
    q_max = min(q_min * 10**decades, 1.5)
    assert unit_warning(q_min, q_max, "A", "file") is None
    assert unit_warning(q_min, q_max, "A", "assumed") is None


@settings(max_examples=100, deadline=None)
@given(q_min=st.floats(0.06, 0.5), q_max=st.floats(2.0, 8.0))
def test_typical_nm_windows_read_as_angstrom_are_flagged(q_min, q_max):
    """Lab SAXS in 1/nm (from 0.06..0.5 to 2..8 1/nm) read as 1/A is flagged."""
    assert UNIT_NOTE in unit_warning(q_min, q_max, "A", "assumed")
    assert "correct it in the file" in unit_warning(q_min, q_max, "A", "file")


def test_rule_constants_are_documented():
    doc = open(os.path.join(ROOT, "docs", "errors.md")).read()
    for value in (NM_AS_A_QMIN, NM_AS_A_QMAX, A_AS_NM_QMAX):
        assert f"{value:g}" in doc


# -- Data1D-like objects (what the SasView panel receives) ----------------------------------------
def _data2d():
    from sasdata.dataloader.data_info import Data2D
    n = 100
    return Data2D(data=np.ones(n), err_data=np.ones(n), qx_data=np.linspace(-0.1, 0.1, n),
                  qy_data=np.linspace(-0.1, 0.1, n), q_data=np.linspace(0.001, 0.1, n), mask=np.ones(n, bool))


class Sentinel:
    """What sasdata returns when every reader failed."""
    x = np.array(None, dtype=object)
    y = np.array(None, dtype=object)
    dy = dx = dxl = None
    errors = ["ASCII Reader error"]


@pytest.mark.parametrize("data,match", [
    (None, "no data"),
    (_data2d(), "2D data"),
    (Sentinel(), "holds no q/I values"),
    (D1(np.geomspace(0.01, 0.1, 4), np.ones(4)), "at least"),
    (D1(np.geomspace(0.01, 0.3, 40), ["x"] * 40), "numbers"),
    (D1(np.geomspace(0.01, 0.3, 40), np.zeros(40)), "intensities are 0"),
])
def test_bad_data_objects(data, match):
    with pytest.raises(InputError, match=match):
        curve_from_data(data, "bad")


# -- the catalogue ----------------------------------------------------------------------------------
def _raised_messages():
    """(file, longest literal piece) of every message raised with one of our error classes."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "sasview_automodel", "**", "*.py"), recursive=True)):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                    getattr(node.exc.func, "id", "") in ("InputError", "FileFormatError", "BundleError",
                                                         "AutomodelError") and node.exc.args:
                pieces = [c.value for c in ast.walk(node.exc.args[0])
                          if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                if pieces:
                    out.append((os.path.relpath(path, ROOT), max(pieces, key=len).strip()))
    return out


def test_every_error_message_is_in_docs_errors_md():
    doc = re.sub(r"\s+", " ", open(os.path.join(ROOT, "docs", "errors.md")).read())
    messages = _raised_messages()
    assert len(messages) > 30
    missing = [(f, m) for f, m in messages if re.sub(r"\s+", " ", m) not in doc]
    assert not missing, "add these messages to docs/errors.md: " + repr(missing)


def test_the_hierarchy():
    assert issubclass(InputError, AutomodelError) and issubclass(FileFormatError, AutomodelError)
    assert issubclass(InputError, ValueError)  # callers catching ValueError keep working
