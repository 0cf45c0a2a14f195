"""A timing stand-in for the shipped bundle: the recipe's network with random weights.

    python benchmarks/make_standin_bundle.py --out /tmp/standin [--config training/configs/recipe.yaml]
    sasview-automodel bench --model /tmp/standin/automodel.card.json

Its predictions are meaningless; it exists so that the ONNX cost of the real architecture
(widths and embedding from the config) can be measured before the trained bundle is
available. The card is the packaged one with the ONNX file, checksum and outlier statistics
(zero means, identity precision, of the right embedding size) replaced. Needs torch ([train]).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for automodel.onnx + automodel.card.json")
    ap.add_argument("--config", default=os.path.join(os.path.dirname(HERE), "training", "configs", "recipe.yaml"))
    ap.add_argument("--card", default=None, help="card to copy (default: the packaged one)")
    args = ap.parse_args(argv)

    import torch
    import yaml

    from sasview_automodel.bundle import ModelBundle, default_card_path
    from sasview_automodel.grid import CHANNELS, GRID_Q
    from training.train import build_model

    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    n_params = sum(p.numel() for p in model.parameters())
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "automodel.onnx")
    dummy = torch.zeros(2, len(CHANNELS), GRID_Q.size)
    torch.onnx.export(model, (dummy,), onnx_path, input_names=["features"], output_names=["logits", "embedding", "params"],
                      dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}, "embedding": {0: "batch"},
                                    "params": {0: "batch"}},
                      opset_version=17, dynamo=False)
    with open(args.card or default_card_path()) as f:
        card = json.load(f)
    with open(onnx_path, "rb") as f:
        card["onnx_sha256"] = hashlib.sha256(f.read()).hexdigest()
    e = int(cfg["model"]["embedding"])
    n_classes = len(card["classes"])
    card["ood"] = dict(card["ood"], means=[[0.0] * e for _ in range(n_classes)],
                       precision=[[float(i == j) for j in range(e)] for i in range(e)])
    card["name"] = "standin-random-weights"
    card["metrics"] = {"note": f"random weights, {n_params} parameters: for timing only"}
    card_path = os.path.join(args.out, "automodel.card.json")
    with open(card_path, "w") as f:
        json.dump(card, f, indent=1)
    ModelBundle.load(card_path)
    print(f"wrote {card_path} ({n_params:,} parameters, {os.path.getsize(onnx_path) / 1e6:.2f} MB ONNX)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
