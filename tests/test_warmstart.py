"""Warm start from an ONNX bundle: the rebuilt torch model computes what the bundle computes."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

pytestmark = pytest.mark.slow   # torch training steps or a dask cluster: make test-unit leaves them out
import torch

from sasview_automodel.bundle import ModelBundle
from sasview_automodel.grid import CHANNELS, GRID_Q
from training.model import Conv2dTrunk, CurveNet
from training.warmstart import load_onnx_weights
from tests.conftest import random_features

N_REG, N_SQ = 31, 4


def _features(n: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(random_features(n, seed))


def _export(net: CurveNet, path: str, bank: np.ndarray | None = None, k: int = 3) -> None:
    outputs = ["logits", "embedding", "params", "structure_logits", "volfraction"] + (["knn_distance"] if bank is not None else [])
    trunk = Conv2dTrunk(net) if bank is None else Conv2dTrunk(net, bank, k)
    torch.onnx.export(trunk, (torch.zeros(2, len(CHANNELS), GRID_Q.size),), path,
                      input_names=["features"], output_names=outputs,
                      dynamic_axes={"features": {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
                      opset_version=17, dynamo=False)


def _trained_net() -> CurveNet:
    torch.manual_seed(0)
    net = CurveNet(len(CHANNELS), 9, (8, 16), 16, n_regression=N_REG, n_structure=N_SQ)
    opt = torch.optim.SGD(net.parameters(), lr=0.02)
    for step in range(5):  # a few steps so BatchNorm statistics and affine are not their defaults
        x = _features(32, step)
        logits, emb = net(x)[:2]
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(32) % 9) + 0.1 * emb.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():   # a diverged net (NaN everywhere) would make every comparison below pass
        assert all(torch.isfinite(o).all() for o in net(_features(8, 0)))
    return net


def test_rebuilt_model_matches_the_onnx_bundle(tmp_path):
    path = str(tmp_path / "m.onnx")
    _export(_trained_net(), path)
    fresh = CurveNet(len(CHANNELS), 9, (8, 16), 16, n_regression=N_REG, n_structure=N_SQ)
    load_onnx_weights(fresh, path, _features(256, 99))
    x = _features(16, 123)
    with torch.no_grad():
        ours = [o.numpy() for o in fresh.eval()(x)]
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"features": x.numpy()})
    for a, b in zip(ours, ref):
        assert np.isfinite(b).all()
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_rebuilt_batchnorm_statistics_are_those_of_the_calibration_curves(tmp_path):
    path = str(tmp_path / "m.onnx")
    _export(_trained_net(), path)
    fresh = CurveNet(len(CHANNELS), 9, (8, 16), 16, n_regression=N_REG, n_structure=N_SQ)
    calib = _features(256, 5)
    load_onnx_weights(fresh, path, calib)
    # in train mode the batch statistics of the same curves reproduce the eval-mode function
    with torch.no_grad():
        ev = fresh.eval()(calib)[0]
        tr = fresh.train()(calib)[0]
    np.testing.assert_allclose(tr.numpy(), ev.numpy(), rtol=1e-3, atol=1e-3)


def test_shipped_bundle_loads_into_its_training_architecture():
    """The committed bundle is a valid starting point for the next run (the architecture its card records)."""
    from training.train import build_model, source_config
    bundle = ModelBundle.load()
    model = build_model(source_config(bundle.onnx_path))
    load_onnx_weights(model, bundle.onnx_path, _features(64, 1))
    x = _features(8, 2)
    with torch.no_grad():
        logits = model.eval()(x)[0].numpy()
    ref = ort.InferenceSession(bundle.onnx_path, providers=["CPUExecutionProvider"]).run(["logits"], {"features": x.numpy()})[0]
    np.testing.assert_allclose(logits, ref, rtol=1e-3, atol=1e-3)


def test_a_bundle_of_another_architecture_is_refused(tmp_path):
    path = str(tmp_path / "m.onnx")
    _export(_trained_net(), path)
    other = CurveNet(len(CHANNELS), 9, (8, 16, 24), 16, n_regression=N_REG, n_structure=N_SQ)
    with pytest.raises(ValueError):
        load_onnx_weights(other, path, _features(8, 0))


def _bank(net: CurveNet, n: int = 40) -> np.ndarray:
    with torch.no_grad():
        e = net(_features(n, 7))[1].numpy().astype(np.float64)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_knn_output_of_the_graph_is_the_reference_knn_distance(tmp_path):
    """The bundle's in-graph k-NN distance equals scoring.knn_distance on its own embedding; a bank
    member is at distance ~0 for k = 1."""
    from sasview_automodel.scoring import knn_distance
    net = _trained_net()
    bank = _bank(net)
    path = str(tmp_path / "knn.onnx")
    _export(net, path, bank, k=3)
    x = _features(16, 5).numpy()
    out = dict(zip([o.name for o in ort.InferenceSession(path, providers=["CPUExecutionProvider"]).get_outputs()],
                   ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"features": x})))
    np.testing.assert_allclose(out["knn_distance"], knn_distance(out["embedding"], bank, 3), atol=1e-5)
    d1 = knn_distance(bank[:4], bank, 1)
    np.testing.assert_allclose(d1, 0.0, atol=1e-9)
    assert np.all(knn_distance(out["embedding"], bank, 3) >= knn_distance(out["embedding"], bank, 1))


def test_warm_start_ignores_the_knn_bank(tmp_path):
    net = _trained_net()
    path = str(tmp_path / "knn.onnx")
    _export(net, path, _bank(net))
    fresh = CurveNet(len(CHANNELS), 9, (8, 16), 16, n_regression=N_REG, n_structure=N_SQ)
    load_onnx_weights(fresh, path, _features(256, 99))   # would raise on an unexpected initializer
    x = _features(8, 3)
    with torch.no_grad():
        np.testing.assert_allclose(fresh.eval()(x)[0].numpy(), net(x)[0].numpy(), rtol=1e-3, atol=1e-3)


def test_a_relu_network_exports_to_the_same_function_with_relu_in_the_graph(tmp_path):
    """activation: relu (onnxruntime fuses it into each convolution) exports and runs as trained."""
    import onnx
    torch.manual_seed(1)
    net = CurveNet(len(CHANNELS), 9, (8, 16), 16, n_regression=N_REG, n_structure=N_SQ, activation="relu").eval()
    path = str(tmp_path / "relu.onnx")
    _export(net, path)
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert "Relu" in ops
    x = _features(8, 7)
    with torch.no_grad():
        ours = [o.numpy() for o in net(x)]
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"features": x.numpy()})
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="activation"):
        CurveNet(len(CHANNELS), 9, (8, 16), 16, activation="swish")


def test_a_committed_warm_start_records_what_its_weights_had_seen(monkeypatch):
    """``init_from: git:REV:PATH`` (the recipe's declared warm start): the lineage comes from the card
    committed beside the ONNX file, not "an unrecorded run"; a revision git does not have stays unknown.
    (git itself is stood in for by the working tree: revision ``REV`` holds the shipped bundle.)"""
    import json
    import os
    import subprocess

    from training import train

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git_show(rev: str, path: str) -> bytes:
        if rev != "REV":
            raise subprocess.CalledProcessError(128, ["git", "show", f"{rev}:{path}"])
        with open(os.path.join(root, path), "rb") as f:
            return f.read()

    monkeypatch.setattr(train, "git_show", git_show)
    with open(os.path.join(root, "sasview_automodel", "models", "automodel.card.json")) as f:
        committed = json.load(f)
    source = "git:REV:sasview_automodel/models/automodel.onnx"
    stages = train.earlier_stages({"init_from": source})
    assert stages[-1]["source"] == source and stages[-1].get("known", True)
    assert stages[-1]["onnx_sha256"] == committed["onnx_sha256"]
    assert stages[-1]["steps"] == committed["training"]["steps"]
    assert stages[:-1] == committed["training"].get("earlier_stages", [])
    assert train.earlier_stages({"init_from": "git:OTHER:x.onnx"}) == [
        {"source": "git:OTHER:x.onnx", "onnx_sha256": None, "known": False}]
