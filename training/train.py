"""Train the classifier: cross-entropy + supervised contrastive loss, instruments drawn on the fly.

    python -m training.train --config training/configs/full.yaml [--database data/db.h5] [--resume]

Every batch observes database curves through freshly drawn instruments (held-out families
never occur). A checkpoint (model, optimiser, step, elapsed time) is written every few
minutes and at the end, so an interrupted run continues with ``--resume``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, IterableDataset

from sasview_automodel.catalog import CLASS_NAMES, REGRESSION_SLOTS
from sasview_automodel.grid import CHANNELS
from training.data import Database, batch, load_database
from training.model import CurveNet, supcon_loss


def load_config(path: str, **overrides) -> dict:
    with open(path) as f:
        cfg = yaml.safe_load(f)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


class Batches(IterableDataset):
    """An endless stream of (features, labels) batches from the train split."""

    def __init__(self, db: Database, batch_size: int, seed: int):
        self.db, self.batch_size, self.seed = db, batch_size, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0, int(time.time() * 1e3) % 2**31])
        while True:
            rows = rng.integers(0, len(self.db), self.batch_size)
            yield tuple(torch.from_numpy(a) for a in batch(self.db, rows, rng))


def build_model(cfg: dict) -> CurveNet:
    return CurveNet(len(CHANNELS), len(CLASS_NAMES), tuple(cfg["model"]["widths"]), cfg["model"]["embedding"],
                    n_regression=len(REGRESSION_SLOTS))


def validation_set(db: Database, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng([seed, 999])
    rows = rng.choice(len(db), size=min(size, len(db)), replace=False)
    x, y, _, _ = batch(db, rows, rng)
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def accuracy(model: CurveNet, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    logits = torch.cat([model(x[i:i + 512])[0] for i in range(0, len(x), 512)])
    model.train()
    return float((logits.argmax(1) == y).float().mean())


def train(cfg: dict, resume: bool = False, log=print) -> str:
    """Train per ``cfg``; returns the path of the final checkpoint."""
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    os.makedirs(cfg["out_dir"], exist_ok=True)
    ckpt_path = os.path.join(cfg["out_dir"], "checkpoint.pt")
    db = load_database(cfg["database"])
    train_db, val_db = db.subset("train"), db.subset("val")
    log(f"database {cfg['database']}: {len(db)} curves, {len(train_db)} train, {len(val_db)} val")
    x_val, y_val = validation_set(val_db, cfg["val_size"], cfg["seed"])

    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    step, elapsed, history = 0, 0.0, []
    if resume and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        log(f"resumed at step {step} ({elapsed / 60:.1f} min)")

    def save():
        state = dict(model=model.state_dict(), optimizer=opt.state_dict(), step=step, elapsed=elapsed,
                     history=history, config=cfg, config_hash=config_hash(cfg), n_database=len(db))
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    loader = DataLoader(Batches(train_db, cfg["batch_size"], cfg["seed"] + step), batch_size=None,
                        num_workers=cfg["workers"], prefetch_factor=4 if cfg["workers"] else None,
                        persistent_workers=False)
    t0, last_ckpt, last_log = time.time() - elapsed, time.time(), time.time()
    max_seconds = cfg["max_minutes"] * 60
    for x, y, target, tmask in loader:
        elapsed = time.time() - t0
        progress = max(step / cfg["max_steps"], elapsed / max_seconds)
        if progress >= 1.0:
            break
        warmup = min(1.0, (step + 1) / 300)
        for g in opt.param_groups:
            g["lr"] = cfg["lr"] * warmup * 0.5 * (1 + np.cos(np.pi * progress))
        logits, emb, params = model(x)
        ce = F.cross_entropy(logits, y)
        reg = (F.smooth_l1_loss(params, target, reduction="none", beta=0.1) * tmask).sum() / tmask.sum().clamp_min(1)
        loss = ce + cfg["supcon_weight"] * supcon_loss(emb, y, cfg["supcon_temperature"]) + cfg["regression_weight"] * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if time.time() - last_log > 60 or step == 1:
            acc = accuracy(model, x_val, y_val)
            history.append(dict(step=step, minutes=elapsed / 60, loss=loss.item(), ce=ce.item(), reg=reg.item(), val_top1=acc))
            log(f"step {step:6d}  {elapsed / 60:6.1f} min  loss {loss.item():.3f}  ce {ce.item():.3f}  "
                f"reg {reg.item():.3f}  val top-1 {acc:.3f}")
            last_log = time.time()
        if time.time() - last_ckpt > cfg["checkpoint_minutes"] * 60:
            save()
            last_ckpt = time.time()
    acc = accuracy(model, x_val, y_val)
    history.append(dict(step=step, minutes=elapsed / 60, val_top1=acc, final=True))
    log(f"done: step {step}, {elapsed / 60:.1f} min, val top-1 {acc:.3f}")
    save()
    return ckpt_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database", help="override the config's database path")
    ap.add_argument("--out-dir", help="override the config's output folder")
    ap.add_argument("--max-minutes", type=float, help="override the training time budget")
    ap.add_argument("--resume", action="store_true", help="continue from out_dir/checkpoint.pt")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database, out_dir=args.out_dir, max_minutes=args.max_minutes)
    train(cfg, resume=args.resume, log=lambda m: print(m, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
