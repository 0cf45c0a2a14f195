"""The train/serve encoding contract (sasview_automodel.encoding): decode inverts encode, and
training's vectorised targets are the runtime's per-curve ones."""
import numpy as np
import pytest

from sasview_automodel import catalog, encoding, grid


@pytest.mark.parametrize("kind, value", [("length", 35.0), ("length", 4200.0), ("ratio", 0.3), ("ratio", 7.5),
                                         ("pd", 0.0), ("pd", 0.12), ("pd", 0.4)])
@pytest.mark.parametrize("q_ref", [3e-4, 0.02])
def test_decode_slot_inverts_encode_slot(kind, value, q_ref):
    v = float(encoding.encode_slot(kind, value, q_ref))
    assert encoding.decode_slot(kind, v, q_ref) == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_slot_encoding_is_relative_to_the_window_and_clips_pd():
    # a length's target depends on q_ref (the window), a ratio's and a width's do not
    assert encoding.encode_slot("length", 100.0, 0.01) == pytest.approx(0.0)
    assert encoding.encode_slot("ratio", 100.0, 0.01) == encoding.encode_slot("ratio", 100.0, 1.0) == pytest.approx(2.0)
    assert encoding.encode_slot("pd", 0.1, 0.01) == pytest.approx(encoding.PD_SCALE * 0.1)
    assert encoding.decode_slot("pd", -1.0, 0.01) == encoding.PD_RANGE[0]
    assert encoding.decode_slot("pd", 5.0, 0.01) == encoding.PD_RANGE[1]
    assert encoding.slot_kind("x_core") == "ratio" and encoding.slot_kind("radius") == "length"


def test_catalog_targets_round_trip_for_every_class():
    rng = np.random.default_rng(3)
    for label, spec in enumerate(catalog.CLASSES):
        pars = spec.draw(rng)
        q_ref = float(grid.GRID_Q[40])
        targets, mask = catalog.encode_targets(label, pars, q_ref)
        back = catalog.decode_targets(targets, label, q_ref)
        assert set(back) == {name for _, name, _ in catalog.SLOTS_BY_CLASS[label]} and mask.sum() == len(back)
        for name, value in back.items():   # float32 targets: about 7 digits
            want = min(float(pars[name]), encoding.PD_RANGE[1]) if name.endswith("_pd") else float(pars[name])
            assert value == pytest.approx(want, rel=1e-5, abs=1e-6), (spec.name, name)


def test_volfraction_round_trips_and_clips():
    vf = np.array([0.001, 0.01, 0.2, 0.45, 0.6], np.float32)
    assert np.allclose(encoding.decode_volfraction(encoding.encode_volfraction(vf)), vf, rtol=1e-6)
    assert np.allclose(encoding.encode_volfraction(vf), encoding.VOLFRACTION_SCALE * vf)
    lo, hi = encoding.VOLFRACTION_RANGE
    assert encoding.decode_volfraction(np.array([-1.0, 10.0])).tolist() == [lo, hi]


def test_training_targets_match_the_runtime_encoding():
    from training.data import Database, q_reference, regression_targets

    rng = np.random.default_rng(5)
    labels = np.arange(len(catalog.CLASSES))
    slots = np.zeros((len(labels), len(catalog.REGRESSION_SLOTS)), np.float32)
    drawn = [catalog.CLASSES[k].draw(rng) for k in labels]
    for r, pars in enumerate(drawn):
        slots[r] = [pars[name] if k == labels[r] else 0.0 for k, name, _ in catalog.REGRESSION_SLOTS]
    feats = np.zeros((len(labels), len(encoding.CHANNELS), grid.GRID_SIZE), np.float32)
    for r in labels:
        feats[r, encoding.MASK, 10 + 3 * r:] = 1.0
    db = Database(np.ones(2), np.ones((len(labels), 2), np.float32), labels, np.ones((len(labels), 2)),
                  np.arange(len(labels)), slot_values=slots)
    q_ref = q_reference(feats)
    assert np.array_equal(q_ref, grid.GRID_Q[10 + 3 * labels])
    t, m = regression_targets(db, labels, q_ref)
    for r, pars in enumerate(drawn):
        want, want_mask = catalog.encode_targets(int(labels[r]), {k: np.float32(v) for k, v in pars.items()
                                                                  if not isinstance(v, str)}, float(q_ref[r]))
        assert np.array_equal(m[r], want_mask)
        assert np.allclose(t[r], want, rtol=0, atol=1e-6)


def test_grid_channels_are_the_contracts():
    assert grid.CHANNELS is encoding.CHANNELS
    assert encoding.CHANNELS[encoding.MASK] == "mask" and encoding.CHANNELS[encoding.SLIT] == "slit"
    q = np.geomspace(0.01, 0.1, 80)
    f, _ = grid.featurize(q, q ** -3.0, 0.05 * q ** -3.0, 0.1 * q)
    covered = f[encoding.MASK] > 0
    assert np.allclose(f[encoding.DQ_OVER_Q, covered], encoding.DQ_OVER_Q_SCALE * 0.1, rtol=1e-5)
    assert np.all(f[encoding.SLIT] == 0)
