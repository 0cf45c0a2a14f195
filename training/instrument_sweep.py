"""Where does accuracy go? Score a bundle through one instrument family with one draw range changed.

    python -m training.instrument_sweep --database DB --card CARD --family sans_coarse \\
        --variant "n_points=[200, 400]" --variant "dq_over_q=[0.05, 0.09]" [--n 2500]
    python -m training.instrument_sweep --database DB --card CARD --family train \\
        --set "dq_over_q_coarse={share: 0}" --by dq_over_q --bins 0.003,0.01,0.03,0.06,0.11,0.2

Test-split parameter sets (the same rows and instrument seed for every variant). A variant is
``key=YAML value`` and overrides the family's ``draw`` range (``train`` keys for ``--family train``);
``--set`` applies to every variant. ``--by FIELD --bins ...`` also splits the first variant's curves
by a drawn instrument field (curves without pinhole smearing have dq_over_q 0: the first bin starts
at 0). Prints a markdown table: identifiable curves, top-1 on them and on all curves.
"""
from __future__ import annotations

import argparse
import copy
import sys

import numpy as np
import yaml

from sasview_automodel import Suggester
from training.data import load_database, observe_row
from training.instrument import load_config as load_instruments


def parse_override(text: str) -> dict:
    """``"key=YAML"`` -> {key: value}; e.g. ``n_points=[200, 400]``, ``spacing=log``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected key=value, not {text!r}")
    return {key.strip(): yaml.safe_load(value)}


def with_overrides(table: dict, family: str, overrides: dict) -> dict:
    """A copy of the instrument table with ``overrides`` in ``family``'s draw (or the train prior)."""
    table = copy.deepcopy(table)
    if family == "train":
        table["train"].update(overrides)
    else:
        table["held_out"][family]["draw"].update(overrides)
    return table


def score(suggester: Suggester, db, rows: np.ndarray, family: str, table: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    samples = [observe_row(db, int(r), rng, family, instruments=table) for r in rows]
    probs = suggester.score(np.stack([s.features for s in samples]))["probs"]
    return dict(correct=probs.argmax(1) == np.array([s.label for s in samples]),
                ident=np.array([s.identifiable for s in samples]), instruments=[s.instrument for s in samples])


def _row(name: str, correct: np.ndarray, ident: np.ndarray) -> str:
    top1 = f"{100 * correct[ident].mean():.1f}" if ident.any() else "-"
    return f"| {name} | {int(ident.sum())} | {top1} | {len(ident)} | {100 * correct.mean():.1f} |"


def sweep(db, card: str, family: str, variants: list[str], base: list[str], n: int = 2500, seed: int = 11,
          by: str | None = None, bins: list[float] | None = None) -> str:
    """The markdown table for ``variants`` (the first is the family as drawn) of ``family``."""
    table0 = load_instruments()
    if family != "train" and family not in table0["held_out"]:
        raise ValueError(f"unknown family {family!r}: train or one of {sorted(table0['held_out'])}")
    common = {k: v for item in base for k, v in parse_override(item).items()}
    suggester = Suggester(card)
    rows = np.random.default_rng(seed).choice(len(db), size=min(n, len(db)), replace=False)
    lines = ["| variant | identifiable | top-1 ident. | all | top-1 all |", "|---|---|---|---|---|"]
    first = None
    for variant in ["as drawn", *variants]:
        overrides = dict(common, **({} if variant == "as drawn" else parse_override(variant)))
        r = score(suggester, db, rows, family, with_overrides(table0, family, overrides), seed)
        first = first or r
        lines.append(_row(variant, r["correct"], r["ident"]))
    if by:
        values = np.array([getattr(i, by) for i in first["instruments"]], dtype=float)
        edges = [0.0, *bins] if bins else list(np.quantile(values, [0, 0.25, 0.5, 0.75, 1.0]))
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (values >= lo) & ((values < hi) if hi != edges[-1] else (values <= hi))
            lines.append(_row(f"as drawn, {by} {lo:g}-{hi:g}", first["correct"][sel], first["ident"][sel]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", required=True)
    ap.add_argument("--card", required=True)
    ap.add_argument("--family", required=True, help="train or a held-out family of instruments.yaml")
    ap.add_argument("--variant", action="append", default=[], help="key=YAML value (repeatable)")
    ap.add_argument("--set", action="append", default=[], dest="base", help="key=YAML value for every variant")
    ap.add_argument("--n", type=int, default=2500, help="test-split curves per variant")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--by", help="an Instrument field to split the first variant by (e.g. dq_over_q, n_points)")
    ap.add_argument("--bins", help="comma-separated bin edges for --by (0 is prepended)")
    args = ap.parse_args(argv)
    try:
        bins = [float(b) for b in args.bins.split(",")] if args.bins else None
        db = load_database(args.database).subset("test")
        print(sweep(db, args.card, args.family, args.variant, args.base, args.n, args.seed, args.by, bins))
    except (ValueError, KeyError, AttributeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
