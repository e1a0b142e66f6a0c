"""`acga data samples`: list a release's samples as JSON Lines (docs/data.md)."""

from __future__ import annotations

import argparse
import sys

from ..errors import AcgaError

COMMAND = "data"
HELP = "inspect datasets (JSON Lines of samples)"
DESCRIPTION = """\
Inspect a dataset release.

  acga data samples a2d ROOT [--split train|test] [--skip-bad]
  acga data samples jhmdb ROOT [--frames uniform|all|FILE.json] [--skip-bad]
  acga data samples ytvos ROOT [--split train|valid] [--skip-bad]
  acga data samples davis ROOT [--split val|train] [--sets ...] [--skip-bad]

prints one JSON object per sample to stdout, with the keys
dataset, split, video, frame, instance, query, height, width, mask_sum
(ytvos and davis add expression, the expression's id; docs/data.md)
(frame = the 1-based number in the file name; height, width, mask_sum describe the ground-truth
mask at original resolution), and a count summary to stderr. These are exactly the samples that
training and evaluation use.

examples:
  acga data samples a2d /data/a2d_sentences --split test > a2d_test.jsonl
  acga data samples jhmdb /data/jhmdb_sentences --frames jhmdb_sentences_samples_metadata.json
"""


def _logging_flags(parser: argparse.ArgumentParser) -> None:
    """Accept ``-v/-q/--logfile`` after the positionals too (``acga data samples a2d ROOT -q``);
    SUPPRESS keeps these leaf parsers from overwriting the values given before ``samples``."""
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only warnings and errors")
    parser.add_argument("--logfile", default=argparse.SUPPRESS, help="also write the log here")


def dataset_parser(datasets, name: str, help: str, description: str,
                   root_help: str) -> argparse.ArgumentParser:
    """The ``acga data samples NAME`` parser, with its ROOT argument (``root_help``)."""
    parser = datasets.add_parser(name, help=help, description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", metavar="ROOT", help=root_help)
    return parser


def add_args(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    samples = sub.add_parser(
        "samples", help="print the samples of a release as JSON Lines",
        description="Print the samples of a release as JSON Lines (stdout) and a count summary "
        "(stderr).\n\nexample:\n  acga data samples a2d /data/a2d_sentences --split test",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    datasets = samples.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    a2d = dataset_parser(
        datasets, "a2d", help="A2D-Sentences (ROOT holds Release/ and text_annotations/)",
        description="A2D-Sentences samples.\n\nexample:\n"
        "  acga data samples a2d /data/a2d_sentences --split test",
        root_help="folder holding Release/ and text_annotations/")
    a2d.add_argument("--split", choices=["train", "test"], default=None,
                     help="only this split (default: both, in videoset.csv order)")
    a2d.add_argument("--skip-bad", action="store_true",
                     help="skip frames whose HDF5 file is corrupt and list them in the summary")
    jhmdb = dataset_parser(
        datasets, "jhmdb", help="JHMDB-Sentences (ROOT holds jhmdb_annotation.txt, "
        "Rename_Images/, puppet_mask/)",
        description="JHMDB-Sentences samples.\n\nexample:\n"
        "  acga data samples jhmdb /data/jhmdb_sentences --frames uniform",
        root_help="folder holding jhmdb_annotation.txt, Rename_Images/, puppet_mask/")
    jhmdb.add_argument("--frames", default="uniform", metavar="uniform|all|FILE.json",
                       help="which frames: 'uniform' (3 per video, the paper; default), 'all', "
                       "or a JSON list in the format of MTTR's "
                       "jhmdb_sentences_samples_metadata.json")
    jhmdb.add_argument("--skip-bad", action="store_true",
                       help="skip videos whose MAT file is corrupt or missing and list them")
    _logging_flags(a2d)
    _logging_flags(jhmdb)
    from .data_refvos import add_refvos_parsers

    for leaf in add_refvos_parsers(datasets):
        _logging_flags(leaf)


def run(args: argparse.Namespace) -> int:
    if args.action != "samples":  # argparse allows only 'samples'; kept for future actions
        raise AcgaError(f"unknown action {args.action!r}; use `acga data samples`")
    if args.dataset == "a2d":
        from ..data.a2d import index_a2d

        samples, report = index_a2d(args.root, args.split, skip_bad=args.skip_bad)
    elif args.dataset == "jhmdb":
        from ..data.jhmdb import index_jhmdb

        samples, report = index_jhmdb(args.root, args.frames, skip_bad=args.skip_bad)
    else:
        from .data_refvos import index_refvos

        samples, report = index_refvos(args)
    if not samples:  # nothing to list is a mistake (a wrong root or split, lost files)
        print(report.summary(), file=sys.stderr)
        where = f" for split {args.split!r}" if getattr(args, "split", None) else ""
        raise AcgaError(f"{args.dataset} root {args.root} gives no samples{where} (see the "
                        "summary above); check the root and the annotation files")
    out = sys.stdout
    for sample in samples:
        out.write(sample.to_json() + "\n")
    out.flush()
    print(report.summary(), file=sys.stderr)
    return 0
