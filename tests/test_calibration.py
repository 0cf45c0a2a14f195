"""Export-time calibration (training/calibration.py): scikit-learn fits of the confidence model."""
import numpy as np
import pytest

from training.calibration import fit_isotonic, fit_logistic


def _newton_logistic(x, y, l2=1e-3, iterations=60):
    """The objective fit_logistic minimises, solved by Newton's method (reference)."""
    a = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(a.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-a @ w))
        grad = a.T @ (p - y) + l2 * np.r_[w[:-1], 0.0]
        hess = (a * (p * (1 - p))[:, None]).T @ a + l2 * np.eye(a.shape[1])
        w -= np.linalg.solve(hess, grad)
    return w


def test_logistic_weights_are_the_regularised_maximum_likelihood():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 5))
    true = np.array([1.5, -2.0, 0.0, 0.7, 3.0])
    y = (rng.uniform(size=3000) < 1 / (1 + np.exp(-(x @ true - 0.5)))).astype(float)
    w = fit_logistic(x, y)
    assert w.shape == (6,)
    assert w == pytest.approx(_newton_logistic(x, y), abs=1e-4)
    assert w[:5] == pytest.approx(true, abs=0.25) and w[5] == pytest.approx(-0.5, abs=0.2)


def test_isotonic_recalibration_is_monotone_and_calibrates():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=4000)
    y = (rng.uniform(size=4000) < x ** 2).astype(float)
    kx, ky = fit_isotonic(x, y)
    assert len(kx) <= 40 and np.all(np.diff(kx) > 0) and np.all(np.diff(ky) >= 0)
    assert kx[0] == x.min() and kx[-1] == x.max() and 0 <= ky[0] and ky[-1] <= 1
    assert np.interp(0.5, kx, ky) == pytest.approx(0.25, abs=0.06)
    assert np.interp(0.9, kx, ky) == pytest.approx(0.81, abs=0.06)


def test_isotonic_of_a_decreasing_truth_is_flat():
    x = np.linspace(0, 1, 200)
    kx, ky = fit_isotonic(x, 1.0 - x)
    assert np.allclose(ky, 0.5)


def test_export_calibrates_only_on_curves_the_runtime_answers():
    from sasview_automodel.encoding import MASK
    from sasview_automodel.grid import MIN_COVERED_BINS, featurize_many
    from training.export import answerable

    q = np.geomspace(0.005, 0.5, 200)
    feats, _ = featurize_many([(q, 1.0 / (1 + (q * 50) ** 4), 0.05 / (1 + (q * 50) ** 4))])
    x = np.concatenate([feats, np.zeros_like(feats)])   # a curve and one with no covered bin
    x[1, MASK, :MIN_COVERED_BINS - 1] = 1.0              # one bin short of the runtime's rule
    kept, labels = answerable(x, np.array([3, 5]))
    assert len(kept) == 1 and labels.tolist() == [3] and np.array_equal(kept[0], feats[0])
