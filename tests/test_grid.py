"""Preprocessing shared by training and runtime: mask, units, grid edges, invariances."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sasview_automodel import grid
from sasview_automodel.curve import make_curve
from sasview_automodel.errors import InputError
from tests.conftest import sphere_curve


def test_grid_is_log_spaced_over_the_documented_range():
    assert grid.GRID_Q.size == 256
    assert grid.GRID_Q[0] == pytest.approx(3e-4) and grid.GRID_Q[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(grid.GRID_Q)), np.log10(grid.GRID_Q[1] / grid.GRID_Q[0]))


def test_mask_covers_exactly_the_bins_with_data():
    q, i, s = sphere_curve(qmin=0.01, qmax=0.1)
    f, info = grid.featurize(q, i, s)
    covered = np.flatnonzero(f[1])
    assert covered[0] == info.first_bin and covered[-1] == info.last_bin
    assert grid.GRID_Q[covered[0]] == pytest.approx(0.01, rel=0.03)
    assert grid.GRID_Q[covered[-1]] == pytest.approx(0.1, rel=0.03)
    assert np.all(f[:, : covered[0]] == 0) and np.all(f[:, covered[-1] + 1:] == 0)


def test_points_outside_the_grid_are_dropped_and_counted():
    q = np.geomspace(1e-4, 3.0, 300)
    f, info = grid.featurize(q, q**-2.0)
    assert info.n_outside == np.sum((q < grid.GRID_EDGES_Q[0]) | (q > grid.GRID_EDGES_Q[-1]))
    assert f[1, 0] == 1 and f[1, -1] == 1


def test_scale_invariance_and_log_slope():
    q, i, s = sphere_curve()
    f1, _ = grid.featurize(q, i, s)
    f2, _ = grid.featurize(q, 1e5 * i, 1e5 * s)
    assert np.allclose(f1, f2, atol=1e-5)
    # a power law I = q^-4 has a log-intensity channel with slope -4 per decade
    qq = np.geomspace(0.01, 0.5, 400)
    f, info = grid.featurize(qq, qq**-4.0, 0.01 * qq**-4.0)
    span = np.flatnonzero(f[1])[2:-2]
    slope = np.polyfit(np.log10(grid.GRID_Q[span]), f[0, span], 1)[0]
    assert slope == pytest.approx(-4.0, abs=0.02)


def test_empty_bins_inside_the_window_are_interpolated():
    q = np.geomspace(0.005, 0.5, 40)  # sparser than the grid
    f, info = grid.featurize(q, q**-2.0, 0.02 * q**-2.0)
    span = np.arange(info.first_bin, info.last_bin + 1)
    assert np.all(f[1, span] == 1)
    assert np.all(np.abs(np.diff(f[0, span], 2)) < 1e-6)  # straight line in log-log


def test_nonpositive_points_dropped_and_sigma_estimated_when_missing():
    q, i, _ = sphere_curve()
    i[-10:] = -1.0
    f, info = grid.featurize(q, i)
    assert info.n_nonpositive == 10 and info.sigma_estimated
    assert np.all(np.isfinite(f))


def test_resolution_channels():
    q, i, s = sphere_curve()
    f, _ = grid.featurize(q, i, s, dq=0.05 * q)
    on = f[1] > 0
    assert np.allclose(f[3, on], 5 * 0.05, atol=1e-6) and np.all(f[4] == 0)
    f, _ = grid.featurize(q, i, s, slit_length=0.05)
    assert np.allclose(f[4, on], np.log10(1 + 0.05 / grid.GRID_Q[on]), atol=1e-6) and np.all(f[3] == 0)


def test_q_unit_nm_is_converted_to_inverse_angstrom():
    q, i, s = sphere_curve()
    c_a = make_curve(q, i, s)
    c_nm = make_curve(q * 10, i, s, q_unit="nm")
    assert np.allclose(c_a.q, c_nm.q)
    assert np.allclose(grid.featurize(*c_a.as_tuple())[0], grid.featurize(*c_nm.as_tuple())[0])


def test_window_outside_the_grid_is_a_clear_error():
    q = np.geomspace(2.0, 20.0, 50)
    with pytest.raises(InputError, match="outside the classifier's range"):
        make_curve(q, q**-2)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), seed=st.integers(0, 2**31 - 1), with_sigma=st.booleans(), with_dq=st.booleans())
def test_featurize_never_produces_non_finite_values(n, seed, with_sigma, with_dq):
    rng = np.random.default_rng(seed)
    q = 10 ** rng.uniform(-5, 1, n)
    i = rng.choice([1.0, -1.0, np.nan, np.inf, 0.0], n, p=[0.85, 0.05, 0.04, 0.03, 0.03]) * 10 ** rng.uniform(-3, 5, n)
    s = np.abs(i) * rng.uniform(0, 0.2, n) if with_sigma else None
    d = q * rng.uniform(0, 0.3, n) if with_dq else None
    f, info = grid.featurize(q, i, s, d)
    assert f.shape == (len(grid.CHANNELS), grid.GRID_SIZE) and f.dtype == np.float32
    assert np.all(np.isfinite(f))
    assert set(np.unique(f[1])) <= {0.0, 1.0}
