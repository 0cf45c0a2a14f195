"""A smoke run of the real pipeline (simulate -> train -> export -> evaluate), under 2 minutes."""
import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.slow   # torch training steps or a dask cluster: make test-unit leaves them out

from tests.conftest import ROOT

SMOKE = os.path.join(ROOT, "training", "configs", "smoke.yaml")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from training import pipeline
    out = tmp_path_factory.mktemp("smoke")
    summary = pipeline.run(SMOKE, per_pair=0, workers=2, log=lambda m: None,
                           out_dir=str(out), database=str(out / "db.h5"))
    return out, summary


def test_pipeline_produces_a_loadable_bundle_and_a_report(smoke_run):
    out, summary = smoke_run
    from sasview_automodel import Suggester
    from tests.conftest import sphere_curve
    card = out / "bundle" / "automodel.card.json"
    s = Suggester(str(card))
    d = s.suggest(*sphere_curve()[:2]).to_dict()
    assert len(d["ranking"]) == 9
    sf = d["structure_factor"]   # the smoke config trains the structure-factor head too
    assert sum(sf["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert list(sf["probabilities"]) == ["none", "hardsphere", "hayter_msa", "stickyhardsphere", "squarewell"]
    report = (out / "evaluation.md").read_text()
    for family in ("usaxs", "slit_saxs", "sans_coarse", "waxs_edge", "held-out pooled", "Concentrated samples",
                   "lamellar_stack", "Modelled now"):
        assert family in report
    meta = json.load(open(card))
    assert meta["metrics"]["held_out_pooled"]["n"] > 0 and meta["training"]["steps"] > 0
    # the smoke config names the recipe's outlier score: the network needs no k-NN bank for it
    assert meta["ood"]["method_id"] == "msp" and "knn_distance" not in meta["outputs"]
    assert "Mahalanobis distance on the embedding alone" in report
    # shape families and plausible sets (issue 25): export measures their constants, evaluate reports them
    assert meta["families"]["temperature"] > 0 and meta["families"]["partition"]["compact"][0] == "sphere"
    assert meta["plausible"]["alpha"] == 0.1 and 0 < meta["plausible"]["level"] <= 1
    assert s.sets.measured and s.sets.level == meta["plausible"]["level"]
    assert "Shape families and plausible sets per instrument family" in report
    assert set(meta["metrics"]["sets"]["held_out_pooled"]) >= {"coverage", "mean_size_ident", "family_ece"}


def test_simulation_and_training_resume(smoke_run):
    out, _ = smoke_run
    import h5py
    import torch
    from training import simulate, train
    with h5py.File(out / "db.h5") as f:
        before = f["intensity"][:10].copy()
        n_before = int(f["done"][:].sum())
    simulate.run(str(out / "db.h5"), 540, chunk=270, progress=False)  # nothing left to do
    with h5py.File(out / "db.h5") as f:
        assert int(f["done"][:].sum()) == n_before and np.array_equal(f["intensity"][:10], before)
    step = torch.load(out / "checkpoint.pt", weights_only=False)["step"]
    cfg = train.load_config(SMOKE, out_dir=str(out), database=str(out / "db.h5"), max_steps=step + 5)
    train.train(cfg, resume=True, log=lambda m: None)
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == step + 5


def test_second_stage_starts_from_the_first_stage_weights(smoke_run, tmp_path):
    out, _ = smoke_run
    import torch
    from training import train
    first = torch.load(out / "checkpoint.pt", weights_only=False)
    cfg = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=1, lr=0.0,
                            init_from=str(out / "checkpoint.pt"))  # lr 0: one step leaves the weights
    train.train(cfg, log=lambda m: None)
    second = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert second["step"] == 1 and second["config"]["init_from"] == str(out / "checkpoint.pt")
    for name, weights in first["model"].items():
        if "running_" in name or "num_batches" in name:   # batch-norm statistics move in any step
            continue
        assert torch.equal(second["model"][name], weights), name


def test_second_stage_can_start_from_an_exported_bundle(smoke_run, tmp_path):
    """Checkpoints die with the machine; the committed ONNX bundle is enough to continue training."""
    out, _ = smoke_run
    import onnx
    import torch
    from onnx import numpy_helper
    from training import train
    from sasview_automodel.bundle import file_sha256
    import shutil
    shutil.copytree(out / "bundle", tmp_path / "source")   # this test replaces the source later
    onnx_path = tmp_path / "source" / "automodel.onnx"
    cfg = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=1, lr=0.0,
                            init_from=str(onnx_path))
    train.train(cfg, log=lambda m: None)
    second = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert second["config"]["init_from_sha256"] == file_sha256(str(onnx_path))
    heads = {t.name[len("net."):]: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer
             if t.name.startswith("net.")}
    assert heads and all(np.array_equal(second["model"][k].numpy(), v) for k, v in heads.items())
    from training import export
    card = json.load(open(export.export(cfg, str(tmp_path / "bundle2"), log=lambda m: None)))
    first_card = json.load(open(out / "bundle" / "automodel.card.json"))
    stage = card["training"]["earlier_stages"][-1]      # the model card says what the weights had seen before
    assert stage["onnx_sha256"] == first_card["onnx_sha256"] and stage["steps"] == first_card["training"]["steps"]

    # a third stage from the second one's checkpoint, after the first bundle's files were replaced by
    # another model (as a newly shipped bundle replaces the old one): the lineage recorded at the start
    # of stage 2 still names the first bundle with its steps
    shutil.copy(tmp_path / "bundle2" / "automodel.onnx", onnx_path)
    shutil.copy(tmp_path / "bundle2" / "automodel.card.json", tmp_path / "source" / "automodel.card.json")
    cfg3 = train.load_config(SMOKE, out_dir=str(tmp_path / "s3"), database=str(out / "db.h5"), max_steps=1, lr=0.0,
                             init_from=str(tmp_path / "checkpoint.pt"))
    train.train(cfg3, log=lambda m: None)
    stages = train.earlier_stages(torch.load(tmp_path / "s3" / "checkpoint.pt", weights_only=False)["config"])
    assert [s.get("steps") for s in stages] == [first_card["training"]["steps"], second["step"]]
    assert stages[0]["onnx_sha256"] == first_card["onnx_sha256"] and stages[0].get("known", True)

    # resuming stage 2 now (its source file holds another model) keeps the lineage of its start
    cfg2 = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=2, lr=0.0,
                             init_from=str(onnx_path))
    train.train(cfg2, resume=True, log=lambda m: None)
    resumed = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert resumed["step"] == 2
    assert resumed["config"]["init_from_stages"] == second["config"]["init_from_stages"]
    assert resumed["config"]["init_from_sha256"] == second["config"]["init_from_sha256"] != file_sha256(str(onnx_path))


