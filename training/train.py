"""Train the classifier: cross-entropy + supervised contrastive loss, instruments drawn on the fly.

    python -m training.train --config training/configs/recipe.yaml [--database data/db.h5] [--resume]
    python -m training.train --config training/configs/smoke.yaml --init-from runs/recipe/checkpoint.pt
    python -m training.train --config training/configs/recipe.yaml --init-from sasview_automodel/models/automodel.onnx

Every batch observes database curves through freshly drawn instruments (held-out families
never occur). A checkpoint (model, optimiser, step, elapsed time) is written every few
minutes and at the end, so an interrupted run continues with ``--resume``. ``init_from`` starts
a new run (fresh optimiser and learning-rate schedule) from the weights of an earlier one, or
of a shipped ONNX bundle (training/warmstart.py), so training continues across machines.
``distill: {teacher: PATH, weight: 1.0, temperature: 2.0, embedding_weight: 0.0}`` adds knowledge
distillation from a frozen teacher (a checkpoint or a bundle, of any shape): a smaller, faster network
(``model.kernel``, ``model.widths``) learns from the shipped one's softened posteriors as well as from
the labels, and with ``embedding_weight`` > 0 also the direction of its embedding (1 - cosine), which
carries the outlier score's geometry (needs the same embedding size).
``precision: bf16`` runs the forward passes under bfloat16 autocast (the weights, the optimiser and
the losses stay float32; about 2 x faster on CPUs with AVX-512 BF16 / AMX); export is float32 as always.
``unidentifiable_weight: 0.3`` (stage 8; default 1) weights the cross-entropy of curves whose size
features lie outside their q window (the evaluation's identifiability rule) 0.3 instead of 1.
``near_degenerate_simpler: 0.75`` puts that share of a near-degenerate curve's target on the
catalog's simpler class (``near_degenerate_as``: a thin-shelled core-shell sphere is a sphere).
``exposure_families`` lists the training/exposure.py families of the outlier-exposure curves.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, IterableDataset

from sasview_automodel.catalog import CLASS_NAMES, REGRESSION_SLOTS, STRUCTURE_FACTORS
from sasview_automodel.grid import CHANNELS
from training.data import Augmentation, Database, load_database, train_batch
from training.exposure import recipe_families
from training.model import CurveNet, supcon_loss
from training.structure import SBank


def load_config(path: str, **overrides) -> dict:
    with open(path) as f:
        cfg = yaml.safe_load(f)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


class Batches(IterableDataset):
    """An endless stream of training batches (data.train_batch) from the train split."""

    def __init__(self, db: Database, batch_size: int, seed: int, aug: Augmentation | None):
        self.db, self.batch_size, self.seed, self.aug = db, batch_size, seed, aug

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])   # deterministic from the seed and step
        while True:
            rows = rng.integers(0, len(self.db), self.batch_size)
            yield tuple(torch.from_numpy(a) for a in train_batch(self.db, rows, rng, self.aug, with_identifiable=True,
                                                                         with_simpler=True))


def uses_structure(cfg: dict) -> bool:
    return float(cfg.get("sq_fraction", 0.0)) > 0


def build_model(cfg: dict) -> CurveNet:
    return CurveNet(len(CHANNELS), len(CLASS_NAMES), tuple(cfg["model"]["widths"]), cfg["model"]["embedding"],
                    n_regression=len(REGRESSION_SLOTS), n_structure=len(STRUCTURE_FACTORS) if uses_structure(cfg) else 0,
                    kernel=int(cfg["model"].get("kernel", 5)), activation=cfg["model"].get("activation", "gelu"))


def weighted_cross_entropy(logits: torch.Tensor, y: torch.Tensor, identifiable: torch.Tensor,
                           unidentifiable_weight: float = 1.0, simpler: torch.Tensor | None = None,
                           simpler_share: float = 0.0) -> torch.Tensor:
    """Cross-entropy, a weighted mean: curves whose size features lie outside their q window count
    ``unidentifiable_weight`` (1: the plain mean). Their label is partly a guess (a sphere and an
    ellipsoid seen only in the Guinier regime), so a lower weight leaves the network's capacity to
    the curves the data can decide. Curves with a ``simpler`` class (>= 0: near-degenerate, the
    catalog's ``near_degenerate_as``) put ``simpler_share`` of their target on that class."""
    per_curve = F.cross_entropy(logits, y, reduction="none")
    if simpler is not None and simpler_share > 0 and bool((simpler >= 0).any()):
        has = simpler >= 0
        alt = F.cross_entropy(logits, simpler.clamp_min(0), reduction="none")
        per_curve = torch.where(has, (1 - simpler_share) * per_curve + simpler_share * alt, per_curve)
    if unidentifiable_weight == 1.0:
        return per_curve.mean()
    w = torch.where(identifiable, 1.0, unidentifiable_weight).to(per_curve.dtype)
    return (per_curve * w).sum() / w.sum().clamp_min(1e-6)


def distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015): T^2 x KL(teacher || student) between the
    class posteriors softened by ``temperature``, averaged over the batch."""
    t = F.log_softmax(teacher_logits / temperature, dim=1)
    s = F.log_softmax(student_logits / temperature, dim=1)
    return temperature ** 2 * F.kl_div(s, t, log_target=True, reduction="batchmean")


def embedding_distill_loss(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cosine(student, teacher) embedding: 0 when every direction matches."""
    return (1.0 - F.cosine_similarity(student_emb, teacher_emb, dim=1)).mean()


