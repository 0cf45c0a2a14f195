"""Concentrated samples in the simulated database (issue 9, data side): P@S products under
``--sq-fraction``, and the dilute database left exactly as it was. Tiny databases, seconds."""
import json

import h5py
import numpy as np
import pytest

from sasview_automodel.catalog import (CLASSES, EFFECTIVE_RADIUS_MODE, SQ_NAMES, STRUCTURE_FACTORS,
                                       structure_factor_index)
from training import simulate
from training.data import load_database

SEED, CHUNK = 3, 9


def _reference_dilute(n: int, seed: int) -> dict:
    """The dilute database as the code before issue 9 wrote it (its simulate_one, verbatim)."""
    from sasmodels.direct_model import call_kernel

    rows = []
    for index in range(n):
        spec = CLASSES[index % len(CLASSES)]
        for attempt in range(10):
            rng = np.random.default_rng([seed, index, attempt])
            pars = spec.draw(rng)
            intensity = np.asarray(call_kernel(simulate._kernel(spec.name), dict(pars, scale=1.0, background=0.0)))
            if np.all(np.isfinite(intensity)) and np.all(intensity > 0):
                rows.append((index % len(CLASSES), (intensity / intensity[0]).astype(np.float32), pars,
                             spec.feature_lengths(pars)))
                break
    return {"label": np.array([r[0] for r in rows], np.int8), "intensity": np.stack([r[1] for r in rows]),
            "params": [json.dumps(r[2]) for r in rows], "lengths": np.array([r[3] for r in rows], np.float32)}


def _read(path):
    with h5py.File(path, "r") as f:
        return ({k: f[k][:] for k in f}, dict(f.attrs), {k: (f[k].dtype, f[k].maxshape, f[k].chunks) for k in f})


@pytest.fixture(scope="module")
def dilute_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dilute") / "db.h5")
    simulate.run(path, 18, chunk=CHUNK, seed=SEED, workers=1, progress=False)
    return path


@pytest.fixture(scope="module")
def sq_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sq") / "db.h5")
    simulate.run(path, 18, chunk=CHUNK, seed=SEED, workers=1, progress=False, sq_fraction=0.5)
    return path


def test_table_rows_are_sasmodels_structure_factors_with_modes_for_every_class():
    assert SQ_NAMES == ("hardsphere", "hayter_msa", "stickyhardsphere", "squarewell")
    assert set(EFFECTIVE_RADIUS_MODE) == {c.name for c in CLASSES}
    for sf in STRUCTURE_FACTORS:
        assert sf.params[0].name == "volfraction" and 0.01 <= sf.params[0].low and sf.params[0].high <= 0.5
    for c in CLASSES:  # the mode named in the catalog exists in sasmodels' product model
        assert simulate.radius_effective_mode(c.name, "hardsphere") >= 1
    assert structure_factor_index("hayter_msa") == 1


def test_default_database_is_the_dilute_database_of_before(dilute_db):
    data, attrs, layout = _read(dilute_db)
    assert set(data) == {"q", "intensity", "label", "params", "lengths", "done"}  # no sq_* datasets
    assert set(attrs) == {"seed", "chunk", "classes", "created"}                  # no sq_* attributes
    ref = _reference_dilute(18, SEED)
    np.testing.assert_array_equal(data["intensity"], ref["intensity"])           # bit for bit
    np.testing.assert_array_equal(data["label"], ref["label"])
    np.testing.assert_array_equal(data["lengths"], ref["lengths"])
    assert [p.decode() for p in data["params"]] == ref["params"]
    np.testing.assert_array_equal(data["q"], simulate.Q_FINE)
    assert layout["intensity"] == (np.dtype("f4"), (None, 512), (CHUNK, 512))
    assert layout["label"][0] == np.dtype("i1") and data["done"].all()
    # an explicit sq_fraction=0 and simulate_one are the same path
    assert np.array_equal(simulate.simulate_one(4, SEED)[1], ref["intensity"][4])


def test_product_choice_is_a_pure_function_at_the_requested_fraction():
    picks = np.array([simulate.is_product(i, 20241, 0.4) for i in range(20000)])
    assert abs(picks.mean() - 0.4) < 0.015
    assert all(picks[i] == simulate.is_product(i, 20241, 0.4) for i in range(0, 20000, 997))
    for k in range(9):  # every form-factor class gets its share
        assert abs(picks[k::9].mean() - 0.4) < 0.04
    assert not any(simulate.is_product(i, 20241, 0.0) for i in range(1000))


