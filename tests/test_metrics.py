"""training/metrics.py on cases small enough to compute by hand."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from training.metrics import auroc, brier, ece_of_confidence, ece_of_probs, energy, fpr_at_tpr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- AUROC: P(outlier scores higher than an in-distribution curve), higher score = stranger ---------
def test_auroc_perfect_reversed_and_tied():
    assert auroc(np.array([0.0, 1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert auroc(np.array([3.0, 4.0]), np.array([0.0, 1.0, 2.0])) == 0.0
    assert auroc(np.full(4, 7.0), np.full(3, 7.0)) == 0.5


def test_auroc_counts_pairs_and_ties_half():
    # pairs (out, in): 1>0, 1<2, 3>0, 3>2 -> 3 of 4
    assert auroc(np.array([0.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(0.75, abs=1e-15)
    # 1>0, 1=1 (half), 2>0, 2>1 -> 3.5 of 4
    assert auroc(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(0.875, abs=1e-15)


def test_auroc_of_an_empty_set_is_nan():
    assert math.isnan(auroc(np.array([0.0, 1.0]), np.array([])))
    assert math.isnan(auroc(np.array([]), np.array([0.0, 1.0])))


# -- FPR at 95 % TPR --------------------------------------------------------------------------------
def test_fpr_at_tpr_accepts_outliers_at_or_below_the_in_distribution_quantile():
    score_in = np.arange(101.0)                      # 95 % quantile: exactly 95
    score_out = np.array([94.0, 95.0, 95.5, 96.0, 200.0])
    assert fpr_at_tpr(score_in, score_out) == pytest.approx(2 / 5)
    assert fpr_at_tpr(score_in, score_out, tpr=0.5) == 0.0   # threshold 50


def test_fpr_at_tpr_threshold_is_the_linearly_interpolated_quantile():
    # between 0 and 10 the 95 % quantile is 9.5: 9 is accepted, 9.6 is not (a threshold at an
    # observed in-distribution score, 10, would accept both)
    assert fpr_at_tpr(np.array([0.0, 10.0]), np.array([9.0, 9.6])) == pytest.approx(0.5)


# -- energy -----------------------------------------------------------------------------------------
def test_energy_is_minus_logsumexp_and_higher_for_flatter_logits():
    assert energy(np.array([[0.0, 0.0]]))[0] == pytest.approx(-math.log(2))
    assert energy(np.array([[1000.0, 1000.0]]))[0] == pytest.approx(-(1000 + math.log(2)))   # no overflow
    peaked, flat = energy(np.array([[10.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    assert flat > peaked                              # flat logits: the stranger curve
    assert flat == pytest.approx(-(1 + math.log(3)))


# -- ECE (15 equal-width bins (lo, hi]) -------------------------------------------------------------
def test_ece_of_confidence_toy_cases():
    # one bin: confidence 0.9, 8 of 10 right -> |0.9 - 0.8|
    assert ece_of_confidence(np.full(10, 0.9), np.r_[np.ones(8), np.zeros(2)]) == pytest.approx(0.1)
    # two bins, half the curves each: 0.5 |0.2 - 0| + 0.5 |0.9 - 1|
    assert ece_of_confidence(np.array([0.2, 0.2, 0.9, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(0.15)
    # calibrated: confidence 0.5, half right
    assert ece_of_confidence(np.full(4, 0.5), np.array([1, 0, 1, 0])) == pytest.approx(0.0, abs=1e-15)
    # bool correctness, confidence 1 in the last bin
    assert ece_of_confidence(np.array([1.0, 1.0]), np.array([True, False])) == pytest.approx(0.5)


def test_ece_bins_are_open_below_and_closed_above():
    # 1/15 is the first bin's upper edge: 0.0666 and 1/15 share the bin, 0.0667 lies in the next
    lo, edge, hi = 0.0666, 1 / 15, 0.0667
    together = ece_of_confidence(np.array([lo, edge]), np.array([0, 0]))
    assert together == pytest.approx((lo + edge) / 2)
    # split into two bins, each half the curves: 0.5 |edge - 1| + 0.5 |hi - 0|
    assert ece_of_confidence(np.array([edge, hi]), np.array([1, 0])) == pytest.approx(0.5 * (1 - edge) + 0.5 * hi)
    # a confidence of exactly 0 is in no bin but counts in the total (as the reports always had it)
    assert ece_of_confidence(np.array([0.0, 0.5]), np.array([1, 1])) == pytest.approx(0.25)


def test_ece_of_probs_uses_the_top1_probability_and_class():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    # top-1 confidence 0.9, 0.9, 0.7, 0.7; right 1, 0, 1, 1 -> 0.5 |0.9 - 0.5| + 0.5 |0.7 - 1|
    assert ece_of_probs(probs, labels) == pytest.approx(0.35)
    assert ece_of_probs(probs, labels) == ece_of_confidence(probs.max(1), probs.argmax(1) == labels)


# -- Brier ------------------------------------------------------------------------------------------
def test_brier_multiclass_not_halved():
    assert brier(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0, 0])) == pytest.approx(0.25)
    assert brier(np.array([[0.0, 1.0]]), np.array([0])) == pytest.approx(2.0)
    assert brier(np.array([[0.2, 0.3, 0.5]]), np.array([2])) == pytest.approx(0.04 + 0.09 + 0.25)


# -- imports --------------------------------------------------------------------------------------
def test_runtime_needs_no_sklearn_and_training_sets_no_environment_on_import():
    """The runtime package imports neither scikit-learn nor scipy; no module here sets SAS_OPENCL
    (or anything else in os.environ) when imported."""
    code = """
import importlib, os, pkgutil, sys
before = dict(os.environ)
import sasview_automodel
for m in pkgutil.walk_packages(sasview_automodel.__path__, "sasview_automodel."):
    if ".gui" not in m.name and not m.name.endswith("__main__"):
        importlib.import_module(m.name)
runtime = sorted({k.split(".")[0] for k in sys.modules} & {"sklearn", "scipy"})
import training.metrics, training.structure, training.ood, training.calibrate_sets
print(runtime, dict(os.environ) == before)
"""
    env = {k: v for k, v in os.environ.items() if k != "SAS_OPENCL"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "[] True"
