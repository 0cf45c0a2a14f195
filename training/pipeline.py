"""Reproduce a bundle from scratch: simulate -> train -> export -> evaluate, from one config.

    python -m training.pipeline --config training/configs/recipe.yaml   # the shipped model (hours)
    python -m training.pipeline --config training/configs/smoke.yaml    # same pipeline, < 2 minutes

Every stage resumes: the database keeps its finished chunks, training its checkpoint. A config
with ``base_config`` trains that config (and its own base) first and starts from its weights
(``init_from``). A config with ``average_last: N`` exports the mean of the run's N latest checkpoint
snapshots instead of its last checkpoint, where that mean wins on validation (training/average.py).
"""
from __future__ import annotations

import argparse
import os
import sys

from training import average, evaluate, export, simulate, train


def run(config: str, bundle_dir: str | None = None, report: str | None = None, per_pair: int = 6,
        workers: int | None = None, log=print, **overrides) -> dict:
    """Run every stage for ``config`` (``overrides`` replace config keys, e.g. out_dir)."""
    cfg = train.load_config(config, **overrides)
    bundle_dir = bundle_dir or os.path.join(cfg["out_dir"], "bundle")
    report = report or os.path.join(cfg["out_dir"], "evaluation.md")
    simulate.run(cfg["database"], cfg["database_size"], chunk=min(900, cfg["database_size"] // 2 // 9 * 9 or 9),
                 seed=cfg.get("database_seed", 20241), workers=workers or os.cpu_count() or 1, progress=False)
    train_stages(cfg, log)
    card = export.export(averaged(cfg, log), bundle_dir, log=log)
    return evaluate.evaluate(cfg, card, report, per_pair=per_pair, log=log,
                             command=f"python -m training.pipeline --config {config}",
                             ood_per_kind=cfg.get("ood_per_kind", 120), param_curves=cfg.get("param_curves", 300))


def train_stages(cfg: dict, log=print) -> None:
    """Train ``cfg`` after its ``base_config`` chain (stage 1 first), each stage from the previous one's weights."""
    if cfg.get("base_config"):
        base = train.load_config(cfg["base_config"], database=cfg["database"])
        train_stages(base, log)
        cfg["init_from"] = os.path.join(base["out_dir"], "checkpoint.pt")
    train.train(cfg, resume=True, log=log)


def averaged(cfg: dict, log=print) -> dict:
    """``cfg`` pointing at the weight average of the run's snapshots (``average_last``) where it won on
    validation (training/average.py), else ``cfg`` itself."""
    if not cfg.get("average_last"):
        return cfg
    snapshots = os.path.join(cfg["out_dir"], "snapshots", "step_*.pt")
    try:
        path = average.average_checkpoints(cfg, [snapshots], os.path.join(cfg["out_dir"], "averaged"),
                                           last=int(cfg["average_last"]), log=log)
    except ValueError as exc:
        log(f"no weight average: {exc}")
        return cfg
    return dict(cfg, out_dir=os.path.dirname(path)) if path else cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--bundle-dir", help="where the .onnx and card go (default OUT_DIR/bundle)")
    ap.add_argument("--report", help="evaluation report (default OUT_DIR/evaluation.md)")
    ap.add_argument("--per-pair", type=int, default=6)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--teacher", help="override distill.teacher of a distillation config (e.g. the checkpoint "
                                      "of a stage-4 run made by this pipeline)")
    args = ap.parse_args(argv)
    overrides = {}
    if args.teacher:
        try:
            overrides["distill"] = train.with_teacher(train.load_config(args.config), args.teacher)
        except ValueError as exc:
            ap.error(f"--teacher: {args.config}: {exc}")
    run(args.config, args.bundle_dir, args.report, args.per_pair, args.workers, log=lambda m: print(m, flush=True),
        **overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
