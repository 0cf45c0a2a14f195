"""Concentrated curves made on the fly (training/structure.py), outlier exposure (training/exposure.py)
and the mixed training batch: the product must be what sasmodels' own P@S computes."""
import json

import numpy as np
import pytest

from sasview_automodel.catalog import CLASSES, SQ_NAMES, STRUCTURE_FACTORS
from training import simulate
from training.exposure import FAMILIES, exposure_curve
from training.structure import SBank, effective_radii, visible


@pytest.fixture(scope="module")
def bank():
    return SBank.build(per_kind=20, seed=11)


def _row(label: int, index: int = 0):
    pars = CLASSES[label].draw(np.random.default_rng([5, label, index]))
    from sasmodels.direct_model import call_kernel
    i = np.asarray(call_kernel(simulate._kernel(CLASSES[label].name), dict(pars, scale=1.0, background=0.0)))
    return pars, i / i[0]


@pytest.mark.parametrize("label", range(len(CLASSES)))
@pytest.mark.parametrize("sq", ["hardsphere", "stickyhardsphere", "squarewell"])
def test_bank_product_equals_sasmodels_product(bank, label, sq):
    # Hayter MSA is left out: its bank curves are made at a random reference radius (absolute
    # Debye length), so they equal a sasmodels product only for rescaled charge and salt.
    pars, dilute = _row(label)
    reff = effective_radii(np.array([label]), np.array([json.dumps(pars)]))[0]
    k = SQ_NAMES.index(sq)
    entry = int(np.flatnonzero(bank.kind == k)[0])
    sq_pars = json.loads(bank.params[entry])
    sq_pars.pop("radius_effective")
    # hollow bodies: simulate_product aims at the volume fraction S sees with the mean-size ratio;
    # ask it for the target that makes S see exactly the bank's value (polydisperse ratio)
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_Fq
    from sasview_automodel.catalog import HOLLOW_VOLUME_RATIO
    name = CLASSES[label].name
    if name in HOLLOW_VOLUME_RATIO:
        kernel = load_model(name).make_kernel([np.array([1e-3])])
        volume_ratio = float(call_Fq(kernel, dict(pars))[4])
        sq_pars["volfraction"] *= HOLLOW_VOLUME_RATIO[name](pars) / volume_ratio
    product = simulate.simulate_product(CLASSES[label].name, pars, k, dict(sq_pars))
    assert product is not None
    mine = dilute * bank.s_of_q(entry, simulate.Q_FINE, float(reff))
    ref = product[0] / product[0][0]
    assert product[1]["radius_effective"] == pytest.approx(float(reff), rel=1e-4)
    # Linear interpolation on the 900-point log x grid: within 1 % up to q R_eff = 100; beyond, the
    # slowly decaying sticky-hard-sphere oscillations (period ~pi in x) are under-sampled, up to ~2.5 %
    # where the form factor has fallen by decades (any instrument's resolution smears them out).
    err = np.abs(mine / mine[0] / ref - 1)
    x = simulate.Q_FINE * reff
    assert err[x <= 100].max() < 0.01 and err.max() < 0.03


def test_effective_radius_of_a_sphere_is_its_radius():
    pars = dict(radius=80.0, sld=2.0, sld_solvent=0.0)
    assert effective_radii(np.array([0]), np.array([json.dumps(pars)]))[0] == pytest.approx(80.0)


def test_visible_needs_a_deviation_inside_the_window():
    q = np.geomspace(1e-3, 1, 100)
    s = np.where(q < 0.01, 0.7, 1.0)
    assert visible(s, q, 1e-3, 1.0) and not visible(s, q, 0.02, 1.0)


