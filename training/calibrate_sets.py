"""Measure the shape-family and plausible-set constants of a bundle and write them into its card.

    python -m training.calibrate_sets --config training/configs/recipe.yaml --card CARD \
        [--database DB] [--draws N] [--evaluate N|all] [--stress N] [--real]

On validation curves (the ``val`` split, never used for gradient steps), observed through freshly
drawn training-family instruments with concentrated curves mixed in as in training (as
training/export.py calibrates the softmax temperature) and scored through the runtime path
(Suggester.score, the card's own temperature):

* ``families.temperature``: one temperature on the log of each family's summed probability,
  minimising the NLL of the family label (training/export.fit_temperature), so that a family
  probability is calibrated like a model probability (ECE before and after in the card);
* ``plausible.level``: the split-conformal quantile (Vovk; Angelopoulos & Bates 2021) of the
  probability ranked above the true model, at the ceil((n + 1)(1 - alpha))-th smallest value:
  on curves drawn like the validation ones the set "best models until this much probability is
  reached" then holds the true model with probability >= 1 - alpha (sasview_automodel/sets.py).

The ONNX file is not touched, so the card's checksum stays valid. ``--evaluate`` then reports
coverage, set size, family accuracy and ECE per held-out instrument family on test curves (the
same draws as training/evaluate, which reports the same table in docs/evaluation.md).
training/export.py calls ``fit_constants`` on its own validation curves for every new bundle.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from sasview_automodel import catalog, sets
from training.metrics import ece_of_confidence, ece_of_probs

ALPHA = 0.1   # the plausible set misses the true model on at most this fraction of curves


def family_labels(labels: np.ndarray, classes=catalog.CLASS_NAMES) -> np.ndarray:
    """Family index (catalog.FAMILIES order) of each class label."""
    of = np.array([catalog.FAMILY_NAMES.index(catalog.FAMILY_OF[c]) for c in classes])
    return of[np.asarray(labels)]


def conformal_level(probs: np.ndarray, labels: np.ndarray, alpha: float = ALPHA) -> float:
    """Split-conformal set level: the ceil((n + 1)(1 - alpha))-th smallest probability ranked above
    the true class, plus 1e-6 (a model is in the set when the mass above it is below the level);
    1.0 (every model) when there are too few curves for that quantile."""
    scores = np.sort(sets.mass_above_truth(probs, labels))
    k = int(np.ceil((len(scores) + 1) * (1 - alpha)))
    if k > len(scores):
        return 1.0
    return float(min(scores[k - 1] + 1e-6, 1.0))


def fit_constants(probs: np.ndarray, labels: np.ndarray, alpha: float = ALPHA, classes=catalog.CLASS_NAMES) -> dict:
    """The card's ``families`` and ``plausible`` entries from calibrated validation probabilities
    (B, K) in ``classes`` order and the true labels."""
    from training.export import fit_temperature

    members = catalog.family_matrix(classes)
    fy = family_labels(labels, classes)
    raw = sets.family_probabilities(probs, members)
    t = fit_temperature(np.log(np.maximum(raw, 1e-300)), fy)
    cal = sets.family_probabilities(probs, members, t)
    level = conformal_level(probs, labels, alpha)
    size = sets.plausible_sizes(probs, level)
    covered = sets.mass_above_truth(probs, labels) < level
    return {
        "families": {
            "method": "family probability = members' summed calibrated probabilities, recalibrated by one "
                      "temperature on their log (NLL of the family label on validation curves; "
                      "sasview_automodel.sets.family_probabilities)",
            "partition": {f.name: list(f.members) for f in catalog.FAMILIES},
            "temperature": round(float(t), 6),
            "val_curves": int(len(labels)),
            "val_accuracy": round(float((cal.argmax(1) == fy).mean()), 4),
            "val_ece_raw": round(ece_of_confidence(raw.max(1), raw.argmax(1) == fy), 4),
            "val_ece": round(ece_of_confidence(cal.max(1), cal.argmax(1) == fy), 4)},
        "plausible": {
            "method": "split-conformal credible set: best-ranked models until the probability ranked above the "
                      "next one reaches 'level', the ceil((n+1)(1-alpha))-th smallest probability ranked above "
                      "the true model on validation curves (sasview_automodel.sets)",
            "alpha": alpha, "level": float(level), "val_curves": int(len(labels)),
            "val_coverage": round(float(covered.mean()), 4),
            "val_mean_size": round(float(size.mean()), 3)},
    }


def set_metrics(probs: np.ndarray, labels: np.ndarray, ident: np.ndarray, model: sets.SetModel) -> dict:
    """Coverage and mean size of the plausible set (all and identifiable curves), family top-1
    accuracy and ECE, and the model probabilities' ECE, for calibrated probabilities (B, K)."""
    labels, ident = np.asarray(labels), np.asarray(ident, bool)
    size = model.sizes(probs)
    covered = sets.mass_above_truth(probs, labels) < model.level
    fp = model.family_probs(probs)
    fy = family_labels(labels, model.classes)
    nan = float("nan")
    return dict(n=int(len(labels)), coverage=float(covered.mean()), mean_size=float(size.mean()),
                coverage_ident=float(covered[ident].mean()) if ident.any() else nan,
                mean_size_ident=float(size[ident].mean()) if ident.any() else nan,
                family_accuracy=float((fp.argmax(1) == fy).mean()),
                family_ece=ece_of_confidence(fp.max(1), fp.argmax(1) == fy), model_ece=ece_of_probs(probs, labels))


