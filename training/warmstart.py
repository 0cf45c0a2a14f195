"""Start training from the weights of a shipped ONNX bundle (checkpoints do not outlive a machine).

The exported graph has every BatchNorm folded into the convolution before it (weight ``W*g/s``,
bias ``b``). ``load_onnx_weights`` puts those folded weights back into a :class:`CurveNet` and
rebuilds each BatchNorm from the statistics of its own input on calibration curves: running
mean ``m`` and variance ``v`` measured there, affine ``gamma = sqrt(v + eps)``, ``beta = b + m``.
The eval-mode function is then exactly the bundle's, and in train mode the batch statistics
are close to ``m, v``, so a new run continues from where the shipped model stopped.

    python -m training.train --config training/configs/recipe.yaml \
        --init-from sasview_automodel/models/automodel.onnx

(the recipe declares its warm start itself: ``init_from: git:REV:PATH``, the bundle committed at REV)
"""
from __future__ import annotations

import re

import numpy as np
import torch
from torch import nn

from training.model import CurveNet


def _onnx_initializers(path: str) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _conv_bn_pairs(model: CurveNet) -> list[tuple[nn.Conv1d, nn.BatchNorm1d]]:
    """Every (Conv1d, BatchNorm1d) pair of the trunk, in module order (the exporter's order)."""
    mods = [m for m in list(model.stem.modules()) + list(model.blocks.modules())
            if isinstance(m, (nn.Conv1d, nn.BatchNorm1d))]
    pairs = list(zip(mods[0::2], mods[1::2]))
    if not all(isinstance(c, nn.Conv1d) and isinstance(b, nn.BatchNorm1d) for c, b in pairs):
        raise ValueError("trunk is not a sequence of Conv1d + BatchNorm1d pairs")
    return pairs


def load_onnx_weights(model: CurveNet, onnx_path: str, calibration: torch.Tensor) -> None:
    """Fill ``model`` from the bundle at ``onnx_path`` (same architecture), BatchNorms rebuilt on
    ``calibration`` features (B, C, G) drawn as in training."""
    init = _onnx_initializers(onnx_path)
    # the outlier detector's embedding bank (Conv2dTrunk, a 2-D constant whatever name the exporter
    # gives it) is not a weight; folded convolutions are 4-D weights and 1-D biases
    init = {k: v for k, v in init.items() if k.startswith("net.") or v.ndim != 2}
    heads = {k[len("net."):]: v for k, v in init.items() if k.startswith("net.")}
    folded = sorted((k for k in init if not k.startswith("net.")), key=lambda k: int(re.findall(r"\d+", k)[-1]))
    pairs = _conv_bn_pairs(model)
    if len(folded) != 2 * len(pairs):
        raise ValueError(f"{onnx_path}: {len(folded) // 2} folded convolutions, the model has {len(pairs)}")
    state = model.state_dict()
    for name, value in heads.items():
        if name not in state or tuple(state[name].shape) != value.shape:
            raise ValueError(f"{onnx_path}: head tensor {name} {value.shape} does not fit the model")
        state[name] = torch.from_numpy(value.copy())
    model.load_state_dict(state)
    biases = []
    with torch.no_grad():
        for (conv, bn), (wk, bk) in zip(pairs, zip(folded[0::2], folded[1::2])):
            w = torch.from_numpy(init[wk][:, :, 0, :].copy())     # height-1 Conv2d -> Conv1d
            if w.shape != conv.weight.shape:
                raise ValueError(f"{onnx_path}: convolution {wk} {tuple(w.shape)} != {tuple(conv.weight.shape)}")
            conv.weight.copy_(w)
            b = torch.from_numpy(init[bk].copy())
            biases.append(b)
            # identity BatchNorm first: the model is then exactly the bundle in eval mode
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(b)
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(index):
        def record(module, inputs):
            z = inputs[0].transpose(0, 1).reshape(inputs[0].shape[1], -1)
            stats[index] = (z.mean(1), z.var(1))
        return record

    handles = [bn.register_forward_pre_hook(hook(i)) for i, (_, bn) in enumerate(pairs)]
    model.eval()
    with torch.no_grad():
        model(calibration)
    for h in handles:
        h.remove()
    with torch.no_grad():
        for i, (_, bn) in enumerate(pairs):
            m, v = stats[i]
            bn.running_mean.copy_(m)
            bn.running_var.copy_(v)
            bn.weight.copy_(torch.sqrt(v + bn.eps))
            bn.bias.copy_(biases[i] + m)
