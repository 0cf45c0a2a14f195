"""Out-of-distribution set, outlier detection and calibration metrics.

The OOD set is made by this project: sasmodels models outside the catalog (lamellar, mass and
surface fractals, power laws, peaks, gels, polymer coils, micro-emulsions, spheres and
ellipsoids with a strong hard-sphere structure factor, two-population mixtures) and junk
(flat, noise, steps, rising curves, random walks). Each curve is computed on the physics grid
and observed through the training instrument distribution, exactly like in-distribution
test curves, so only the sample differs.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from sasview_automodel.grid import featurize
from sasview_automodel.sasmodels_env import load_model
from sasview_automodel.scoring import mahalanobis_min
from training.instrument import draw_instrument, observe
from training.metrics import auroc, brier, ece_of_confidence, energy, fpr_at_tpr


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _lu(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# kind -> (sasmodels model or None for junk, parameter sampler)
OOD_KINDS: dict[str, tuple[str | None, Callable]] = {
    "lamellar": ("lamellar", lambda r: dict(thickness=_lu(r, 10, 300), thickness_pd=_u(r, 0, 0.2), thickness_pd_n=15)),
    "mass_fractal": ("mass_fractal", lambda r: dict(radius=_lu(r, 5, 50), fractal_dim_mass=_u(r, 1.5, 2.8),
                                                    cutoff_length=_lu(r, 300, 3000))),
    "surface_fractal": ("surface_fractal", lambda r: dict(radius=_lu(r, 5, 50), fractal_dim_surf=_u(r, 2.1, 2.9),
                                                          cutoff_length=_lu(r, 300, 3000))),
    "power_law": ("power_law", lambda r: dict(power=_u(r, 1.5, 4.5))),
    "gaussian_peak": ("gaussian_peak", lambda r: dict(peak_pos=_lu(r, 0.005, 0.3), sigma=_lu(r, 0.001, 0.02))),
    "broad_peak": ("broad_peak", lambda r: dict(porod_scale=_lu(r, 1e-6, 1e-3), porod_exp=_u(r, 2, 4),
                                                peak_scale=_lu(r, 1, 100), correlation_length=_lu(r, 10, 200),
                                                peak_pos=_lu(r, 0.01, 0.3), width_exp=2.0, shape_exp=1.0)),
    "gel": ("gel_fit", lambda r: dict(guinier_scale=_lu(r, 0.1, 10), lorentz_scale=_lu(r, 0.1, 10),
                                      rg=_lu(r, 50, 500), fractal_dim=_u(r, 1.5, 2.8), cor_length=_lu(r, 5, 50))),
    "polymer_coil": ("poly_gauss_coil", lambda r: dict(rg=_lu(r, 20, 400), polydispersity=_u(r, 1.0, 3.0))),
    "microemulsion": ("teubner_strey", lambda r: dict(d=_lu(r, 50, 500), xi=_lu(r, 20, 300))),
    "sphere_hardsphere": ("sphere@hardsphere", lambda r: dict(radius=_lu(r, 20, 500), volfraction=_u(r, 0.25, 0.5),
                                                              radius_pd=_u(r, 0, 0.1), radius_pd_n=15)),
    "ellipsoid_hardsphere": ("ellipsoid@hardsphere", lambda r: dict(
        radius_polar=_lu(r, 20, 300), radius_equatorial=_lu(r, 20, 300), volfraction=_u(r, 0.25, 0.5))),
    "two_spheres": ("sphere+sphere", lambda r: _two_spheres(r)),
    "lamellar_stack": ("lamellar_stack_caille", lambda r: dict(
        thickness=_lu(r, 10, 60), Nlayers=int(r.integers(5, 60)), d_spacing=_lu(r, 60, 400),
        Caille_parameter=_u(r, 0.01, 0.3))),
    "junk_flat": (None, lambda r: {}),
    "junk_noise": (None, lambda r: {}),
    "junk_step": (None, lambda r: {}),
    "junk_rising": (None, lambda r: {}),
    "junk_random_walk": (None, lambda r: {}),
}


# Kinds that a catalog form factor times a catalog structure factor now models (issue 9): they are
# reported apart (how often they are still flagged) and left out of AUROC / FPR.
MODELLED_KINDS = ("sphere_hardsphere", "ellipsoid_hardsphere")
# Kinds that resemble a family of training/exposure.py (generic curves shown in training as
# outliers): AUROC is also given without them, so the gain is not read off seen-like kinds alone.
MIXTURE_LIKE = ("two_spheres",)   # resembles exposure.two_populations (when training used it)


def exposure_like(card: dict) -> tuple[str, ...]:
    """The OOD kinds that resemble an exposure family the bundle was trained with (exposure.FAMILIES)."""
    from training.exposure import FAMILIES, recipe_families
    config = card.get("training", {}).get("config", {})
    kinds = {k for f in recipe_families(config) for k in FAMILIES[f]}
    kinds |= set(MIXTURE_LIKE if config.get("exposure_mixture_share") else ())
    return tuple(k for k in OOD_KINDS if k in kinds)


# two_spheres: the larger population's Guinier plateau stands at least this many times above the
# smaller one's (sasmodels' I(0) of a population is scale x volume x contrast^2)
TWO_SPHERES_MIN_RISE = 2.0


def _two_spheres(rng) -> dict:
    """A bimodal sphere sample whose two populations both show in I(q).

    The larger population (3-10 x the radius) lifts the low-q plateau 2 x or more above the smaller
    one's, and its Porod tail has fallen below half of that plateau at q = 1 / (smaller radius), so
    the smaller population's knee stays visible."""
    ra = _lu(rng, 20, 300)
    ratio = _lu(rng, 3, 10)
    # a sphere's form factor stays under its envelope 9 / (qR)^4 beyond the Guinier region, so at
    # q = 1/ra the larger population adds at most about rise * 9 / ratio^4 of the smaller one's
    # plateau: capped near 0.4
    rise = _lu(rng, TWO_SPHERES_MIN_RISE, max(1.5 * TWO_SPHERES_MIN_RISE, 0.4 * ratio ** 4 / 9))
    return dict(A_radius=ra, B_radius=ra * ratio, A_scale=1.0, B_scale=rise / ratio ** 3, A_radius_pd=0.1,
                B_radius_pd=0.1, A_radius_pd_n=15, B_radius_pd_n=15)