SET_COLUMNS = ("n", "coverage", "mean_size", "coverage_ident", "mean_size_ident", "family_accuracy",
               "family_ece", "model_ece")


def sets_report(results: dict, model: sets.SetModel, pooled_over: list[str] | None = None,
                title: str = "Shape families and plausible sets per instrument family",
                pooled_name: str = "held-out pooled") -> tuple[list[str], dict]:
    """Markdown and metrics, one row per test set in ``results`` (evaluate.run_family outputs) and a
    pooled row ``pooled_name`` over ``pooled_over`` (the held-out families)."""
    how = "measured on validation curves" if model.measured else "fallback: no constants in the card"
    lines = ["", f"## {title}", "",
             f"Plausible set: best-ranked models until the probability ranked above the next reaches "
             f"{model.level:.4f} (split-conformal level for {100 * (1 - ALPHA):.0f} % coverage, {how}); family "
             f"probability: members' sum, temperature {model.family_temperature:.3f} "
             f"({', '.join(f'{f.name}: ' + ', '.join(f.members) for f in catalog.FAMILIES)}). Coverage: the set "
             "holds the true model. ECE of the top-1 family probability and of the top-1 model probability.", "",
             "| test set | n | coverage (%) | mean size | coverage ident. (%) | mean size ident. | family top-1 (%) "
             "| family ECE | model ECE |", "|---|---|---|---|---|---|---|---|---|"]
    metrics = {}

    def row(name: str, m: dict) -> str:
        return (f"| {name} | {m['n']} | {100 * m['coverage']:.1f} | {m['mean_size']:.2f} | "
                f"{100 * m['coverage_ident']:.1f} | {m['mean_size_ident']:.2f} | {100 * m['family_accuracy']:.1f} | "
                f"{m['family_ece']:.3f} | {m['model_ece']:.3f} |")
    for name, r in results.items():
        metrics[name] = m = set_metrics(r["probs"], r["labels"], r["ident"], model)
        lines.append(row(name, m))
    if pooled_over:
        ho = [results[f] for f in pooled_over if f in results]
        if ho:
            m = set_metrics(*(np.concatenate([r[k] for r in ho]) for k in ("probs", "labels", "ident")), model)
            metrics[pooled_name.replace(" ", "_").replace("-", "_")] = m
            lines.append(row(f"**{pooled_name}**", m))
    return lines, metrics


