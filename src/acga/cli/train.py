"""`acga train`: train a config; resumable; distributed with torchrun."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..config import load_config

COMMAND = "train"
HELP = "train a config (resumable, DDP via torchrun)"
DESCRIPTION = """\
Train the model a config describes on its dataset's train split. Checkpoints (safetensors,
written atomically) go to OUT/last.safetensors after every epoch (and every
train.checkpoint_every steps) and OUT/epoch_<k>.safetensors; the step and epoch log to
OUT/log.jsonl. --resume continues from OUT/last.safetensors. A folder that already holds a
run is refused unless --resume or --overwrite (which deletes only the files train writes:
config.json, log.jsonl, last.safetensors, epoch_<k>.safetensors). While a run trains, its
folder is locked: a second `acga train` into it stops at once, naming the first one's pid.

examples:
  acga train acga_a2d data.root=/data/a2d data.cache=/data/cache/a2d_rgb --out runs/acga
  acga train released_code data.root=/data/a2d data.cache=/data/cache/a2d_rgb --resume
  torchrun --nproc_per_node 2 -m acga train acga_a2d train.batch_size=8 --out runs/ddp
  acga train demo train.processes=2 data.root=DIR   # 2 local CPU processes, 1 thread each
  acga train acga_a2d --dataset davis --root /data/ref-davis17 data.cache=cache/davis_rgb
  acga train demo data.dataset=ytvos --root /data/ref-youtube-vos   # small 3-D CNN on frames

--dataset ytvos|davis (or data.dataset=) trains on the annotated frames of every (video,
expression, object) of Ref-YouTube-VOS / Ref-DAVIS17 train, read from the released layout
(docs/data.md); the clip around each frame is built as for A2D.
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or packaged name (see `acga params`)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    parser.add_argument("--root", default=None, help="dataset root (default: data.root)")
    parser.add_argument("--dataset", choices=["a2d", "jhmdb", "ytvos", "davis"], default=None,
                        help="train on this release (default: the config's data.dataset)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip (and count) unreadable or missing frames and annotations "
                        "instead of stopping")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run in OUT (deletes its checkpoints and log)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..runsafety import sigterm_as_exception

    with sigterm_as_exception(COMMAND):  # a stopped run removes its temporary files
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    import contextlib
    from functools import partial

    from ..data.dataset import build_dataset, resolve_root
    from ..engine import fit_local, prepare_run_folder
    from ..runsafety import launching_process, run_folder_lock

    from ..models import check_model_name

    overrides = list(args.overrides) + ([f"data.dataset={args.dataset}"] if args.dataset else [])
    cfg = load_config(args.config, overrides)
    check_model_name(cfg.model.name)  # a wrong name fails here, not after the data is indexed
    out = Path(args.out or Path("runs") / cfg.name)
    from ..utils import check_writable

    check_writable(out, folder=True)  # before the workers start and the data is indexed
    logging.getLogger(__name__).info("training %s -> %s", cfg.name, out)
    root = resolve_root(cfg, args.root, cfg.data.dataset)  # a bad root fails here, not in a worker
    main = launching_process()  # under torchrun: rank 0 checks, clears and locks the folder
    with run_folder_lock(out) if main else contextlib.nullcontext():
        if main:
            prepare_run_folder(out, resume=args.resume, overwrite=args.overwrite)
        fit_local(cfg, partial(build_dataset, cfg, "train", root=root,
                                        skip_bad=args.skip_bad), out, resume=args.resume,
                  progress=not args.no_progress)
    print(f"checkpoint: {out / 'last.safetensors'}")
    return 0
