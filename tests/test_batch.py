"""Batch mode: rows per dataset, error rows for bad files, atomic output, same answer in parallel."""
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from sasview_automodel.batch import expand_inputs, run_batch, write_rows
from tests.conftest import EXAMPLES


@pytest.fixture()
def folder(tmp_path):
    for f in os.listdir(EXAMPLES):
        if not f.endswith(".py"):
            shutil.copy(os.path.join(EXAMPLES, f), tmp_path / f)
    (tmp_path / "empty.dat").write_text("")
    (tmp_path / "junk.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "notes.md").write_text("not data")
    return tmp_path


def test_expand_folders_globs_and_missing_files(folder):
    paths = expand_inputs([str(folder), str(folder / "*.xml"), str(folder / "missing.txt")])
    names = [os.path.basename(p) for p in paths]
    assert "notes.md" not in names and "missing.txt" in names
    assert len(names) == len(set(paths))


def test_rows_and_error_rows(folder):
    paths = expand_inputs([str(folder)])
    rows = run_batch(paths, workers=1, progress=False)
    bad = {os.path.basename(r["file"]) for r in rows if r["error"]}
    good = [r for r in rows if not r["error"]]
    assert bad == {"empty.dat", "junk.txt"}
    assert len(good) == len([f for f in os.listdir(EXAMPLES) if not f.endswith(".py")])
    assert all(len(r["ranking"]) == 3 for r in good)


def test_parallel_gives_the_same_rows(folder):
    paths = expand_inputs([str(folder)]) * 3
    one = run_batch(paths, workers=1, progress=False)
    two = run_batch(paths, workers=2, progress=False, chunk=4)  # several chunks: the pool is used
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_csv_and_json_outputs_are_complete_and_leave_no_temporary_file(folder, tmp_path):
    rows = run_batch(expand_inputs([str(folder)]), workers=1, progress=False)
    out = tmp_path / "out"
    out.mkdir()
    write_rows(rows, str(out / "r.csv"), 3)
    write_rows(rows, str(out / "r.json"), 3)
    assert sorted(os.listdir(out)) == ["r.csv", "r.json"]
    table = list(csv.DictReader(open(out / "r.csv")))
    assert len(table) == len(rows) and {"file", "entry", "model_1", "probability_1", "confidence", "outlier",
                                        "error"} <= set(table[0])
    assert len(json.load(open(out / "r.json"))) == len(rows)


def test_cli_batch(folder, tmp_path):
    out = tmp_path / "res.csv"
    r = subprocess.run([sys.executable, "-m", "sasview_automodel", "batch", str(folder), "--out", str(out),
                        "--quiet", "--workers", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "failed" in r.stdout and out.exists()


def test_cli_bench_small_run_prints_the_table_and_goals(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "sasview_automodel", "bench", "--repeats", "5", "--batch", "40",
                        "--files", "20", "--fit-curves", "0", "--workers", "1", "--quick-fit-passes", "1",
                        "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "suggest(): one in-memory curve" in r.stdout and "goals:" in r.stdout
    assert "suggest + quick fit of the top 3 per curve" in r.stdout and "goal: quick fit" in r.stdout
    data = json.load(open(out))
    assert data["batch_files"]["rows_ok"] == 18 and data["batch_files"]["rows_error"] == 2
    assert data["single"]["median"] > 0 and data["peak_memory_mb"]["self"] > 0
    qf = data["quick_fit"]
    assert qf["n"] == qf["curves"] >= 3 and 0 < qf["median"] <= qf["p95"] and qf["top"] == 3


def test_cli_bench_outside_a_source_checkout_says_so(tmp_path, monkeypatch, capsys):
    from sasview_automodel import cli
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "sasview_automodel" / "cli.py"))
    assert cli.main(["bench", "--repeats", "5"]) == 2
    err = capsys.readouterr().err
    assert "benchmarks/bench_suggest.py" in err and "not installed with the package" in err and "source checkout" in err


def test_fit_baseline_fits_a_sphere_well():
    import scipy  # noqa: F401  (installed with sasmodels: a missing scipy fails here instead of skipping)
    from benchmarks.bench_suggest import fit_all_models
    from tests.synthetic import synthetic_curves
    q, i, s, _ = synthetic_curves(1, seed=4)[0]
    (fit,) = fit_all_models(q, i, s, models=["sphere"])
    assert fit["model"] == "sphere" and fit["nfev"] > 1 and fit["seconds"] > 0


def _fields(curve) -> list:
    import dataclasses

    import numpy as np
    return [(f.name, getattr(curve, f.name).dtype.str + getattr(curve, f.name).tobytes().hex()
             if isinstance(getattr(curve, f.name), np.ndarray) else getattr(curve, f.name))
            for f in dataclasses.fields(curve)]


def test_curve_chunk_pickles_to_the_same_curves_bit_for_bit():
    """What suggest_many sends to a worker: the same curves after the round trip (arrays,
    missing sigma or dq, slit length, names, warnings), packed; other arrays are sent as they are."""
    import pickle

    import numpy as np

    from sasview_automodel.batch import CurveChunk
    from sasview_automodel.curve import Curve, make_curve

    rng = np.random.default_rng(3)
    q = np.geomspace(0.005, 0.3, 80)
    curves = [make_curve(q, 1e3 * q ** -2 * (1 + 0.01 * rng.standard_normal(80)), 0.02 * q ** -2, 0.05 * q,
                         name="a"),
              make_curve(q[:50], 1 / (1 + q[:50] ** 2), name="no sigma, no dq", source="x.dat"),
              make_curve(q, q ** -4 + 1e-3, 0.1 * q ** -4, slit_length=0.1, name="slit")]
    curves[1].warnings.append("a warning")
    chunk = pickle.loads(pickle.dumps(CurveChunk(curves)))
    assert len(chunk) == 3
    assert [_fields(c) for c in chunk] == [_fields(c) for c in curves]
    odd = Curve(q.astype(np.float32), np.ones(80, np.float32), name="float32")  # not packable: sent as is
    back = pickle.loads(pickle.dumps(CurveChunk([curves[0], odd])))
    assert [_fields(c) for c in back] == [_fields(curves[0]), _fields(odd)]
    assert list(pickle.loads(pickle.dumps(CurveChunk([])))) == []
