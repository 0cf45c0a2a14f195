"""Warm start from an ONNX bundle: the rebuilt torch model computes what the bundle computes."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from sasview_automodel.bundle import ModelBundle
from sasview_automodel.grid import CHANNELS, GRID_Q
from training.model import Conv2dTrunk, CurveNet
from training.warmstart import load_onnx_weights

N_REG, N_SQ = 31, 4


def _features(n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(CHANNELS), GRID_Q.size)).astype(np.float32)
    x[:, 1] = (rng.uniform(size=(n, 1)) < 0.8) & (np.arange(GRID_Q.size) > rng.integers(0, 100, (n, 1)))
    return torch.from_numpy(x)


def _export(net: CurveNet, path: str) -> None:
    outputs = ["logits", "embedding", "params", "structure_logits", "volfraction"]
    torch.onnx.export(Conv2dTrunk(net), (torch.zeros(2, len(CHANNELS), GRID_Q.size),), path,
                      input_names=["features"], output_names=outputs,
                      dynamic_axes={"features": {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
                      opset_version=17, dynamo=False)


def _trained_net() -> CurveNet:
    torch.manual_seed(0)
    net = CurveNet(len(CHANNELS), 9, (8, 16), 16, n_regression=N_REG, n_structure=N_SQ)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for step in range(5):  # a few steps so BatchNorm statistics and affine are not their defaults
        x = _features(32, step)
        loss = net(x)[0].pow(2).mean() + net(x)[1].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


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
    """The committed bundle is a valid starting point for the next run (full.yaml's architecture)."""
    from training.train import build_model, load_config
    cfg = load_config("training/configs/full.yaml")
    model = build_model(cfg)
    bundle = ModelBundle.load()
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