def test_bank_curves_are_valid_and_cover_every_structure_factor(bank):
    assert set(bank.kind) == set(range(len(STRUCTURE_FACTORS)))
    assert np.all(np.isfinite(bank.s)) and np.all(bank.s > 0)
    # far above the contact distance every S(q) tends to 1
    assert np.allclose(bank.s_of_q(0, np.array([1e3]), 100.0), 1.0)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_exposure_curves_are_positive_finite_and_normalised(family):
    for seed in range(20):
        i = exposure_curve(simulate.Q_FINE, np.random.default_rng(seed), (family,))
        assert np.all(np.isfinite(i)) and np.all(i > 0) and i[0] == pytest.approx(1.0)


def test_ordered_peaks_are_sharper_than_any_structure_factor():
    """An ordered phase's first Bragg peak stands far above its envelope (a structure factor of
    the catalog peaks at a few times its plateau at most)."""
    from training.exposure import ordered_peaks
    rises = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        i = ordered_peaks(simulate.Q_FINE, rng)
        k = int(np.argmax(i[20:-20])) + 20
        rises.append(i[k] / np.median(i[max(k - 40, 0):k - 10]))
    assert np.median(rises) > 3.0


def test_exposure_families_map_to_evaluation_kinds():
    """Every family names the training/ood.py kinds it resembles, so the evaluation can report
    the outlier score without them."""
    from training.ood import OOD_KINDS, exposure_like
    assert all(set(kinds) <= set(OOD_KINDS) for kinds in FAMILIES.values())
    old = exposure_like({"training": {"config": {}}})
    new = exposure_like({"training": {"config": {"exposure_families": list(FAMILIES)}}})
    assert "polymer_coil" not in old and {"polymer_coil", "lamellar_stack", "microemulsion"} <= set(new)


def test_near_degenerate_curves_carry_their_simpler_class():
    from training.data import SIMPLER
    names = [c.name for c in CLASSES]
    assert SIMPLER[names.index("core_shell_sphere")] == names.index("sphere")
    assert SIMPLER[names.index("ellipsoid")] == names.index("sphere")
    assert SIMPLER[names.index("core_shell_cylinder")] == names.index("cylinder")
    assert SIMPLER[names.index("sphere")] == -1 and SIMPLER[names.index("parallelepiped")] == -1


def test_training_batch_mixes_exposure_and_structure(bank, tmp_path):
    from training.data import Augmentation, Database, train_batch
    from training.simulate import Q_FINE

    rows = [_row(k) for k in range(len(CLASSES))]
    params = np.array([json.dumps(p) for p, _ in rows])
    labels = np.arange(len(CLASSES))
    from sasview_automodel.catalog import REGRESSION_SLOTS
    slots = np.array([[p.get(name, 0.0) if k == lab else 0.0 for k, name, _ in REGRESSION_SLOTS]
                      for lab, (p, _) in zip(labels, rows)], np.float32)
    db = Database(Q_FINE, np.stack([i for _, i in rows]).astype(np.float32), labels,
                  np.array([CLASSES[k].feature_lengths(p) for k, (p, _) in enumerate(rows)]), labels,
                  slot_values=slots, radius_effective=effective_radii(labels, params))
    aug = Augmentation(bank, sq_fraction=0.5, exposure_fraction=0.2)
    x, y, t, m, sq_y, vf, vf_mask = train_batch(db, np.tile(np.arange(9), 20), np.random.default_rng(0), aug)
    exposure = y < 0
    assert 0.05 < exposure.mean() < 0.4 and np.all(sq_y[exposure] == -1) and np.all(m[exposure] == 0)
    assert np.all(np.isfinite(x))
    concentrated = sq_y > 0
    assert concentrated.mean() > 0.2 and np.all(sq_y <= len(STRUCTURE_FACTORS))
    assert np.all(vf_mask[concentrated] == 1) and np.all(vf_mask[~concentrated] == 0)
    vf_max = max(s.params[0].high for s in STRUCTURE_FACTORS)
    assert np.all((vf[concentrated] > 0) & (vf[concentrated] <= 4 * vf_max + 1e-6))
    # the same draws with the identifiability flags appended: the evaluation's rule, per curve
    x2, y2, *_, ident = train_batch(db, np.tile(np.arange(9), 20), np.random.default_rng(0), aug, with_identifiable=True)
    assert np.array_equal(x2, x) and np.array_equal(y2, y) and ident.dtype == bool
    assert not ident[exposure].any() and 0 < ident[~exposure].mean() < 1


