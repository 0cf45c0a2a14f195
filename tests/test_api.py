"""The public API on the bundled examples (golden top-k) and on bad input."""
import json
import os

import numpy as np
import pytest

from sasview_automodel import FileFormatError, InputError, Suggester, load_file
from sasview_automodel import catalog
from sasview_automodel.catalog import CLASS_NAMES
from tests.conftest import EXAMPLES, ROOT, sphere_curve

GOLDEN = os.path.join(ROOT, "tests", "golden_examples.json")


def _true_model(path):
    base = os.path.basename(path).rsplit(".", 1)[0]
    return max((c for c in CLASS_NAMES if base.startswith(c)), key=len)


def test_suggestion_dict_has_the_contract_fields(suggester):
    d = suggester.suggest(*sphere_curve()[:2]).to_dict()
    for key in ("ranking", "confidence", "outlier", "outlier_score", "parameters", "warnings"):
        assert key in d
    probs = [r["probability"] for r in d["ranking"]]
    assert [r["model"] for r in d["ranking"]] and set(r["model"] for r in d["ranking"]) == set(CLASS_NAMES)
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-4
    assert 0 <= d["confidence"] <= 1 and isinstance(d["outlier"], bool)
    best = d["ranking"][0]["model"]
    assert set(d["parameters"]) == set(catalog.get(best).start_params) | {catalog.get(best).pd_param + "_pd"}
    assert all(v > 0 for k, v in d["parameters"].items() if not k.endswith("_pd"))
    assert any("regression head" in w for w in d["warnings"]) and len(d["candidate_parameters"]) == 5
    json.dumps(d)


def test_golden_top3_for_each_example(suggester, example_files):
    golden = json.load(open(GOLDEN))
    assert sorted(golden) == sorted(os.path.basename(p) for p in example_files)
    for path in example_files:
        (s,) = suggester.suggest_file(path)
        got = [(m, round(p, 3)) for m, p in s.top(3)]
        want = [tuple(x) for x in golden[os.path.basename(path)]["top3"]]
        assert [m for m, _ in got] == [m for m, _ in want], path
        assert np.allclose([p for _, p in got], [p for _, p in want], atol=2e-3), path
        sf = golden[os.path.basename(path)]["structure_factor"]
        assert (s.structure_factor.name if s.structure_factor else None) == sf, path
        if s.structure_factor:
            assert s.structure_factor.p_needed == pytest.approx(golden[os.path.basename(path)]["p_structure_needed"], abs=2e-3)
        g = golden[os.path.basename(path)]
        assert (s.family, s.plausible_models) == (g["family"], g["plausible_models"]), path
        assert s.family_probability == pytest.approx(g["family_probability"], abs=2e-3), path


def test_examples_true_model_is_in_the_top3(suggester, example_files):
    for path in example_files:
        (s,) = suggester.suggest_file(path)
        assert _true_model(path) in [m for m, _ in s.top(3)], (path, s.top(3))


def test_examples_get_their_true_structure_factor(suggester, example_files):
    """Dilute examples need none; sphere_hardsphere_saxs.txt (volume fraction 0.3) needs hardsphere."""
    for path in example_files:
        (s,) = suggester.suggest_file(path)
        base = os.path.basename(path).rsplit(".", 1)[0]
        want = next((n for n in catalog.SQ_NAMES if f"_{n}_" in f"_{base}_"), None)
        assert s.structure_factor is not None and s.structure_factor.name == want, (path, s.structure_factor)
        if want:
            assert s.structure_factor.volfraction == pytest.approx(0.3, abs=0.1)


def test_batch_equals_single_calls(suggester):
    curves = [sphere_curve(r=r, seed=k) for k, r in enumerate((30.0, 60.0, 120.0))]
    batch = suggester.suggest_batch([(q, i, s) for q, i, s in curves])
    for (q, i, s), b in zip(curves, batch):
        one = suggester.suggest(q, i, sigma=s)
        assert one.ranking[0][0] == b.ranking[0][0]
        assert np.allclose([p for _, p in one.ranking], [p for _, p in b.ranking], atol=1e-6)


def test_file_loading_reads_sigma_and_dq():
    (c,) = load_file(os.path.join(EXAMPLES, "cylinder_sans.txt"))
    assert c.sigma is not None and c.dq is not None and c.q[0] == pytest.approx(0.003, rel=1e-3)