def with_teacher(cfg: dict, teacher: str) -> dict:
    """``cfg``'s distill section with ``teacher`` as its teacher (the --teacher override of train.py and
    pipeline.py); ValueError for a config without one."""
    if not cfg.get("distill"):
        raise ValueError("it has no distill section")
    return dict(cfg["distill"], teacher=teacher)


def autocast(cfg: dict):
    """bfloat16 autocast for the forward passes when ``cfg["precision"] == "bf16"``, else a no-op context."""
    precision = cfg.get("precision", "fp32")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, not {precision!r}")
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def load_teacher(cfg: dict, train_db: Database, aug: Augmentation | None) -> CurveNet | None:
    """The frozen teacher of a distillation run (``distill.teacher``: a checkpoint or an ONNX bundle with
    its card beside it; any architecture), or None. Records an ONNX teacher's sha256 in ``cfg``."""
    d = cfg.get("distill")
    if not d:
        return None
    source = d["teacher"]
    teacher = build_model(source_config(source))
    sha = init_weights(teacher, source, train_db, cfg["seed"], aug)
    if sha:
        d["teacher_sha256"] = sha
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


def augmentation(cfg: dict) -> Augmentation | None:
    """The structure-factor bank and mixing fractions of ``cfg`` (None for a dilute-only model)."""
    if not uses_structure(cfg) and not cfg.get("exposure_fraction"):
        return None
    bank = SBank.load_or_build(cfg["database"] + ".sbank.npz")
    return Augmentation(bank, float(cfg.get("sq_fraction", 0.0)), float(cfg.get("exposure_fraction", 0.0)),
                        float(cfg.get("exposure_mixture_share", 0.0)), float(cfg.get("bimodal_fraction", 0.0)),
                        recipe_families(cfg))


def validation_set(db: Database, size: int, seed: int, aug: Augmentation | None) -> tuple[torch.Tensor, ...]:
    """Validation curves drawn like training ones, without exposure: (x, y, sq_y)."""
    rng = np.random.default_rng([seed, 999])
    rows = rng.choice(len(db), size=min(size, len(db)), replace=False)
    x, y, _, _, sq_y, _, _ = train_batch(db, rows, rng, aug.without_exposure() if aug else None)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(sq_y)


