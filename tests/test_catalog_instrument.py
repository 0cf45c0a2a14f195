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
        assert all(1.0 <= v <= 6000 for v in sizes)
        assert 0 <= pars[spec.pd_param + "_pd"] <= catalog.PD_BROAD[1]
        assert pars[spec.pd_param + "_pd_type"] in catalog.PD_TYPES
        large, small = spec.feature_lengths(pars)
        assert 0 < small <= large


def test_degenerate_shapes_are_never_drawn_and_boundary_shapes_are_flagged():
    rng = np.random.default_rng(2)
    ellipsoid, css, cube = catalog.get("ellipsoid"), catalog.get("core_shell_sphere"), catalog.get("parallelepiped")
    flagged = {"ellipsoid": 0, "core_shell_sphere": 0, "parallelepiped": 0}
    for _ in range(600):
        e = ellipsoid.draw(rng)
        ratio = e["radius_polar"] / e["radius_equatorial"]
        assert not 0.9 <= ratio <= 1.11
        assert ellipsoid.near_degenerate(e) == (0.8 <= ratio <= 1.25)
        flagged["ellipsoid"] += ellipsoid.near_degenerate(e)
        c = css.draw(rng)
        d_core, d_shell = c["sld_core"] - c["sld_solvent"], c["sld_shell"] - c["sld_solvent"]
        assert abs(d_core / d_shell) >= catalog.CORE_MATCHED and abs(d_core / d_shell - 1) >= catalog.HOMOGENEOUS
        assert abs(d_core / d_shell) <= catalog.WEAK_SHELL_RATIO[1]
        flagged["core_shell_sphere"] += css.near_degenerate(c)
        v = catalog.get("vesicle").draw(rng)
        assert v["thickness"] <= v["radius"]
        p = cube.draw(rng)
        assert p["length_b"] >= 1.1 * p["length_a"] and p["length_c"] >= 1.1 * p["length_b"]
        assert cube.near_degenerate(p) == (p["length_b"] < 1.4 * p["length_a"])
        flagged["parallelepiped"] += cube.near_degenerate(p)
        h = catalog.get("hollow_cylinder").draw(rng)
        assert h["radius"] / (h["radius"] + h["thickness"]) >= 0.3 - 1e-9
    # the boundaries are drawn (measured samples reach them), but they stay a minority
    assert all(0.02 * 600 < n < 0.35 * 600 for n in flagged.values()), flagged


def test_near_degenerate_rules_name_the_boundary_cases():
    css = catalog.get("core_shell_sphere")
    base = dict(radius=100.0, thickness=20.0, sld_core=1.0, sld_shell=3.0, sld_solvent=0.0)
    assert not css.near_degenerate(base)
    assert css.near_degenerate(dict(base, thickness=3.0))                  # thin shell
    assert css.near_degenerate(dict(base, sld_core=15.0))                 # weak shell (ratio 5)
    assert css.near_degenerate(dict(base, sld_core=3.5))                  # nearly homogeneous
    assert not catalog.get("sphere").near_degenerate({"radius": 50.0})


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
        if inst.segments == 1:
            assert obs.q.size == inst.n_points and np.all(np.diff(obs.q) > 0)
        else:   # merged settings: overlapping segments, sorted
            assert obs.q.size >= inst.n_points * 0.8 and np.all(np.diff(obs.q) >= 0)
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


