"""Start a narrower network from a trained wider one (structured channel pruning).

``narrow_into(src, dst)`` copies a trained :class:`CurveNet` into one with the same stages, kernel
and heads but fewer channels in some stages (the shipped ReLU 16-48-64-96 network of issue 7 from
stage 5's 24-48-64-96 one). Per stage it keeps the residual-stream channels that the next stage (or
the pooling head) reads most (L2 norm of the consumer weights over that input channel), and per
block the inner channels with the largest conv1 x BatchNorm x conv2 gain; every weight and
BatchNorm statistic is the source's, sliced. The activation may differ (it has no weights).
``training.average.recompute_batchnorm`` then re-measures every BatchNorm on training curves, since dropped
channels (and ReLU for GELU) shift what the layers after them see. Fine-tuning with
distillation from the source (train.py, ``distill``) recovers the rest.
"""
from __future__ import annotations

import torch
from torch import nn

from training.model import CurveNet, ResBlock


def architecture(model: CurveNet) -> dict:
    """Widths, kernel and embedding of ``model`` (what narrowing may and may not change)."""
    blocks = list(model.blocks)
    return {"widths": tuple(b.conv2.out_channels for b in blocks[1::2]),
            "kernel": blocks[0].conv1.kernel_size[0], "embedding": model.head[-1].out_features,
            "heads": tuple((n, tuple(p.shape)) for n, p in model.named_parameters()
                           if n.startswith(("classifier", "regressor", "structure", "volfraction")))}


def _norm_over(weight: torch.Tensor, dim: int) -> torch.Tensor:
    """L2 norm of ``weight`` over every dimension but ``dim``."""
    return weight.transpose(0, dim).reshape(weight.shape[dim], -1).norm(dim=1)


def _top(score: torch.Tensor, n: int) -> torch.Tensor:
    return torch.sort(torch.topk(score, n).indices).values


def _bn_gain(bn: nn.BatchNorm1d) -> torch.Tensor:
    return bn.weight.abs() / torch.sqrt(bn.running_var + bn.eps)


def _copy_conv(dst: nn.Conv1d, src: nn.Conv1d, out_idx: torch.Tensor, in_idx: torch.Tensor) -> None:
    dst.weight.copy_(src.weight[out_idx][:, in_idx])
    if src.bias is not None:
        dst.bias.copy_(src.bias[out_idx])


def _copy_bn(dst: nn.BatchNorm1d, src: nn.BatchNorm1d, idx: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(src, name)[idx])


@torch.no_grad()
def narrow_into(src: CurveNet, dst: CurveNet) -> dict[str, list[int]]:
    """Fill ``dst`` with the channels of ``src`` it keeps; returns the kept indices per channel space.

    ValueError if ``dst`` is not a narrowing of ``src`` (another number of stages, kernel, embedding
    or heads, or a stage wider than the source's)."""
    a, b = architecture(src), architecture(dst)
    if (len(a["widths"]), a["kernel"], a["embedding"], a["heads"]) != (len(b["widths"]), b["kernel"], b["embedding"], b["heads"]):
        raise ValueError(f"cannot narrow {a} into {b}: only the stage widths may differ")
    if any(w_dst > w_src for w_src, w_dst in zip(a["widths"], b["widths"])):
        raise ValueError(f"cannot narrow widths {a['widths']} into wider {b['widths']}")
    s_blocks: list[ResBlock] = list(src.blocks)
    d_blocks: list[ResBlock] = list(dst.blocks)
    n_stages = len(a["widths"])
    kept: dict[str, list[int]] = {}
    stream = []   # kept residual-stream channels of each stage
    for i in range(n_stages):
        if i + 1 < n_stages:   # read by the next stage's first block
            nxt = s_blocks[2 * i + 2]
            score = _norm_over(nxt.conv1.weight, 1) + (_norm_over(nxt.skip[0].weight, 1)
                                                       if isinstance(nxt.skip, nn.Sequential) else 0.0)
        else:                  # read by the pooling head: [mean, peak]
            w = src.head[0].weight
            c = a["widths"][-1]
            score = _norm_over(w[:, :c], 1) + _norm_over(w[:, c:], 1)
        stream.append(_top(score, b["widths"][i]))
        kept[f"stage{i}"] = stream[-1].tolist()
    # the stem writes stage 0's stream
    _copy_conv(dst.stem[0], src.stem[0], stream[0], torch.arange(src.stem[0].in_channels))
    _copy_bn(dst.stem[1], src.stem[1], stream[0])
    for j, (sb, db) in enumerate(zip(s_blocks, d_blocks)):
        stage = j // 2
        in_idx = stream[stage - 1] if (j % 2 == 0 and stage > 0) else stream[stage]
        out_idx = stream[stage]
        inner_score = _norm_over(sb.conv1.weight, 0) * _bn_gain(sb.bn1) * _norm_over(sb.conv2.weight, 1)
        inner = _top(inner_score, db.conv1.out_channels)
        kept[f"block{j}.inner"] = inner.tolist()
        _copy_conv(db.conv1, sb.conv1, inner, in_idx)
        _copy_bn(db.bn1, sb.bn1, inner)
        _copy_conv(db.conv2, sb.conv2, out_idx, inner)
        _copy_bn(db.bn2, sb.bn2, out_idx)
        if isinstance(sb.skip, nn.Sequential):
            _copy_conv(db.skip[0], sb.skip[0], out_idx, in_idx)
            _copy_bn(db.skip[1], sb.skip[1], out_idx)
    last = stream[-1]
    c = a["widths"][-1]
    dst.head[0].weight.copy_(torch.cat([src.head[0].weight[:, last], src.head[0].weight[:, c + last]], dim=1))
    dst.head[0].bias.copy_(src.head[0].bias)
    for name, module in src.named_children():   # the rest of the head and every output layer, as they are
        if name not in ("stem", "blocks") and module is not None:
            target = getattr(dst, name)
            if name == "head":
                target[2].load_state_dict(module[2].state_dict())
            else:
                target.load_state_dict(module.state_dict())
    return kept
