"""Export a trained checkpoint to the shipped bundle: ONNX + JSON model card.

    python -m training.export --config training/configs/full.yaml [--out sasview_automodel/models]

Fixed on the validation split (never used for gradient steps), through freshly drawn
training-family instruments:
* the softmax temperature (minimises the negative log-likelihood),
* the outlier statistics: class means and a shared precision matrix of the embedding
  (Mahalanobis distance, Lee et al. 2018), from train-split curves; in the card only when its
  outlier method reads them (``ood_entry``), else in ``{name}.ood_baseline.npz`` beside the card
  (the evaluation's Mahalanobis baseline; not part of a shipped bundle),
* the outlier threshold: the distance below which ``ood_tpr`` of in-distribution
  validation curves fall.
* the shape-family temperature and the plausible-set level (training/calibrate_sets.py).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
import os
import sys
import time

import numpy as np
import torch

from sasview_automodel import __version__
from sasview_automodel.bundle import CARD_FORMAT, ModelBundle, file_sha256
from sasview_automodel.catalog import CLASS_NAMES, REGRESSION_SLOTS, SQ_NAMES
from sasview_automodel.encoding import CHANNELS, MASK, SLOT_ENCODING, VOLFRACTION_ENCODING
from sasview_automodel.grid import GRID_Q, MIN_COVERED_BINS
from sasview_automodel.scoring import (CONFIDENCE_FEATURES, OUTLIER_CONFIDENCE_CAP, OutlierModel,
                                         confidence, confidence_features, knn_distance, mahalanobis_min,
                                         neg_log_max_prob, softmax)
from training.calibrate_sets import fit_constants as fit_set_constants
from training.calibration import fit_isotonic, fit_logistic
from training.data import load_database, train_batch
from training.instrument import CONFIG as INSTRUMENT_TABLE
from training.model import Conv2dTrunk
from training.train import augmentation, build_model, earlier_stages, load_config, uses_structure

OOD_TPR = 0.95
# the card's words for each outlier score (``method_id``); k and n: the k-NN bank's k and size
OOD_METHODS = {
    "knn+msp": "z(k-NN distance: 1 - the {k}-th largest cosine similarity of the embedding to {n} training "
               "embeddings, the network's knn_distance output) + z(-log max calibrated probability), "
               "standardised on validation curves",
    "mahalanobis+msp": "z(log min squared Mahalanobis distance to class means, shared covariance) + "
                       "z(-log max calibrated probability), standardised on validation curves",
    "mahalanobis": "min Mahalanobis distance (squared) to class means, shared covariance",
    "msp": "z(-log max calibrated probability), standardised on validation curves",
}


@torch.no_grad()
def embed(model, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """(logits, embedding[, structure logits]) of a feature batch."""
    model.eval()
    out = [model(torch.from_numpy(x[i:i + 512])) for i in range(0, len(x), 512)]
    keep = (0, 1, 3) if len(out[0]) > 3 else (0, 1)
    return tuple(torch.cat([o[k] for o in out]).numpy() for k in keep)


def answerable(x: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The curves of a batch the runtime would answer (at least ``grid.MIN_COVERED_BINS`` covered
    bins; Suggester refuses the others), with the matching rows of ``arrays``. An instrument draw
    can leave a curve with no covered bin at all: the network's logits on an all-zero input reach
    1e4-1e5, and one such curve drove the validation temperature to its search bound."""
    keep = x[:, MASK].sum(axis=1) >= MIN_COVERED_BINS
    return (x[keep], *(a[keep] for a in arrays))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the validation NLL (golden-section search on log T)."""
    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(1, keepdims=True)
        return float(-(z[np.arange(len(z)), labels] - np.log(np.exp(z).sum(1))).mean())
    lo, hi = np.log(0.2), np.log(10.0)
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        lo, hi = (lo, b) if nll(a) < nll(b) else (a, hi)
    return float(np.exp((lo + hi) / 2))


def class_statistics(emb: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    means = np.stack([emb[labels == k].mean(0) for k in range(n_classes)])
    centred = emb - means[labels]
    cov = centred.T @ centred / len(emb) + 1e-4 * np.eye(emb.shape[1])
    return means, np.linalg.inv(cov)


OOD_BASELINE = "ood_baseline.npz"   # {name}.ood_baseline.npz beside the card: means, precision


def card_file(out_dir: str, name: str) -> str:
    """The card of bundle ``name`` in ``out_dir``."""
    return os.path.join(out_dir, f"{name}.card.json")


def ood_baseline_path(card_path: str) -> str:
    """Where export writes the Mahalanobis statistics a ``knn+msp`` card leaves out (beside the card)."""
    return card_path.removesuffix(".card.json") + "." + OOD_BASELINE


def ood_entry(outliers: OutlierModel, description: str) -> dict:
    """The card's ``ood`` entry. The class means and the shared precision matrix of the embedding
    (about 200 KB of JSON at E = 128) are written only when the card's outlier method reads them
    (``scoring.uses_mahalanobis``: ``mahalanobis``, ``mahalanobis+msp``); a ``knn+msp`` card has
    none (bundle.ModelCard reads cards with or without them)."""
    entry = {"method": description, "method_id": outliers.method,
             "standardise": list(outliers.standardise) if outliers.standardise else None,
             "tpr": OOD_TPR, "threshold": outliers.threshold}
    if outliers.uses_mahalanobis:
        entry.update(means=np.round(outliers.means, 6).tolist(), precision=np.round(outliers.precision, 6).tolist())
    return entry


def assemble_card(name: str, onnx_path: str, outputs: list[str], temperature: float, structure: dict | None,
                  confidence_weights: np.ndarray, recalibration: tuple[np.ndarray, np.ndarray], outliers: OutlierModel,
                  ood_description: str, ckpt: dict) -> dict:
    """The model card of a bundle (bundle.ModelCard is its reader), without the shape-family and
    plausible-set constants (training/calibrate_sets.py adds them) and with empty ``metrics``
    (training/evaluate.py fills them)."""
    recal_x, recal_y = recalibration
    return {
        "format": CARD_FORMAT,
        "name": name,
        "version": __version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "onnx_file": os.path.basename(onnx_path),
        "onnx_sha256": file_sha256(onnx_path),
        "classes": list(CLASS_NAMES),
        "inputs": {"name": "features", "channels": list(CHANNELS), "grid_q_min": float(GRID_Q[0]),
                   "grid_q_max": float(GRID_Q[-1]), "grid_size": int(GRID_Q.size), "q_unit": "1/A",
                   "preprocessing": "sasview_automodel.grid.featurize"},
        "outputs": outputs,
        "regression": {"slots": [[CLASS_NAMES[k], slot, kind] for k, slot, kind in REGRESSION_SLOTS],
                       "encoding": SLOT_ENCODING},
        "temperature": temperature,
        **({"structure": structure} if structure else {}),
        "confidence": {"method": "logistic model of P(top-1 correct), fitted on validation curves, recalibrated; "
                                 f"capped at {OUTLIER_CONFIDENCE_CAP} for outliers (sasview_automodel.scoring)",
                       "features": list(CONFIDENCE_FEATURES),
                       "weights": [round(float(w), 6) for w in confidence_weights],
                       "recalibration": {"method": "isotonic (pool adjacent violators) on the other half of the "
                                                   "validation curves; np.interp between knots",
                                         "x": [round(float(v), 6) for v in recal_x],
                                         "y": [round(float(v), 6) for v in recal_y]}},
        "ood": ood_entry(outliers, ood_description),
        "training": {"config": ckpt["config"], "config_hash": ckpt["config_hash"], "steps": ckpt["step"],
                     "instruments_sha256": file_sha256(INSTRUMENT_TABLE),   # instrument and nuisance priors
                     "minutes": round(ckpt["elapsed"] / 60, 1), "database_curves": ckpt["n_database"],
                     "history": ckpt["history"][-5:], "earlier_stages": earlier_stages(ckpt["config"]),
                     **({"averaged_steps": [a["step"] for a in ckpt["averaged"]]} if ckpt.get("averaged") else {})},
        "metrics": {},
    }


def export(cfg: dict, out_dir: str, name: str = "automodel", log=print) -> str:
    """Write ``{name}.onnx`` and ``{name}.card.json`` into ``out_dir``; returns the card path."""
    ckpt = torch.load(os.path.join(cfg["out_dir"], "checkpoint.pt"), weights_only=False)
    model = build_model(cfg)
    model.load_state_dict(ckpt["model"])
    model.eval()
    os.makedirs(out_dir, exist_ok=True)

    # statistics and calibration on curves drawn as in training (concentrated ones included,
    # so a modelled S(q) is in-distribution), without outlier-exposure curves
    aug = augmentation(cfg)
    aug = aug.without_exposure() if aug is not None else None
    db = load_database(cfg["database"], with_radius_effective=aug is not None)
    rng = np.random.default_rng([cfg["seed"], 4242])
    tr = db.subset("train")
    rows = rng.choice(len(tr), size=min(len(tr), 20 * len(CLASS_NAMES) * 100), replace=False)
    x_tr, y_tr, *_ = train_batch(tr, rows, rng, aug)
    x_tr, y_tr = answerable(x_tr, y_tr)
    e_tr = embed(model, x_tr)[1]
    means, precision = class_statistics(e_tr, y_tr, len(CLASS_NAMES))
    knn = cfg.get("ood_knn")   # {bank: N training embeddings kept, k}: the k-NN outlier distance
    bank = None
    if knn:
        pick = rng.choice(len(e_tr), size=min(len(e_tr), int(knn["bank"])), replace=False)
        bank = e_tr[pick] / np.linalg.norm(e_tr[pick], axis=1, keepdims=True)

    onnx_path = os.path.join(out_dir, f"{name}.onnx")
    dummy = torch.zeros(2, len(CHANNELS), GRID_Q.size)
    outputs = (["logits", "embedding", "params"] + (["structure_logits", "volfraction"] if uses_structure(cfg) else [])
               + (["knn_distance"] if knn else []))
    trunk = Conv2dTrunk(model, bank, int(knn["k"])) if knn else Conv2dTrunk(model)
    torch.onnx.export(trunk, (dummy,), onnx_path, input_names=["features"], output_names=outputs,
                      dynamic_axes={"features": {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
                      opset_version=17, dynamo=False)
    va = db.subset("val")
    # ``val_draws`` instrument draws of every validation set: more curves for the temperature,
    # threshold and the two halves of the confidence fit (one draw left its ECE noisy, docs/design.md)
    x_va, y_va, _, _, sq_va, _, _ = train_batch(va, np.tile(np.arange(len(va)), int(cfg.get("val_draws", 1))), rng, aug)
    x_va, y_va, sq_va = answerable(x_va, y_va, sq_va)
    l_va, e_va, *s_va = embed(model, x_va)
    temperature = fit_temperature(l_va, y_va)
    structure = None
    if s_va:
        t_sq = fit_temperature(s_va[0], sq_va)
        structure = {"classes": list(SQ_NAMES), "temperature": t_sq, "outputs": ["structure_logits", "volfraction"],
                     "encoding": "structure_logits: [none, *classes]; " + VOLFRACTION_ENCODING,
                     "val_accuracy": float((s_va[0].argmax(1) == sq_va).mean())}
        log(f"structure temperature {t_sq:.3f}, val accuracy {structure['val_accuracy']:.3f}")
    p_va = softmax(l_va, temperature)
    # with outlier exposure the softmax is trained to go flat on strange curves: the detector adds
    # its evidence to the embedding distance (chosen on a separate OOD draw, docs/design.md);
    # with ``ood_knn`` that distance is the k-NN one, else the Mahalanobis one
    # ``ood_score`` in the config names the method outright (OOD_METHODS)
    combined = bool(cfg.get("exposure_fraction"))
    method = cfg.get("ood_score") or ("knn+msp" if knn else "mahalanobis+msp" if combined else "mahalanobis")
    if method not in OOD_METHODS or (method == "knn+msp" and not knn):
        raise SystemExit(f"ood_score {method!r}: one of {sorted(OOD_METHODS)} (knn+msp needs ood_knn)")
    msp = neg_log_max_prob(p_va)
    knn_va = knn_distance(e_va, bank, int(knn["k"])) if method == "knn+msp" else None
    # z-scores on validation curves: of the distance (unused by ``msp``), then of -log max probability
    if method == "mahalanobis":
        standardise = None
    elif method == "msp":
        standardise = [0.0, 1.0, float(msp.mean()), float(msp.std())]
    else:
        dist = knn_va if method == "knn+msp" else np.log(np.maximum(mahalanobis_min(e_va, means, precision), 1e-6))
        standardise = [float(dist.mean()), float(dist.std()), float(msp.mean()), float(msp.std())]
    # the threshold is set on the score the runtime computes (OutlierModel.score)
    unthresholded = OutlierModel(means, precision, 0.0, method, tuple(standardise) if standardise else None)
    score_va = unthresholded.score(e_va, p_va, knn_va)
    threshold = float(np.quantile(score_va, OOD_TPR))
    outliers = replace(unthresholded, threshold=threshold)
    conf_x = confidence_features(p_va, outliers.excess(score_va), x_va)
    correct = (p_va.argmax(1) == y_va).astype(float)
    # logistic combination on one half of the validation curves, isotonic recalibration of its
    # output on the other half (a linear logistic alone was measured 0.037 ECE, worse than the
    # calibrated top-1 probability)
    half = np.arange(len(y_va)) % 2 == 0
    conf_w = fit_logistic(conf_x[half], correct[half])
    raw = confidence(conf_x[~half], conf_w, np.zeros((~half).sum(), bool))
    recal_x, recal_y = fit_isotonic(raw, correct[~half])
    log(f"temperature {temperature:.3f}, outlier threshold {threshold:.3g} (TPR {OOD_TPR} on {len(score_va)} val curves), "
        f"val top-1 {(l_va.argmax(1) == y_va).mean():.3f}")

    card = assemble_card(name, onnx_path, outputs, temperature, structure, conf_w, (recal_x, recal_y), outliers,
                         OOD_METHODS[method].format(k=knn and knn["k"], n=0 if bank is None else len(bank)), ckpt)
    if not outliers.uses_mahalanobis:   # not in the card; the evaluation's Mahalanobis baseline reads them here
        np.savez(ood_baseline_path(card_file(out_dir, name)), means=means, precision=precision)
    card.update(fit_set_constants(p_va, y_va))   # shape families and plausible sets (training/calibrate_sets.py)
    card_path = card_file(out_dir, name)
    with open(card_path, "w") as f:
        json.dump(card, f, indent=1)
    ModelBundle.load(card_path)  # round trip: checksum, shapes, classes
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB) and {card_path}")
    return card_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database")
    ap.add_argument("--out-dir", help="override the config's run folder (where checkpoint.pt is)")
    ap.add_argument("--bundle-dir", default=os.path.join("sasview_automodel", "models"))
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database, out_dir=args.out_dir)
    export(cfg, args.bundle_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
