"""ONNX time per curve of network shapes against stage 5's 24-48-64-96 GELU one (issue 7: where a
faster network would land; the shipped 16-48-64-96 ReLU network is one of them), measured in one run.

    python benchmarks/network_variants.py [--repeats 30] [--batch 32]

Each variant is a CurveNet with random weights (the time does not depend on the weights), exported
as the bundle exporter does (height-1 Conv2d trunk) and run by onnxruntime on one thread; the
variants are timed interleaved, best of ``--repeats``, so a loaded machine slows them alike and the
ratios hold. Prints multiply-adds per curve, microseconds per curve and the ratio to the
stage-5 shape. Needs the [train] extra (torch).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# (widths, kernel, activation); the first (stage 5's shape) is the reference of the ratios; the shipped
# network is 16-48-64-96 with ReLU. onnxruntime fuses ReLU into the
# convolution before it; GELU stays a separate pass over every activation map. Its 2D convolutions
# work on blocks of 16 channels (AVX-512) or 8 (AVX2), so 24 channels cost nearly what 32 do.
VARIANTS = {
    "stage 5 24-48-64-96 k5": ((24, 48, 64, 96), 5, "gelu"),
    "24-48-64-96 k5 relu": ((24, 48, 64, 96), 5, "relu"),
    "16-48-64-96 k5": ((16, 48, 64, 96), 5, "gelu"),
    "shipped 16-48-64-96 k5 relu": ((16, 48, 64, 96), 5, "relu"),
    "32-48-64-96 k5": ((32, 48, 64, 96), 5, "gelu"),
    "16-32-48-64 k5": ((16, 32, 48, 64), 5, "gelu"),
    "16-32-48-64 k5 relu": ((16, 32, 48, 64), 5, "relu"),
    "24-48-64-96 k3": ((24, 48, 64, 96), 3, "gelu"),
    "16-32-48-64 k3": ((16, 32, 48, 64), 3, "gelu"),
    "12-24-32-48 k5": ((12, 24, 32, 48), 5, "gelu"),
}


def multiply_adds(net) -> int:
    """Multiply-adds of the convolutions for one curve on the classifier grid."""
    import torch
    from torch import nn

    from sasview_automodel.grid import CHANNELS, GRID_SIZE
    total = 0

    def count(module, inputs, output):
        nonlocal total
        total += output.shape[1] * output.shape[2] * module.in_channels * module.kernel_size[0]

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.Conv1d)]
    with torch.no_grad():
        net(torch.zeros(1, len(CHANNELS), GRID_SIZE))
    for h in hooks:
        h.remove()
    return total


def onnx_session(net):
    import onnxruntime as ort
    import torch

    from sasview_automodel.grid import CHANNELS, GRID_SIZE
    from training.model import Conv2dTrunk
    buf = io.BytesIO()
    torch.onnx.export(Conv2dTrunk(net), (torch.zeros(2, len(CHANNELS), GRID_SIZE),), buf, input_names=["features"],
                      dynamic_axes={"features": {0: "batch"}}, opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args(argv)
    import warnings

    import numpy as np

    from sasview_automodel.catalog import CLASS_NAMES, REGRESSION_SLOTS, STRUCTURE_FACTORS
    from sasview_automodel.grid import CHANNELS, GRID_SIZE
    from training.model import CurveNet
    warnings.filterwarnings("ignore")
    sessions, macs = {}, {}
    for name, (widths, kernel, activation) in VARIANTS.items():
        net = CurveNet(len(CHANNELS), len(CLASS_NAMES), widths, 128, n_regression=len(REGRESSION_SLOTS),
                       n_structure=len(STRUCTURE_FACTORS), kernel=kernel, activation=activation).eval()
        macs[name], sessions[name] = multiply_adds(net), onnx_session(net)
    x = np.random.default_rng(0).normal(size=(args.batch, len(CHANNELS), GRID_SIZE)).astype(np.float32)
    x[:, 1] = 1.0   # mask: every bin covered
    best = dict.fromkeys(VARIANTS, float("inf"))
    for _ in range(args.repeats):
        for name, s in sessions.items():
            t = time.perf_counter()
            s.run(None, {"features": x})
            best[name] = min(best[name], (time.perf_counter() - t) / args.batch)
    base = best[next(iter(VARIANTS))]
    print(f"{'network':26s} {'M mult-adds':>11s} {'us/curve':>9s} {'ratio':>6s}   (ONNX, 1 thread, batches of {args.batch}, "
          f"best of {args.repeats})")
    for name in VARIANTS:
        print(f"{name:26s} {macs[name] / 1e6:11.1f} {best[name] * 1e6:9.1f} {best[name] / base:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