def test_nm_override_changes_q(suggester):
    (a,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"))
    (b,) = load_file(os.path.join(EXAMPLES, "sphere_saxs.txt"), q_unit="nm")
    assert np.allclose(b.q * 10, a.q)


@pytest.mark.parametrize("q,i,match", [
    (np.geomspace(0.01, 0.1, 5), np.ones(5), "at least 10"),
    (np.geomspace(0.01, 0.1, 50), np.ones(40), "pair up"),
    (np.geomspace(5, 50, 50), np.ones(50), "outside the classifier's range"),
    (np.geomspace(0.01, 0.1, 50), np.full(50, np.nan), "NaN"),
    (np.geomspace(0.01, 0.1, 50), -np.ones(50), "zero or negative"),
    (np.r_[np.geomspace(0.01, 0.1, 25), np.geomspace(0.01, 0.1, 25)], np.ones(50), "duplicate"),
    (np.geomspace(0.1, 0.12, 50), np.ones(50), "grid bins"),
])
def test_bad_arrays_raise_a_clear_input_error(suggester, q, i, match):
    with pytest.raises(InputError, match=match):
        suggester.suggest(q, i)


def test_bad_files_raise_a_clear_file_error(tmp_path, suggester):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(FileFormatError, match="empty"):
        suggester.suggest_file(str(empty))
    with pytest.raises(FileFormatError, match="no such file"):
        suggester.suggest_file(str(tmp_path / "missing.txt"))
    junk = tmp_path / "junk.dat"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises((FileFormatError, InputError)):
        suggester.suggest_file(str(junk))


def test_unsorted_input_is_sorted_with_a_warning(suggester):
    q, i, s = sphere_curve()
    perm = np.random.default_rng(0).permutation(q.size)
    a = suggester.suggest(q, i, sigma=s)
    b = suggester.suggest(q[perm], i[perm], sigma=s[perm])
    assert np.allclose([p for _, p in a.ranking], [p for _, p in b.ranking], atol=1e-6)
    assert any("sorted" in w for w in b.warnings)


def test_to_sasview_and_paste_string(suggester):
    s = suggester.suggest_file(os.path.join(EXAMPLES, "cylinder_sans.txt"))[0]
    for model in list(s.candidate_parameters)[:3]:
        line = s.to_sasview(model)
        assert line["fitpage_model"] == [model] and line["fitpage_structure"] == ["None"]
        assert line["fitpage_category"][0] in ("Sphere", "Ellipsoid", "Cylinder", "Parallelepiped")
        pars = s.candidate_parameters[model]
        for name, value in pars.items():
            if name.endswith("_pd"):
                row = line[name[:-3] + ".width"]
                assert len(row) == 7 and float(row[1]) == pytest.approx(value)
            else:
                checked, v, lo, hi = line[name]
                assert checked == "True" and float(v) == pytest.approx(value) and float(lo) == 0.0
        assert line["polydisperse_params"] == ["True"]
    text = s.sasview_paste()
    rows = text.split(":")
    assert rows[0] == "sasview_parameter_values" and f"model_name,{s.best}" in rows
    # every starting value of the suggested model is in the text SasView's Edit > Paste reads
    pasted = {r.split(",")[0]: r.split(",")[1:] for r in rows[1:]}
    for name, value in s.candidate_parameters[s.best].items():
        key = name[:-3] + ".width" if name.endswith("_pd") else name
        assert pasted[key][0] == "True" and float(pasted[key][1]) == pytest.approx(value, rel=1e-3)


def test_rounded_probabilities_never_sum_above_one():
    """to_dict rounds to 6 decimals; rounding to nearest could push a confident ranking past 1."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sasview_automodel.scoring import softmax
    from sasview_automodel.suggest import floor6

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.floats(-30, 30), min_size=9, max_size=9), st.floats(0.3, 3.0))
    def check(logits, temperature):
        p = softmax(np.array([logits]), temperature)[0]
        rounded = [floor6(v) for v in p]
        assert sum(rounded) <= 1.0 + 1e-12
        assert all(0.0 <= r <= v and v - r < 1e-6 + 1e-12 for r, v in zip(rounded, p))
    check()


def test_score_returns_typed_scores_that_still_read_as_the_old_mapping(suggester):
    """Suggester.score gives a scoring.Scores; training code indexes it like the dict it was."""
    from sasview_automodel import grid
    from sasview_automodel.scoring import Scores

    feats, _ = grid.featurize_many([sphere_curve(r=r, seed=k)[:3] for k, r in enumerate((40.0, 90.0))])
    scored = suggester.score(feats)
    assert isinstance(scored, Scores) and scored.probs.shape == (2, len(CLASS_NAMES))
    assert scored["probs"] is scored.probs and scored.get("outlier_score") is scored.outlier_score
    assert np.array_equal(scored.outlier, scored.outlier_score > suggester.ood_threshold)
    with_structure = bool(suggester.structure_names)
    assert ("structure_probs" in scored) == ("volfraction" in scored) == with_structure
    assert list(scored.to_dict()) == ["probs", "outlier_score", "outlier", "confidence", "family_probs",
                                      "plausible_size", "params", "logits", "embedding", "knn_distance"] + \
        (["structure_probs", "volfraction"] if with_structure else [])
    assert "nothing" not in scored and scored.get("nothing", 7) == 7
    with pytest.raises(KeyError):
        scored["nothing"]
    # the suggestions are built from these very numbers
    best = [suggester.classes[j] for j in scored.probs.argmax(axis=1)]
    assert [s.best for s in suggester.suggest_batch([sphere_curve(r=r, seed=k)[:3]
                                                     for k, r in enumerate((40.0, 90.0))])] == best
