"""Does the classifier know its training particles better than new ones? (Is data the bottleneck?)

The same bundle, the same instrument draws, on parameter sets it trained on (the train split of the
first ``database_curves`` sets its card records) and on test sets it never saw:

    python -m training.particle_gap --config training/configs/stage4.yaml --database DB \
        --card sasview_automodel/models/automodel.card.json [--per-family 1000]

A train-minus-test gap near zero says the network does not memorise particles, so a larger database
alone will not raise accuracy; capacity, training time or the input have to. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from sasview_automodel import Suggester
from sasview_automodel.bundle import default_card_path
from training.data import load_database
from training.evaluate import evaluation_seed, run_family, topk
from training.instrument import load_config as load_instruments
from training.train import load_config


def particle_gap(cfg: dict, card_path: str, per_family: int = 1000, log=print) -> list[dict]:
    """Top-1 (identifiable and all) on train-split and test-split parameter sets, per instrument family."""
    with open(card_path) as f:
        trained_on = int(json.load(f)["training"]["database_curves"])
    db = load_database(cfg["database"], limit=trained_on)
    suggester = Suggester(card_path)
    rng = np.random.default_rng([evaluation_seed(cfg), 4711])
    rows, pooled = [], {"train": [], "test": []}
    subsets = {split: db.subset(split) for split in pooled}   # copies of the arrays: made once
    for family in ["train", *load_instruments()["held_out"]]:
        results = {}
        for split, sub in subsets.items():
            picked = rng.choice(len(sub), size=min(per_family, len(sub)), replace=False)
            results[split] = r = run_family(suggester, sub, picked, family, evaluation_seed(cfg))
            if family != "train":
                pooled[split].append(r)
        rows.append(_row("train-like" if family == "train" else family, results))
        log(f"{rows[-1]['family']:12s} trained-on {rows[-1]['train_ident']:.1f} / {rows[-1]['train_all']:.1f}   "
            f"test {rows[-1]['test_ident']:.1f} / {rows[-1]['test_all']:.1f}")
    rows.append(_row("held-out pooled", {split: {k: np.concatenate([r[k] for r in parts]) for k in ("probs", "labels", "ident")}
                                         for split, parts in pooled.items()}))
    return rows


def _row(family: str, results: dict) -> dict:
    row = {"family": family}
    for split, r in results.items():
        row[f"{split}_ident"] = 100 * topk(r["probs"][r["ident"]], r["labels"][r["ident"]], 1)
        row[f"{split}_all"] = 100 * topk(r["probs"], r["labels"], 1)
        row[f"{split}_n"] = len(r["labels"])
    return row


def table(rows: list[dict]) -> str:
    lines = ["| family | n per split | top-1 ident., trained-on sets | top-1 ident., test sets | gap | "
             "top-1 all, trained-on | top-1 all, test | gap |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['test_n']} | {r['train_ident']:.1f} | {r['test_ident']:.1f} | "
                     f"{r['train_ident'] - r['test_ident']:+.1f} | {r['train_all']:.1f} | {r['test_all']:.1f} | "
                     f"{r['train_all'] - r['test_all']:+.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database", help="override the config's database path")
    ap.add_argument("--card", default=None, help="model card (default: the shipped bundle)")
    ap.add_argument("--per-family", type=int, default=1000, help="parameter sets per split and family")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database)
    card = args.card or default_card_path()
    print(table(particle_gap(cfg, card, args.per_family, log=lambda m: print(m, flush=True))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
