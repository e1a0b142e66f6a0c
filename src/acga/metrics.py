"""Evaluation metrics for referring video segmentation: per-sample IoU, the ``acga`` protocol of
the paper and its released code, and the ``coco`` protocol of later work (MTTR, ReferFormer).

Every sample is one (query, annotated frame) pair with one binary prediction and one binary
ground truth at the original frame size. Two protocols are reported (docs/faithfulness.md,
"Evaluation protocols"):

``acga`` -- Wang et al. ICCV 2019, section 4.1, as computed by the authors' released code
(haowang1992/ACGA, ``util/tool.py``):

- per-sample IoU = (I + 1e-6) / (U + 1e-6), so an empty prediction of an empty ground truth
  scores 1 (and every IoU below 1 is nudged up by at most 1e-6 / U);
- ``P@K`` = fraction of samples with IoU >= K, for K = 0.5, 0.6, 0.7, 0.8, 0.9;
- ``mAP`` ("mAP 0.5:0.95") = the mean of the ten precisions P@t, t = 0.50, 0.55, ..., 0.95
  (IoU >= t). This is *not* the COCO average precision: it has no ranking by score;
- ``overall_iou`` = sum(I) / sum(U) over all samples; ``mean_iou`` = mean of the per-sample IoU.

``coco`` -- the convention of MTTR (Botach et al. CVPR 2022, ``metrics.py`` and the A2D branch of
``trainer.py``) that ReferFormer and later work reuse:

- ``mAP`` = pycocotools ``COCOeval(iouType="segm")`` with ``params.useCats = 0``, reporting
  ``stats[0]`` (AP at IoU 0.50:0.05:0.95, area "all", 100 detections, 101-point interpolated
  precision). The ground truth is one COCO "image" per sample holding one annotation (category
  1, ``iscrowd`` 0, area = the mask's pixel count, RLE-encoded mask); the prediction is one RLE
  detection per image with score 1.0. Empty masks follow pycocotools: its mask IoU is 0 whenever
  either mask is empty (even empty vs empty), so an empty prediction is a false positive plus a
  missed ground truth, and an empty ground truth can never be matched.
  Because every score is 1.0, detections tie; COCOeval breaks the tie by image order (stable
  sort), so the AP depends on the order of samples. We number images in the order samples are
  given, which makes the number reproducible for a fixed order (MTTR orders by its string
  image id instead).
- ``P@K`` = fraction of samples with IoU > K (strict), where the IoU is the same smoothed
  per-sample IoU as above (MTTR's ``compute_iou`` uses the same 1e-6 smoothing), and
  ``overall_iou`` and ``mean_iou`` are computed exactly as in the ``acga`` protocol.

  Note: the 1e-6 smoothing lifts an I / U of exactly K (with I < U) slightly above K, so on
  masks ``>`` and ``>=`` give the same P@K (a smoothed IoU equals K only by float
  coincidence); the two rules differ only on unsmoothed IoUs (see :func:`precision_at`).

All values are fractions in [0, 1]. :class:`MetricAccumulator` collects samples one at a time
during evaluation and reports either protocol.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import InvalidShapeError

__all__ = [
    "EPS",
    "PRECISION_THRESHOLDS",
    "MAP_THRESHOLDS",
    "METRIC_KEYS",
    "PROTOCOLS",
    "mask_iou",
    "precision_at",
    "acga_protocol",
    "coco_protocol",
    "coco_map",
    "encode_rle",
    "MetricAccumulator",
]

log = logging.getLogger(__name__)

EPS = 1e-6
"""Smoothing of the per-sample IoU, (I + EPS) / (U + EPS), as in the authors' code and MTTR."""

PRECISION_THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
# k / 100.0, as the authors' code builds them, so float comparisons match theirs bit for bit.
MAP_THRESHOLDS: tuple[float, ...] = tuple(k / 100.0 for k in range(50, 96, 5))

METRIC_KEYS: tuple[str, ...] = tuple(f"P@{k}" for k in PRECISION_THRESHOLDS) + (
    "mAP", "overall_iou", "mean_iou")
"""Keys of every protocol's result dict, in the paper's column order."""

PROTOCOLS: tuple[str, ...] = ("acga", "coco")

_COCO_CATEGORY = 1  # pycocotools expects ids from 1; the category itself is never used


