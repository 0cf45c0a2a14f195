"""Confidence and outlier detection with the shipped bundle (issue 4): the card's constants are the
ones used, a curve unlike the catalog is flagged, an easy in-distribution curve is not."""
import os

import numpy as np
import pytest

from sasview_automodel import Suggester, load_file
from sasview_automodel.scoring import OUTLIER_CONFIDENCE_CAP
from tests.conftest import EXAMPLES, edited_bundle


@pytest.fixture(scope="module")
def shipped():
    return Suggester()


def _sphere():
    (c,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))
    return c


def test_easy_in_distribution_curve_is_not_flagged_and_is_confident(shipped):
    s = shipped.suggest_curves([_sphere()])[0]
    assert s.best == "sphere" and not s.outlier and s.reason == ""
    assert s.outlier_score < s.outlier_threshold and s.confidence > 0.7


@pytest.mark.parametrize("kind", ["polymer_coil", "junk_rising", "junk_noise"])
def test_curves_unlike_the_catalog_are_flagged(shipped, kind):
    """At least 75 % flagged. 40 curves per kind: the evaluation flags 89-98 % of these kinds (120
    each), and at 10 curves a bundle at 89 % fails the bound one draw in eleven; at 37-40, fewer
    than one in 150 (binomial), while a bundle that flags 60 % still fails it 96 times in 100."""
    from training.ood import OOD_KINDS, observe_ood, simulate_ood
    from training.simulate import Q_FINE

    curves = [c for c in simulate_ood(Q_FINE, 40, seed=99) if c[0] == kind]
    kinds, x = observe_ood(curves, Q_FINE, seed=99)
    scored = shipped.score(x)
    assert kind in OOD_KINDS and len(kinds) >= 30
    assert np.mean(scored["outlier"]) >= 0.75
    assert np.all(scored["confidence"][scored["outlier"]] <= OUTLIER_CONFIDENCE_CAP)


def test_two_sphere_outliers_show_both_populations():
    """The OOD set's two_spheres kind is a visible mixture: the larger population lifts the low-q
    plateau at least 2 x over the smaller one's, and the smaller one's knee is not buried under the
    larger one's Porod tail. (The first sampler made the larger plateau a median 1.5 % of the
    smaller one's: single spheres labelled outliers.)"""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    from training.ood import OOD_KINDS

    model, sampler = OOD_KINDS["two_spheres"]
    q = np.geomspace(1e-5, 1.0, 600)
    sphere = load_model("sphere").make_kernel([q])
    rng = np.random.default_rng(7)
    for _ in range(25):
        p = sampler(rng)
        pop = {ab: np.asarray(call_kernel(sphere, dict(radius=p[ab + "_radius"], radius_pd=p[ab + "_radius_pd"],
                                                         radius_pd_n=15, scale=p[ab + "_scale"], background=0.0)))
               for ab in "AB"}
        knee = np.searchsorted(q, 1.0 / p["A_radius"])
        assert model == "sphere+sphere" and p["B_radius"] >= 3 * p["A_radius"]
        assert pop["B"][0] >= 1.9 * pop["A"][0]          # the larger population shows at low q
        assert pop["B"][knee] <= 0.5 * pop["A"][0]       # the smaller one's knee shows at higher q


def test_the_card_threshold_is_the_one_used(tmp_path):
    def tiny(card):
        card["ood"]["threshold"] = -1e9   # every score (a z-sum may be negative) lies above
    s = Suggester(edited_bundle(tmp_path, tiny)).suggest_curves([_sphere()])[0]
    assert s.outlier and s.outlier_threshold == -1e9 and s.confidence <= OUTLIER_CONFIDENCE_CAP
    assert "unlike any trained shape" in s.reason


def test_the_card_temperature_is_the_one_used(tmp_path):
    def hot(card):
        card["temperature"] = 1e4
    s = Suggester(edited_bundle(tmp_path, hot)).suggest_curves([_sphere()])[0]
    probs = [p for _, p in s.ranking]
    assert max(probs) - min(probs) < 0.01   # near uniform at a huge temperature


def test_the_card_confidence_recalibration_is_the_one_used(tmp_path, shipped):
    assert "recalibration" in shipped.bundle.card["confidence"]

    def flat(card):
        card["confidence"]["recalibration"] = {"method": "test", "x": [0.0, 1.0], "y": [0.3, 0.3]}
    s = Suggester(edited_bundle(tmp_path, flat)).suggest_curves([_sphere()])[0]
    assert not s.outlier and s.confidence == pytest.approx(0.3)


def test_msp_outlier_score_is_the_standardised_negative_log_max_probability():
    from sasview_automodel.scoring import OutlierModel
    model = OutlierModel(None, None, threshold=1.5, method="msp", standardise=(0.0, 1.0, 0.5, 0.25))
    probs = np.full((3, 9), 0.05 / 8)
    probs[:, 0] = [0.95, 0.5, 0.12]
    probs[1, 1:] = 0.5 / 8
    probs[2, 1:] = 0.88 / 8
    score = model.score(np.zeros((3, 4)), probs)     # no embedding statistics, no knn output needed
    np.testing.assert_allclose(score, (-np.log(probs.max(1)) - 0.5) / 0.25)
    assert list(score > model.threshold) == [False, False, True]
    assert OutlierModel.from_card({"method_id": "msp", "threshold": 1.5, "standardise": [0, 1, 0.5, 0.25]}).method == "msp"


def test_knn_outlier_score_is_the_standardised_sum_and_needs_the_network_output():
    from sasview_automodel.scoring import OutlierModel
    model = OutlierModel(np.zeros((9, 4)), np.eye(4), threshold=2.0, method="knn+msp", standardise=(0.2, 0.1, 0.5, 0.25))
    probs = np.full((3, 9), 0.1 / 8)
    probs[:, 0] = 0.9
    with pytest.raises(ValueError, match="knn_distance"):
        model.score(np.zeros((3, 4)), probs)
    knn = np.array([0.1, 0.2, 0.6])
    score = model.score(np.zeros((3, 4)), probs, knn)
    np.testing.assert_allclose(score, (knn - 0.2) / 0.1 + (-np.log(0.9) - 0.5) / 0.25)
    assert list(score > model.threshold) == [False, False, True]
