"""`acga synth`: write the synthetic benchmark in the A2D or JHMDB release layout."""

from __future__ import annotations

import argparse

COMMAND = "synth"
HELP = "write the synthetic benchmark in the A2D or JHMDB release layout"
DESCRIPTION = """\
Write a synthetic benchmark in exactly the layout the publishers of A2D-Sentences or
JHMDB-Sentences release (MP4 and PNG frames, videoset.csv, annotation CSV, transposed HDF5
masks, missed-videos file; or PNG frames, MAT puppet masks and the annotation file), so every
command that reads the real data reads it unchanged. Queries need both the actor class and the
motion: some videos hold two identical-looking actors doing different actions.

examples:
  acga synth a2d --out data/synth_a2d --videos 300 --seed 0
  acga synth jhmdb --out data/synth_jhmdb --videos 60 --size 64
  acga data samples a2d data/synth_a2d --split test | head
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("layout", choices=["a2d", "jhmdb"], help="which release layout")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--videos", type=int, default=None, help="videos (default 300 / 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=96, help="frame height in pixels (default 96)")
    parser.add_argument("--frames", type=int, default=32, help="frames per video (default 32)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty folder that is not a previous synth output")


def run(args: argparse.Namespace) -> int:
    from ..data.synth import generate_a2d, generate_jhmdb
    from ..errors import DataError

    if args.size < 24 or args.frames < 8 or (args.videos is not None and args.videos < 1):
        raise DataError("--size must be >= 24, --frames >= 8 and --videos >= 1")
    if args.layout == "a2d":
        summary = generate_a2d(args.out, videos=args.videos or 300, seed=args.seed, size=args.size,
                               frames=args.frames, force=args.force)
    else:
        summary = generate_jhmdb(args.out, videos=args.videos or 60, seed=args.seed,
                                 size=args.size, frames=args.frames, force=args.force)
    print(summary.line())
    return 0
