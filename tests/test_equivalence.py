"""Guards for speed-ups of the hot path: the results must not depend on how curves are
batched, and the outlier score must equal the textbook formula."""
import numpy as np

from tests.conftest import same_result

from sasview_automodel import grid, scoring
from sasview_automodel.batch import ONNX_BATCH, suggest_chunk
from sasview_automodel.bench import synthetic_curves
from sasview_automodel.curve import make_curve


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