def test_distill_loss_is_the_softened_kl_divergence():
    import torch
    from training.train import distill_loss
    rng = np.random.default_rng(3)
    s, t = (torch.from_numpy(rng.normal(size=(6, 9))) for _ in range(2))
    assert float(distill_loss(t, t, 2.0)) == pytest.approx(0.0, abs=1e-12)
    p = np.exp(t.numpy() / 2) / np.exp(t.numpy() / 2).sum(1, keepdims=True)
    q = np.exp(s.numpy() / 2) / np.exp(s.numpy() / 2).sum(1, keepdims=True)
    assert float(distill_loss(s, t, 2.0)) == pytest.approx(4 * np.mean(np.sum(p * np.log(p / q), axis=1)), rel=1e-9)


@pytest.mark.parametrize("teacher", ["checkpoint.pt", "bundle/automodel.onnx"])
def test_a_smaller_student_distils_from_a_checkpoint_or_a_bundle(smoke_run, tmp_path, teacher):
    """A student of another shape (kernel 3) learns from the frozen smoke model; the teacher is recorded."""
    out, _ = smoke_run
    import torch
    from training import train
    from sasview_automodel.bundle import file_sha256
    source = str(out / teacher)
    cfg = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=3,
                            model={"widths": [4, 8], "embedding": 8, "kernel": 3},
                            distill={"teacher": source, "weight": 1.0, "temperature": 2.0})
    train.train(cfg, log=lambda m: None)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ckpt["model"]["blocks.0.conv1.weight"].shape[-1] == 3
    assert ckpt["config"]["distill"]["teacher"] == source
    assert ckpt["config"]["distill"].get("teacher_sha256") == (file_sha256(source) if teacher.endswith(".onnx") else None)
    assert all(h["kd"] > 0 for h in ckpt["history"] if "loss" in h)
    from training import export
    card = json.load(open(export.export(cfg, str(tmp_path / "bundle"), log=lambda m: None)))
    assert card["training"]["config"]["model"]["kernel"] == 3 and card["training"]["config"]["distill"]["teacher"] == source


