"""Guards for speed-ups of the hot path: the results must not depend on how curves are
batched, and the outlier score must equal the textbook formula."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tests.conftest import same_result

from sasview_automodel import grid, scoring
from sasview_automodel.batch import ONNX_BATCH, suggest_chunk
from sasview_automodel.curve import make_curve
from tests.synthetic import synthetic_curves


def _curves(n, seed=0):
    out = []
    for k, (q, i, s, dq) in enumerate(synthetic_curves(n, seed=seed)):
        if k % 3 == 1:
            s = None
        elif k % 3 == 2:
            s = s.copy()
            s[::5] = 0.0  # some points without a usable sigma
        out.append(make_curve(q, i, s, dq, name=f"c{k}"))
    return out


def test_mahalanobis_equals_the_explicit_formula():
    rng = np.random.default_rng(0)
    for e in (8, 128):
        a = rng.standard_normal((e, e))
        precision = a @ a.T / e + np.eye(e)
        means = rng.standard_normal((9, e))
        emb = (3 * rng.standard_normal((300, e))).astype(np.float32)
        diff = emb.astype(np.float64)[:, None, :] - means[None]
        explicit = np.array([[d @ precision @ d for d in row] for row in diff]).min(axis=1)
        got = scoring.mahalanobis_min(emb, means, precision)
        np.testing.assert_allclose(got, explicit, rtol=1e-12)
        assert np.array_equal(np.round(got, 4), np.round(explicit, 4))


def test_results_do_not_depend_on_the_batch(suggester):
    curves = _curves(2 * ONNX_BATCH + 17)
    whole = [r.to_dict() for r in suggester.suggest_curves(curves)]
    chunked = [r.to_dict() for r in suggest_chunk(curves)]
    one_by_one = [suggester.suggest_curves([c])[0].to_dict() for c in curves[::10]]
    assert same_result(whole, chunked)
    assert same_result(whole[::10], one_by_one)


def test_featurize_many_equals_featurize_one_by_one():
    curves = _curves(60, seed=1)
    batch, infos = grid.featurize_many(c.as_tuple() for c in curves)
    for c, f, info in zip(curves, batch, infos):
        f1, info1 = grid.featurize(*c.as_tuple())
        assert np.array_equal(f, f1) and info == info1


# -- the vectorised paths equal the per-curve ones, bit for bit --------------------------------

@st.composite
def raw_curves(draw):
    """(q, I, sigma, dq, slit_length) as featurize accepts them: clean or hostile, any q window."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.sampled_from([0, 1, 2, 5, 12, 40, 200, 400]))
    lo = draw(st.floats(-5.0, 0.5))
    q = 10 ** rng.uniform(lo, lo + draw(st.floats(0.0, 4.0)), n)
    if draw(st.booleans()):
        q = np.sort(q)
    if draw(st.booleans()) and n > 4:
        q[1] = q[0]  # a repeated q value
    i = 10 ** rng.uniform(-3, 5, n)
    if draw(st.booleans()):  # NaN, inf, zero and negative intensities, non-positive q
        i = i * rng.choice([1.0, -1.0, np.nan, np.inf, 0.0], n, p=[0.8, 0.05, 0.05, 0.05, 0.05])
        q = q * rng.choice([1.0, 0.0, -1.0, np.nan], n, p=[0.9, 0.04, 0.03, 0.03])
    sigma_kind = draw(st.sampled_from(["none", "good", "zeros", "nan", "all_zero", "wrong_size"]))
    sigma = None if sigma_kind == "none" else np.abs(i) * rng.uniform(0.001, 0.2, n)
    if sigma_kind == "zeros":
        sigma[::3] = 0.0
    elif sigma_kind == "nan" and n:
        sigma[0] = np.nan
    elif sigma_kind == "all_zero":
        sigma[:] = 0.0
    elif sigma_kind == "wrong_size":
        sigma = sigma[:-1] if n else np.ones(3)
    dq_kind = draw(st.sampled_from(["none", "good", "bad"]))
    dq = None if dq_kind == "none" else q * rng.uniform(0.0, 0.3, n)
    if dq_kind == "bad" and n:
        dq[::4] = rng.choice([-1.0, np.nan, np.inf])
    slit = draw(st.sampled_from([None, None, 0.0, 0.01, 0.2]))
    return q, i, sigma, dq, slit


@settings(max_examples=150, deadline=None)
@given(curves=st.lists(raw_curves(), min_size=grid.MIN_PASS_CURVES, max_size=12))
def test_featurize_many_equals_featurize_on_random_curves(curves):
    with np.errstate(all="ignore"):
        batch, infos = grid.featurize_many(curves)
        for c, f, info in zip(curves, batch, infos):
            f1, info1 = grid.featurize(*c)
            assert np.array_equal(f, f1) and info == info1


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.integers(1, 40), ties=st.booleans(), spans=st.booleans())
def test_masked_median_equals_np_median(seed, rows, ties, spans):
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 3.0, (rows, grid.GRID_SIZE)).astype(np.float32)
    if ties:
        values = np.round(values, 1)
    if spans:  # the mask channel: one contiguous span per row (or none)
        first = rng.integers(0, grid.GRID_SIZE, rows)
        last = first + rng.integers(-1, grid.GRID_SIZE, rows)
        cols = np.arange(grid.GRID_SIZE)
        mask = (cols >= first[:, None]) & (cols <= last[:, None])
    else:
        mask = rng.random((rows, grid.GRID_SIZE)) < rng.uniform(0, 1)
    want = [float(np.median(v[m])) if m.any() else 1.0 for v, m in zip(values, mask)]
    assert scoring.masked_median(values, mask, 1.0).tolist() == want


def test_batch_results_equal_per_curve_results():
    """With one ONNX thread the network's output does not depend on the batch, so every
    number of a batch result equals the one-curve result exactly."""
    from sasview_automodel import Suggester

    one_thread = Suggester(threads=1)
    curves = _curves(40, seed=3)
    curves += [make_curve(c.q, c.intensity, c.sigma, slit_length=0.02, name=f"slit{k}") for k, c in enumerate(curves[:5])]
    batch = [r.to_dict() for r in one_thread.suggest_curves(curves)]
    single = [one_thread.suggest_curves([c])[0].to_dict() for c in curves]
    assert batch == single