def earlier_stages(cfg: dict) -> list[dict]:
    """What the weights a run started from had been trained on (oldest first): as train.py recorded
    it when the run started (``init_from_stages``), else from the model card beside an ONNX source
    (checked by sha256) or from a checkpoint; [] for a run from scratch."""
    source = cfg.get("init_from")
    if not source:
        return []
    if cfg.get("init_from_stages") is not None:   # recorded by train.py when the run started
        return list(cfg["init_from_stages"])
    if source.endswith(".onnx"):
        card_path = os.path.splitext(source)[0] + ".card.json"
        try:
            if source.startswith("git:"):   # a committed bundle: its card as committed beside it
                _, rev, path = card_path.split(":", 2)
                source_card = json.loads(git_show(rev, path))
            else:
                with open(card_path) as f:
                    source_card = json.load(f)
        except (OSError, ValueError, subprocess.CalledProcessError):
            return [{"source": source, "onnx_sha256": cfg.get("init_from_sha256"), "known": False}]
        tr, sha = source_card.get("training", {}), source_card.get("onnx_sha256")
        if cfg.get("init_from_sha256") and sha != cfg["init_from_sha256"]:   # the card beside it is another model now
            return [{"source": source, "onnx_sha256": cfg["init_from_sha256"], "known": False}]
        stage = {"source": source, "onnx_sha256": sha, "steps": tr.get("steps"), "minutes": tr.get("minutes"),
                 "database_curves": tr.get("database_curves"), "config_hash": tr.get("config_hash")}
        return list(tr.get("earlier_stages", [])) + [stage]
    if not os.path.exists(source):
        return [{"source": source, "known": False}]
    ckpt = torch.load(source, weights_only=False)
    stage = {"source": source, "steps": ckpt["step"], "minutes": round(ckpt["elapsed"] / 60, 1),
             "database_curves": ckpt["n_database"], "config_hash": ckpt["config_hash"]}
    return earlier_stages(ckpt["config"]) + [stage]


def init_weights(model: CurveNet, source: str, train_db: Database, seed: int, aug: Augmentation | None,
                 calibration_curves: int = 2048) -> str | None:
    """Weights of an earlier run: a ``checkpoint.pt``, or a shipped ``.onnx`` bundle (its folded
    BatchNorms rebuilt on training curves, training/warmstart.py). A source with wider stages is
    narrowed into ``model`` (training/narrow.py); the activation may differ. Returns the sha256 of an ONNX
    source (the file may be replaced later, by an export), None for a checkpoint."""
    from training.narrow import architecture, narrow_into
    checkpoint = None if source.endswith(".onnx") else torch.load(source, weights_only=False)
    source_cfg = checkpoint["config"] if checkpoint is not None else source_config(source)
    narrowing = tuple(source_cfg["model"]["widths"]) != architecture(model)["widths"]
    target = build_model(source_cfg) if narrowing else model
    rng = np.random.default_rng([seed, 777])
    calibration = None
    if checkpoint is None or narrowing:
        rows = rng.integers(0, len(train_db), calibration_curves)
        calibration = torch.from_numpy(train_batch(train_db, rows, rng, aug)[0])
    sha = None
    if checkpoint is not None:
        target.load_state_dict(checkpoint["model"])
    else:
        from sasview_automodel.bundle import file_sha256
        from training.warmstart import load_onnx_weights
        load_onnx_weights(target, source, calibration)
        sha = file_sha256(source)
    if narrowing:   # fewer channels (training/narrow.py): the source's strongest, BatchNorms re-measured
        from training.average import recompute_batchnorm
        narrow_into(target, model)
        recompute_batchnorm(model, calibration.split(512))
    return sha