@pytest.mark.parametrize("source", ["checkpoint.pt", "bundle/automodel.onnx"])
def test_a_narrower_relu_network_starts_from_the_wider_model(smoke_run, tmp_path, source):
    """init_from a wider checkpoint or bundle narrows it (training/narrow.py): kept channels are the
    source's, sliced; the later stage and the heads are copied whole."""
    out, _ = smoke_run
    import torch
    from training import train
    cfg = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=1, lr=0.0,
                            model={"widths": [4, 16], "embedding": 16, "activation": "relu"},
                            init_from=str(out / source))
    train.train(cfg, log=lambda m: None)
    narrowed = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"]
    wide = train.build_model(train.source_config(str(out / source)))
    db = train.load_database(str(out / "db.h5"), with_radius_effective=True)
    train.init_weights(wide, str(out / source), db.subset("train"), cfg["seed"], train.augmentation(cfg))
    w = wide.state_dict()
    assert narrowed["stem.0.weight"].shape[0] == 4 and w["stem.0.weight"].shape[0] == 8
    rows = [i for i in range(8) if any(torch.equal(w["stem.0.weight"][i], r) for r in narrowed["stem.0.weight"])]
    assert len(rows) == 4   # four of the source's eight stem filters, unchanged
    assert torch.equal(narrowed["blocks.2.conv2.weight"], w["blocks.2.conv2.weight"])
    assert torch.equal(narrowed["classifier.weight"], w["classifier.weight"])
    assert torch.equal(narrowed["blocks.2.conv1.weight"], w["blocks.2.conv1.weight"][:, rows])


def test_weighted_cross_entropy_down_weights_unidentifiable_curves():
    import torch
    import torch.nn.functional as F
    from training.train import weighted_cross_entropy

    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(6, 9, generator=g), torch.tensor([0, 1, 2, 3, 4, 5])
    ident = torch.tensor([True, True, False, True, False, False])
    per = F.cross_entropy(logits, y, reduction="none")
    assert torch.isclose(weighted_cross_entropy(logits, y, ident), per.mean())
    w = torch.tensor([1.0, 1.0, 0.3, 1.0, 0.3, 0.3])
    assert torch.isclose(weighted_cross_entropy(logits, y, ident, 0.3), (per * w).sum() / w.sum())
    assert torch.isclose(weighted_cross_entropy(logits, y, ident, 0.0), per[ident].mean())


def test_embedding_distill_loss_is_one_minus_the_cosine():
    import torch
    from training.train import embedding_distill_loss
    t = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert float(embedding_distill_loss(3 * t, t)) == pytest.approx(0.0, abs=1e-7)   # direction only
    assert float(embedding_distill_loss(t.flip(1), t)) == pytest.approx(1.0)          # orthogonal
    assert float(embedding_distill_loss(-t, t)) == pytest.approx(2.0)


def test_a_bf16_student_matches_the_teacher_embedding(smoke_run, tmp_path):
    """bfloat16 autocast and the embedding term train a student end to end; the weights stay float32;
    an embedding of another size than the teacher's, or an unknown precision, is refused."""
    out, _ = smoke_run
    import torch
    from training import train
    source = str(out / "bundle/automodel.onnx")
    distill = {"teacher": source, "weight": 1.0, "temperature": 2.0, "embedding_weight": 1.0}
    cfg = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=3, precision="bf16",
                            model={"widths": [4, 8], "embedding": 16, "kernel": 3}, distill=dict(distill))
    train.train(cfg, log=lambda m: None)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert all(v.dtype == torch.float32 for k, v in ckpt["model"].items() if v.is_floating_point())
    assert all(np.isfinite(h["loss"]) and h["ekd"] > 0 for h in ckpt["history"] if "loss" in h)
    wrong = train.load_config(SMOKE, out_dir=str(tmp_path / "w"), database=str(out / "db.h5"), max_steps=1,
                              model={"widths": [4, 8], "embedding": 8}, distill=dict(distill))
    with pytest.raises(ValueError, match="embedding size"):
        train.train(wrong, log=lambda m: None)
    with pytest.raises(ValueError, match="precision"):
        train.train(train.load_config(SMOKE, out_dir=str(tmp_path / "p"), database=str(out / "db.h5"), max_steps=1,
                                      precision="fp16"), log=lambda m: None)