@pytest.mark.parametrize("seed", range(5))
def test_two_populations_cross_between_the_two_sizes(seed):
    from sasmodels.direct_model import call_kernel
    from training.exposure import two_populations
    from training.simulate import Q_FINE, _kernel

    def sphere(radius):
        i = np.asarray(call_kernel(_kernel("sphere"), dict(radius=radius, scale=1.0, background=0.0)))
        return i / i[0]
    big, small = sphere(300.0), sphere(40.0)
    i, q_c = two_populations(Q_FINE, big, small, 300.0, 40.0, np.random.default_rng(seed))
    assert np.all(np.isfinite(i)) and np.all(i > 0) and i[0] == pytest.approx(1.0)
    assert 1 / 300.0 <= q_c <= 3 / 40.0
    ratio = i / big                     # the big population alone well below q_c, the small one shows from q_c
    assert np.median(ratio[Q_FINE < q_c / 3]) < 1.5
    assert ratio[np.searchsorted(Q_FINE, q_c)] > 1.05


def test_mixture_exposure_pairs_well_separated_sizes(bank):
    from training.data import Augmentation, Database, _mixture, train_batch
    from training.simulate import Q_FINE

    rows = [_row(0, k) for k in range(2)]
    from sasview_automodel.catalog import REGRESSION_SLOTS
    db = Database(Q_FINE, np.stack([i for _, i in rows]).astype(np.float32), np.zeros(2, int), np.ones((2, 2)),
                  np.zeros(2, int), slot_values=np.zeros((2, len(REGRESSION_SLOTS)), np.float32),
                  radius_effective=np.array([20.0, 400.0]))
    mixed = [_mixture(db, 0, np.random.default_rng(seed), "train") for seed in range(10)]
    assert sum(m is not None for m in mixed) >= 7   # a window around the crossover is usually found
    close = Database(db.q, db.intensity, db.label, db.lengths, db.index, radius_effective=np.array([20.0, 30.0]))
    assert _mixture(close, 0, np.random.default_rng(1), "train") is None   # no partner far enough in size
    x, y, *_ = train_batch(db, np.zeros(20, int), np.random.default_rng(2), Augmentation(bank, 0.0, 1.0, 1.0))
    assert np.all(y == -1) and np.all(np.isfinite(x))


def test_training_batch_redraws_curves_the_runtime_would_refuse(bank, monkeypatch):
    # every other observation loses all its points (as an over-subtracted background can): the
    # runtime refuses such a curve, so training must not see it (an all-zero input)
    from dataclasses import replace

    from sasview_automodel.encoding import MASK
    from sasview_automodel.grid import MIN_COVERED_BINS
    from training import data
    from training.simulate import Q_FINE

    calls, observe = [], data.observe

    def observe_every_other_empty(q, i, inst, rng):
        obs = observe(q, i, inst, rng)
        calls.append(1)
        return replace(obs, intensity=-np.abs(obs.intensity)) if len(calls) % 2 else obs

    monkeypatch.setattr(data, "observe", observe_every_other_empty)
    rows = [_row(0, k) for k in range(2)]
    from sasview_automodel.catalog import REGRESSION_SLOTS
    db = data.Database(Q_FINE, np.stack([i for _, i in rows]).astype(np.float32), np.zeros(2, int),
                       np.ones((2, 2)), np.arange(2), slot_values=np.zeros((2, len(REGRESSION_SLOTS)), np.float32),
                       radius_effective=np.array([20.0, 400.0]))
    x, y, *_ = data.train_batch(db, np.zeros(12, int), np.random.default_rng(3), None)
    assert len(calls) == 24 and len(x) == 12
    assert np.all(x[:, MASK].sum(axis=1) >= MIN_COVERED_BINS) and np.all(y == 0)
