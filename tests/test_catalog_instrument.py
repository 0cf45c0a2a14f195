"""The declarative tables: catalog draws obey the degeneracy rules; held-out instruments stay out."""
import numpy as np
import pytest

from sasview_automodel import catalog
from training import instrument


@pytest.mark.parametrize("spec", catalog.CLASSES, ids=lambda c: c.name)
def test_catalog_draws_are_valid_sasmodels_parameters(spec):
    from sasmodels.core import load_model
    names = {p.name for p in load_model(spec.name).info.parameters.kernel_parameters}
    rng = np.random.default_rng(1)
    for _ in range(50):
        pars = spec.draw(rng)
        shape = {k: v for k, v in pars.items() if "_pd" not in k}
        assert set(shape) <= names, set(shape) - names
        sizes = [v for k, v in shape.items() if k in {p.name for p in spec.params} and not k.startswith("x_")]
        assert all(1.0 <= v <= 4000 for v in sizes)
        assert 0 <= pars[spec.pd_param + "_pd"] <= 0.25
        large, small = spec.feature_lengths(pars)
        assert 0 < small <= large


def test_degenerate_shapes_are_never_drawn():
    rng = np.random.default_rng(2)
    for _ in range(300):
        e = catalog.get("ellipsoid").draw(rng)
        assert not 0.8 <= e["radius_polar"] / e["radius_equatorial"] <= 1.25
        c = catalog.get("core_shell_sphere").draw(rng)
        d_core, d_shell = c["sld_core"] - c["sld_solvent"], c["sld_shell"] - c["sld_solvent"]
        assert abs(d_core / d_shell) >= 0.2 and abs(d_shell / d_core) >= 0.2 and abs(d_core / d_shell - 1) >= 0.3
        v = catalog.get("vesicle").draw(rng)
        assert v["thickness"] <= v["radius"]
        p = catalog.get("parallelepiped").draw(rng)
        assert p["length_b"] >= 1.5 * p["length_a"] and p["length_c"] >= 1.5 * p["length_b"]
        h = catalog.get("hollow_cylinder").draw(rng)
        assert h["radius"] / (h["radius"] + h["thickness"]) >= 0.3 - 1e-9


def test_catalog_has_the_nine_design_classes():
    assert catalog.CLASS_NAMES == ("sphere", "core_shell_sphere", "vesicle", "ellipsoid", "core_shell_ellipsoid",
                                   "cylinder", "core_shell_cylinder", "hollow_cylinder", "parallelepiped")


def test_training_never_draws_a_held_out_instrument():
    cfg = instrument.load_config()
    rng = np.random.default_rng(3)
    for _ in range(3000):
        inst = instrument.draw_instrument(rng, "train")
        assert not any(instrument._in_box(inst, h["box"]) for h in cfg["held_out"].values()), inst
        assert inst.qmax / inst.qmin >= 9.99 and 3e-4 <= inst.qmin and inst.qmax <= 1.0
        assert 40 <= inst.n_points <= 1000


def _with_coarse_share(share: float) -> dict:
    import copy
    cfg = copy.deepcopy(instrument.load_config())
    cfg["train"]["dq_over_q_coarse"] = dict(cfg["train"]["dq_over_q_coarse"], share=share)
    return cfg


def _pinhole_widths(cfg: dict, n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(9)
    draws = [instrument.draw_instrument(rng, "train", cfg) for _ in range(n)]
    return np.array([d.dq_over_q for d in draws if d.resolution == "pinhole" and d.dq_over_q > 0])


def test_coarse_resolution_share_moves_training_widths_into_sans_range():
    lo, hi = instrument.load_config()["train"]["dq_over_q"]
    plain, coarse = _pinhole_widths(_with_coarse_share(0.0)), _pinhole_widths(_with_coarse_share(0.4))
    for widths in (plain, coarse):
        assert widths.min() >= lo and widths.max() <= hi
    # above 0.11 (the sans_coarse box rejects the few-point ones): about 9 % log-uniform, 23 % with the share
    assert 0.05 < np.mean(plain > 0.11) < 0.13
    assert 0.18 < np.mean(coarse > 0.11) < 0.30


def test_coarse_share_zero_is_the_earlier_random_stream_and_held_out_draws_ignore_it():
    old = _with_coarse_share(0.0)
    del old["train"]["dq_over_q_coarse"]          # the table before stage 5
    zero, coarse = _with_coarse_share(0.0), _with_coarse_share(0.4)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [instrument.draw_instrument(a, "train", old) for _ in range(300)] == \
        [instrument.draw_instrument(b, "train", zero) for _ in range(300)]
    for family in old["held_out"]:
        a, b = np.random.default_rng(6), np.random.default_rng(6)
        assert [instrument.draw_instrument(a, family, old) for _ in range(100)] == \
            [instrument.draw_instrument(b, family, coarse) for _ in range(100)]


@pytest.mark.parametrize("family", list(instrument.load_config()["held_out"]))
def test_held_out_family_draws_fall_in_their_box(family):
    box = instrument.load_config()["held_out"][family]["box"]
    rng = np.random.default_rng(4)
    for _ in range(200):
        assert instrument._in_box(instrument.draw_instrument(rng, family), box)


def test_observe_produces_a_plausible_measurement():
    from training.simulate import Q_FINE
    q0 = Q_FINE
    x = q0 * 50
    i_fine = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    rng = np.random.default_rng(5)
    for family in ["train", "usaxs", "slit_saxs", "sans_coarse", "waxs_edge"]:
        inst = instrument.draw_instrument(rng, family)
        obs = instrument.observe(q0, i_fine, inst, rng)
        assert obs.q.size == inst.n_points and np.all(np.diff(obs.q) > 0)
        assert np.all(np.isfinite(obs.intensity))
        assert (obs.slit_length is not None) == (inst.resolution == "slit")


def test_pinhole_smearing_fills_minima_and_keeps_smooth_curves():
    from training.simulate import Q_FINE
    x = Q_FINE * 100
    i_fine = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    inst = instrument.draw_instrument(np.random.default_rng(0), "train")
    q = np.array([4.493 / 100, 5.763 / 100])  # first minimum, second maximum of a 100 A sphere
    depth = {}
    for r in (0.0, 0.1):
        inst.resolution, inst.dq_over_q, inst.dq0 = "pinhole", r, 0.0
        sm = instrument.smear(Q_FINE, i_fine, q, inst)
        depth[r] = sm[0] / sm[1]
    assert depth[0.0] < 0.05 and depth[0.1] > 0.5
    q = np.geomspace(0.01, 0.2, 300)
    power = Q_FINE**-3.0
    inst.dq_over_q = 0.1
    sm = instrument.smear(Q_FINE, power, q, inst)
    assert np.allclose(sm, q**-3.0, rtol=0.08)
