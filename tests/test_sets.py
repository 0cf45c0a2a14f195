"""Shape families and plausible sets (issue 25): the catalog partition, the runtime rules, the
card's constants (and their fallback), the conformal calibration, and every place that shows them."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from sasview_automodel import Suggester, catalog, sets
from tests.conftest import EXAMPLES, edited_bundle, sphere_curve


def _calibrated_toy(n: int, seed: int, sharpen: float = 1.0):
    """Probabilities over the nine classes and labels drawn from softmax(z) (calibrated when
    ``sharpen`` is 1, over-confident above 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, len(catalog.CLASS_NAMES))) * 2.5
    p_true = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    labels = np.array([rng.choice(p_true.shape[1], p=row) for row in p_true])
    p = np.exp(sharpen * z) / np.exp(sharpen * z).sum(1, keepdims=True)
    return p, labels


# -- catalog -------------------------------------------------------------------------------
def test_every_class_is_in_exactly_one_family():
    members = [m for f in catalog.FAMILIES for m in f.members]
    assert sorted(members) == sorted(catalog.CLASS_NAMES) and len(members) == len(set(members))
    m = catalog.family_matrix(catalog.CLASS_NAMES)
    assert m.shape == (9, len(catalog.FAMILIES)) and np.all(m.sum(1) == 1)
    assert catalog.FAMILY_OF["vesicle"] == "compact" and catalog.FAMILY_OF["parallelepiped"] == "anisotropic"


# -- runtime rules -------------------------------------------------------------------------
def test_plausible_set_is_the_smallest_prefix_reaching_the_level():
    p = np.array([[0.5, 0.3, 0.15, 0.05], [0.95, 0.03, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25]])
    assert sets.plausible_sizes(p, 0.9).tolist() == [3, 1, 4]
    assert sets.plausible_sizes(p, 0.8).tolist() == [2, 1, 4]     # 0.5 + 0.3 reaches 0.8
    assert sets.plausible_sizes(p, 0.0).tolist() == [1, 1, 1]     # never empty
    assert sets.plausible_sizes(p, 1.0).tolist() == [4, 4, 4]
    # the truth is in the set exactly when the probability ranked above it is below the level
    labels = np.array([2, 1, 3])
    above = sets.mass_above_truth(p, labels)
    assert above == pytest.approx([0.8, 0.95, 0.75])


def test_family_probabilities_sum_members_and_temperature_flattens():
    members = catalog.family_matrix(catalog.CLASS_NAMES)
    p = np.zeros((1, 9))
    p[0, [0, 1, 2]] = [0.3, 0.3, 0.2]      # compact 0.8
    p[0, 5] = 0.2
    assert sets.family_probabilities(p, members)[0] == pytest.approx([0.8, 0.2])
    hot = sets.family_probabilities(p, members, 1e6)[0]
    assert hot == pytest.approx([0.5, 0.5], abs=1e-5)
    cold = sets.family_probabilities(p, members, 0.5)[0]
    assert cold[0] == pytest.approx(0.64 / 0.68)


def test_conformal_level_gives_ninety_percent_coverage_on_exchangeable_curves():
    from training.calibrate_sets import conformal_level

    # over-confident probabilities: a plain 90 % credible set under-covers, the conformal level fixes it
    p, y = _calibrated_toy(12000, 1, sharpen=2.0)
    cal, test = slice(0, 6000), slice(6000, None)
    plain = np.mean(sets.mass_above_truth(p[test], y[test]) < 0.9)
    level = conformal_level(p[cal], y[cal])
    covered = np.mean(sets.mass_above_truth(p[test], y[test]) < level)
    assert plain < 0.85
    assert level > 0.9 and 0.88 <= covered <= 0.92
    assert conformal_level(p[:5], y[:5]) == 1.0     # too few curves for the quantile: every model


def test_family_temperature_fixes_overconfident_family_sums():
    from training.calibrate_sets import family_labels, fit_constants
    from training.metrics import ece_of_confidence

    p, y = _calibrated_toy(8000, 2, sharpen=2.5)
    constants = fit_constants(p[:4000], y[:4000])
    fam = constants["families"]
    assert fam["partition"] == {f.name: list(f.members) for f in catalog.FAMILIES}
    assert fam["temperature"] > 1.2            # sums of over-confident probabilities are over-confident
    card = {"classes": list(catalog.CLASS_NAMES), **constants}
    model = sets.SetModel.from_card(card)
    assert model.measured and model.family_temperature == pytest.approx(fam["temperature"])
    fy = family_labels(y[4000:])
    raw = sets.family_probabilities(p[4000:], model.members)
    cal = model.family_probs(p[4000:])
    assert ece_of_confidence(cal.max(1), cal.argmax(1) == fy) < 0.5 * ece_of_confidence(raw.max(1), raw.argmax(1) == fy)
    assert ece_of_confidence(cal.max(1), cal.argmax(1) == fy) < 0.03


