"""`acga eval`: evaluate a checkpoint with the acga and coco protocols (A2D, JHMDB) or J, F and
J&F / a challenge submission (Ref-DAVIS17, Ref-YouTube-VOS: :mod:`acga.evaluate_refvos`)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..config import config_from_dict, config_to_dict, load_config

log = logging.getLogger(__name__)

COMMAND = "eval"
HELP = "evaluate a checkpoint (acga/coco protocols; J&F or a submission zip for ytvos/davis)"
DESCRIPTION = """\
Evaluate a checkpoint on the test split of A2D-Sentences (or, zero-shot, on JHMDB-Sentences)
and print the table in the paper's layout. Writes OUT/metrics_<dataset>.json and the per-sample
IoUs OUT/per_sample_<dataset>.jsonl (compare two runs sample by sample).

examples:
  acga eval acga_a2d --checkpoint runs/acga/last.safetensors data.root=/data/a2d
  acga eval acga_a2d --checkpoint runs/acga/last.safetensors --dataset jhmdb --root /data/jhmdb
  acga eval --checkpoint runs/acga/last.safetensors --protocol coco     (config from checkpoint)
  acga eval --checkpoint runs/davis/last.safetensors --dataset davis --root /data/ref-davis17 \\
      --i3d-weights rgb_imagenet.pt
  acga eval --checkpoint runs/ytvos/last.safetensors --dataset ytvos --root /data/ref-youtube-vos \\
      --i3d-weights rgb_imagenet.pt --every 2 --device cuda

Ref-DAVIS17 (davis) and Ref-YouTube-VOS (ytvos): every frame of every video is masked, per
expression, from clip_len-frame windows centred on every K-th frame (--every K, default 1: a
window per frame; other frames take the nearest centre's mask), as `acga segment` does; I3D
runs on the fly (--i3d-weights) for models on I3D features, no cache is read. A split with
annotations (davis val and train, ytvos train) gives J, F and J&F with the protocol of `acga
score --protocol davis`: OUT/metrics_<dataset>.json (with the throughput in frames/s),
OUT/per_expression_<dataset>.jsonl and the masks OUT/masks_<dataset>/. Ref-YouTube-VOS valid
(no annotations) gives the zip its evaluation server expects,
OUT/submission_ytvos_valid.zip (Annotations/<video>/<expression id>/<frame>.png), written only
once complete.
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None,
                        help="config (default: the one stored in the checkpoint)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--checkpoint", required=True, help="a .safetensors checkpoint")
    parser.add_argument("--protocol", choices=["acga", "coco", "both"], default="both")
    parser.add_argument("--dataset", choices=["a2d", "jhmdb", "ytvos", "davis"], default=None,
                        help="default: the config's data.dataset")
    parser.add_argument("--split", default=None,
                        help="ytvos/davis split (default: davis val, ytvos valid)")
    parser.add_argument("--every", type=int, default=1, metavar="K",
                        help="ytvos/davis: a window centred on every K-th frame; the others take "
                        "the nearest centre's mask (default: 1, every frame)")
    parser.add_argument("--i3d-weights", default=None, metavar="FILE",
                        help="ytvos/davis, models on I3D features: the I3D weights (rgb_imagenet.pt);"
                        " without them a random I3D is used (warned: meaningless masks)")
    parser.add_argument("--word-vectors", default=None, metavar="FILE",
                        help="ytvos/davis: word vectors (default: the config's data.word_vectors)")
    parser.add_argument("--device", default="cpu", metavar="cpu|cuda",
                        help="ytvos/davis: where the model runs (default: cpu)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="ytvos/davis: skip (and count) unreadable or missing frames and "
                        "annotations instead of stopping")
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
    if dataset in ("ytvos", "davis"):
        return _run_refvos(args, cfg, model, dataset, out)
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


REFVOS_EVAL_SPLIT = {"ytvos": "valid", "davis": "val"}


def _run_refvos(args: argparse.Namespace, cfg, model, dataset: str, out: Path) -> int:
    """Every frame of every video of a Ref-YouTube-VOS / Ref-DAVIS17 split (module docstring)."""
    from ..data.dataset import index_samples, resolve_root
    from ..data.text import candidate_words
    from ..data.word_vectors import load_word_vectors
    from ..errors import ConfigError, DataError
    from ..evaluate_refvos import evaluate_refvos
    from ..segment import Segmenter
    from ..utils import resolve_device
    from .score_davis import format_davis

    if args.every < 1:
        raise ConfigError(f"--every {args.every} must be at least 1")
    if cfg.model.modality != "rgb":
        raise ConfigError(f"model.modality is {cfg.model.modality!r}: ytvos/davis evaluation "
                          "runs I3D on RGB frames only; use an RGB checkpoint")
    device = resolve_device(args.device, "--device")
    split = args.split or REFVOS_EVAL_SPLIT[dataset]
    root = resolve_root(cfg, args.root, dataset)
    samples = index_samples(dataset, root, split, skip_bad=args.skip_bad)
    if not samples:
        raise DataError(f"{dataset} root {root} has no samples for split {split!r}")
    vectors = load_word_vectors(args.word_vectors or cfg.data.word_vectors,
                                vocab=candidate_words(s.query for s in samples))
    i3d = None
    if cfg.model.backbone == "i3d_cached" and args.i3d_weights:
        from ..models.i3d import build_i3d

        i3d = build_i3d("rgb", final_endpoint="Mixed_4e", weights=args.i3d_weights)
    segmenter = Segmenter(model.eval().to(device), cfg, vectors, i3d,
                          checkpoint=Path(args.checkpoint))
    result = evaluate_refvos(segmenter, samples, root, out, every=args.every,
                             progress=not args.no_progress)
    print(f"\n[{dataset} {split}, {result.masks} masks of {result.frames} frames in "
          f"{result.videos} videos, every {result.every}: {result.frames_per_second:.2f} frames/s]")
    if result.davis is not None:
        print(format_davis(cfg.name, result.davis))
    print(f"\nwrote {', '.join(str(out / o) for o in result.outputs)} and "
          f"{out / f'metrics_{dataset}.json'}")
    return 0