def validation_probs(cfg: dict, suggester, draws: int, log=print) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(calibrated probabilities, labels, identifiable) of ``draws`` instrument draws of every
    validation set, concentrated curves mixed in as in training, on the runtime path."""
    from training.data import load_database, train_batch
    from training.train import augmentation

    aug = augmentation(cfg)
    aug = aug.without_exposure() if aug is not None else None
    db = load_database(cfg["database"], with_radius_effective=aug is not None).subset("val")
    rng = np.random.default_rng([cfg["seed"], 2525])
    rows = np.tile(np.arange(len(db)), draws)
    probs, labels, ident = [], [], []
    t0 = time.time()
    for i in range(0, len(rows), 2048):
        x, y, *_, idn = train_batch(db, rows[i:i + 2048], rng, aug, with_identifiable=True)
        probs.append(suggester.score(x)["probs"]), labels.append(y), ident.append(idn)
    log(f"{len(rows)} validation curves ({len(db)} sets x {draws} draws) scored in {time.time() - t0:.0f} s")
    return np.concatenate(probs), np.concatenate(labels), np.concatenate(ident)


def calibrate(cfg: dict, card_path: str, draws: int | None = None, evaluate_n=None, stress_n: int | None = None,
              log=print, source: str = "") -> dict:
    """Measure the constants for the bundle of ``card_path``, write them into the card; with
    ``evaluate_n`` (curves per family, or "all") report the held-out figures, with ``stress_n``
    (curves per set) those of the prior-shift stress sets (training/stress.py). Returns the metrics."""
    from sasview_automodel import Suggester

    suggester = Suggester(card_path)
    draws = int(draws or cfg.get("val_draws", 1))
    probs, labels, ident = validation_probs(cfg, suggester, draws, log)
    constants = fit_constants(probs, labels, classes=suggester.classes)
    where = (f"python -m training.calibrate_sets --config {source or '?'}: {len(labels) // draws} validation sets of "
             f"{cfg['database']} x {draws} instrument draws")
    for entry in constants.values():
        entry["calibrated_on"] = where
    with open(card_path) as f:
        card = json.load(f)
    card.update(constants)
    with open(card_path, "w") as f:
        json.dump(card, f, indent=1)
    fam, pl = constants["families"], constants["plausible"]
    log(f"families: temperature {fam['temperature']:.3f}, val accuracy {fam['val_accuracy']:.3f}, "
        f"ECE {fam['val_ece_raw']:.4f} raw -> {fam['val_ece']:.4f}")
    log(f"plausible: level {pl['level']:.4f}, val coverage {pl['val_coverage']:.3f}, mean size {pl['val_mean_size']:.2f}")
    log(f"wrote 'families' and 'plausible' into {card_path}")
    out = {"constants": constants}
    if evaluate_n is not None:
        from training import evaluate
        from training.data import load_database
        from training.instrument import load_config as load_instruments

        suggester = Suggester(card_path)
        db = load_database(cfg["database"], with_params=True, with_radius_effective=True).subset("test")
        heldout = list(load_instruments()["held_out"])
        results = evaluate.family_results(suggester, db, heldout, dict(cfg, eval_per_family=evaluate_n),
                                          evaluate.evaluation_rng(cfg), log)
        lines, metrics = sets_report(results, suggester.sets, heldout)
        print("\n".join(lines))
        out["test"] = metrics
    if stress_n:
        out["stress"] = stress_sets(cfg, card_path, stress_n, log)
    return out


def stress_sets(cfg: dict, card_path: str, n: int, log=print) -> dict:
    """Set metrics on the prior-shift stress sets (training/stress.run_stress, no outlier curves)."""
    from sasview_automodel import Suggester
    from training import evaluate, stress
    from training.data import load_database

    suggester = Suggester(card_path)
    db = load_database(cfg["database"], with_params=True, with_radius_effective=True).subset("test")
    results = stress.run_stress(suggester, db, n, evaluate.evaluation_seed(cfg), 0,
                                int(cfg.get("stress_param_per_class", 60)), log)
    lines, metrics = sets_report(results, suggester.sets, list(results), "Shape families and plausible sets: "
                                 "prior-shift stress sets", pooled_name="stress pooled")
    print("\n".join(lines))
    return metrics


def real_sets(card_path: str | None = None, log=print) -> dict:
    """On the real validation set (training/real_validation's manifest): how often the plausible set
    holds the documented model or one its fit treats as equivalent, and the family accuracy (the
    family of the label or of an equivalent), over in-catalog curves; per curve in ``curves``."""
    from sasview_automodel import Suggester
    from sasview_automodel.errors import AutomodelError
    from training import real_validation as rv

    s = Suggester(card_path)
    curves = []
    for row in rv.load_manifest():
        if row["kind"] == "non_particle":
            continue
        path, where = rv.locate(row)
        if path is None:
            raise SystemExit(f"{row['id']}: not found ({where}); run python -m training.real_validation --fetch")
        accept = {row["label"], *row["equivalents"]}
        try:
            res = s.suggest_curves([rv.load_curve(row, path)])[0]
        except AutomodelError as exc:   # refused (too little q coverage): counts as missed
            curves.append(dict(id=row["id"], kind=row["kind"], covered=False, family_right=False, size=0,
                               plausible=[], family=None, flagged=False, error=str(exc).splitlines()[0][:120]))
            continue
        curves.append(dict(id=row["id"], kind=row["kind"], covered=bool(accept & set(res.plausible_models)),
                           family_right=res.family in {catalog.FAMILY_OF[m] for m in accept},
                           size=len(res.plausible_models), plausible=res.plausible_models, family=res.family,
                           family_probability=round(res.family_probability, 4), flagged=bool(res.outlier),
                           label=row["label"], equivalents=row["equivalents"], error=None))
    n = len(curves)
    out = dict(n=n, coverage=float(np.mean([c["covered"] for c in curves])),
               mean_size=float(np.mean([c["size"] for c in curves])),
               family_accuracy=float(np.mean([c["family_right"] for c in curves])),
               coverage_unflagged=float(np.mean([c["covered"] for c in curves if not c["flagged"]] or [np.nan])),
               curves=curves)
    log(f"real validation set, {n} in-catalog curves: plausible set holds the label or an equivalent on "
        f"{100 * out['coverage']:.0f} % (mean size {out['mean_size']:.2f}), family right on "
        f"{100 * out['family_accuracy']:.0f} %")
    for c in curves:
        log(f"  {c['id']:<40s} {'in ' if c['covered'] else 'OUT'} {c.get('label', '')!s:<22s} family "
            f"{c['family']} ({'right' if c['family_right'] else 'wrong'}), set {' '.join(c['plausible'])}"
            + ("  [flagged]" if c["flagged"] else "") + (f"  [{c['error']}]" if c["error"] else ""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database", help="override the config's database")
    ap.add_argument("--card", default=os.path.join("sasview_automodel", "models", "automodel.card.json"))
    ap.add_argument("--draws", type=int, help="instrument draws per validation set (default: the config's val_draws)")
    ap.add_argument("--evaluate", metavar="N|all",
                    help="then report the figures on N test curves per instrument family (or all)")
    ap.add_argument("--stress", type=int, metavar="N", help="then report them on N curves of each prior-shift "
                    "stress set (training/stress.py)")
    ap.add_argument("--real", action="store_true",
                    help="then report the plausible set and family on the real validation set (training/real_data)")
    args = ap.parse_args(argv)
    from training.train import load_config

    cfg = load_config(args.config, database=args.database)
    n = None if args.evaluate is None else (args.evaluate if args.evaluate == "all" else int(args.evaluate))
    calibrate(cfg, args.card, args.draws, n, args.stress, log=lambda m: print(m, flush=True), source=args.config)
    if args.real:
        real_sets(args.card, log=lambda m: print(m, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
