"""Prior-shift stress sets: test curves drawn beyond the training priors, so a gap like the one
measured curves exposed shows up in our own numbers.

    python -m training.stress --config training/configs/recipe.yaml [--card CARD] [--n 1500]

Two kinds of set, each scored through the runtime path and reported beside the held-out
instrument families (training/evaluate.py appends the same table to its report):

* **nuisance sets**: the test split observed through training-like instruments whose nuisance (or
  instrument range) is widened beyond its training range (``stress`` in configs/instruments.yaml;
  e.g. an upturn on every curve, steeper and crossing further into the window, or backgrounds
  up to 100 x the high-q signal), plus ``clean``: no nuisances at all (the instruments of before);
* **parameter sets**: new particles simulated at evaluation time from the catalog with every
  parameter range widened by ``WIDEN`` (log ranges x/÷ WIDEN, the degenerate bands kept out),
  size distributions up to ``PD_MAX``, sizes and ratios beyond what training drew.

Per set: top-1 / top-3 on identifiable curves, ECE of the top probability and of the confidence
value, in-catalog curves flagged as outliers, and the outlier AUROC against the evaluation's outlier curves observed through
the same stressed instruments.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from dataclasses import replace

import numpy as np

from sasview_automodel import Suggester
from sasview_automodel.catalog import CLASSES, Param
from training.data import Database, load_database
from training.instrument import load_config as load_instruments, stressed, without_nuisances
from training.metrics import auroc, ece_of_confidence, ece_of_probs

WIDEN = 2.0        # parameter-set ranges widened by this factor on each side (log ranges)
PD_MAX = 0.6       # size-distribution widths drawn up to this
PARAM_SETS_PER_CLASS = 60


def widened(param: Param) -> Param:
    """``param`` with its range widened by WIDEN (log) or by its span (linear) on each side."""
    if param.log:
        low, high = param.low / WIDEN, param.high * WIDEN
    else:
        span = param.high - param.low
        low, high = param.low - 0.5 * span, param.high + 0.5 * span
    return replace(param, low=low, high=high, max_value=None if param.max_value is None else param.max_value * WIDEN)


def simulate_widened(q_fine: np.ndarray, per_class: int, seed: int) -> Database:
    """Particles drawn from the widened catalog, simulated on ``q_fine`` (a small database)."""
    from sasmodels.direct_model import call_kernel
    from training.simulate import _kernel

    curves, labels, lengths = [], [], []
    for k, spec in enumerate(CLASSES):
        wide = replace(spec, params=tuple(widened(p) for p in spec.params))
        rng = np.random.default_rng([seed, k, 8080])
        made = 0
        for _ in range(per_class * 5):
            if made == per_class:
                break
            try:
                pars = wide.draw(rng)
            except RuntimeError:
                continue
            pars[spec.pd_param + "_pd"] = float(rng.uniform(0.0, PD_MAX))
            intensity = np.asarray(call_kernel(_kernel(spec.name), dict(pars, scale=1.0, background=0.0)))
            if np.all(np.isfinite(intensity)) and np.all(intensity > 0):
                curves.append(intensity / intensity[0])
                labels.append(k)
                lengths.append(spec.feature_lengths(pars))
                made += 1
    n = len(labels)
    return Database(q=q_fine, intensity=np.array(curves, np.float32), label=np.array(labels), lengths=np.array(lengths, np.float32),
                    index=np.arange(n), near_degenerate=np.zeros(n, bool))


def stress_tables(table: dict) -> dict[str, dict]:
    """Instrument table per nuisance stress set: ``clean`` first, then the ``stress`` block's sets."""
    out = {"clean": without_nuisances(table)}
    out.update({name: stressed(table, overrides) for name, overrides in (table.get("stress") or {}).items()})
    return out


def run_stress(suggester: Suggester, db: Database, n: int, seed: int, ood_per_kind: int = 60,
               per_class: int = PARAM_SETS_PER_CLASS, log=print) -> dict:
    """Results per stress set (evaluate.run_family dictionaries plus ``auroc``)."""
    from training import ood
    from training.evaluate import run_family

    table = load_instruments()
    sets = {name: (db, t) for name, t in stress_tables(table).items()}
    if per_class:
        sets["parameters"] = (simulate_widened(db.q, per_class, seed), table)
    out = {}
    curves_ood = ood.simulate_ood(db.q, ood_per_kind, seed) if ood_per_kind else []
    for name, (source, inst_table) in sets.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), 5])
        rows = rng.choice(len(source), size=min(n, len(source)), replace=False)
        r = run_family(suggester, source, rows, "train", seed + zlib.crc32(name.encode()) % 1000, instruments=inst_table)
        if curves_ood:
            _, x_ood = ood.observe_ood(curves_ood, db.q, seed, instruments=inst_table)
            r["auroc"] = auroc(r["ood"], suggester.score(x_ood)["outlier_score"])
        out[name] = r
        idn = r["ident"]
        log(f"stress {name:12s} n={len(rows)} top-1 ident {_top(r, 1, idn):.3f} flagged {r['flagged'].mean():.3f} "
            f"AUROC {r.get('auroc', float('nan')):.3f}")
    return out


