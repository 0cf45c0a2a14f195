"""Evaluate the exported bundle on data it never trained on; write docs/evaluation.md.

    python -m training.evaluate --config training/configs/recipe.yaml [--card PATH] [--report docs/evaluation.md]

Test curves are the parameter sets of the ``test`` split (never seen in training), observed
through (a) the training instrument distribution and (b) each held-out instrument family
(configs/instruments.yaml), which never occurs in training. The bundle runs through the
runtime's own path (grid.featurize -> onnxruntime -> scoring), so this measures what users get.

"Identifiable" curves have their size features inside the visible q window
(training.instrument.identifiable); figures are given for them and for all curves.
The most confused pairs are checked physically: the confused model is fitted to the curve
(same forward model: catalog shape parameters, polydispersity, scale, background, and the
instrument's own smearing) and its reduced chi-square is compared with the true model's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib

import numpy as np

from sasview_automodel import Suggester
from sasview_automodel.catalog import CLASS_NAMES, CLASSES
from training.data import Sample, load_database, observe_row
from training.instrument import load_config as load_instruments, smear
from training.metrics import ece_of_probs
from training.train import load_config

SNR_BINS = [(1.4, 3), (3, 4), (4, 5), (5, 6), (6, 7.1)]


def run_family(suggester: Suggester, db, rows: np.ndarray, family: str, seed: int, bank=None,
               instruments: dict | None = None) -> dict:
    """Observe test rows through ``family`` instruments and score them on the runtime path.

    With ``bank`` (training/structure.SBank, built with another seed than training's) every curve is
    first multiplied by a drawn structure factor: the concentrated test set. ``sq`` is the true
    structure-factor answer (0 none, else 1 + row of STRUCTURE_FACTORS; training's visibility rule),
    ``sq_strong`` marks an S(q) that departs from 1 by at least STRONG_DEVIATION inside the window.
    ``instruments``: another instrument table (e.g. a stress set, training/stress.py)."""
    from training.structure import visible, visible_window

    rng = np.random.default_rng([seed, zlib.crc32(family.encode())] + ([1] if bank is not None else []))
    samples, sq, strong, peak = [], [], [], []
    for r in rows:
        if bank is None:
            samples.append(observe_row(db, int(r), rng, family, instruments=instruments))
            sq.append(0), strong.append(False), peak.append(False)
            continue
        i_fine, entry, s_q = bank.apply(rng, db.q, db.intensity[r].astype(np.float64), float(db.radius_effective[r]))
        sample = observe_row(db, int(r), rng, family, intensity=i_fine, instruments=instruments)
        window = visible_window(sample.observation)
        samples.append(sample)
        sq.append(1 + int(bank.kind[entry]) if visible(s_q, db.q, *window) else 0)
        strong.append(visible(s_q, db.q, *window, threshold=STRONG_DEVIATION))
        top = int(np.argmax(s_q))
        peak.append(bool(s_q[top] >= PEAK_HEIGHT and 0 < top < len(s_q) - 1 and window[0] <= db.q[top] <= window[1]))
    x = np.stack([s.features for s in samples])
    scored = suggester.score(x)
    return dict(samples=samples, probs=scored["probs"], labels=np.array([s.label for s in samples]),
                ident=np.array([s.identifiable for s in samples]), ood=scored["outlier_score"], flagged=scored["outlier"],
                emb=scored["embedding"], confidence=scored["confidence"], logits=scored["logits"], params=scored["params"], x=x,
                counts=np.array([s.instrument.counts for s in samples]), rows=rows,
                sq=np.array(sq), sq_strong=np.array(strong), sq_peak=np.array(peak),
                sq_probs=scored.get("structure_probs"), knn=scored.get("knn_distance"))


STRONG_DEVIATION = 0.2   # "the S(q) is plainly visible": max |S - 1| in the window
PEAK_HEIGHT = 1.15       # "the correlation peak is visible": S's maximum >= this, at a q inside the window


def topk(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    if len(labels) == 0:
        return float("nan")
    order = np.argsort(-probs, axis=1)[:, :k]
    return float(np.mean([labels[i] in order[i] for i in range(len(labels))]))


def confusion(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = len(CLASS_NAMES)
    m = np.zeros((k, k), int)
    np.add.at(m, (labels, probs.argmax(1)), 1)
    return m


# -- physical check of confusions --------------------------------------------------------------
def _model_curve(name: str, pars: dict, q_fine: np.ndarray) -> np.ndarray | None:
    from sasmodels.direct_model import call_kernel
    from training.simulate import _kernel
    i = np.asarray(call_kernel(_kernel(name), dict(pars, scale=1.0, background=0.0)))
    return i if np.all(np.isfinite(i)) and np.all(i > 0) else None


def _residuals(model_obs: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Normalised residuals with the best non-negative scale and flat background (linear LSQ)."""
    a = np.column_stack([model_obs, np.ones_like(model_obs)]) / sigma[:, None]
    coef, *_ = np.linalg.lstsq(a, y / sigma, rcond=None)
    coef = np.maximum(coef, [1e-30, -np.inf])
    return (y - coef[0] * model_obs - coef[1]) / sigma


def fit_class(label: int, sample: Sample, q_fine: np.ndarray, rng: np.random.Generator, starts: int = 4,
              max_nfev: int = 20, start: dict | None = None) -> float:
    """Best reduced chi-square of catalog class ``label`` for the observed sample: from ``start``
    (the true parameters) or from ``starts`` random catalog draws."""
    from scipy.optimize import least_squares

    spec = CLASSES[label]
    obs, inst = sample.observation, sample.instrument
    sigma = obs.sigma if obs.sigma is not None else np.maximum(np.abs(obs.intensity) * 0.01, 1e-30)
    names = [p.name for p in spec.params] + [spec.pd_param + "_pd"]
    best = np.inf
    for k in range(1 if start else starts):
        base = dict(start) if start else spec.draw(rng)
        x0 = np.array([np.log(base[n]) if not n.endswith("_pd") else np.log(max(base[n], 0.01)) for n in names])

        def resid(x):
            pars = dict(base)
            pars.update({n: float(np.exp(v)) for n, v in zip(names, x)})
            pars[spec.pd_param + "_pd"] = min(pars[spec.pd_param + "_pd"], 0.4)
            i = _model_curve(spec.name, pars, q_fine)
            if i is None:
                return np.full(obs.q.size, 1e3)
            m = smear(q_fine, i, obs.q, inst)
            return _residuals(m, obs.intensity, sigma)

        try:
            res = least_squares(resid, x0, method="trf", diff_step=1e-3, max_nfev=max_nfev)
            best = min(best, float(res.fun @ res.fun / max(obs.q.size - len(names) - 2, 1)))
        except Exception:  # a failed start is just a failed start
            continue
    return best


def evaluation_seed(cfg: dict) -> int:
    """The seed of every evaluation draw: ``eval_seed`` where the config sets one (so that a later
    training stage is evaluated on the same curves as the stage before it), else the training seed."""
    return int(cfg.get("eval_seed", cfg["seed"]))


def evaluation_rng(cfg: dict) -> np.random.Generator:
    """The generator every evaluation draw comes from, in order (rows, then concentrated rows, ...)."""
    return np.random.default_rng([evaluation_seed(cfg), 31337])


def curves_per_family(cfg: dict, n_test: int) -> int:
    """Test curves drawn per instrument family: ``eval_per_family`` of the ``n_test`` test sets, or
    every one of them where it says ``all`` (or asks for more than there are)."""
    wanted = cfg["eval_per_family"]
    return n_test if wanted == "all" else min(int(wanted), n_test)


def family_results(suggester: Suggester, db, heldout: list[str], cfg: dict, rng: np.random.Generator,
                   log=print, bank=None, instruments: dict | None = None) -> dict:
    """Test curves per family (train-like first, then each held-out family), as the report uses them;
    with ``bank`` (training/structure.SBank) the concentrated ones; ``instruments``: another table."""
    n = curves_per_family(cfg, len(db))
    results = {}
    for fam in ["train-like", *heldout]:
        rows = rng.choice(len(db), size=n, replace=False)
        t0 = time.time()
        results[fam] = r = run_family(suggester, db, rows, "train" if fam == "train-like" else fam, evaluation_seed(cfg), bank,
                                      instruments)
        top1 = topk(r['probs'][r['ident']], r['labels'][r['ident']], 1)
        if bank is None:
            log(f"{fam:12s} n={n} ident={r['ident'].mean():.2f} top-1 ident {top1:.3f} "
                f"all {topk(r['probs'], r['labels'], 1):.3f} ({time.time() - t0:.0f} s)")
        else:
            log(f"{fam:12s} concentrated: top-1 ident {top1:.3f}, "
                f"structure detected {np.mean((r['sq_probs'][:, 0] < 0.5) == (r['sq'] > 0)):.3f}")
    return results


def confused_pairs(results: dict, heldout: list[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Confusion matrix of the held-out families (identifiable curves) and the most confused
    (true, predicted) pairs, most confused first."""
    ho = [results[f] for f in heldout]
    probs = np.concatenate([r["probs"] for r in ho])
    labels = np.concatenate([r["labels"] for r in ho])
    ident = np.concatenate([r["ident"] for r in ho])
    conf = confusion(probs[ident], labels[ident])
    off = conf + conf.T
    np.fill_diagonal(off, 0)
    pairs = []
    for flat in np.argsort(-off, axis=None)[: 6]:
        a, b = np.unravel_index(flat, off.shape)
        if a < b and off[a, b] > 0:
            pairs.append((a, b) if conf[a, b] >= conf[b, a] else (b, a))
    return conf, pairs


def fittable(inst) -> bool:
    """Whether ``fit_class`` (form factor, scale, flat background, the instrument's smearing) models
    everything in a curve observed through ``inst``: no upturn, tail, merged settings or beam stop."""
    return (inst.upturn_exponent == 0 and inst.tail_level == 0 and inst.segments == 1
            and inst.beamstop_points == 0 and inst.background_slope == 0)


def physical_confusions(results: dict, db, pairs: list[tuple[int, int]], per_pair: int, seed: int, log,
                        budget_s: float = 120.0) -> list[dict]:
    """For each (true, predicted) pair, fit both models to misclassified identifiable curves."""
    rng = np.random.default_rng([seed, 77])
    out = []
    for a, b in pairs:
        cases = []
        for fam, r in results.items():
            pred = r["probs"].argmax(1)
            for i in np.flatnonzero((r["labels"] == a) & (pred == b) & r["ident"]):
                if fittable(r["samples"][i].instrument):
                    cases.append(r["samples"][i])
        rng.shuffle(cases)
        chi_true, chi_conf = [], []
        t0 = time.time()
        for s in cases[:per_pair]:
            if time.time() - t0 > budget_s:
                break
            chi_true.append(fit_class(a, s, db.q, rng, start=json.loads(db.params[s.row])))
            chi_conf.append(fit_class(b, s, db.q, rng))
        ratio = np.array(chi_conf) / np.maximum(np.array(chi_true), 1e-9)
        physical = int(np.sum(ratio <= 1.2))
        out.append(dict(true=CLASS_NAMES[a], predicted=CLASS_NAMES[b], n_cases=len(cases), n_fitted=len(ratio),
                        physical=physical, median_ratio=float(np.median(ratio)) if len(ratio) else float("nan")))
        log(f"pair {CLASS_NAMES[a]} -> {CLASS_NAMES[b]}: {physical}/{len(ratio)} physical ({time.time() - t0:.0f} s)")
    return out


# -- report ------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f}"


def _earlier_stages_text(card: dict) -> str:
    stages = card["training"].get("earlier_stages") or []
    if not stages:
        return ""
    parts = [(f"{st['steps']} steps, {st['minutes']} min on {st['database_curves']} curves"
              if st.get("steps") is not None else f"an unrecorded run ({st.get('source')})") for st in stages]
    return "; continued from the weights of " + ", then ".join(parts)


def write_report(path: str, results: dict, families: dict, conf: np.ndarray, pairs_report: list[dict],
                 card: dict, command: str, heldout: list[str]) -> dict:
    lines = ["# Evaluation of the shipped classifier", "",
             f"Produced by `{command}` on {time.strftime('%Y-%m-%d')} for bundle `{card['name']}` "
             f"{card['version']} (ONNX sha256 `{card['onnx_sha256'][:16]}...`, trained on "
             f"{card['training']['database_curves']} simulated curves, {card['training']['steps']} steps, "
             f"{card['training']['minutes']} min; config hash `{card['training']['config_hash']}`"
             f"{_earlier_stages_text(card)}).", "",
             "Test curves: parameter sets of the test split (index % 20 == 0), never used in training or "
             "calibration. `train-like` observes them through the training instrument distribution; the "
             "other rows through instrument families that never occur in training. *Identifiable*: the size "
             "features lie inside the visible window (q_min <= 2/largest length and the signal stays above "
             "3 sigma up to 5/smallest length).", "",
             "## Top-1 / top-3 accuracy (%) per instrument family", "",
             "| family | description | n | identifiable | top-1 ident. | top-3 ident. | top-1 all | top-3 all | ECE (all) |",
             "|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for fam, r in results.items():
        idn = r["ident"]
        row = dict(n=int(len(r["labels"])), identifiable=float(idn.mean()),
                   top1_ident=topk(r["probs"][idn], r["labels"][idn], 1), top3_ident=topk(r["probs"][idn], r["labels"][idn], 3),
                   top1_all=topk(r["probs"], r["labels"], 1), top3_all=topk(r["probs"], r["labels"], 3),
                   ece=ece_of_probs(r["probs"], r["labels"]))
        summary[fam] = row
        lines.append(f"| {fam} | {families.get(fam, 'training instrument distribution (held-out particles)')} | "
                     f"{row['n']} | {_pct(row['identifiable'])} | {_pct(row['top1_ident'])} | {_pct(row['top3_ident'])} | "
                     f"{_pct(row['top1_all'])} | {_pct(row['top3_all'])} | {row['ece']:.3f} |")
    ho = {k: v for k, v in results.items() if k in heldout}
    pooled = {key: np.concatenate([r[key] for r in ho.values()]) for key in ("probs", "labels", "ident", "counts")}
    idn = pooled["ident"]
    summary["held_out_pooled"] = dict(
        n=int(len(idn)), identifiable=float(idn.mean()),
        top1_ident=topk(pooled["probs"][idn], pooled["labels"][idn], 1), top3_ident=topk(pooled["probs"][idn], pooled["labels"][idn], 3),
        top1_all=topk(pooled["probs"], pooled["labels"], 1), top3_all=topk(pooled["probs"], pooled["labels"], 3),
        ece=ece_of_probs(pooled["probs"], pooled["labels"]))
    s = summary["held_out_pooled"]
    lines.append(f"| **held-out pooled** | all held-out families | {s['n']} | {_pct(s['identifiable'])} | "
                 f"**{_pct(s['top1_ident'])}** | **{_pct(s['top3_ident'])}** | {_pct(s['top1_all'])} | "
                 f"{_pct(s['top3_all'])} | {s['ece']:.3f} |")

    lines += ["", "## Per class, held-out families pooled (%)", "",
              "| class | n ident. | top-1 ident. | top-3 ident. | n all | top-1 all | top-3 all |", "|---|---|---|---|---|---|---|"]
    for k, name in enumerate(CLASS_NAMES):
        m = pooled["labels"] == k
        mi = m & idn
        lines.append(f"| {name} | {mi.sum()} | {_pct(topk(pooled['probs'][mi], pooled['labels'][mi], 1))} | "
                     f"{_pct(topk(pooled['probs'][mi], pooled['labels'][mi], 3))} | {m.sum()} | "
                     f"{_pct(topk(pooled['probs'][m], pooled['labels'][m], 1))} | {_pct(topk(pooled['probs'][m], pooled['labels'][m], 3))} |")

    lines += ["", "## Accuracy versus signal-to-noise (held-out pooled, identifiable)", "",
              "counts in the first point (log10) | n | top-1 | top-3", "|---|---|---|---|"]
    lc = np.log10(pooled["counts"])
    for lo, hi in SNR_BINS:
        m = idn & (lc >= lo) & (lc < hi)
        lines.append(f"| {lo:g}-{hi:g} | {m.sum()} | {_pct(topk(pooled['probs'][m], pooled['labels'][m], 1))} | "
                     f"{_pct(topk(pooled['probs'][m], pooled['labels'][m], 3))} |")

    lines += ["", "## Confusion matrix (held-out pooled, identifiable; rows true, columns predicted)", "",
              "| true \\ predicted | " + " | ".join(n[:10] for n in CLASS_NAMES) + " |",
              "|---" * (len(CLASS_NAMES) + 1) + "|"]
    for k, name in enumerate(CLASS_NAMES):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in conf[k]) + " |")

    lines += ["", "## Most confused pairs: physical or classifier failure?", "",
              "For misclassified identifiable curves of each pair (those whose nuisances the fit models: no upturn, "
              "tail, sloped background, merged settings or beam stop), both the true and the predicted model are "
              "fitted to the curve (multi-start least squares over the catalog's shape parameters and "
              "polydispersity; best scale and background solved exactly; the instrument's own smearing). "
              "A confusion counts as *physical* when the predicted model's reduced chi-square is within 20 % "
              "of the true model's, i.e. the data cannot tell them apart.", "",
              "| true | predicted | misclassified | fitted | physical | median chi2 ratio (pred/true) |", "|---|---|---|---|---|---|"]
    for p in pairs_report:
        lines.append(f"| {p['true']} | {p['predicted']} | {p['n_cases']} | {p['n_fitted']} | {p['physical']} | "
                     f"{p['median_ratio']:.2f} |")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return summary


def evaluate(cfg: dict, card_path: str, report: str, per_pair: int = 6, log=print, command: str = "",
             ood_per_kind: int = 120, param_curves: int = 300) -> dict:
    suggester = Suggester(card_path)
    bundle = suggester.bundle
    db = load_database(cfg["database"], with_params=True, with_radius_effective=True).subset("test")
    inst_cfg = load_instruments()
    heldout = list(inst_cfg["held_out"])
    families = {"train-like": "training instrument distribution (held-out particles)"}
    families.update({k: v["description"] for k, v in inst_cfg["held_out"].items()})
    rng = evaluation_rng(cfg)
    results = family_results(suggester, db, heldout, cfg, rng, log)
    conf, pairs = confused_pairs(results, heldout)
    pairs_report = physical_confusions({f: results[f] for f in heldout}, db, pairs[:3], per_pair, evaluation_seed(cfg), log) if per_pair else []
    summary = write_report(report, results, families, conf, pairs_report, bundle.card, command, heldout)
    summary["sets"] = append_sets_report(report, results, suggester, heldout)
    summary.update(append_stress_report(report, suggester, db, heldout, cfg, rng, log))
    concentrated = {}
    if suggester.structure_names:
        from training.structure import SBank
        bank = SBank.build(per_kind=300, seed=evaluation_seed(cfg) + 2024)   # S draws never used in training
        concentrated = family_results(suggester, db, heldout, cfg, rng, log, bank)
        lines, summary["structure"] = structure_report(results, concentrated, heldout)
        with open(report, "a") as f:
            f.write("\n".join(lines) + "\n")
    if ood_per_kind:
        from training import ood
        t0 = time.time()
        id_result = results["train-like"]
        if concentrated:   # in-distribution = what users bring: dilute and concentrated curves
            id_result = {k: np.concatenate([results["train-like"][k], concentrated["train-like"][k]])
                         for k in ("ood", "emb", "logits", "probs", "labels", "confidence", "knn")
                         if results["train-like"][k] is not None}
        lines, ood_metrics = ood.report(suggester, id_result, db.q, ood_per_kind, evaluation_seed(cfg),
                                        os.path.join(os.path.dirname(os.path.abspath(report)), "img"))
        with open(report, "a") as f:
            f.write("\n".join(lines) + "\n")
        summary["ood"] = ood_metrics
        log(f"outliers: AUROC {ood_metrics['auroc']:.3f} (max softmax {ood_metrics['auroc_maxsoftmax']:.3f}), "
            f"ECE of confidence {ood_metrics['ece_confidence']:.3f} ({time.time() - t0:.0f} s)")
    if param_curves:
        from training import params_eval
        lines, param_metrics = params_eval.run(suggester, db, param_curves, evaluation_seed(cfg), log=log)
        with open(report, "a") as f:
            f.write("\n".join(lines) + "\n")
        summary["parameters"] = param_metrics
    card = dict(bundle.card)
    card["metrics"] = {k: {m: (round(v, 4) if isinstance(v, float) else v) for m, v in s.items()} for k, s in summary.items()}
    card["metrics"]["confusion_pairs"] = pairs_report
    with open(card_path, "w") as f:
        json.dump(card, f, indent=1)
    log(f"wrote {report}; metrics added to {card_path}")
    return summary


def append_stress_report(report: str, suggester: Suggester, db, heldout: list[str], cfg: dict,
                         rng: np.random.Generator, log=print) -> dict:
    """The held-out families through clean instruments (no nuisances: comparable with bundles
    evaluated before the nuisances existed) and the prior-shift stress sets (training/stress.py),
    appended to the report; returns their metrics."""
    from training import stress
    from training.instrument import without_nuisances

    clean = family_results(suggester, db, heldout, cfg, rng, log, instruments=without_nuisances(load_instruments()))
    pooled = {key: np.concatenate([clean[f][key] for f in heldout]) for key in ("probs", "labels", "ident")}
    idn = pooled["ident"]
    clean_row = dict(n=int(len(idn)), top1_ident=topk(pooled["probs"][idn], pooled["labels"][idn], 1),
                     top3_ident=topk(pooled["probs"][idn], pooled["labels"][idn], 3))
    lines = ["", "## Held-out instrument families without nuisances", "",
             "The same test particles through the held-out families' instruments with no nuisances drawn "
             "(the evaluation of the bundles before them).", "",
             "| family | n | top-1 ident. | top-3 ident. |", "|---|---|---|---|"]
    for fam in heldout:
        r = clean[fam]
        lines.append(f"| {fam} | {len(r['labels'])} | {_pct(topk(r['probs'][r['ident']], r['labels'][r['ident']], 1))} | "
                     f"{_pct(topk(r['probs'][r['ident']], r['labels'][r['ident']], 3))} |")
    lines.append(f"| **held-out pooled** | {clean_row['n']} | **{_pct(clean_row['top1_ident'])}** | "
                 f"{_pct(clean_row['top3_ident'])} |")
    results = stress.run_stress(suggester, db, int(cfg.get("stress_per_set", 1500)), evaluation_seed(cfg),
                                int(cfg.get("stress_ood_per_kind", 60)), int(cfg.get("stress_param_per_class", 60)), log)
    stress_lines, stress_metrics = stress.stress_report(results)
    from training.calibrate_sets import sets_report
    set_lines, set_metrics = sets_report(results, suggester.sets, list(results), pooled_name="stress pooled",
                                         title="Shape families and plausible sets: prior-shift stress sets")
    with open(report, "a") as f:
        f.write("\n".join(lines + stress_lines + set_lines) + "\n")
    return {"held_out_clean": clean_row, "stress": stress_metrics, "stress_sets": set_metrics}


def append_sets_report(report: str, results: dict, suggester: Suggester, heldout: list[str]) -> dict:
    """Shape families and plausible sets per test set (training/calibrate_sets.sets_report),
    appended to the report; returns their metrics."""
    from training.calibrate_sets import sets_report

    lines, metrics = sets_report(results, suggester.sets, heldout)
    with open(report, "a") as f:
        f.write("\n".join(lines) + "\n")
    return metrics


def structure_report(dilute: dict, concentrated: dict, heldout: list[str]) -> tuple[list[str], dict]:
    """Markdown and metrics: form-factor accuracy dilute vs concentrated, structure-factor detection."""
    lines = ["", "## Concentrated samples: form factor and structure factor per instrument family", "",
             "Concentrated test curves: the same test split, each curve multiplied by a structure factor "
             "drawn from a bank made with another seed than training's (training/structure.py; hard sphere, "
             "Hayter MSA, sticky hard sphere, square well at the catalog's volume fractions) at the particle's "
             "sasmodels effective radius, then observed like the dilute ones. *Needed*: S departs from 1 by "
             ">= 5 % in the visible window (the training label); *plain*: by >= 20 %; *peak*: S has its "
             f"maximum (>= {PEAK_HEIGHT}) inside the visible window. Detection = P(some S) >= 0.5; "
             "identification = the most probable S among detected curves.", "",
             "| family | top-1 ident. dilute | top-1 ident. concentrated | top-3 ident. concentrated | "
             "dilute called dilute | needed detected | plain detected | peak detected | S identified (plain) |",
             "|---|---|---|---|---|---|---|---|---|"]
    metrics = {}
    pooled = {}
    for fam in concentrated:
        d, c = dilute[fam], concentrated[fam]
        row = _structure_row(d, c)
        metrics[fam] = row
        if fam in heldout:
            for k in ("d", "c"):
                pooled.setdefault(k, []).append(d if k == "d" else c)
        lines.append(f"| {fam} | " + " | ".join(_pct(row[k]) for k in STRUCTURE_COLUMNS) + " |")
    cat = {k: {key: np.concatenate([r[key] for r in v]) for key in ("probs", "labels", "ident", "sq", "sq_strong", "sq_peak", "sq_probs")}
           for k, v in pooled.items()}
    metrics["held_out_pooled"] = row = _structure_row(cat["d"], cat["c"])
    lines.append("| **held-out pooled** | " + " | ".join(f"**{_pct(row[k])}**" for k in STRUCTURE_COLUMNS) + " |")
    return lines, metrics


STRUCTURE_COLUMNS = ("top1_dilute", "top1_concentrated", "top3_concentrated", "dilute_called_dilute",
                     "needed_detected", "plain_detected", "peak_detected", "plain_identified")


def _structure_row(d: dict, c: dict) -> dict:
    detected_c = c["sq_probs"][:, 0] < 0.5
    plain = c["sq_strong"] & (c["sq"] > 0)
    ident_sq = plain & detected_c
    return dict(
        top1_dilute=topk(d["probs"][d["ident"]], d["labels"][d["ident"]], 1),
        top1_concentrated=topk(c["probs"][c["ident"]], c["labels"][c["ident"]], 1),
        top3_concentrated=topk(c["probs"][c["ident"]], c["labels"][c["ident"]], 3),
        dilute_called_dilute=float(np.mean(d["sq_probs"][:, 0] >= 0.5)),
        needed_detected=float(np.mean(detected_c[c["sq"] > 0])) if (c["sq"] > 0).any() else float("nan"),
        plain_detected=float(np.mean(detected_c[plain])) if plain.any() else float("nan"),
        peak_detected=float(np.mean(detected_c[c["sq_peak"]])) if c["sq_peak"].any() else float("nan"),
        plain_identified=float(np.mean(c["sq_probs"][ident_sq, 1:].argmax(1) + 1 == c["sq"][ident_sq]))
        if ident_sq.any() else float("nan"),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database")
    ap.add_argument("--card", default=os.path.join("sasview_automodel", "models", "automodel.card.json"))
    ap.add_argument("--report", default=os.path.join("docs", "evaluation.md"))
    ap.add_argument("--per-pair", type=int, default=6, help="curves fitted per confused pair (0 skips the check)")
    ap.add_argument("--ood-per-kind", type=int, default=120, help="outlier curves per kind (0 skips that section)")
    ap.add_argument("--param-curves", type=int, default=300, help="curves for the parameter accuracy (0 skips it)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database)
    command = "python -m training.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    evaluate(cfg, args.card, args.report, args.per_pair, log=lambda m: print(m, flush=True), command=command,
             ood_per_kind=args.ood_per_kind, param_curves=args.param_curves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
