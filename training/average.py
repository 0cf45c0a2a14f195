"""Weight averaging of one run's late checkpoints (stochastic weight averaging, Izmailov et al. 2018).

Checkpoints of one run late in its schedule lie in one basin; their mean is often a better
network than any of them, at no inference cost. BatchNorm statistics of a weight mean are not the
mean of the statistics, so they are measured again on training curves drawn as in training.
Every input checkpoint and the average are scored on the run's own validation set (never on
test curves), and the average is written only where it wins there unless ``--force``:

    python -m training.average --config training/configs/recipe.yaml --database DB \
        --checkpoints RUN/snapshots/*.pt --out-dir RUN_AVG

The output folder holds a ``checkpoint.pt`` that export.py reads like a training run's (its
``averaged`` entry lists the sources); ``--last N`` keeps the N latest by step.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import torch
from torch import nn

from training.data import load_database, train_batch
from training.train import accuracy, augmentation, build_model, load_config, validation_set


def average_state(states: list[dict]) -> dict:
    """Element-wise mean of floating-point tensors; integer buffers (BatchNorm counters) from the last."""
    out = {}
    for key, last in states[-1].items():
        if torch.is_floating_point(last):
            out[key] = torch.stack([s[key].float() for s in states]).mean(0).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, batches) -> None:
    """Replace every BatchNorm's running statistics by their plain mean over ``batches`` (train mode)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None   # cumulative average over the batches seen
    model.train()
    for x in batches:
        model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


def average_checkpoints(cfg: dict, paths: list[str], out_dir: str, last: int | None = None, bn_batches: int = 40,
                        force: bool = False, log=print) -> str | None:
    """Average the checkpoints (files or globs) of one run into ``out_dir/checkpoint.pt``; returns its
    path, or None when the average does not beat the latest checkpoint on validation (unless ``force``).
    Raises ValueError for fewer than two checkpoints or different architectures."""
    paths = sorted({p for pattern in paths for p in (glob.glob(pattern) if glob.has_magic(pattern) else [pattern])})
    ckpts = [torch.load(p, weights_only=False) for p in paths]
    by_step = {ckpts[k]["step"]: k for k in range(len(ckpts))}   # a copy of the same checkpoint counts once
    order = sorted(by_step.values(), key=lambda k: ckpts[k]["step"])
    order = order[-last:] if last else order
    paths, ckpts = [paths[k] for k in order], [ckpts[k] for k in order]
    if len(ckpts) < 2:
        raise ValueError(f"averaging needs at least two checkpoints of different steps, got {len(ckpts)}")
    shapes = [{k: tuple(v.shape) for k, v in c["model"].items()} for c in ckpts]
    if any(s != shapes[0] for s in shapes) or any(c["config"]["model"] != ckpts[0]["config"]["model"] for c in ckpts):
        raise ValueError("the checkpoints hold different network architectures")
    if len({c["config_hash"] for c in ckpts}) > 1:   # e.g. a run resumed with a longer schedule
        log("note: the checkpoints' configs differ (same architecture)")

    torch.set_num_threads(cfg["threads"])
    aug = augmentation(cfg)
    db = load_database(cfg["database"], with_radius_effective=aug is not None)
    x_val, y_val, sq_val = validation_set(db.subset("val"), cfg["val_size"], cfg["seed"], aug)
    model = build_model(cfg)
    for path, c in zip(paths, ckpts):
        model.load_state_dict(c["model"])
        latest, sq = accuracy(model, x_val, y_val, sq_val)   # the last one is what a plain run ships
        name = os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))
        log(f"{name:36s} step {c['step']:6d}  val top-1 {latest:.4f}  structure {sq:.4f}")

    model.load_state_dict(average_state([c["model"] for c in ckpts]))
    train_db = db.subset("train")
    rng = np.random.default_rng([cfg["seed"], 31337])
    recompute_batchnorm(model, (torch.from_numpy(train_batch(train_db, rng.integers(0, len(train_db), cfg["batch_size"]),
                                                             rng, aug)[0]) for _ in range(bn_batches)))
    top1, sq = accuracy(model, x_val, y_val, sq_val)
    log(f"{'average of ' + str(len(ckpts)):36s} steps {ckpts[0]['step']}-{ckpts[-1]['step']}  val top-1 {top1:.4f}  "
        f"structure {sq:.4f}  (latest alone {latest:.4f})")
    if top1 <= latest and not force:
        log("the average does not beat the latest checkpoint on validation: nothing written")
        return None
    final = ckpts[-1]
    state = dict(final, model=model.state_dict(), optimizer=None,
                 history=final["history"] + [dict(step=final["step"], minutes=final["elapsed"] / 60, val_top1=top1,
                                                    val_structure=sq, averaged=len(ckpts))],
                 averaged=[dict(path=p, step=c["step"]) for p, c in zip(paths, ckpts)])
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "checkpoint.pt")
    torch.save(state, out + ".tmp")
    os.replace(out + ".tmp", out)
    log(f"wrote {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--database", help="override the config's database path")
    ap.add_argument("--checkpoints", nargs="+", required=True, help="checkpoint files or globs (one run)")
    ap.add_argument("--last", type=int, help="average only the N latest checkpoints by step")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--bn-batches", type=int, default=40, help="training batches for the BatchNorm statistics")
    ap.add_argument("--force", action="store_true", help="write the average even if it loses on validation")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, database=args.database)
    try:
        out = average_checkpoints(cfg, args.checkpoints, args.out_dir, args.last, args.bn_batches, args.force,
                                  log=lambda m: print(m, flush=True))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if out else 1   # 1: not written (the average lost on validation)


if __name__ == "__main__":
    sys.exit(main())
