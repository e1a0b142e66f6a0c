"""`acga score`: score any method's masks against ground truth with both protocols."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DataError, InvalidShapeError

COMMAND = "score"
HELP = "score predicted masks against ground truth"
DESCRIPTION = """\
Score predicted masks against ground-truth masks and print the table in the paper's layout
(P@0.5 ... P@0.9, mAP 0.5:0.95, overall IoU, mean IoU, in percent).

PRED and GT are either
  - two folders of PNG masks with the same file names (searched recursively, so
    video/00012.png works; non-zero pixels are foreground), or
  - two .npz files: PRED holds an array `pred`, GT an array `gt`, both (N, H, W), sample i of
    one against sample i of the other (one file holding both arrays may be given twice).

Protocols:
  acga  the paper's: P@K counts IoU >= K; mAP = mean of P@0.50:0.05:0.95
  coco  MTTR/ReferFormer's: P@K counts IoU > K; mAP = pycocotools segm AP 0.50:0.95
  davis Ref-DAVIS17 / Ref-YouTube-VOS: J, F, J&F; needs folders, one per expression
        (<expression>/<frame>.png; <set>/<video>/<expression>/<frame>.png averages the sets)
Per-sample IoU = (I + 1e-6) / (U + 1e-6) (both empty = 1); overall IoU = sum I / sum U.

--json writes {"acga": {...}, "coco": {...}} (the protocols asked for) with the keys
P@0.5, P@0.6, P@0.7, P@0.8, P@0.9, mAP, overall_iou, mean_iou as fractions in [0, 1].

example:
  acga score runs/acga/masks data/a2d_gt_masks --protocol both --json scores.json
  acga score predictions.npz ground_truth.npz --protocol acga
