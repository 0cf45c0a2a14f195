"""Compare bundles on identical test curves, with the paired standard error of each difference.

    python -m training.compare --config training/configs/recipe.yaml --database DB \
        --cards BASE/automodel.card.json OTHER/automodel.card.json [...]

The dilute test curves of training/evaluate.py (same seed, rows and instrument draws: the config's
``eval_seed``) are observed once and scored by every bundle. Per instrument family, top-1 of each
bundle on identifiable curves and on all curves, and each bundle's difference to the first one with
its paired standard error (the spread of the per-curve differences / sqrt(n)): two bundles scored on
the same curves differ by much less noise than two independent draws. Prints a markdown table.

``--split val`` draws the same way from the validation sets instead: what a ship decision between
candidates is made on, so that the test split is looked at once, for the figures reported.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from sasview_automodel import Suggester
from training.data import load_database
from training.evaluate import evaluation_rng, family_results
from training.instrument import load_config as load_instruments, without_nuisances
from training.train import git_show, load_config


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[float, float]:
    """(mean of b - a, its standard error) for per-curve 0/1 outcomes of two models on the same curves."""
    d = np.asarray(correct_b, float) - np.asarray(correct_a, float)
    if d.size < 2:
        return float(d.mean()) if d.size else float("nan"), float("nan")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


def within_catalog(db, rev: str):
    """The sets of ``db`` that the catalog committed in git revision ``rev`` could have drawn (its
    parameter ranges and excluded bands, widths up to 0.25, no lognormal, nothing near-degenerate
    now): the closest a database of today's prior gets to an earlier bundle's own test prior."""
    import importlib.util
    import json
    import os
    import tempfile

    from sasview_automodel.catalog import CLASSES
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write(git_show(rev, "sasview_automodel/catalog.py"))
    spec = importlib.util.spec_from_file_location(f"catalog_{rev}", f.name)
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old
    spec.loader.exec_module(old)
    os.unlink(f.name)
    keep = []
    for k, p in zip(db.label, db.params):
        pars, spec_now = json.loads(p), CLASSES[k]
        keep.append(old.CLASSES[k].allows(pars) and pars[spec_now.pd_param + "_pd"] <= 0.25
                    and pars[spec_now.pd_param + "_pd_type"] != "lognormal" and not spec_now.near_degenerate(pars))
    return db.take(np.array(keep))


def compare(cfg: dict, cards: list[str], log=print, split: str = "test", nuisances: bool = True,
            catalog_rev: str | None = None) -> list[dict]:
    """Rows (family, subset, n, top-1 per card, difference to the first card and its SE) on the
    ``split`` ("test" or "val") sets; ``nuisances=False`` observes them through the instruments alone;
    ``catalog_rev`` keeps the sets an earlier catalog could have drawn (``within_catalog``)."""
    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', not {split!r}")
    suggesters = [Suggester(c) for c in cards]
    db = load_database(cfg["database"], with_params=True, with_radius_effective=True).subset(split)
    if catalog_rev:
        db = within_catalog(db, catalog_rev)
        log(f"{len(db)} {split} sets inside the catalog of {catalog_rev}")
    table = load_instruments()
    heldout = list(table["held_out"])
    results = family_results(suggesters[0], db, heldout, cfg, evaluation_rng(cfg), log,
                             instruments=None if nuisances else without_nuisances(table))
    correct = {}   # family -> (identifiable mask, [top-1 correct per card])
    for family, r in results.items():
        hits = [r["probs"].argmax(1) == r["labels"]]
        hits += [s.score(r["x"])["probs"].argmax(1) == r["labels"] for s in suggesters[1:]]
        correct[family] = (r["ident"], hits)
    pooled = [f for f in results if f != "train-like"]
    correct["held-out pooled"] = (np.concatenate([correct[f][0] for f in pooled]),
                                  [np.concatenate([correct[f][1][k] for f in pooled]) for k in range(len(cards))])
    rows = []
    for family, (ident, hits) in correct.items():
        for subset, sel in (("identifiable", ident), ("all", np.ones_like(ident))):
            row = {"family": family, "subset": subset, "n": int(sel.sum()),
                   "top1": [float(h[sel].mean()) for h in hits]}
            row["diff"] = [paired_difference(hits[0][sel], h[sel]) for h in hits[1:]]
            rows.append(row)
    return rows


def table(rows: list[dict], labels: list[str]) -> str:
    head = ["family", "curves", "n"] + [f"top-1 {lab}" for lab in labels] + [f"{lab} - {labels[0]}" for lab in labels[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["family"], r["subset"], str(r["n"])] + [f"{100 * v:.1f}" for v in r["top1"]]
        cells += [f"{100 * d:+.1f} +- {100 * se:.1f}" for d, se in r["diff"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="the config whose eval_seed / seed fixes the test draw")
    ap.add_argument("--database")
    ap.add_argument("--cards", nargs="+", required=True, help="model cards; differences are to the first")
    ap.add_argument("--labels", nargs="+", help="column names (default: A, B, C, ...)")
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="val: validation sets, for choosing what to ship (default: test)")
    ap.add_argument("--within-catalog", metavar="REV",
                    help="only the sets the catalog of git revision REV could have drawn (an earlier bundle's prior)")
    ap.add_argument("--without-nuisances", action="store_true",
                    help="observe through the instruments alone (no upturns, merged settings, ...: the clean prior)")
    args = ap.parse_args(argv)
    if len(args.cards) < 2:
        ap.error("give at least two cards")
    labels = args.labels or [chr(ord("A") + i) for i in range(len(args.cards))]
    if len(labels) != len(args.cards):
        ap.error("give one label per card")
    cfg = load_config(args.config, database=args.database)
    print(table(compare(cfg, args.cards, log=lambda m: print(m, file=sys.stderr), split=args.split,
                        nuisances=not args.without_nuisances, catalog_rev=args.within_catalog), labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