def _junk(kind: str, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "junk_flat":
        return np.ones_like(q)
    if kind == "junk_noise":
        return np.exp(rng.normal(0, 1.0, q.size))
    if kind == "junk_step":
        q0 = _lu(rng, 1e-3, 0.3)
        return np.where(q < q0, 1.0, _lu(rng, 1e-3, 0.1))
    if kind == "junk_rising":
        return (q / q[0]) ** _u(rng, 0.5, 2.0)
    return np.exp(np.cumsum(rng.normal(0, 0.15, q.size)))


def simulate_ood(q_fine: np.ndarray, n_per_kind: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """(kind, I(q_fine)) pairs, ``n_per_kind`` of each OOD kind."""
    from sasmodels.direct_model import call_kernel

    out = []
    for k, (kind, (model, sampler)) in enumerate(OOD_KINDS.items()):
        rng = np.random.default_rng([seed, k])
        kernel = load_model(model).make_kernel([q_fine]) if model else None
        made = 0
        for _ in range(n_per_kind * 5):
            if made == n_per_kind:
                break
            if kernel is None:
                i = _junk(kind, q_fine, rng)
            else:
                i = np.asarray(call_kernel(kernel, dict(sampler(rng), scale=1.0, background=0.0)))
                if np.all(np.isfinite(i)) and i.max() > 0:  # peaks underflow far from their centre
                    i = np.maximum(i, 1e-9 * i.max())
            if np.all(np.isfinite(i)) and np.all(i > 0):
                out.append((kind, i / i[0]))
                made += 1
    return out


def observe_ood(curves: list[tuple[str, np.ndarray]], q_fine: np.ndarray, seed: int,
                instruments: dict | None = None) -> tuple[list[str], np.ndarray]:
    """Features of the outlier curves, each observed through a training-like instrument of ``instruments``
    (default the instrument table)."""
    rng = np.random.default_rng([seed, 4040])
    kinds, feats = [], []
    for kind, i in curves:
        obs = observe(q_fine, i, draw_instrument(rng, "train", instruments), rng)
        f, info = featurize(*obs.as_tuple())
        if info.covered_bins >= 32:
            kinds.append(kind)
            feats.append(f)
    return kinds, np.stack(feats)


# -- selective accuracy and plots (the metrics themselves: training/metrics.py) ------------------
def selective(conf: np.ndarray, correct: np.ndarray, coverages=(1.0, 0.9, 0.8, 0.7, 0.5, 0.3)) -> list[tuple[float, float]]:
    order = np.argsort(-conf)
    return [(c, float(correct[order[: max(1, int(round(c * conf.size)))]].mean())) for c in coverages]


def plots(conf: np.ndarray, correct: np.ndarray, baseline: np.ndarray, folder: str) -> list[str]:
    """Reliability diagram and selective-accuracy (coverage) plot as PNG; returns the paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    edges = np.linspace(0, 1, 16)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    for c, label in ((baseline, "max softmax, T = 1"), (conf, "confidence (shipped)")):
        x, y = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (c > lo) & (c <= hi)
            if m.sum() >= 5:
                x.append(c[m].mean())
                y.append(correct[m].mean())
        ax.plot(x, y, "o-", label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="stated confidence", ylabel="observed accuracy", title="Reliability (test split)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    rel = os.path.join(folder, "reliability.png")
    fig.savefig(rel)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    cov = np.linspace(0.05, 1, 40)
    for c, label in ((baseline, "max softmax"), (conf, "confidence (shipped)")):
        order = np.argsort(-c)
        ax.plot(cov, [correct[order[: max(1, int(k * c.size))]].mean() for k in cov], label=label)
    ax.set(xlabel="coverage (fraction of curves answered)", ylabel="top-1 accuracy on answered curves",
           title="Selective accuracy")
    ax.legend()
    fig.tight_layout()
    sel = os.path.join(folder, "coverage.png")
    fig.savefig(sel)
    plt.close(fig)
    return [rel, sel]


def mahalanobis_statistics(suggester) -> tuple[np.ndarray, np.ndarray]:
    """The embedding's class means and shared precision for the Mahalanobis baseline: the card's
    where its outlier method reads them, else ``{name}.ood_baseline.npz`` that training/export.py
    wrote beside the card."""
    out = suggester.outliers
    if out.means is not None:
        return out.means, out.precision
    from training.export import ood_baseline_path
    card = suggester.bundle.card_path
    path = ood_baseline_path(card)
    try:
        with np.load(path) as z:
            return z["means"], z["precision"]
    except OSError:
        raise FileNotFoundError(f"{card} carries no class statistics and {path} is missing: the Mahalanobis "
                                "baseline needs the run's bundle folder (training/export.py writes it there)") from None


def report(suggester, id_result: dict, q_fine: np.ndarray, n_per_kind: int, seed: int, img_folder: str) -> tuple[list[str], dict]:
    """Markdown lines and metrics for outlier detection and calibration."""
    from sasview_automodel.scoring import softmax

    kinds, x_ood = observe_ood(simulate_ood(q_fine, n_per_kind, seed), q_fine, seed)
    ood = suggester.score(x_ood)
    kinds = np.array(kinds)
    modelled = np.isin(kinds, MODELLED_KINDS) if suggester.structure_names else np.zeros(len(kinds), bool)
    seen_like = exposure_like(suggester.bundle.card)
    unlike = ~modelled & ~np.isin(kinds, seen_like)
    all_out = ood["outlier_score"]
    s_in, s_out = id_result["ood"], all_out[~modelled]
    base_in = -softmax(id_result["logits"], 1.0).max(1)
    base_all = -softmax(ood["logits"], 1.0).max(1)
    base_out = base_all[~modelled]
    energy_in = energy(id_result["logits"])      # energy score (Liu et al. 2020), higher = stranger
    energy_all = energy(ood["logits"])
    thr = suggester.ood_threshold
    means, precision = mahalanobis_statistics(suggester)
    maha_in = mahalanobis_min(id_result["emb"], means, precision)
    maha_all = mahalanobis_min(ood["embedding"], means, precision)
    m = dict(auroc_mahalanobis=auroc(maha_in, maha_all[~modelled]), fpr95_mahalanobis=fpr_at_tpr(maha_in, maha_all[~modelled]),
             auroc=auroc(s_in, s_out), fpr95=fpr_at_tpr(s_in, s_out), flagged_ood=float(np.mean(s_out > thr)),
             flagged_id=float(np.mean(s_in > thr)), auroc_maxsoftmax=auroc(base_in, base_out),
             fpr95_maxsoftmax=fpr_at_tpr(base_in, base_out), n_ood=int(s_out.size), n_id=int(s_in.size),
             auroc_unlike_exposure=auroc(s_in, all_out[unlike]),
             auroc_maxsoftmax_unlike_exposure=auroc(base_in, base_all[unlike]),
             flagged_modelled=float(np.mean(all_out[modelled] > thr)) if modelled.any() else float("nan"),
             auroc_energy=auroc(energy_in, energy_all[~modelled]), fpr95_energy=fpr_at_tpr(energy_in, energy_all[~modelled]))
    if id_result.get("knn") is not None and ood.get("knn_distance") is not None:
        knn_in, knn_out = id_result["knn"], ood["knn_distance"][~modelled]
        m.update(auroc_knn=auroc(knn_in, knn_out), fpr95_knn=fpr_at_tpr(knn_in, knn_out))
    labels = id_result["labels"]
    p_raw = softmax(id_result["logits"], 1.0)
    correct = (id_result["probs"].argmax(1) == labels).astype(float)
    conf = id_result["confidence"]
    m.update(ece_raw=ece_of_confidence(p_raw.max(1), correct),
             ece_calibrated=ece_of_confidence(id_result["probs"].max(1), correct),
             ece_calibrated_capped=ece_of_confidence(np.where(s_in > thr, np.minimum(id_result["probs"].max(1), 0.5),
                                                             id_result["probs"].max(1)), correct),
             ece_confidence=ece_of_confidence(conf, correct), brier_raw=brier(p_raw, labels),
             brier_calibrated=brier(id_result["probs"], labels))
    pngs = plots(conf, correct, p_raw.max(1), img_folder)
    lines = ["", "## Outliers and calibration", "",
             f"In-distribution: {m['n_id']} test curves through the training instrument distribution. "
             f"Out-of-distribution: {m['n_ood']} curves of {len(OOD_KINDS)} kinds made by `training/ood.py`, "
             f"observed through the same instruments. Shipped outlier score: {suggester.bundle.card['ood']['method']}; "
             "the embedding is trained with a supervised contrastive term. Baselines from the same network.", "",
             "| detector | AUROC | FPR at 95 % TPR |", "|---|---|---|",
             f"| **shipped** ({suggester.outliers.method}) | **{m['auroc']:.3f}** | {m['fpr95']:.3f} |",
             f"| Mahalanobis distance on the embedding alone | {m['auroc_mahalanobis']:.3f} | {m['fpr95_mahalanobis']:.3f} |",
             *([f"| k-NN distance on the embedding alone | {m['auroc_knn']:.3f} | {m['fpr95_knn']:.3f} |"]
               if "auroc_knn" in m else []),
             f"| max softmax (baseline) | {m['auroc_maxsoftmax']:.3f} | {m['fpr95_maxsoftmax']:.3f} |",
             f"| energy of the logits (baseline) | {m['auroc_energy']:.3f} | {m['fpr95_energy']:.3f} |", "",
             f"Without the kinds that resemble an outlier-exposure family of training ({', '.join(seen_like)}): "
             f"AUROC {m['auroc_unlike_exposure']:.3f} (max softmax {m['auroc_maxsoftmax_unlike_exposure']:.3f}).", "",
             *([f"Modelled now (a catalog form factor times a catalog structure factor), left out of AUROC: "
                f"{', '.join(MODELLED_KINDS)}; {100 * m['flagged_modelled']:.0f} % of them are still flagged.", ""]
               if modelled.any() else []),
             f"At the card threshold ({thr:.1f}), {100 * m['flagged_ood']:.1f} % of outliers and "
             f"{100 * m['flagged_id']:.1f} % of in-distribution test curves are flagged.", "",
             "| OOD kind | n | flagged (%) | median excess over the threshold | note |", "|---|---|---|---|---|"]
    for kind in OOD_KINDS:
        sel = kinds == kind
        note = ("modelled now (P@S)" if kind in MODELLED_KINDS and modelled.any() else
                "resembles an exposure family" if kind in seen_like else "")
        if sel.any():
            lines.append(f"| {kind} | {sel.sum()} | {100 * np.mean(all_out[sel] > thr):.0f} | "
                         f"{np.median(suggester.outliers.excess(all_out[sel])):+.2f} | {note} |")
    lines += ["", "| calibration (test split, train-like instruments) | ECE (15 bins) | Brier |", "|---|---|---|",
              f"| softmax, T = 1 | {m['ece_raw']:.3f} | {m['brier_raw']:.3f} |",
              f"| softmax, T = {suggester.temperature:.2f} (shipped probabilities) | {m['ece_calibrated']:.3f} | "
              f"{m['brier_calibrated']:.3f} |",
              f"| confidence value (shipped) | **{m['ece_confidence']:.3f}** | |", "",
              "Selective accuracy (answer only the most confident curves):", "",
              "| coverage | accuracy by confidence | accuracy by max softmax |", "|---|---|---|"]
    for (c, a), (_, b) in zip(selective(conf, correct), selective(p_raw.max(1), correct)):
        lines.append(f"| {c:.0%} | {100 * a:.1f} | {100 * b:.1f} |")
    report_dir = os.path.dirname(img_folder)   # the images sit in img/ beside the report
    rel = os.path.relpath(pngs[0], report_dir)
    cov = os.path.relpath(pngs[1], report_dir)
    lines += ["", f"![reliability diagram]({rel}) ![selective accuracy]({cov})"]
    return lines, m