def test_teacher_override_needs_a_distillation_config(capsys):
    from training import pipeline, train
    for main in (train.main, pipeline.main):
        with pytest.raises(SystemExit) as exc:
            main(["--config", SMOKE, "--teacher", "runs/stage4/checkpoint.pt"])
        assert exc.value.code == 2 and "no distill section" in capsys.readouterr().err


def test_paired_difference_and_its_standard_error():
    from training.compare import paired_difference
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1])
    b = np.array([1, 0, 1, 1, 1, 0, 1, 1])
    d = b - a
    assert paired_difference(a, b) == pytest.approx((d.mean(), d.std(ddof=1) / np.sqrt(8)))
    assert paired_difference(a, a) == (0.0, 0.0)


def test_curves_per_family_is_a_count_capped_by_the_test_split_or_all_of_it():
    from training.evaluate import curves_per_family
    assert curves_per_family({"eval_per_family": 2000}, 7502) == 2000
    assert curves_per_family({"eval_per_family": 9000}, 7502) == 7502
    assert curves_per_family({"eval_per_family": "all"}, 7502) == 7502
    with pytest.raises(ValueError):
        curves_per_family({"eval_per_family": "most"}, 7502)


def test_compare_scores_every_bundle_on_the_same_curves(smoke_run, tmp_path):
    """The smoke bundle against itself and against a copy with its classifier biased towards one class."""
    out, _ = smoke_run
    import shutil
    import onnx
    from onnx import numpy_helper
    from training import compare, train
    from sasview_automodel.bundle import file_sha256
    card = str(out / "bundle" / "automodel.card.json")
    shutil.copytree(out / "bundle", tmp_path / "biased")
    model = onnx.load(str(tmp_path / "biased" / "automodel.onnx"))
    bias = next(t for t in model.graph.initializer if t.name == "net.classifier.bias")
    values = numpy_helper.to_array(bias).copy()
    values[0] += 1e3                                    # every curve answers sphere
    bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    onnx.save(model, str(tmp_path / "biased" / "automodel.onnx"))
    meta = json.load(open(tmp_path / "biased" / "automodel.card.json"))
    meta["onnx_sha256"] = file_sha256(str(tmp_path / "biased" / "automodel.onnx"))
    json.dump(meta, open(tmp_path / "biased" / "automodel.card.json", "w"))
    cfg = train.load_config(SMOKE, database=str(out / "db.h5"))
    rows = compare.compare(cfg, [card, card, str(tmp_path / "biased" / "automodel.card.json")], log=lambda m: None)
    assert {r["family"] for r in rows} == {"train-like", "usaxs", "slit_saxs", "sans_coarse", "waxs_edge", "held-out pooled"}
    for r in rows:
        if r["n"] == 0:   # a tiny draw can hold no identifiable curve of a family
            continue
        assert r["top1"][0] == r["top1"][1] and r["diff"][0][0] == 0.0
        assert r["diff"][1][0] == pytest.approx(r["top1"][2] - r["top1"][0])
    pooled = next(r for r in rows if r["family"] == "held-out pooled" and r["subset"] == "all")
    assert pooled["n"] == 4 * cfg["eval_per_family"] and pooled["top1"][2] < 0.5   # sphere is 1 class of 9
    assert "+-" in compare.table(rows, ["a", "b", "biased"])
    val = compare.compare(cfg, [card, card], log=lambda m: None, split="val")   # ship decisions: validation sets
    val_pooled = next(r for r in val if r["family"] == "held-out pooled" and r["subset"] == "all")
    assert val_pooled["n"] == 4 * cfg["eval_per_family"] and val_pooled["top1"][0] == val_pooled["top1"][1]
    with pytest.raises(ValueError, match="split"):
        compare.compare(cfg, [card, card], log=lambda m: None, split="train")


def test_simulated_curves_are_deterministic_per_index():
    from training.simulate import simulate_one
    a = simulate_one(4, seed=7)
    b = simulate_one(4, seed=7)
    assert a[0] == 4 and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_confusion_check_fits_the_true_model_well():
    from sasview_automodel.catalog import CLASS_NAMES
    from training import evaluate
    from training.data import Database, observe_row
    from training.instrument import load_config, without_nuisances
    from training.simulate import Q_FINE, simulate_one
    label, curve, pars, lengths = simulate_one(0, seed=11)  # a sphere
    db = Database(Q_FINE, curve[None], np.array([label]), np.array([lengths]), np.array([0]))
    rng = np.random.default_rng(0)
    clean = without_nuisances(load_config())   # the fit models no upturn or merged settings
    sample = observe_row(db, 0, rng, instruments=clean)
    chi_true = evaluate.fit_class(label, sample, Q_FINE, rng, start=pars)
    chi_cyl = evaluate.fit_class(CLASS_NAMES.index("cylinder"), sample, Q_FINE, rng, starts=1, max_nfev=3)
    assert chi_true < 3.0 and chi_true <= chi_cyl * 1.5