def test_card_without_constants_falls_back_to_raw_sums_and_a_90_percent_set():
    card = {"classes": list(catalog.CLASS_NAMES)}
    m = sets.SetModel.from_card(card)
    assert (m.family_temperature, m.level, m.measured) == (1.0, 0.9, False)
    # a temperature fitted for another partition is not applied
    other = dict(card, families={"temperature": 3.0, "partition": {"all": list(catalog.CLASS_NAMES)}})
    assert sets.SetModel.from_card(other).family_temperature == 1.0


def test_family_note_in_plain_words():
    note = sets.family_note("compact", 0.97, ["core_shell_sphere", "vesicle"])
    assert "compact, sphere-like particle" in note and "core-shell sphere or vesicle" in note and "97%" in note
    mixed = sets.family_note("compact", 0.6, ["sphere", "ellipsoid"])
    assert "do not decide the shape" in mixed
    assert sets.family_note("compact", 0.99, ["sphere"]) == ""


# -- the card's constants are the ones used ----------------------------------------------------
def test_the_card_level_and_family_temperature_are_the_ones_used(tmp_path):
    q, i, s = sphere_curve()

    def everything(card):
        card["plausible"] = {"level": 1.0}
        card["families"] = {"temperature": 1e6, "partition": {f.name: list(f.members) for f in catalog.FAMILIES}}
    r = Suggester(edited_bundle(tmp_path, everything)).suggest(q, i, s)
    assert r.plausible_models == [m for m, _ in r.ranking]      # level 1: all nine, best first
    assert r.family_probability == pytest.approx(0.5, abs=1e-4)

    def nothing(card):
        card["plausible"] = {"level": 0.0}
        card.pop("families", None)
    r = Suggester(edited_bundle(tmp_path, nothing)).suggest(q, i, s)
    assert r.plausible_models == [r.best]


def test_result_carries_family_and_plausible_models(suggester):
    r = suggester.suggest(*sphere_curve())
    d = r.to_dict()
    assert d["family"] == "compact" and d["family_probability"] > 0.9
    assert d["plausible_models"][0] == r.best == "sphere"
    assert d["plausible_models"] == [m["model"] for m in d["ranking"]][:len(d["plausible_models"])]
    assert d["plausible_models"] == r.to_dict(top=1)["plausible_models"]   # the set, whatever top is
    json.dumps(d)


def test_an_outlier_still_gets_a_family_and_a_plausible_set(suggester):
    q = np.geomspace(0.003, 0.3, 150)
    i = 1e3 * q ** -2.3 + np.sin(40 * q) ** 2 * 50 + 1
    r = suggester.suggest(q, i, 0.03 * i)
    assert r.family in catalog.FAMILY_NAMES and 0.5 <= r.family_probability <= 1.0
    assert 1 <= len(r.plausible_models) <= 9 and r.plausible_models[0] == r.best


# -- CLI and batch -----------------------------------------------------------------------------
def test_cli_table_prints_family_and_plausible_lines(capsys):
    from sasview_automodel.cli import main

    assert main(["suggest", os.path.join(EXAMPLES, "sphere_saxs.txt")]) == 0
    out = capsys.readouterr().out
    assert "  family:             Compact (sphere-like) (p = 1.00)" in out
    assert "  plausible models:   sphere\n" in out


def test_cli_table_says_when_the_family_is_clear_but_the_model_is_not():
    from sasview_automodel.cli import _table

    result = {"name": "x", "ranking": [{"model": "sphere", "probability": 0.5},
                                       {"model": "core_shell_sphere", "probability": 0.45}],
              "confidence": 0.5, "outlier": False, "reason": "", "warnings": [], "family": "compact",
              "family_probability": 0.98, "plausible_models": ["sphere", "core_shell_sphere"]}
    text = _table(result, 3)
    assert "plausible models:   sphere, core_shell_sphere" in text and "clearly show a compact" in text


def test_batch_csv_has_the_new_columns(tmp_path):
    from sasview_automodel.batch import run_batch, write_rows

    files = [os.path.join(EXAMPLES, n) for n in ("sphere_saxs.txt", "cylinder_sans.txt")]
    rows = run_batch(files, None, None, 3, workers=1, progress=False)
    out = tmp_path / "r.csv"
    write_rows(rows, str(out), 3)
    table = list(csv.DictReader(open(out)))
    assert [r["family"] for r in table] == ["compact", "anisotropic"]
    assert all(0.5 <= float(r["family_probability"]) <= 1 for r in table)
    assert table[0]["plausible_models"].split()[0] == "sphere" and table[1]["plausible_models"].split()[0] == "cylinder"
