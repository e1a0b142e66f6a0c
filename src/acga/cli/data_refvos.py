"""The ``ytvos`` and ``davis`` parsers of `acga data samples` (kept apart from data.py)."""

from __future__ import annotations

import argparse

from .data import dataset_parser


def add_refvos_parsers(datasets) -> list[argparse.ArgumentParser]:
    from ..data.davis import DAVIS_SETS

    ytvos = dataset_parser(
        datasets, "ytvos", help="Ref-YouTube-VOS (ROOT holds train/, valid/, meta_expressions/)",
        description="Ref-YouTube-VOS samples: one per (expression, listed frame).\n\nexample:\n"
        "  acga data samples ytvos /data/ref-youtube-vos --split train",
        root_help="folder holding train/, valid/ and meta_expressions/")
    davis = dataset_parser(
        datasets, "davis", help="Ref-DAVIS17 (ROOT holds DAVIS/ and davis_text_annotations/)",
        description="Ref-DAVIS17 samples: one per (expression, frame), over the expression "
        "sets asked for.\n\nexample:\n  acga data samples davis /data/ref-davis --split val",
        root_help="folder holding DAVIS/ (2017 trainval, 480p) and davis_text_annotations/")
    ytvos.add_argument("--split", choices=["train", "valid"], default="train",
                       help="train (annotated; default) or valid (no annotations: mask_sum null; "
                       "test videos removed when meta_expressions/test is present)")
    ytvos.add_argument("--skip-bad", action="store_true",
                       help="skip missing or truncated frames, non-palette annotations and "
                       "expressions naming an unannotated object; list them in the summary")
    davis.add_argument("--split", choices=["val", "train"], default="val",
                       help="val (30 videos, the benchmark; default) or train (60)")
    davis.add_argument("--sets", nargs="+", choices=list(DAVIS_SETS), default=list(DAVIS_SETS),
                       metavar="SET", help="expression files to read (default: all four: "
                       + ", ".join(DAVIS_SETS) + ")")
    davis.add_argument("--text-dir", default=None,
                       help="folder of the Davis17_*.txt files if not ROOT/davis_text_annotations")
    davis.add_argument("--skip-bad", action="store_true",
                       help="skip missing or truncated frames, missing or non-palette "
                       "annotations and expressions naming an unannotated object; list them")
    return [ytvos, davis]


def index_refvos(args: argparse.Namespace):
    if args.dataset == "ytvos":
        from ..data.ytvos import index_ytvos

        return index_ytvos(args.root, args.split, skip_bad=args.skip_bad)
    from ..data.davis import index_davis

    return index_davis(args.root, args.split, sets=tuple(args.sets), text_dir=args.text_dir,
                       skip_bad=args.skip_bad)