def _top(r: dict, k: int, mask: np.ndarray) -> float:
    from training.evaluate import topk
    return topk(r["probs"][mask], r["labels"][mask], k)


def _confidence_ece(r: dict) -> float:
    """ECE of the confidence value (what the user reads: P(top-1 right)) against top-1 correctness."""
    return ece_of_confidence(np.asarray(r["confidence"], float), (r["probs"].argmax(1) == r["labels"]).astype(float))


def stress_report(results: dict, table: dict | None = None) -> tuple[list[str], dict]:
    """Markdown lines and metrics of the stress sets."""
    from training.evaluate import _pct

    table = table or load_instruments()
    described = {"clean": "no nuisances (the clean instruments of stages 1-8)",
                 "parameters": f"particles beyond the catalog ranges (x/÷ {WIDEN:g}), widths up to {PD_MAX:g}"}
    for name, overrides in (table.get("stress") or {}).items():
        described[name] = "widened: " + json.dumps(overrides, separators=(",", ":")).replace("|", "/")
    lines = ["", "## Prior-shift stress sets", "",
             "Test particles observed through training-like instruments with one nuisance or instrument range "
             "widened beyond its training range (`stress` in training/configs/instruments.yaml), without any "
             "nuisance (`clean`), or new particles drawn beyond the catalog's ranges (`parameters`). "
             "Flagged: in-catalog curves the outlier detector rejects; AUROC: outlier score of these curves "
             "against the evaluation's outlier kinds observed through the same instruments "
             "(`python -m training.stress`).", "",
             "| set | n | identifiable | top-1 ident. | top-3 ident. | ECE top-1 prob. | ECE confidence | flagged | outlier AUROC | what |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    metrics = {}
    for name, r in results.items():
        idn = r["ident"]
        row = dict(n=int(len(idn)), identifiable=float(idn.mean()), top1_ident=_top(r, 1, idn), top3_ident=_top(r, 3, idn),
                   ece=ece_of_probs(r["probs"], r["labels"]), ece_confidence=_confidence_ece(r),
                   flagged=float(r["flagged"].mean()), auroc=float(r.get("auroc", np.nan)))
        metrics[name] = row
        lines.append(f"| {name} | {row['n']} | {_pct(row['identifiable'])} | {_pct(row['top1_ident'])} | "
                     f"{_pct(row['top3_ident'])} | {row['ece']:.3f} | {row['ece_confidence']:.3f} | {_pct(row['flagged'])} | {row['auroc']:.3f} | "
                     f"{described.get(name, '')} |")
    stressed_only = [r for k, r in results.items() if k != "clean"]
    if stressed_only:
        cat = {key: np.concatenate([r[key] for r in stressed_only]) for key in ("probs", "labels", "ident", "flagged", "confidence")}
        idn = cat["ident"]
        pooled = dict(n=int(len(idn)), identifiable=float(idn.mean()), top1_ident=_top(cat, 1, idn),
                      top3_ident=_top(cat, 3, idn), ece=ece_of_probs(cat["probs"], cat["labels"]), ece_confidence=_confidence_ece(cat),
                      flagged=float(cat["flagged"].mean()),
                      auroc=float(np.nanmin([r.get("auroc", np.nan) for r in stressed_only])))
        metrics["stress_pooled"] = pooled
        lines.append(f"| **stressed pooled** | {pooled['n']} | {_pct(pooled['identifiable'])} | **{_pct(pooled['top1_ident'])}** | "
                     f"{_pct(pooled['top3_ident'])} | {pooled['ece']:.3f} | **{pooled['ece_confidence']:.3f}** | **{_pct(pooled['flagged'])}** | "
                     f"**{pooled['auroc']:.3f}** (lowest) | every set but clean |")
    return lines, metrics


def main(argv: list[str] | None = None) -> int:
    from training.evaluate import evaluation_seed
    from training.train import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database")
    ap.add_argument("--card", default=os.path.join("sasview_automodel", "models", "automodel.card.json"))
    ap.add_argument("--n", type=int, default=1500, help="test curves per stress set")
    ap.add_argument("--ood-per-kind", type=int, default=60)
    ap.add_argument("--per-class", type=int, default=PARAM_SETS_PER_CLASS, help="widened-prior particles per class")
    ap.add_argument("--json", help="write the metrics here")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database)
    db = load_database(cfg["database"], with_radius_effective=False).subset("test")
    results = run_stress(Suggester(args.card), db, args.n, evaluation_seed(cfg), args.ood_per_kind, args.per_class,
                         log=lambda m: print(m, flush=True))
    lines, metrics = stress_report(results)
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