def _sphere_curve(q: np.ndarray, radius: float = 80.0) -> np.ndarray:
    x = q * radius
    return (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 1e-9


def _plain(rng, **fields):
    """A training instrument without nuisances, then ``fields`` set."""
    from dataclasses import replace
    inst = instrument.draw_instrument(rng, "train", instrument.without_nuisances(instrument.load_config()))
    return replace(inst, **fields)


def test_a_table_without_nuisances_draws_the_instruments_of_before():
    table = instrument.load_config()
    clean = instrument.without_nuisances(table)
    assert "nuisances" in table and "nuisances" not in clean
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    drawn = [instrument.draw_instrument(a, "train", clean) for _ in range(200)]
    assert all(d.segments == 1 and d.upturn_exponent == 0 and d.sigma_factor == 1 for d in drawn)
    with_n = [instrument.draw_instrument(b, "train", table) for _ in range(400)]
    share = np.mean([d.upturn_exponent > 0 for d in with_n])
    assert abs(share - table["nuisances"]["upturn"]["share"]) < 0.1
    assert any(d.segments > 1 for d in with_n) and any(d.sigma_factor != 1 for d in with_n)


def test_each_nuisance_changes_the_observation_as_described():
    from dataclasses import replace
    q0 = np.geomspace(1e-4, 1.5, 512)
    i_fine = _sphere_curve(q0)
    rng = np.random.default_rng(5)
    base = _plain(rng, qmin=0.005, qmax=0.5, n_points=200, spacing="log", resolution="pinhole", dq_over_q=0.05,
                  dq0=0.0, background=0.0, subtracted=False, report_sigma=True, counts=1e6, rel_floor=0.0, scale=1.0)
    plain = instrument.observe(q0, i_fine, base, np.random.default_rng(0))
    up = instrument.observe(q0, i_fine, replace(base, upturn_exponent=4.0, upturn_crossover=0.01), np.random.default_rng(0))
    assert up.intensity[0] > 5 * plain.intensity[0]                    # the upturn dominates below the crossover
    assert abs(np.median(up.intensity[-20:] / plain.intensity[-20:]) - 1) < 0.2   # and fades at high q
    rel = instrument.observe(q0, i_fine, replace(base, relative_error=0.05), np.random.default_rng(0))
    assert np.allclose(rel.sigma / np.abs(rel.sigma).max(), rel.sigma / np.abs(rel.sigma).max())
    clean = instrument.smear(q0, i_fine, rel.q, base)
    assert np.allclose(rel.sigma, 0.05 * clean)                        # constant relative errors
    off = instrument.observe(q0, i_fine, replace(base, sigma_factor=3.0), np.random.default_rng(0))
    assert np.allclose(off.sigma, 3.0 * plain.sigma)                   # misestimated error bars, same noise
    assert np.allclose(off.intensity, plain.intensity)
    over = instrument.observe(q0, i_fine, replace(base, background=20.0, subtracted=True, subtraction_error=0.1),
                              np.random.default_rng(0))
    assert np.median(over.intensity[-5:]) < 0                          # over-subtracted: negative tail
    shadow = instrument.observe(q0, i_fine, replace(base, beamstop_points=4, beamstop_attenuation=0.2), np.random.default_rng(0))
    assert shadow.intensity[0] < 0.3 * plain.intensity[0] and np.allclose(shadow.intensity[10:], plain.intensity[10:])


def test_merged_settings_cover_the_window_with_overlaps_and_their_own_resolution():
    from dataclasses import replace
    q0 = np.geomspace(1e-4, 1.5, 512)
    rng = np.random.default_rng(6)
    base = _plain(rng, qmin=0.003, qmax=0.5, n_points=300, resolution="pinhole", dq_over_q=0.05, report_dq=True,
                  report_sigma=True)
    merged = replace(base, segments=3, segment_seed=123)
    obs = instrument.observe(q0, _sphere_curve(q0), merged, np.random.default_rng(0))
    assert np.all(np.diff(obs.q) >= 0) and np.all(np.isfinite(obs.intensity))
    assert obs.q[0] == pytest.approx(base.qmin) and obs.q[-1] == pytest.approx(base.qmax)
    parts = instrument._segments(merged)
    assert len(parts) == 3 and parts[0][1] == 1.0 and any(f != 1.0 for _, f in parts[1:])
    assert any(p.qmin < q.qmax for (p, _), (q, _) in zip(parts[1:], parts[:-1]))   # overlaps
    assert len({round(p.dq_over_q, 6) for p, _ in parts}) == 3


def test_stress_sets_widen_their_nuisance_beyond_the_training_range():
    from training import stress
    table = instrument.load_config()
    tables = stress.stress_tables(table)
    assert list(tables)[0] == "clean" and set(table["stress"]) <= set(tables)
    rng = np.random.default_rng(7)
    bkg = [instrument.draw_instrument(rng, "train", tables["background"]).background for _ in range(200)]
    assert min(bkg) >= 3.0 and max(bkg) > table["train"]["background"][1]
    up = [instrument.draw_instrument(rng, "train", tables["upturn"]) for _ in range(200)]
    assert all(u.upturn_exponent > 0 for u in up) and max(u.upturn_exponent for u in up) > 4.5
    assert table["nuisances"]["upturn"]["share"] < 1.0    # the training table itself is untouched
    wide = stress.widened(catalog.get("sphere").params[0])
    assert wide.low < catalog.get("sphere").params[0].low and wide.high > catalog.get("sphere").params[0].high


def test_bimodal_samples_stay_in_their_class_and_keep_similar_sizes():
    from training.data import Database, bimodal
    q0 = np.geomspace(1e-4, 1.5, 64)
    radii = np.array([50.0, 60.0, 500.0, 55.0])
    db = Database(q=q0, intensity=np.stack([_sphere_curve(q0, r) for r in radii]).astype(np.float32),
                  label=np.array([0, 0, 0, 1]), lengths=np.stack([radii, radii], 1), index=np.arange(4),
                  radius_effective=radii)
    rng = np.random.default_rng(0)
    for _ in range(20):
        mixed = bimodal(db, 0, rng)
        assert mixed is not None
        # mixed only with row 1 (same class, size within 2x), never row 2 (10x) or row 3 (other class)
        w = (mixed[-1] - db.intensity[0, -1]) / (db.intensity[1, -1] - db.intensity[0, -1])
        assert 0.1 - 1e-3 <= w <= 0.5 + 1e-3