def _as_mask(mask: Any, name: str) -> np.ndarray:
    """A 2-D boolean array from any array-like (numpy, CPU torch tensor); non-zero = foreground."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InvalidShapeError(name, arr.shape, "(H, W)")
    return arr if arr.dtype == np.bool_ else arr != 0


def mask_iou(pred: Any, gt: Any) -> tuple[float, int, int]:
    """IoU of two binary masks of the same size.

    Args:
        pred: predicted mask (H, W); non-zero pixels are foreground.
        gt: ground-truth mask (H, W); non-zero pixels are foreground.

    Returns:
        ``(iou, intersection, union)`` with the pixel counts as ints and
        ``iou = (intersection + EPS) / (union + EPS)`` (EPS = 1e-6), the smoothing of the authors'
        code and of MTTR. Both masks empty gives IoU 1.0 (nothing to find, nothing found); one
        empty and the other not gives EPS / (U + EPS), i.e. about 0. pycocotools, used for the
        ``coco`` mAP only, scores empty-vs-empty as 0 instead (see the module docstring).
    """
    p, g = _as_mask(pred, "pred"), _as_mask(gt, "gt")
    if p.shape != g.shape:
        raise InvalidShapeError("pred", p.shape, f"{g.shape} (the shape of gt)")
    intersection = int(np.count_nonzero(p & g))
    union = int(np.count_nonzero(p | g))
    return (intersection + EPS) / (union + EPS), intersection, union


def precision_at(ious: Sequence[float] | np.ndarray, threshold: float, strict: bool = False) -> float:
    """Fraction of samples whose IoU is >= ``threshold`` (or > with ``strict``)."""
    arr = np.asarray(ious, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("no samples: precision is undefined for an empty list of IoUs")
    hits = arr > threshold if strict else arr >= threshold
    return float(np.count_nonzero(hits)) / arr.size


def _iou_summary(ious: np.ndarray, intersections: np.ndarray, unions: np.ndarray,
                 strict: bool) -> dict[str, float]:
    """P@K, overall and mean IoU shared by both protocols."""
    if not (len(ious) == len(intersections) == len(unions)):
        raise ValueError(f"ious, intersections and unions differ in length: "
                         f"{len(ious)}, {len(intersections)}, {len(unions)}")
    if len(ious) == 0:
        raise ValueError("no samples to score")
    out = {f"P@{k}": precision_at(ious, k, strict) for k in PRECISION_THRESHOLDS}
    total_i, total_u = float(np.sum(intersections)), float(np.sum(unions))
    # Every sample empty in both masks: sum(U) = 0. The per-sample convention (empty/empty = 1)
    # extends to the total; the authors' code would divide 0 by 0 here.
    out["overall_iou"] = total_i / total_u if total_u > 0 else 1.0
    out["mean_iou"] = float(np.mean(ious))
    return out


def _ordered(result: Mapping[str, float]) -> dict[str, float]:
    return {k: float(result[k]) for k in METRIC_KEYS}


def acga_protocol(ious: Sequence[float] | np.ndarray, intersections: Sequence[int] | np.ndarray,
                  unions: Sequence[int] | np.ndarray) -> dict[str, float]:
    """The paper's protocol on per-sample IoUs and pixel counts.

    Args:
        ious: per-sample IoU (as :func:`mask_iou` returns it).
        intersections, unions: per-sample pixel counts.

    Returns:
        ``{"P@0.5", ..., "P@0.9", "mAP", "overall_iou", "mean_iou"}``, fractions in [0, 1]:
        P@K counts IoU >= K; mAP is the mean of P@t over t = 0.50:0.05:0.95 (IoU >= t);
        overall_iou = sum(I) / sum(U) (1.0 if every union is empty); mean_iou = mean IoU.
    """
    ious_arr = np.asarray(ious, dtype=np.float64)
    out = _iou_summary(ious_arr, np.asarray(intersections), np.asarray(unions), strict=False)
    out["mAP"] = float(np.mean([precision_at(ious_arr, t) for t in MAP_THRESHOLDS]))
    return _ordered(out)


def encode_rle(mask: Any) -> dict[str, Any]:
    """COCO run-length encoding of a binary (H, W) mask, ``counts`` as an ASCII str (JSON-safe)."""
    from pycocotools import mask as mask_utils

    m = _as_mask(mask, "mask")
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def _decode_rle(rle: Mapping[str, Any]) -> np.ndarray:
    from pycocotools import mask as mask_utils

    counts = rle["counts"]
    with warnings.catch_warnings():
        # pycocotools' decode trips a numpy-2 DeprecationWarning about __array__(copy=...).
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode({"size": list(rle["size"]),
                                  "counts": counts.encode("ascii") if isinstance(counts, str) else counts}) != 0


def _as_rle(mask_or_rle: Any, name: str) -> dict[str, Any]:
    if isinstance(mask_or_rle, Mapping) and "counts" in mask_or_rle and "size" in mask_or_rle:
        counts = mask_or_rle["counts"]
        return {"size": [int(s) for s in mask_or_rle["size"]],
                "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    try:
        return encode_rle(mask_or_rle)
    except InvalidShapeError as exc:
        raise InvalidShapeError(name, exc.got, exc.expected) from None


def coco_map(pred_rles: Sequence[Mapping[str, Any]], gt_rles: Sequence[Mapping[str, Any]]) -> float:
    """COCO mask AP at IoU 0.50:0.05:0.95 over samples, as MTTR computes it for A2D-Sentences.

    One COCO image per sample (ids 1..N in the given order), one ground-truth annotation and one
    detection of score 1.0 in each, categories ignored (``useCats = 0``); returns
    ``COCOeval.stats[0]``. pycocotools' console output is captured and logged at DEBUG level.

    Args:
        pred_rles, gt_rles: RLE dicts (``{"size": [H, W], "counts": str | bytes}``), one pair per
            sample, sizes equal pairwise.
    """
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(pred_rles) != len(gt_rles):
        raise ValueError(f"{len(pred_rles)} predictions for {len(gt_rles)} ground truths")
    if len(gt_rles) == 0:
        raise ValueError("no samples to score")
    images, annotations, detections = [], [], []
    for i, (pred, gt) in enumerate(zip(pred_rles, gt_rles), start=1):
        pred, gt = _as_rle(pred, "pred"), _as_rle(gt, "gt")
        if list(pred["size"]) != list(gt["size"]):
            raise InvalidShapeError(f"pred of sample {i - 1}", tuple(pred["size"]), f"{tuple(gt['size'])} (gt)")
        h, w = gt["size"]
        images.append({"id": i, "height": h, "width": w})
        coded = {"size": gt["size"], "counts": gt["counts"].encode("ascii")}
        x, y, bw, bh = (float(v) for v in mask_utils.toBbox(coded))
        annotations.append({"id": i, "image_id": i, "category_id": _COCO_CATEGORY,
                            "segmentation": gt, "area": float(mask_utils.area(coded)),
                            "bbox": [x, y, bw, bh], "iscrowd": 0})
        # loadRes fills in area, bbox and id in place: hand it fresh dicts.
        detections.append({"image_id": i, "category_id": _COCO_CATEGORY,
                           "segmentation": dict(pred), "score": 1.0})
    captured = io.StringIO()
    # pycocotools prints progress to stdout; library code must not, so capture and log it.
    with contextlib.redirect_stdout(captured):
        coco_gt = COCO()
        coco_gt.dataset = {"images": images, "annotations": annotations,
                           "categories": [{"id": _COCO_CATEGORY, "name": "referred"}]}
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(detections)
        evaluator = COCOeval(coco_gt, coco_dt, iouType="segm")
        evaluator.params.useCats = 0
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    log.debug("pycocotools:\n%s", captured.getvalue())
    return float(evaluator.stats[0])


def coco_protocol(preds: Sequence[Any], gts: Sequence[Any]) -> dict[str, float]:
    """The ``coco`` protocol (MTTR / ReferFormer convention) on masks.

    Args:
        preds, gts: per-sample binary masks (H, W) (any array-like; non-zero = foreground) or
            RLE dicts, one prediction per ground truth, sizes equal pairwise.

    Returns:
        ``{"P@0.5", ..., "P@0.9", "mAP", "overall_iou", "mean_iou"}`` in [0, 1]: mAP from
        pycocotools (see :func:`coco_map`), P@K with IoU > K (strict), overall and mean IoU as in
        :func:`acga_protocol`.
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} ground truths")
    acc = MetricAccumulator()
    for i, (pred, gt) in enumerate(zip(preds, gts)):
        acc.add(_decode_rle(pred) if isinstance(pred, Mapping) else pred,
                _decode_rle(gt) if isinstance(gt, Mapping) else gt, key=str(i))
    return acc.result("coco")


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    return protocol


