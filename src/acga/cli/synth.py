"""`acga synth`: write the synthetic benchmark in the A2D-Sentences or JHMDB-Sentences layout."""

from __future__ import annotations

import argparse

COMMAND = "synth"
HELP = "write the synthetic benchmark in the A2D or JHMDB release layout"
DESCRIPTION = """\
Write the synthetic benchmark (the embedded default of `acga demo`) in exactly the layout its
publishers release: for a2d, Release/videoset.csv, Release/clips320H/*.mp4, Release/pngs320H/,
text_annotations/ (queries, missed videos, transposed HDF5 masks); for jhmdb,
jhmdb_annotation.txt, Rename_Images/ and puppet_mask/ MAT files; ytvos and davis, the
Ref-YouTube-VOS and Ref-DAVIS17 layouts (JPEG frames, palette PNG masks, expression files, with
those releases' quirks; default 20 and 12 videos). Every reader of the real data
reads it unchanged. synth_meta.json holds the per-video ground truth (classes, actions,
trajectories, which videos are distractors).

The 7 A2D actor classes are sprites, the 8 actions are motions; some videos hold two identical
actors doing different actions (only the motion tells which one the query means), others two
classes doing the same action (only the class tells). --generator 2 (a2d) adds videos whose
twins only their relation to a third actor tells apart ("the dog left of the ball") and size
comparisons ("the bigger of the two cats"); version 1, the default, never changes.
Everything but the MP4 bytes is fixed by the seed.

The folder must be new, empty, or a previous synthetic output of the same layout (replaced);
--force writes into any folder.

examples:
  acga synth a2d --out data/synth_a2d --videos 300 --seed 0
  acga synth a2d --out data/synth_a2d_v2 --videos 300 --generator 2
  acga synth jhmdb --out data/synth_jhmdb --videos 60 --size 64
  acga synth davis --out data/synth_davis && acga data samples davis data/synth_davis
  acga data samples a2d data/synth_a2d --split test | head
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("layout", choices=["a2d", "jhmdb", "ytvos", "davis"],
                        help="which release layout to write (ytvos, davis: synth/refvos.py)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--videos", type=int, default=None,
                        help="number of videos (default: 100 for a2d, 30 for jhmdb)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--size", type=int, default=96,
                        help="frame height in pixels, 32..1080; the width is 4/3 of it "
                        "(default 96)")
    parser.add_argument("--distractors", type=float, default=0.4,
                        help="a2d: fraction of distractor videos (default 0.4)")
    parser.add_argument("--generator", type=int, default=None, metavar="N",
                        help="a2d: generator version, 1 (default) or 2 (adds relation and "
                        "comparison queries; docs/synthetic.md)")
    parser.add_argument("--no-mp4", action="store_true",
                        help="a2d: write the PNG frames only, no Release/clips320H/")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty folder that holds no synthetic benchmark")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.synth import generate_a2d, generate_davis, generate_jhmdb, generate_ytvos
    from ..data.synth.generators import check_generator
    from ..errors import DataError
    from ..utils import check_writable

    if args.generator is not None:  # before anything is written
        if args.layout != "a2d":
            raise DataError(f"--generator applies to the a2d layout only, not {args.layout}; "
                            "drop it")
        check_generator(args.generator)
    out = Path(args.out)
    check_writable(out, folder=True)
    # a failed run (full disk, Ctrl-C) leaves no partial output: the generators write beside
    # the output folder and publish by rename (acga.staging)
    if args.layout in ("ytvos", "davis"):
        gen = generate_ytvos if args.layout == "ytvos" else generate_davis
        kwargs = {} if args.videos is None else {"videos": args.videos}
        summary = gen(out, seed=args.seed, size=args.size, distractors=args.distractors,
                      force=args.force, **kwargs)
    elif args.layout == "a2d":
        summary = generate_a2d(out, videos=100 if args.videos is None else args.videos,
                               seed=args.seed, size=args.size, distractors=args.distractors,
                               mp4=not args.no_mp4, force=args.force,
                               generator=args.generator or 1)
    else:
        summary = generate_jhmdb(out, videos=30 if args.videos is None else args.videos,
                                 seed=args.seed, size=args.size, force=args.force)
    print(summary.line())
    return 0
