"""`acga score --protocol davis`: J, F and J&F over folders of per-expression PNG masks."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import DataError
from ..metrics_davis import davis_record

log = logging.getLogger(__name__)

LAYOUT = ("one folder of frame PNGs per expression: <expression>/<frame>.png, "
          "<video>/<expression>/<frame>.png, or <set>/<video>/<expression>/<frame>.png")


def score_davis(pred: str | Path, gt: str | Path, bound_th: float | None = None):
    """J, F and J&F (a :class:`acga.metrics_davis.DavisResult`) of the PNG masks under ``pred``
    against those under ``gt`` (same relative paths).

    The expression of a mask is its folder (relative path without the file name); when every
    path has at least four parts (``<set>/<video>/<expression>/<frame>.png``), the first one
    names the expression set, whose results are averaged with equal weight.
    """
    from ..metrics_davis import davis_protocol
    from .score import _folder_pairs

    pred, gt = Path(pred), Path(gt)
    for path, what in ((pred, "PRED"), (gt, "GT")):
        if not path.is_dir():
            raise DataError(f"{what} {path} is not a folder; --protocol davis needs two folders "
                            f"of PNG masks in {LAYOUT}")
    pairs = list(_folder_pairs(pred, gt))
    flat = [n for n, _, _ in pairs if "/" not in n]
    if flat:
        raise DataError(f"{gt / flat[0]} is not inside an expression folder; --protocol davis "
                        f"needs {LAYOUT}")
    with_sets = all(n.count("/") >= 3 for n, _, _ in pairs)
    return davis_protocol([davis_record(name, p, g, with_sets, bound_th) for name, p, g in pairs])


def format_davis(label: str, result) -> str:
    lines = [f"{'':24s} {'J&F':>6s} {'J':>6s} {'F':>6s} {'expr.':>6s}",
             f"{label[:24]:24s} {100 * result.JF:6.1f} {100 * result.J:6.1f} "
             f"{100 * result.F:6.1f} {result.expressions:6d}"]
    if len(result.sets) > 1:
        for name, s in result.sets.items():
            lines.append(f"  set {name[:18]:18s} {100 * s['J&F']:6.1f} {100 * s['J']:6.1f} "
                         f"{100 * s['F']:6.1f} {s['expressions']:6d}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..utils import atomic_write_json

    result = score_davis(args.pred, args.gt)
    label = Path(args.pred).name or str(args.pred)
    print(f"{result.frames} frames of {result.expressions} expressions in {len(result.sets)} "
          f"set(s): {args.pred} against {args.gt} (J&F, J, F in percent)")
    print()
    print(format_davis(label, result))
    if args.json:
        atomic_write_json(args.json, {"davis": result.to_dict()})
        log.info("wrote %s", args.json)
    return 0
