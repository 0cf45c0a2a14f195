"""The evaluation's confusion-fit check alone: the same rows, seeds and pairs as training.evaluate.

    python -m training.confusion_check --config training/configs/finetune.yaml --database DB [--per-pair 3]

Prints one JSON row per pair (true, predicted, misclassified, fitted, physical, median chi2 ratio),
as they finish, for when the full evaluation had to skip the check (``--per-pair 0``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from sasview_automodel import Suggester
from sasview_automodel.catalog import CLASS_NAMES
from training.data import load_database
from training.evaluate import confused_pairs, evaluation_rng, evaluation_seed, family_results, physical_confusions
from training.instrument import load_config as load_instruments
from training.train import load_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database")
    ap.add_argument("--card", default=os.path.join("sasview_automodel", "models", "automodel.card.json"))
    ap.add_argument("--per-pair", type=int, default=3)
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database)
    suggester = Suggester(args.card)
    db = load_database(cfg["database"], with_params=True, with_radius_effective=True).subset("test")
    heldout = list(load_instruments()["held_out"])
    results = family_results(suggester, db, heldout, cfg, evaluation_rng(cfg), log=lambda m: print(m, flush=True))
    _, pairs = confused_pairs(results, heldout)
    print("pairs", [(CLASS_NAMES[a], CLASS_NAMES[b]) for a, b in pairs[:3]], flush=True)
    for pair in pairs[:3]:
        (row,) = physical_confusions({f: results[f] for f in heldout}, db, [pair], args.per_pair, evaluation_seed(cfg),
                                     lambda m: print(m, flush=True))
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
