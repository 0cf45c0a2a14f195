"""The quick resolution-aware fit and the rule that combines it with the classifier."""
import os

import numpy as np
import pytest

from sasview_automodel import load_file
from sasview_automodel.fit import FitResult, combine, quick_fit
from tests.conftest import EXAMPLES


def test_sphere_fit_recovers_the_radius_from_a_rough_start():
    (c,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))  # radius 85 A, 8 % schulz
    r = quick_fit(c, "sphere", {"radius": 60.0, "radius_pd": 0.15}, time_budget=2.0)
    assert r.parameters["radius"] == pytest.approx(85.0, rel=0.03)
    assert r.chi2_reduced < 2.0 and r.n_parameters == 4


def test_slit_smeared_fit_uses_the_slit_and_stays_in_budget():
    (c,) = load_file(os.path.join(EXAMPLES, "hollow_cylinder_slit.xml"))
    assert c.slit_length == pytest.approx(0.04)
    r = quick_fit(c, "hollow_cylinder", {"radius": 50.0, "thickness": 20.0, "length": 700.0, "radius_pd": 0.1},
                  time_budget=1.5)
    assert r.seconds < 1.5 + 0.5
    assert r.chi2_reduced < 5.0 and r.parameters["radius"] == pytest.approx(60.0, rel=0.15)


def test_core_shell_fit_refines_the_contrast_ratio():
    (c,) = load_file(os.path.join(EXAMPLES, "core_shell_sphere_saxs.csv"))  # core -1.5, shell +1.5 vs solvent
    r = quick_fit(c, "core_shell_sphere", {"radius": 100.0, "thickness": 30.0, "radius_pd": 0.1}, time_budget=2.0)
    assert r.parameters["sld_core"] / r.parameters["sld_shell"] == pytest.approx(-1.0, abs=0.2)
    assert r.parameters["radius"] == pytest.approx(120.0, rel=0.05)


def _fr(model, chi2, k, n=100):
    return FitResult(model, {}, 1.0, 0.0, chi2 / (n - k), chi2 + k * np.log(n), n, k, 1, 0.0, True)


def test_combine_prefers_the_data_when_they_decide_and_the_simpler_model_at_equal_fit():
    ranking = [("core_shell_sphere", 0.7), ("sphere", 0.3)]
    decided = combine(ranking, {"core_shell_sphere": _fr("core_shell_sphere", 400.0, 7), "sphere": _fr("sphere", 100.0, 4)})
    assert decided[0][0] == "sphere" and decided[0][1] > 0.99
    tie = combine(ranking, {"core_shell_sphere": _fr("core_shell_sphere", 100.0, 7), "sphere": _fr("sphere", 100.0, 4)})
    assert tie[0][0] == "sphere"  # 3 more parameters cost 3 ln(100) in BIC
    same_k = combine(ranking, {"core_shell_sphere": _fr("core_shell_sphere", 100.0, 4), "sphere": _fr("sphere", 100.0, 4)})
    assert same_k[0] == ("core_shell_sphere", pytest.approx(0.7))
    assert sum(w for _, w in same_k) == pytest.approx(1.0)


def test_suggest_with_fit_fills_fits_ranking_and_parameters(suggester):
    (s,) = suggester.suggest_file(os.path.join(EXAMPLES, "cylinder_sans.txt"), fit=True)
    assert 1 <= len(s.fits) <= 3 and s.fit_ranking and s.best == s.ranking[0][0]  # the fit does not re-rank
    assert s.parameters == pytest.approx(s.fits[s.best].to_dict()["parameters"], rel=1e-4)
    d = s.to_dict()
    assert d["fit"]["ranking"] and any("quick fit" in w for w in d["warnings"])
