"""The quick resolution-aware fit (dilute and P@S products) and the rule that combines it with the
classifier. Fits here are bounded by evaluations only (``time_budget=None``): the results do not
depend on the machine's speed or load; speed is measured by ``sasview-automodel bench``."""
import dataclasses
import os

import numpy as np
import pytest

from sasview_automodel import catalog, load_file, product
from sasview_automodel.curve import make_curve
from sasview_automodel.fit import FitResult, combine, quick_fit
from sasview_automodel.suggest import PARAMETERS_UNCHECKED, StructureFactorSuggestion, Suggestion, refine
from tests.conftest import EXAMPLES


def sphere_hardsphere_curve(radius=60.0, volfraction=0.3, seed=0):
    """sphere@hardsphere (P*S, effective radius = radius), 8 % schulz, 2 % noise, 3 % pinhole."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.003, 0.4, 200)
    pars = dict(radius=radius, radius_pd=0.08, radius_pd_n=35, radius_pd_type="schulz", sld=2.0, sld_solvent=0.0,
                volfraction=volfraction, structure_factor_mode=0,
                radius_effective_mode=product.radius_effective_mode("sphere", "hardsphere"), scale=1.0,
                background=1e-3)
    i = np.asarray(call_kernel(load_model("sphere@hardsphere").make_kernel([q]), pars))
    noise = np.random.default_rng(seed).standard_normal(q.size)
    return make_curve(q, i * (1 + 0.02 * noise), 0.02 * i, 0.03 * q, name="sphere_hs")


def hardsphere(volfraction):
    return StructureFactorSuggestion("hardsphere", 0.87, 0.9, {"none": 0.1, "hardsphere": 0.87}, volfraction,
                                     "radius")


def test_sphere_fit_recovers_the_radius_from_a_rough_start():
    (c,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))  # radius 85 A, 8 % schulz
    r = quick_fit(c, "sphere", {"radius": 60.0, "radius_pd": 0.15}, time_budget=None)
    assert r.parameters["radius"] == pytest.approx(85.0, rel=0.03)
    assert r.chi2_reduced < 2.0 and r.n_parameters == 4
    assert r.structure_factor is None and r.structure_parameters == {}


def test_slit_smeared_fit_uses_the_slit():
    (c,) = load_file(os.path.join(EXAMPLES, "hollow_cylinder_slit.xml"))
    assert c.slit_length == pytest.approx(0.04)
    r = quick_fit(c, "hollow_cylinder", {"radius": 50.0, "thickness": 20.0, "length": 700.0, "radius_pd": 0.1},
                  time_budget=None)
    assert r.chi2_reduced < 5.0 and r.parameters["radius"] == pytest.approx(60.0, rel=0.15)


def test_core_shell_fit_refines_the_contrast_ratio():
    (c,) = load_file(os.path.join(EXAMPLES, "core_shell_sphere_saxs.csv"))  # core -1.5, shell +1.5 vs solvent
    r = quick_fit(c, "core_shell_sphere", {"radius": 100.0, "thickness": 30.0, "radius_pd": 0.1}, time_budget=None)
    assert r.parameters["sld_core"] / r.parameters["sld_shell"] == pytest.approx(-1.0, abs=0.2)
    assert r.parameters["radius"] == pytest.approx(120.0, rel=0.05)


def test_without_a_time_budget_the_fit_is_reproducible():
    (c,) = load_file(os.path.join(EXAMPLES, "cylinder_sans.txt"))
    start = {"radius": 30.0, "length": 400.0, "radius_pd": 0.1}
    a = quick_fit(c, "cylinder", start, time_budget=None, max_nfev=30)
    b = quick_fit(c, "cylinder", start, time_budget=None, max_nfev=30)
    assert a.parameters == b.parameters and a.evaluations == b.evaluations and "time budget" not in a.message


def test_product_fit_recovers_radius_and_volume_fraction():
    c = sphere_hardsphere_curve(radius=60.0, volfraction=0.3)
    start = {"radius": 45.0, "radius_pd": 0.15}
    dilute = quick_fit(c, "sphere", start, time_budget=None)
    r = quick_fit(c, "sphere", start, time_budget=None, structure=hardsphere(0.1))
    assert r.structure_factor == "hardsphere" and r.n_parameters == dilute.n_parameters + 1
    assert r.parameters["radius"] == pytest.approx(60.0, rel=0.05)
    assert r.structure_parameters["volfraction"] == pytest.approx(0.3, abs=0.05)
    assert r.structure_parameters["radius_effective"] == pytest.approx(r.parameters["radius"], rel=1e-6)
    assert r.chi2_reduced < 3.0 < dilute.chi2_reduced  # the dilute sphere cannot follow the S(q) peak
    d = r.to_dict()
    assert d["structure_factor"] == "hardsphere" and set(d["structure_parameters"]) == {"volfraction",
                                                                                        "radius_effective"}


def test_product_fit_accepts_a_name_and_holds_the_other_s_parameters():
    c = sphere_hardsphere_curve(radius=60.0, volfraction=0.05)
    r = quick_fit(c, "sphere", {"radius": 55.0, "radius_pd": 0.1}, time_budget=None, max_nfev=20,
                  structure="squarewell")
    assert r.structure_factor == "squarewell"
    low, high = product.volfraction_bounds("sphere", "squarewell")
    assert (low, high) == (0.001, 0.08) and low <= r.structure_parameters["volfraction"] <= high
    assert r.structure_parameters["welldepth"] == 0.75 and r.structure_parameters["wellwidth"] == 1.3


def test_product_fixed_parameters_follow_the_catalog():
    fixed = product.fixed_parameters("cylinder", "hayter_msa")
    assert fixed["structure_factor_mode"] == 0
    assert fixed["radius_effective_mode"] == 2  # "equivalent volume sphere" among cylinder@hayter_msa's choices
    # the middle of the catalog's ranges: geometric for log-uniform charge (5-120), linear for temperature
    assert fixed["charge"] == pytest.approx(np.sqrt(5.0 * 120.0), rel=1e-3) and fixed["temperature"] == pytest.approx(313.0)
    assert product.radius_effective_mode("hollow_cylinder", "hardsphere") == 2
    assert product.start_volfraction("sphere", "hardsphere", None) == product.VOLFRACTION_DEFAULT
    assert product.start_volfraction("sphere", "hardsphere", 0.9) == 0.6


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


def test_suggest_with_fit_refines_the_parameters_towards_the_truth(suggester):
    """cylinder_sans.txt: a cylinder of radius 22 A, length 600 A (examples/make_examples.py)."""
    (c,) = load_file(os.path.join(EXAMPLES, "cylinder_sans.txt"))
    (plain,) = suggester.suggest_curves([c])
    (s,) = suggester.suggest_curves([c], fit=True, fit_budget=None)
    assert s.best == "cylinder" and set(s.fits) == {m for m, _ in plain.top(3)}   # the top 3, each fitted
    assert s.parameters["radius"] == pytest.approx(22.0, rel=0.03)
    assert s.parameters["length"] == pytest.approx(600.0, rel=0.03)
    assert s.fits["cylinder"].chi2_reduced < 2.0
    for model, f in s.fits.items():   # every fitted candidate hands its refined values to Fitting
        assert s.candidate_parameters[model] == pytest.approx(f.parameters, rel=1e-4)
        line = s.to_sasview(model)
        sizes = [k for k in f.parameters if k in catalog.get(model).start_params]
        assert sizes and all(float(line[k][1]) == pytest.approx(f.parameters[k], rel=1e-4) for k in sizes)
    assert sorted(s.fit_ranking, key=lambda t: -t[1]) == s.fit_ranking
    assert sum(w for _, w in s.fit_ranking) == pytest.approx(1.0)
    assert all(s.fits[m].weight == w for m, w in s.fit_ranking)
    assert all(f.structure_factor is None for f in s.fits.values())  # the shipped bundle: no S(q) suggested
    assert PARAMETERS_UNCHECKED in plain.warnings and PARAMETERS_UNCHECKED not in s.warnings
    assert plain.fits == {} and not any("quick fit" in w for w in plain.warnings)
    d = s.to_dict()
    assert [r["model"] for r in d["fit"]["ranking"]] == [m for m, _ in s.fit_ranking]
    assert any("quick fit of 3 candidates" in w for w in d["warnings"])


def test_the_fit_evidence_does_not_re_rank():
    """A core-shell sphere curve (contrast -1 : 1) that the classifier would rank below a sphere: the
    fit evidence picks the core-shell sphere, the suggestion keeps the classifier's order and best
    model, whose own fit gives the parameters."""
    (c,) = load_file(os.path.join(EXAMPLES, "core_shell_sphere_saxs.csv"))
    s = Suggestion(ranking=[("sphere", 0.8), ("core_shell_sphere", 0.2)], confidence=0.9, outlier=False,
                   outlier_score=1.0, outlier_threshold=20.0,
                   candidate_parameters={"sphere": {"radius": 120.0, "radius_pd": 0.1},
                                         "core_shell_sphere": {"radius": 100.0, "thickness": 30.0, "radius_pd": 0.1}})
    r = refine(s, c, 2, None)
    assert r.fit_ranking[0] == ("core_shell_sphere", pytest.approx(1.0, abs=1e-3))
    assert r.fits["core_shell_sphere"].chi2_reduced < r.fits["sphere"].chi2_reduced
    assert r.ranking == s.ranking and r.best == "sphere" and r.to_dict()["ranking"][0]["model"] == "sphere"
    assert r.parameters == r.candidate_parameters["sphere"] != s.candidate_parameters["sphere"]
    assert r.to_sasview()["fitpage_model"] == ["sphere"]
    # the warning names the suggested model's fit and, since it disagrees, the lowest chi-square
    (note,) = [w for w in r.warnings if "quick fit" in w]
    assert (f"reduced chi-square {r.fits['sphere'].chi2_reduced:.3g} for the suggested sphere, lowest "
            f"{r.fits['core_shell_sphere'].chi2_reduced:.3g} for core_shell_sphere)") in note


def _suggestion(structure):
    return Suggestion(ranking=[("sphere", 0.8), ("core_shell_sphere", 0.15), ("vesicle", 0.05)], confidence=0.9,
                      outlier=False, outlier_score=1.0, outlier_threshold=20.0,
                      candidate_parameters={"sphere": {"radius": 45.0, "radius_pd": 0.15},
                                            "core_shell_sphere": {"radius": 40.0, "thickness": 10.0,
                                                                  "radius_pd": 0.1}},
                      structure_factor=structure)


def test_refine_fits_the_product_when_a_structure_factor_is_suggested():
    c = sphere_hardsphere_curve(radius=60.0, volfraction=0.3)
    start = _suggestion(hardsphere(0.15))
    before = start.to_dict()
    s = refine(start, c, 2, None)
    assert set(s.fits) == {"sphere", "core_shell_sphere"}
    assert all(f.structure_factor == "hardsphere" for f in s.fits.values())
    assert s.structure_factor.volfraction == pytest.approx(0.3, abs=0.05)  # refined by the best's fit
    assert s.parameters["radius"] == pytest.approx(60.0, rel=0.05)
    assert any("for the suggested sphere@hardsphere" in w for w in s.warnings)
    assert s.fitting_model() == "sphere@hardsphere" and s.fitting_model("vesicle") == "vesicle@hardsphere"
    line = s.to_sasview("sphere")
    assert line["fitpage_structure"] == ["hardsphere"]
    assert float(line["volfraction"][1]) == pytest.approx(s.fits["sphere"].structure_parameters["volfraction"])
    assert float(line["radius_effective"][1]) == pytest.approx(s.fits["sphere"].structure_parameters["radius_effective"])
    # results flow one way: the suggestion refined is left as it was, and neither can be edited
    assert start.to_dict() == before and start.fits == {} and start.structure_factor.volfraction == 0.15
    assert float(start.to_sasview("sphere")["volfraction"][1]) == pytest.approx(0.15)
    for obj, attr in ((s, "parameters"), (s.structure_factor, "volfraction")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, attr, None)


def test_a_dilute_answer_fits_the_form_factor_alone():
    c = sphere_hardsphere_curve(radius=60.0, volfraction=0.3)
    s = refine(_suggestion(StructureFactorSuggestion(None, 0.9, 0.1, {"none": 0.9, "hardsphere": 0.1})), c, 1, None)
    assert set(s.fits) == {"sphere"} and s.fits["sphere"].structure_factor is None
    assert s.structure_factor.volfraction is None and s.fitting_model() == "sphere"
    assert s.to_sasview()["fitpage_structure"] == ["None"]


def test_the_kernel_call_that_loads_the_model_is_the_first_evaluation(monkeypatch):
    """Kernel calls == evaluations reported: the start point is not computed twice."""
    from sasmodels.direct_model import DirectModel
    calls = []
    real = DirectModel.__call__
    monkeypatch.setattr(DirectModel, "__call__", lambda self, **kw: calls.append(1) or real(self, **kw))
    (c,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))
    r = quick_fit(c, "sphere", {"radius": 60.0, "radius_pd": 0.15}, time_budget=None, max_nfev=30)
    assert r.evaluations > 1 and len(calls) == r.evaluations


def test_no_evaluation_starts_that_would_end_past_the_time_budget(monkeypatch):
    """On a fake clock where each kernel call takes 0.1 s, a 0.35 s budget ends the fit at 0.3 s (the start
    point from the first call, then two computed), instead of starting one that would end at 0.4 s. The
    model was loaded by an earlier fit, so its first call counts as an evaluation."""
    import types
    from sasmodels.direct_model import DirectModel
    from sasview_automodel import fit
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(fit, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    real = DirectModel.__call__

    def slow(self, **kw):
        clock.now += 0.1
        return real(self, **kw)
    monkeypatch.setattr(DirectModel, "__call__", slow)
    (c,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))
    fit._model("sphere")
    r = quick_fit(c, "sphere", {"radius": 60.0, "radius_pd": 0.15}, time_budget=0.35)
    assert r.evaluations == 3 and "time budget" in r.message
    assert r.seconds == pytest.approx(0.3)   # three kernel calls, within the budget