def test_products_in_the_database(sq_db):
    data, attrs, _ = _read(sq_db)
    assert attrs["sq_fraction"] == 0.5 and json.loads(attrs["structure_factors"]) == list(SQ_NAMES)
    n = data["label"].shape[0]
    np.testing.assert_array_equal(data["label"], np.arange(n) % 9)                # class stays index % 9
    expected = np.array([simulate.is_product(i, SEED, 0.5) for i in range(n)])
    assert np.array_equal(data["sq_label"] >= 0, expected) and 0 < expected.sum() < n
    assert np.all(np.isfinite(data["intensity"])) and np.all(data["intensity"] > 0)
    for i in range(n):
        if expected[i]:
            rec = json.loads(data["sq_params"][i])
            assert rec["name"] == SQ_NAMES[data["sq_label"][i]]
            assert rec["radius_effective"] > 0 and 0 < rec["volfraction"] < 0.5 and rec["s_max"] > 0
            assert rec["radius_effective_mode"] == EFFECTIVE_RADIUS_MODE[CLASSES[i % 9].name]
            assert CLASSES[i % 9].allows(json.loads(data["params"][i]))           # form params unchanged rules
        else:
            assert data["sq_params"][i] == b""
    # dilute rows of a mixed database are the dilute curves of the same (seed, index)
    dilute = _read_dilute_rows(n)
    for i in np.flatnonzero(~expected):
        np.testing.assert_array_equal(data["intensity"][i], dilute[i])


def _read_dilute_rows(n):
    return {i: simulate.simulate_one(i, SEED)[1] for i in range(n)}


@pytest.mark.parametrize("sq", SQ_NAMES)
def test_every_structure_factor_gives_valid_products(sq):
    k = structure_factor_index(sq)
    rng = np.random.default_rng(5)
    for form in ("sphere", "vesicle", "hollow_cylinder"):
        spec = next(c for c in CLASSES if c.name == form)
        made = 0
        for _ in range(10):
            out = simulate.simulate_product(form, spec.draw(rng), k, STRUCTURE_FACTORS[k].draw(rng))
            if out is not None:
                intensity, rec = out
                assert np.all(np.isfinite(intensity)) and np.all(intensity > 0)
                # hollow bodies: S sees the enclosed volume fraction that was drawn (within PD averaging)
                assert rec["volfraction"] == pytest.approx(rec["volfraction_target"], rel=0.35)
                made += 1
        assert made >= 8


def test_hardsphere_at_04_gives_a_visible_peak_at_the_contact_distance():
    from sasmodels.direct_model import call_kernel

    pars = {"radius": 50.0, "sld": 4.0, "sld_solvent": 1.0, "radius_pd": 0.0, "radius_pd_n": 35,
            "radius_pd_nsigma": 3.0, "radius_pd_type": "schulz"}
    out = simulate.simulate_product("sphere", pars, structure_factor_index("hardsphere"), {"volfraction": 0.4})
    assert out is not None
    product, rec = out
    assert rec["radius_effective"] == pytest.approx(50.0)
    form = np.asarray(call_kernel(simulate._kernel("sphere"), dict(pars, scale=1.0, background=0.0)))
    s_q = product / (0.4 * form)          # I(q)/P(q): P@S = volfraction * P * S
    q = simulate.Q_FINE
    peak = np.argmax(np.where(q < 0.2, s_q, 0))
    assert s_q[peak] > 1.2
    q_contact = 2 * np.pi / (2 * rec["radius_effective"])
    assert 0.8 * q_contact < q[peak] < 1.4 * q_contact
    assert s_q[0] < 0.1                    # S(0) = (1-phi)^4/(1+2phi)^2 = 0.04: the low-q dip


def test_resuming_with_another_fraction_is_refused(dilute_db, sq_db, tmp_path):
    with pytest.raises(SystemExit, match="sq-fraction 0.5, not 0.4"):
        simulate.run(sq_db, 27, chunk=CHUNK, seed=SEED, workers=1, progress=False, sq_fraction=0.4)
    with pytest.raises(SystemExit, match="sq-fraction 0, not 0.4"):
        simulate.run(dilute_db, 27, chunk=CHUNK, seed=SEED, workers=1, progress=False, sq_fraction=0.4)
    with pytest.raises(SystemExit, match="sq-fraction 0.5, not 0"):
        simulate.run(sq_db, 27, chunk=CHUNK, seed=SEED, workers=1, progress=False)
    with pytest.raises(SystemExit, match=r"\[0, 1\]"):
        simulate.run(str(tmp_path / "x.h5"), 9, chunk=CHUNK, seed=SEED, workers=1, progress=False, sq_fraction=1.5)
    with h5py.File(sq_db, "r") as f:   # the refused runs left the files as they were
        assert f["label"].shape[0] == 18
    # the same fraction resumes: nothing left to do
    simulate.run(sq_db, 18, chunk=CHUNK, seed=SEED, workers=1, progress=False, sq_fraction=0.5)


def test_load_database_reads_sq_label(dilute_db, sq_db):
    db = load_database(sq_db)
    with h5py.File(sq_db, "r") as f:
        expected = f["sq_label"][:]
    np.testing.assert_array_equal(db.sq_label, expected[db.index])
    train = db.subset("train")
    np.testing.assert_array_equal(train.sq_label, db.sq_label[np.isin(db.index, train.index)])
    assert db.subset("test").sq_label.shape == db.subset("test").label.shape
    dilute = load_database(dilute_db)
    assert dilute.sq_label.dtype == np.int8 and np.all(dilute.sq_label == -1) and len(dilute.sq_label) == len(dilute)