class MetricAccumulator:
    """Collects per-sample IoU, intersection and union (and the RLEs the ``coco`` mAP needs).

    Usage::

        acc = MetricAccumulator()
        for pred, gt, key in samples:   # masks at the original frame size
            acc.add(pred, gt, key)
        acc.result("acga"), acc.result("coco")
        records = acc.per_sample()      # save as JSON Lines to compare two runs

    Args:
        keep_rles: keep both masks as RLE (needed by ``result("coco")``; small: a few hundred
            bytes per mask). Turn off when only the ``acga`` protocol is wanted.
    """

    def __init__(self, keep_rles: bool = True):
        self.keep_rles = keep_rles
        self._keys: list[str] = []
        self._seen: set[str] = set()
        self._ious: list[float] = []
        self._inter: list[int] = []
        self._union: list[int] = []
        self._pred_area: list[int] = []
        self._gt_area: list[int] = []
        self._sizes: list[tuple[int, int]] = []
        self._pred_rles: list[dict[str, Any]] = []
        self._gt_rles: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, pred: Any, gt: Any, key: str | None = None) -> float:
        """Score one sample; returns its IoU. ``key`` names the sample (default: its index)."""
        key = str(len(self._keys)) if key is None else str(key)
        if key in self._seen:
            raise ValueError(f"sample key {key!r} was added twice")
        p, g = _as_mask(pred, f"pred of {key}"), _as_mask(gt, f"gt of {key}")
        if p.shape != g.shape:
            raise InvalidShapeError(f"pred of {key}", p.shape, f"{g.shape} (the shape of its gt)")
        iou, inter, union = mask_iou(p, g)
        self._keys.append(key)
        self._seen.add(key)
        self._ious.append(iou)
        self._inter.append(inter)
        self._union.append(union)
        self._pred_area.append(int(np.count_nonzero(p)))
        self._gt_area.append(int(np.count_nonzero(g)))
        self._sizes.append((int(g.shape[0]), int(g.shape[1])))
        if self.keep_rles:
            self._pred_rles.append(encode_rle(p))
            self._gt_rles.append(encode_rle(g))
        return iou

    def result(self, protocol: str = "acga") -> dict[str, float]:
        """The metrics of ``protocol`` ("acga" or "coco") over every sample added so far."""
        check_protocol(protocol)
        if not self._keys:
            raise ValueError("no samples to score: add() was never called")
        if protocol == "acga":
            return acga_protocol(self._ious, self._inter, self._union)
        if not self.keep_rles:
            raise ValueError("the coco protocol needs the masks: create MetricAccumulator(keep_rles=True)")
        out = _iou_summary(np.asarray(self._ious), np.asarray(self._inter), np.asarray(self._union),
                           strict=True)
        out["mAP"] = coco_map(self._pred_rles, self._gt_rles)
        return _ordered(out)

    def per_sample(self, with_rles: bool = False) -> list[dict[str, Any]]:
        """One JSON-safe dict per sample, in the order added: key, iou, intersection, union,
        pred_area, gt_area, height, width (and ``pred_rle``/``gt_rle`` with ``with_rles``)."""
        if with_rles and not self.keep_rles:
            raise ValueError("RLEs were not kept: create MetricAccumulator(keep_rles=True)")
        records = []
        for i, key in enumerate(self._keys):
            rec: dict[str, Any] = {
                "key": key, "iou": self._ious[i], "intersection": self._inter[i],
                "union": self._union[i], "pred_area": self._pred_area[i],
                "gt_area": self._gt_area[i], "height": self._sizes[i][0], "width": self._sizes[i][1],
            }
            if with_rles:
                rec["pred_rle"], rec["gt_rle"] = self._pred_rles[i], self._gt_rles[i]
            records.append(rec)
        return records

    @classmethod
    def from_per_sample(cls, records: Iterable[Mapping[str, Any]]) -> "MetricAccumulator":
        """Rebuild an accumulator from :meth:`per_sample` output (e.g. gathered from several
        processes, or loaded from a saved run). The coco protocol needs ``with_rles`` records."""
        acc = cls(keep_rles=True)
        for rec in records:
            if "pred_rle" in rec and "gt_rle" in rec:
                acc.add(_decode_rle(rec["pred_rle"]), _decode_rle(rec["gt_rle"]), rec["key"])
                continue
            acc.keep_rles = False
            key = str(rec["key"])
            if key in acc._seen:
                raise ValueError(f"sample key {key!r} appears twice")
            acc._keys.append(key)
            acc._seen.add(key)
            acc._ious.append(float(rec["iou"]))
            acc._inter.append(int(rec["intersection"]))
            acc._union.append(int(rec["union"]))
            acc._pred_area.append(int(rec["pred_area"]))
            acc._gt_area.append(int(rec["gt_area"]))
            acc._sizes.append((int(rec["height"]), int(rec["width"])))
        if not acc.keep_rles:
            acc._pred_rles, acc._gt_rles = [], []
        return acc
