"""The Qt-free part of the plugin: Data1D -> Curve, the Fitting line_dict, categories."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from sasview_automodel.errors import InputError
from sasview_automodel.gui import logic
from sasview_automodel.sasview_format import fitting_line_dict, split_parameters


class D1:
    def __init__(self, x, y, dy=None, dx=None, dxl=None, unit="1/A"):
        self.x, self.y, self.dy, self.dx, self.dxl = x, y, dy, dx, dxl
        self._xunit = unit
        self.name = "d"
        self.filename = "d.txt"


def test_runtime_package_has_no_qt_or_sasview_import():
    import subprocess
    code = ("import sys, sasview_automodel, sasview_automodel.suggest, sasview_automodel.gui.logic, "
            "sasview_automodel.gui.host, sasview_automodel.gui.deploy, sasview_automodel.cli; "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','qtpy','sas')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _sas_imports(path):
    """(line, module) of every import of SasView (``sas``, ``sas.*``) in a Python file."""
    import ast
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        found += [(node.lineno, n) for n in names if n == "sas" or n.startswith("sas.")]
    return found


def test_only_host_imports_sasview():
    """host.py is the one module that touches SasView; the launcher's fallback (the package could
    not be imported, so host cannot be either) is the one other import."""
    import glob
    import os
    import sasview_automodel
    root = os.path.dirname(sasview_automodel.__file__)
    where = {os.path.relpath(p, root): _sas_imports(p) for p in glob.glob(os.path.join(root, "**", "*.py"), recursive=True)}
    where = {p: found for p, found in where.items() if found}
    assert set(where) == {os.path.join("gui", "host.py"), os.path.join("gui", "launcher.py")}, where
    assert [m for _, m in where[os.path.join("gui", "launcher.py")]] == ["sas.qtgui.MainWindow.MainWindow"]


def test_contributions_table_is_consistent():
    from sasview_automodel.gui import host
    assert len(host.PERSPECTIVES) + len(host.ACTIONS) == len(host.CONTRIBUTIONS)  # every row is one kind
    assert [p.name for p in host.PERSPECTIVES] == [host.PERSPECTIVE_NAME]
    for action in host.ACTIONS:
        assert action.menu in host.MENUS and callable(getattr(host.SasViewHost, action.handler))


def test_curve_from_data_pinhole_slit_and_units():
    q = np.geomspace(0.01, 0.3, 40)
    c = logic.curve_from_data(D1(q, 1 / q, 0.1 / q, 0.05 * q))
    assert c.dq is not None and c.slit_length is None and c.source == "d.txt"
    c = logic.curve_from_data(D1(q, 1 / q, dxl=np.full(40, 0.02)))
    assert c.slit_length == pytest.approx(0.02) and c.dq is None
    c = logic.curve_from_data(D1(q * 10, 1 / q, unit="1/nm"))
    assert c.q[0] == pytest.approx(0.01)


def test_curve_from_data_errors():
    with pytest.raises(InputError):
        logic.curve_from_data(None)
    with pytest.raises(InputError, match="at least"):
        logic.curve_from_data(D1(np.geomspace(0.01, 0.1, 4), np.ones(4)))


def test_find_category_prefers_real_category():
    table = {"Plugin Models": [["sphere", True]], "Sphere": [["sphere", True], ["vesicle", True]],
             "Cylinder": [["cylinder", True]], "Structure Factor": [["hardsphere", True]]}
    assert logic.find_category("sphere", table) == "Sphere"
    assert logic.find_category("cylinder", table) == "Cylinder"
    assert logic.find_category("nothing", table) is None
    assert logic.find_category("x", {"Custom": ["x"]}) == "Custom"


def test_line_dict_format():
    line = fitting_line_dict("cylinder", "Cylinder",
                                   {"radius": 20.0, "length": (400.0, 10.0, 1e4), "scale": 0.01},
                                   {"radius": {"width": 0.1, "function": "schulz", "npts": 21}},
                                   fixed=("scale",))
    assert line["fitpage_structure"] == ["None"]
    assert line["fitpage_category"] == ["Cylinder"] and line["model_name"] == ["cylinder"]
    assert line["radius"] == ["True", "20.0", "-inf", "inf"]
    assert line["length"] == ["True", "400.0", "10.0", "10000.0"]
    assert line["scale"][0] == "False"
    assert line["polydisperse_params"] == ["True"]
    assert line["radius.width"] == ["True", "0.1", "0.0", "inf", "21", "3.0", "schulz"]
    assert all(isinstance(v, str) for row in line.values() for v in row)
    assert "polydisperse_params" not in fitting_line_dict("sphere", "Sphere")


def test_split_parameters():
    assert split_parameters({}, "sphere") == ({}, {})
    v, pd = split_parameters({"sphere": {"radius": 50.0, "radius_pd": 0.1, "radius_pd_type": "schulz"},
                                    "vesicle": {"radius": 1.0}}, "sphere")
    assert v == {"radius": 50.0} and pd == {"radius": {"width": 0.1, "function": "schulz"}}


def test_confidence_levels():
    assert logic.confidence_level(0.95)[0] == "high"
    assert logic.confidence_level(0.6)[0] == "medium"
    assert logic.confidence_level(0.1)[0] == "low"


def _suggestion(structure):
    from sasview_automodel.suggest import Suggestion
    return Suggestion(ranking=[("sphere", 0.9), ("vesicle", 0.1)], confidence=0.9, outlier=False, outlier_score=1.0,
                      outlier_threshold=20.0, candidate_parameters={"sphere": {"radius": 60.0, "radius_pd": 0.1}},
                      structure_factor=structure)


def test_structure_text_and_hand_off():
    from sasview_automodel.suggest import StructureFactorSuggestion
    hs = StructureFactorSuggestion("hardsphere", 0.87, 0.9, {"none": 0.1, "hardsphere": 0.87}, 0.25, "radius")
    dilute = StructureFactorSuggestion(None, 0.93, 0.07, {"none": 0.93, "hardsphere": 0.07})
    assert logic.structure_text(hs) == "concentrated: hard-sphere-like interactions suggested (p = 0.87)"
    assert logic.structure_text(dilute) == "dilute: no structure factor needed (p = 0.93)"
    assert logic.structure_text(None) == ""  # a bundle without a structure-factor head: nothing extra
    # the hand-off: the Fitting page's dictionary is Suggestion.to_sasview's, with the page's category
    line = _suggestion(hs).to_sasview("vesicle", category="Sphere")
    assert line["fitpage_structure"] == ["hardsphere"] and line["volfraction"][:2] == ["True", "0.25"]
    assert line["radius_effective_mode"][1] == "1"  # vesicle@hardsphere: "outer radius"
    assert line["fitpage_category"] == ["Sphere"]
    for s in (_suggestion(None), _suggestion(dilute)):
        assert s.to_sasview("sphere", category="Sphere")["fitpage_structure"] == ["None"]
    line = _suggestion(hs).to_sasview("sphere", category="Sphere")
    assert line["radius"][1] == "60.0" and line["radius.width"][1] == "0.1"