def git_show(rev: str, path: str) -> bytes:
    """The content of ``path`` (relative to the repository root) as committed in revision ``rev``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(["git", "-C", root, "show", f"{rev}:{path}"], check=True, capture_output=True).stdout


def resolve_source(source: str, out_dir: str) -> str:
    """A weight source as a file path. ``git:REV:PATH`` (a bundle as committed in revision REV, e.g. the
    shipped model a recipe warm-starts from) is extracted with its card into ``out_dir/init/``."""
    if not source.startswith("git:"):
        return source
    _, rev, path = source.split(":", 2)
    folder = os.path.join(out_dir, "init")
    os.makedirs(folder, exist_ok=True)
    for member in (path, os.path.splitext(path)[0] + ".card.json"):
        with open(os.path.join(folder, os.path.basename(member)), "wb") as f:
            f.write(git_show(rev, member))
    return os.path.join(folder, os.path.basename(path))


def source_config(source: str) -> dict:
    """The training config of a checkpoint, or of an ONNX bundle (from the card beside it)."""
    if source.endswith(".onnx"):
        with open(os.path.splitext(source)[0] + ".card.json") as f:
            return json.load(f)["training"]["config"]
    return torch.load(source, weights_only=False)["config"]


@torch.no_grad()
def accuracy(model: CurveNet, x: torch.Tensor, y: torch.Tensor, sq_y: torch.Tensor | None = None) -> tuple[float, float]:
    """(form-factor top-1, structure-factor accuracy or NaN)."""
    model.eval()
    outs = [model(x[i:i + 512]) for i in range(0, len(x), 512)]
    model.train()
    top1 = float((torch.cat([o[0] for o in outs]).argmax(1) == y).float().mean())
    if sq_y is None or len(outs[0]) < 4:
        return top1, float("nan")
    return top1, float((torch.cat([o[3] for o in outs]).argmax(1) == sq_y).float().mean())


def keep_snapshot(ckpt_path: str, keep: int, step: int) -> None:
    """Copy the checkpoint to ``snapshots/step_NNNNNN.pt`` beside it; delete all but the ``keep`` latest."""
    folder = os.path.join(os.path.dirname(ckpt_path), "snapshots")
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(ckpt_path, os.path.join(folder, f"step_{step:06d}.pt"))
    for old in sorted(f for f in os.listdir(folder) if f.startswith("step_"))[:-keep]:
        os.remove(os.path.join(folder, old))


def train(cfg: dict, resume: bool = False, log=print) -> str:
    """Train per ``cfg``; returns the path of the final checkpoint."""
    autocast(cfg)   # an unknown precision is refused before any work
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    os.makedirs(cfg["out_dir"], exist_ok=True)
    ckpt_path = os.path.join(cfg["out_dir"], "checkpoint.pt")
    aug = augmentation(cfg)
    db = load_database(cfg["database"], with_radius_effective=aug is not None)
    train_db, val_db = db.subset("train"), db.subset("val")
    log(f"database {cfg['database']}: {len(db)} curves, {len(train_db)} train, {len(val_db)} val")
    x_val, y_val, sq_val = validation_set(val_db, cfg["val_size"], cfg["seed"], aug)

    model = build_model(cfg)
    teacher = load_teacher(cfg, train_db, aug)
    embedding_weight = float((cfg.get("distill") or {}).get("embedding_weight", 0.0))
    if teacher is not None:
        log(f"distilling from {cfg['distill']['teacher']}")
        if embedding_weight > 0 and teacher.head[-1].out_features != model.head[-1].out_features:
            raise ValueError(f"distill.embedding_weight needs the teacher's embedding size "
                             f"({teacher.head[-1].out_features}), the model has {model.head[-1].out_features}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    step, elapsed, history = 0, 0.0, []
    if cfg.get("init_from") and not (resume and os.path.exists(ckpt_path)):
        source_sha = init_weights(model, resolve_source(cfg["init_from"], cfg["out_dir"]), train_db, cfg["seed"], aug)
        if source_sha:
            cfg["init_from_sha256"] = source_sha
        # the lineage, frozen now: the source file may later be replaced (a newer bundle at the same path)
        cfg["init_from_stages"] = earlier_stages(cfg)
        log(f"weights from {cfg['init_from']}")
    if resume and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, weights_only=False)
        for key in ("init_from_sha256", "init_from_stages"):   # the lineage frozen when the run started
            if key in state["config"]:
                cfg[key] = state["config"][key]
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        log(f"resumed at step {step} ({elapsed / 60:.1f} min)")

    def save():
        state = dict(model=model.state_dict(), optimizer=opt.state_dict(), step=step, elapsed=elapsed,
                     history=history, config=cfg, config_hash=config_hash(cfg), n_database=len(db))
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        if cfg.get("average_last"):   # snapshots for weight averaging (training/average.py), the latest N kept
            keep_snapshot(ckpt_path, int(cfg["average_last"]), step)

    loader = DataLoader(Batches(train_db, cfg["batch_size"], cfg["seed"] + step, aug), batch_size=None,
                        num_workers=cfg["workers"], prefetch_factor=4 if cfg["workers"] else None,
                        persistent_workers=False)
    t0, last_ckpt, last_log = time.time() - elapsed, time.time(), time.time()
    max_seconds = cfg["max_minutes"] * 60
    for x, y, target, tmask, sq_y, vf, vf_mask, ident, simpler in loader:
        elapsed = time.time() - t0
        progress = max(step / cfg["max_steps"], elapsed / max_seconds)
        if progress >= 1.0:
            break
        warmup = min(1.0, (step + 1) / 300)
        for g in opt.param_groups:
            g["lr"] = cfg["lr"] * warmup * 0.5 * (1 + np.cos(np.pi * progress))
        with autocast(cfg):
            logits, emb, params, *structure = (o.float() for o in model(x))
        known = y >= 0
        ce = weighted_cross_entropy(logits[known], y[known], ident[known], float(cfg.get("unidentifiable_weight", 1.0)),
                                    simpler[known], float(cfg.get("near_degenerate_simpler", 0.0)))
        reg = (F.smooth_l1_loss(params, target, reduction="none", beta=0.1) * tmask).sum() / tmask.sum().clamp_min(1)
        loss = ce + cfg["supcon_weight"] * supcon_loss(emb, y, cfg["supcon_temperature"]) + cfg["regression_weight"] * reg
        kd = ekd = torch.zeros(())
        if teacher is not None:   # the teacher's softened posterior on the catalog curves
            with torch.no_grad(), autocast(cfg):
                teacher_logits, teacher_emb = (o.float() for o in teacher(x)[:2])
            kd = distill_loss(logits[known], teacher_logits[known], float(cfg["distill"].get("temperature", 2.0)))
            loss = loss + float(cfg["distill"].get("weight", 1.0)) * kd
            if embedding_weight > 0:   # every curve, exposure ones too
                ekd = embedding_distill_loss(emb, teacher_emb)
                loss = loss + embedding_weight * ekd
        if (~known).any():  # outlier exposure: a flat posterior over the catalog classes
            loss = loss - cfg.get("exposure_weight", 0.5) * F.log_softmax(logits[~known], 1).mean()
        if structure:
            sq_logits, sq_vf = structure
            loss = loss + cfg.get("structure_weight", 0.5) * F.cross_entropy(sq_logits[known], sq_y[known])
            loss = loss + cfg["regression_weight"] * (F.smooth_l1_loss(sq_vf[:, 0], vf, reduction="none", beta=0.1)
                                                      * vf_mask).sum() / vf_mask.sum().clamp_min(1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.get("grad_clip"):   # a rare extreme batch must not throw the warm-started weights away
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(cfg["grad_clip"]))
        opt.step()
        step += 1
        if time.time() - last_log > 60 or step == 1:
            acc, sq_acc = accuracy(model, x_val, y_val, sq_val)
            distilled = {"kd": kd.item(), "ekd": ekd.item()} if teacher is not None else {}
            history.append(dict(step=step, minutes=elapsed / 60, loss=loss.item(), ce=ce.item(), reg=reg.item(),
                                val_top1=acc, val_structure=sq_acc, **distilled))
            log(f"step {step:6d}  {elapsed / 60:6.1f} min  loss {loss.item():.3f}  ce {ce.item():.3f}  "
                f"reg {reg.item():.3f}  val top-1 {acc:.3f}  structure {sq_acc:.3f}"
                + (f"  kd {kd.item():.3f}  emb {ekd.item():.3f}" if teacher is not None else ""))
            last_log = time.time()
        if time.time() - last_ckpt > cfg["checkpoint_minutes"] * 60:
            save()
            last_ckpt = time.time()
    acc, sq_acc = accuracy(model, x_val, y_val, sq_val)
    history.append(dict(step=step, minutes=elapsed / 60, val_top1=acc, val_structure=sq_acc, final=True))
    log(f"done: step {step}, {elapsed / 60:.1f} min, val top-1 {acc:.3f}, structure {sq_acc:.3f}")
    save()
    return ckpt_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database", help="override the config's database path")
    ap.add_argument("--out-dir", help="override the config's output folder")
    ap.add_argument("--max-minutes", type=float, help="override the training time budget")
    ap.add_argument("--resume", action="store_true", help="continue from out_dir/checkpoint.pt")
    ap.add_argument("--init-from", help="start from the model weights of this checkpoint (new schedule)")
    ap.add_argument("--teacher", help="override distill.teacher (a checkpoint or a bundle) of a distillation config")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database, out_dir=args.out_dir, max_minutes=args.max_minutes,
                      init_from=args.init_from)
    if args.teacher:
        try:
            cfg["distill"] = with_teacher(cfg, args.teacher)
        except ValueError as exc:
            ap.error(f"--teacher: {args.config}: {exc}")
    train(cfg, resume=args.resume, log=lambda m: print(m, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