from training.simulate import simulate_chunk as _REAL_CHUNK  # noqa: E402  (before any monkeypatch)


def _failing_chunk(start, stop, seed, *rest):
    """Stand-in for simulate_chunk: the first chunk fails, every chunk that runs leaves a marker."""
    marker = os.environ["AUTOMODEL_TEST_MARKERS"]
    open(os.path.join(marker, str(start)), "w").close()
    if start == 0:
        raise RuntimeError("parameter set 0 gave no valid curve")
    import time
    time.sleep(1.0)
    return _REAL_CHUNK(start, stop, seed, *rest)


def test_a_failing_chunk_stops_the_simulation_at_once(tmp_path, monkeypatch):
    """The error surfaces as soon as the chunk fails: pending chunks are cancelled, not simulated."""
    from training import simulate
    markers = tmp_path / "ran"
    markers.mkdir()
    monkeypatch.setenv("AUTOMODEL_TEST_MARKERS", str(markers))
    monkeypatch.setattr(simulate, "simulate_chunk", _failing_chunk)
    monkeypatch.setattr(simulate, "START_METHOD", "fork")   # the patched chunk must reach the workers
    with pytest.raises(RuntimeError, match="no valid curve"):
        simulate.run(str(tmp_path / "db.h5"), 9 * 8, chunk=9, workers=1, progress=False)
    assert len(os.listdir(markers)) <= 3   # the failed chunk and at most the ones already queued


def test_stages_train_in_chain_order_each_from_the_previous_checkpoint(monkeypatch):
    """stage3 -> finetune -> full: stage 1 first, and each later stage starts from its base's checkpoint."""
    from training import pipeline, train

    configs = {"s3.yaml": {"base_config": "s2.yaml", "out_dir": "r3"},
               "s2.yaml": {"base_config": "s1.yaml", "out_dir": "r2"},
               "s1.yaml": {"out_dir": "r1"}}
    monkeypatch.setattr(train, "load_config", lambda path, **over: dict(configs[path], **over))
    trained = []
    monkeypatch.setattr(train, "train", lambda cfg, resume, log: trained.append((cfg["out_dir"], cfg.get("init_from"))))
    pipeline.train_stages(dict(configs["s3.yaml"], database="db.h5"))
    assert trained == [("r1", None), ("r2", os.path.join("r1", "checkpoint.pt")), ("r3", os.path.join("r2", "checkpoint.pt"))]


def test_weight_average_of_two_checkpoints_exports_with_its_sources(smoke_run, tmp_path):
    """training/average.py on two checkpoints of one run: mean weights, a bundle whose card says so."""
    out, _ = smoke_run
    import shutil
    import torch
    from training import average, export, train
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(out / "checkpoint.pt", run / "checkpoint.pt")
    shutil.copy(out / "checkpoint.pt", tmp_path / "a.pt")
    first = torch.load(tmp_path / "a.pt", weights_only=False)
    cfg = train.load_config(SMOKE, out_dir=str(run), database=str(out / "db.h5"), max_steps=first["step"] + 5)
    train.train(cfg, resume=True, log=lambda m: None)
    second = torch.load(run / "checkpoint.pt", weights_only=False)
    shutil.copy(run / "checkpoint.pt", tmp_path / "b_copy.pt")   # the same checkpoint twice counts once
    rc = average.main(["--config", SMOKE, "--database", str(out / "db.h5"), "--checkpoints", str(tmp_path / "a.pt"),
                       str(run / "checkpoint.pt"), str(tmp_path / "b_copy.pt"), "--out-dir", str(tmp_path / "avg"), "--bn-batches", "3", "--force"])
    assert rc == 0
    avg = torch.load(tmp_path / "avg" / "checkpoint.pt", weights_only=False)
    name = "stem.0.weight"
    assert torch.allclose(avg["model"][name], (first["model"][name] + second["model"][name]) / 2)
    assert [a["step"] for a in avg["averaged"]] == [first["step"], second["step"]]
    card = json.load(open(export.export(dict(cfg, out_dir=str(tmp_path / "avg")), str(tmp_path / "bundle"),
                                        log=lambda m: None)))
    assert card["training"]["averaged_steps"] == [first["step"], second["step"]]
    rc = average.main(["--config", SMOKE, "--database", str(out / "db.h5"), "--checkpoints", str(tmp_path / "a.pt"),
                       "--out-dir", str(tmp_path / "one")])
    assert rc == 2 and not (tmp_path / "one").exists()