"""

log = logging.getLogger(__name__)

_MAX_LISTED = 10


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred", metavar="PRED", help="folder of PNG masks, or .npz with array `pred`")
    parser.add_argument("gt", metavar="GT", help="folder of PNG masks, or .npz with array `gt`")
    parser.add_argument("--protocol", choices=("acga", "coco", "both", "davis"), default="both",
                        help="which protocol(s) to report (default: both); davis: J, F, J&F "
                        "(cli/score_davis.py)")
    parser.add_argument("--json", metavar="FILE", help="also write the metrics as JSON")


def _png_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() == ".png")


def _read_png_mask(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read mask {path}: {exc}; write masks as PNG") from None
    if arr.ndim == 3:  # RGB(A) or LA: foreground where any colour channel is non-zero
        channels = arr.shape[2] - 1 if arr.shape[2] in (2, 4) else arr.shape[2]
        return np.any(arr[:, :, :channels] != 0, axis=2)
    return arr != 0


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" ... ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


def _folder_pairs(pred_dir: Path, gt_dir: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    pred_names, gt_names = _png_names(pred_dir), _png_names(gt_dir)
    if not gt_names:
        raise DataError(f"ground-truth folder {gt_dir} holds no .png masks")
    if not pred_names:
        raise DataError(f"prediction folder {pred_dir} holds no .png masks")
    only_pred = sorted(set(pred_names) - set(gt_names))
    only_gt = sorted(set(gt_names) - set(pred_names))
    if only_pred or only_gt:
        parts = []
        if only_gt:
            parts.append(f"{len(only_gt)} in {gt_dir} have no prediction: {_listing(only_gt)}")
        if only_pred:
            parts.append(f"{len(only_pred)} in {pred_dir} have no ground truth: {_listing(only_pred)}")
        raise DataError("mask file names differ: " + "; ".join(parts)
                        + ". Give both folders the same file names")
    for name in gt_names:
        pred, gt = _read_png_mask(pred_dir / name), _read_png_mask(gt_dir / name)
        if pred.shape != gt.shape:
            raise DataError(f"{pred_dir / name} is {pred.shape[0]}x{pred.shape[1]} (HxW) but "
                            f"{gt_dir / name} is {gt.shape[0]}x{gt.shape[1]}; predictions must be "
                            "at the ground truth's size")
        yield name, pred, gt


def _load_npz_array(path: Path, key: str) -> np.ndarray:
    import zipfile

    from ..utils import file_kind

    kind = file_kind(path)  # opens the file: an unreadable one is the OSError it is
    if kind != "a zip archive":
        raise DataError(f"{path} is not an .npz file: it is {kind}, not a zip archive of arrays; "
                        f"save the masks with np.savez({path.name!r}, {key}=masks)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if key not in data.files:
                raise DataError(f"{path} has no array {key!r} (it holds {', '.join(data.files) or 'nothing'}); "
                                f"save it with np.savez(..., {key}=masks)")
            arr = data[key]
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is a damaged or truncated .npz file ({exc}); write it again "
                        f"with np.savez(..., {key}=masks)") from None
    except ValueError as exc:
        if "pickle" in str(exc) or "Object arrays" in str(exc):
            raise DataError(f"array {key!r} in {path} holds Python objects, which acga does not "
                            f"load (no code from a file runs); save numeric masks with "
                            f"np.savez(..., {key}=masks.astype(bool))") from None
        raise DataError(f"array {key!r} in {path} is damaged ({exc}); write the file again "
                        f"with np.savez(..., {key}=masks)") from None
    if arr.ndim != 3:
        raise DataError(f"array {key!r} in {path} has shape {arr.shape}; expected (N, H, W)")
    return arr


def _npz_pairs(pred_path: Path, gt_path: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    pred, gt = _load_npz_array(pred_path, "pred"), _load_npz_array(gt_path, "gt")
    if pred.shape != gt.shape:
        raise DataError(f"`pred` in {pred_path} has shape {pred.shape} but `gt` in {gt_path} has "
                        f"shape {gt.shape}; both must be (N, H, W) with the same N, H, W")
    if len(gt) == 0:
        raise DataError(f"`gt` in {gt_path} holds no samples (N = 0)")
    width = len(str(len(gt) - 1))
    for i in range(len(gt)):
        yield f"{i:0{width}d}", pred[i], gt[i]


def _pairs(pred: Path, gt: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    for path, what in ((pred, "PRED"), (gt, "GT")):
        if not path.exists():
            raise DataError(f"{what} {path} does not exist; pass a folder of PNG masks or an .npz file")
        if not path.is_dir() and path.suffix.lower() != ".npz":
            raise DataError(f"{what} {path} is neither a folder nor an .npz file")
    if pred.is_dir() and gt.is_dir():
        return _folder_pairs(pred, gt)
    if pred.is_file() and gt.is_file():
        return _npz_pairs(pred, gt)
    raise DataError(f"PRED {pred} and GT {gt} must both be folders of PNG masks or both .npz files")


def score(pred: str | Path, gt: str | Path, protocols: tuple[str, ...] = ("acga", "coco")) -> dict:
    """Score a prediction folder/.npz against ground truth: ``{protocol: metrics}`` (fractions).
    For the sample count and per-sample IoUs use :func:`score_accumulator`."""
    acc = score_accumulator(pred, gt, keep_rles="coco" in protocols)
    return {p: acc.result(p) for p in protocols}


def score_accumulator(pred: str | Path, gt: str | Path, keep_rles: bool = True):
    """Read every (prediction, ground truth) pair into a :class:`acga.metrics.MetricAccumulator`."""
    from ..metrics import MetricAccumulator

    acc = MetricAccumulator(keep_rles=keep_rles)
    try:
        for name, p, g in _pairs(Path(pred), Path(gt)):
            acc.add(p, g, key=name)
    except InvalidShapeError as exc:  # a 1-D or 4-D array slipped through: name it for the user
        raise DataError(f"{exc}; masks must be 2-D (H, W)") from None
    return acc


def run(args: argparse.Namespace) -> int:
    if args.protocol == "davis":
        from .score_davis import run as run_davis

        return run_davis(args)
    from ..results_table import format_table
    from ..utils import atomic_write_json

    protocols = ("acga", "coco") if args.protocol == "both" else (args.protocol,)
    if args.json:
        from ..utils import check_writable

        check_writable(args.json)  # fail before reading every mask
    acc = score_accumulator(args.pred, args.gt, keep_rles="coco" in protocols)
    results = {p: acc.result(p) for p in protocols}
    label = Path(args.pred).name or str(args.pred)
    print(f"{len(acc)} samples: {args.pred} against {args.gt}")
    for p in protocols:
        print()
        print(format_table([(label, results[p])], protocol=p))
    if args.json:
        atomic_write_json(args.json, results)
        log.info("wrote %s", args.json)
    return 0
