"""Scale-out on a real dask.distributed LocalCluster (two single-threaded worker processes):
the same rows, suggestions and database as locally."""
import json
import os
import subprocess
import sys

import distributed  # in the dev extra: a missing install must fail here, not skip
import h5py
import numpy as np
import pytest

pytestmark = pytest.mark.slow   # torch training steps or a dask cluster: make test-unit leaves them out

from sasview_automodel.batch import Runner, expand_inputs, run_batch, suggest_many
from sasview_automodel.curve import make_curve
from tests.conftest import same_result
from tests.synthetic import BAD_KINDS, make_dataset_folder, synthetic_curves


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    return make_dataset_folder(str(folder), 300, bad_every=10, seed=7)


def test_files_give_rows_and_bad_files_error_rows(files):
    rows = run_batch(expand_inputs(list(files)), workers=1, progress=False, chunk=32)
    assert [r["file"] for r in rows] == sorted(files)  # one row per file (one dataset each), in order
    for r in rows:
        if files[r["file"]] == "ok":
            assert r["error"] is None and len(r["ranking"]) == 3
        else:
            assert r["error"], r
    kinds = {files[r["file"]] for r in rows if r["error"]}
    assert kinds == set(BAD_KINDS)


def test_batch_on_local_cluster_gives_the_same_rows(files, client):
    paths = expand_inputs(list(files))
    local = run_batch(paths, workers=1, progress=False, chunk=32)
    on_dask = run_batch(paths, progress=False, scheduler=client, chunk=32)
    assert json.dumps(local, sort_keys=True) == json.dumps(on_dask, sort_keys=True)
    who = client.run(lambda: sorted(__import__("sasview_automodel.batch").batch._SUGGESTERS, key=str))
    assert len(who) == 2 and all(v == [None] for v in who.values())  # both workers did work


def test_batch_rows_match_a_direct_suggest_file(files, suggester):
    good = [p for p, k in sorted(files.items()) if k == "ok"][:5]
    rows = run_batch(good, workers=1, progress=False)
    for p, row in zip(good, rows):
        direct = suggester.suggest_file(p)[0].to_dict(top=3)
        assert same_result(row["ranking"], direct["ranking"]) and same_result(row["confidence"], direct["confidence"])


def test_in_memory_curves_on_local_cluster_and_processes(client):
    curves = [make_curve(*c) for c in synthetic_curves(200, seed=3)]
    inline = suggest_many(curves, workers=1)
    on_dask = suggest_many(curves, scheduler=client, chunk=50)
    with Runner(2) as runner:
        in_pool = suggest_many(curves, chunk=50, runner=runner)
    for a, b, c in zip(inline, on_dask, in_pool):
        assert same_result(a.to_dict(), b.to_dict()) and same_result(a.to_dict(), c.to_dict())
    assert len(on_dask) == len(curves)


def test_unreachable_scheduler_is_a_clear_error(files):
    from sasview_automodel.errors import AutomodelError
    with pytest.raises(AutomodelError, match="dask scheduler"):
        with Runner(1, "tcp://127.0.0.1:9", connect_timeout=2):
            pass


def test_cli_batch_with_scheduler(files, client, tmp_path):
    out = tmp_path / "r.json"
    few = sorted(files)[:40]
    r = subprocess.run([sys.executable, "-m", "sasview_automodel", "batch", *few, "--out", str(out), "--quiet",
                        "--scheduler", client.scheduler.address], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = json.load(open(out))
    assert len(rows) == 40 and sum(bool(x["error"]) for x in rows) == 4


def test_simulate_on_local_cluster_writes_the_same_database(client, tmp_path):
    from training import simulate

    local, dask_db = str(tmp_path / "local.h5"), str(tmp_path / "dask.h5")
    simulate.run(local, 18, chunk=9, seed=3, workers=1, progress=False)
    simulate.run(dask_db, 18, chunk=9, seed=3, progress=False, scheduler=client)
    with h5py.File(local) as a, h5py.File(dask_db) as b:
        assert bool(np.all(b["done"][:]))
        for name in ("intensity", "label", "params", "lengths", "q"):
            assert np.array_equal(a[name][:], b[name][:]), name
    # extending the dask-made database locally continues it exactly
    simulate.run(dask_db, 27, chunk=9, seed=3, workers=1, progress=False)
    with h5py.File(dask_db) as b:
        assert b["label"].shape == (27,) and bool(np.all(b["done"][:]))


def test_simulate_products_on_local_cluster_writes_the_same_database(client, tmp_path):
    from training import simulate

    local, dask_db = str(tmp_path / "local.h5"), str(tmp_path / "dask.h5")
    simulate.run(local, 18, chunk=9, seed=5, workers=1, progress=False, sq_fraction=0.5)
    simulate.run(dask_db, 18, chunk=9, seed=5, progress=False, scheduler=client, sq_fraction=0.5)
    with h5py.File(local) as a, h5py.File(dask_db) as b:
        assert (a["sq_label"][:] >= 0).any()
        for name in ("intensity", "label", "params", "lengths", "sq_label", "sq_params"):
            assert np.array_equal(a[name][:], b[name][:]), name


def test_a_worker_with_another_bundle_is_refused(files, client, monkeypatch):
    from sasview_automodel import batch
    from sasview_automodel.errors import BundleError
    monkeypatch.setattr(batch, "_card_sha256", lambda card_path: "0" * 64)  # the client expects another bundle
    with pytest.raises(BundleError, match="another model bundle"):
        run_batch(sorted(files)[:10], progress=False, scheduler=client)


def test_scheduler_local_makes_its_own_cluster(files):
    paths = sorted(files)[:20]
    assert run_batch(paths, workers=2, progress=False, scheduler="local") == run_batch(paths, workers=1, progress=False)


def test_simulate_cli_with_scheduler_local(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "db.h5"
    r = subprocess.run([sys.executable, "-m", "training.simulate", "--out", str(out), "--n", "9", "--chunk", "9",
                        "--seed", "3", "--scheduler", "local", "--workers", "2"], cwd=root, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    with h5py.File(out) as f:
        assert f["label"].shape == (9,) and bool(np.all(f["done"][:]))