def test_average_last_keeps_snapshots_and_the_pipeline_exports_their_average(smoke_run, tmp_path):
    """``average_last: N``: train.py keeps the N latest checkpoints; pipeline.averaged points export at their mean."""
    out, _ = smoke_run
    import shutil
    import torch
    from training import pipeline, train
    shutil.copy(out / "checkpoint.pt", tmp_path / "checkpoint.pt")
    step = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"]
    cfg = train.load_config(SMOKE, out_dir=str(tmp_path), database=str(out / "db.h5"), max_steps=step + 4,
                            checkpoint_minutes=0, average_last=3)   # a checkpoint (and snapshot) every step
    assert pipeline.averaged(cfg, log=lambda m: None) is cfg       # no snapshots yet: the plain checkpoint
    train.train(cfg, resume=True, log=lambda m: None)
    snaps = sorted(os.listdir(tmp_path / "snapshots"))
    assert snaps == [f"step_{s:06d}.pt" for s in (step + 2, step + 3, step + 4)]
    messages = []
    chosen = pipeline.averaged(cfg, log=messages.append)
    assert any("average of 3" in m for m in messages)
    if chosen["out_dir"] != cfg["out_dir"]:     # the average won on validation
        avg = torch.load(os.path.join(chosen["out_dir"], "checkpoint.pt"), weights_only=False)
        assert [a["step"] for a in avg["averaged"]] == [step + 2, step + 3, step + 4]
    else:
        assert any("does not beat" in m for m in messages)


def test_instrument_sweep_changes_one_draw_range_and_splits_by_a_field(smoke_run):
    out, _ = smoke_run
    from training import instrument_sweep
    from training.data import load_database
    assert instrument_sweep.parse_override("n_points=[200, 400]") == {"n_points": [200, 400]}
    with pytest.raises(ValueError):
        instrument_sweep.parse_override("n_points")
    table = instrument_sweep.with_overrides(instrument_sweep.load_instruments(), "sans_coarse", {"n_points": [200, 400]})
    assert table["held_out"]["sans_coarse"]["draw"]["n_points"] == [200, 400]
    assert instrument_sweep.load_instruments()["held_out"]["sans_coarse"]["draw"]["n_points"] == [40, 120]  # untouched
    db = load_database(str(out / "db.h5")).subset("test")
    card = str(out / "bundle" / "automodel.card.json")
    text = instrument_sweep.sweep(db, card, "sans_coarse", ["n_points=[200, 400]"], [], n=12)
    assert text.count("\n") == 3 and "| n_points=[200, 400] |" in text
    split = instrument_sweep.sweep(db, card, "train", [], ["dq_over_q_coarse={share: 0}"], n=12, by="dq_over_q", bins=[0.01, 0.2])
    assert "dq_over_q 0-0.01" in split and "dq_over_q 0.01-0.2" in split
    with pytest.raises(ValueError):
        instrument_sweep.sweep(db, card, "no_such_family", [], [], n=4)


def test_weighted_cross_entropy_moves_near_degenerate_targets_to_the_simpler_class():
    import torch
    import torch.nn.functional as F

    from training.train import weighted_cross_entropy
    logits = torch.randn(6, 9, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([1, 1, 3, 5, 0, 2])
    ident = torch.tensor([True, False, True, False, True, True])
    simpler = torch.tensor([-1, 0, -1, 0, -1, -1])
    plain = weighted_cross_entropy(logits, y, ident, 0.3)
    assert torch.isclose(weighted_cross_entropy(logits, y, ident, 0.3, simpler, 0.0), plain)
    per = F.cross_entropy(logits, y, reduction="none")
    alt = F.cross_entropy(logits, torch.tensor([0, 0, 0, 0, 0, 0]), reduction="none")
    mixed = torch.where(simpler >= 0, 0.25 * per + 0.75 * alt, per)
    w = torch.where(ident, 1.0, 0.3)
    assert torch.isclose(weighted_cross_entropy(logits, y, ident, 0.3, simpler, 0.75), (mixed * w).sum() / w.sum())
