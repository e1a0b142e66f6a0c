"""`acga eval`: evaluate a checkpoint with the acga and coco protocols."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..config import config_from_dict, config_to_dict, load_config

log = logging.getLogger(__name__)

COMMAND = "eval"
HELP = "evaluate a checkpoint with the acga and coco protocols"
DESCRIPTION = """\
Evaluate a checkpoint on the test split of A2D-Sentences (or, zero-shot, on JHMDB-Sentences)
and print the table in the paper's layout. Writes OUT/metrics_<dataset>.json and the per-sample
IoUs OUT/per_sample_<dataset>.jsonl (compare two runs sample by sample).

examples:
  acga eval acga_a2d --checkpoint runs/acga/last.safetensors data.root=/data/a2d
  acga eval acga_a2d --checkpoint runs/acga/last.safetensors --dataset jhmdb --root /data/jhmdb
  acga eval --checkpoint runs/acga/last.safetensors --protocol coco     (config from checkpoint)
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None,
                        help="config (default: the one stored in the checkpoint)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--checkpoint", required=True, help="a .safetensors checkpoint")
    parser.add_argument("--protocol", choices=["acga", "coco", "both"], default="both")
    parser.add_argument("--dataset", choices=["a2d", "jhmdb"], default=None,
                        help="default: the config's data.dataset")
    parser.add_argument("--root", default=None, help="dataset root")
    parser.add_argument("--out", default=None, help="folder for the JSON outputs (default: beside the checkpoint)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..checkpoint import (check_features_convention, input_differences, load_checkpoint,
                              load_model_weights)
    from ..config import apply_overrides
    from ..data.dataset import build_dataset
    from ..engine import evaluate
    from ..results_table import format_table
    from ..models import build_model
    from ..utils import atomic_write_json, check_writable

    out = Path(args.out) if args.out else Path(args.checkpoint).parent
    check_writable(out, folder=True)  # fail now, not after the evaluation
    ckpt = load_checkpoint(args.checkpoint)
    if args.config and "=" not in args.config:
        cfg = load_config(args.config, args.overrides)
        differ = input_differences(ckpt.config, config_to_dict(cfg))
        if differ:
            log.warning("config %s feeds the model other inputs than checkpoint %s was trained "
                        "with: %s. Evaluate with the checkpoint's own config (leave out CONFIG) "
                        "unless this is what you want", args.config, args.checkpoint,
                        "; ".join(f"{k} = {g} here, {s} in the checkpoint" for k, s, g in differ))
    else:
        # the fast decoder (the same function as the reference) unless the command line asks
        overrides = (["model.decoder_impl=fast"] + ([args.config] if args.config else [])
                     + list(args.overrides))
        cfg = config_from_dict(apply_overrides(ckpt.config, overrides), source=str(args.checkpoint))
    dataset = args.dataset or cfg.data.dataset
    model = build_model(cfg)
    load_model_weights(model, ckpt)
    split = "test" if dataset == "a2d" else None
    data = build_dataset(cfg, split, root=args.root, dataset=dataset)
    check_features_convention(ckpt, data.cache)
    with torch.inference_mode():
        acc = evaluate(model, data, eval_mask=cfg.data.eval_mask, progress=not args.no_progress)
    protocols = ["acga", "coco"] if args.protocol == "both" else [args.protocol]
    results = {p: acc.result(p) for p in protocols}
    for p in protocols:
        print(f"\n[{dataset}, {p} protocol, {len(data)} samples]")
        print(format_table([(cfg.name, results[p])], p))
    from ..utils import atomic_write

    # per-sample rows first: metrics_<dataset>.json, written last, marks a complete output
    with atomic_write(out / f"per_sample_{dataset}.jsonl", "w") as handle:
        for row in acc.per_sample():
            handle.write(json.dumps(row) + "\n")
    atomic_write_json(out / f"metrics_{dataset}.json", results)
    print(f"\nwrote {out / f'metrics_{dataset}.json'} and per-sample IoUs")
    return 0
