"""The DAVIS measures of referring video object segmentation: region similarity J, boundary
F-measure F, and J&F, their mean (Perazzi et al., CVPR 2016; Pont-Tuset et al., 2017), and the
Ref-DAVIS17 / Ref-YouTube-VOS aggregation.

Definitions, as the DAVIS-2017 evaluation code computes them:

- J = |P & G| / |P | G|; both masks empty -> 1.
- F: the one-pixel boundary map of each mask (:func:`boundary_map`), a tolerance radius
  ``r = ceil(0.008 * diagonal)`` pixels (``bound_th`` >= 1 is taken as the radius itself), and
  precision = the fraction of predicted boundary pixels within ``r`` of a ground-truth boundary
  pixel (dilation by a disk of radius ``r``), recall = the converse; F = 2PR / (P + R), 0 where
  P + R = 0. Empty boundaries: both empty -> P = R = 1; only the prediction empty -> P = 1,
  R = 0; only the ground truth empty -> P = 0, R = 1 (so F = 0 whenever exactly one is empty).

Aggregation (:func:`davis_protocol`): per expression, J and F are averaged over its frames;
then over the expressions of an expression set; J&F = (J + F) / 2 of those means. With several
sets (Ref-DAVIS17: annotators 1 and 2, first-frame and full-video expressions) J, F and J&F are
the unweighted means over the sets. docs/data.md states the protocol.

All functions are pure (numpy/scipy only) and take masks as (H, W) arrays, non-zero =
foreground.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .errors import InvalidShapeError

__all__ = ["region_similarity", "boundary_map", "boundary_radius", "disk", "boundary_f",
           "jf", "davis_protocol", "davis_record", "expression_means", "mask_groups", "DavisResult",
           "BOUND_TH"]

BOUND_TH = 0.008
"""The DAVIS boundary tolerance, as a fraction of the image diagonal."""


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.ndim != 2:
        raise InvalidShapeError("pred", pred.shape, "(H, W)")
    if gt.shape != pred.shape:
        raise InvalidShapeError("gt", gt.shape, f"{pred.shape} (the prediction's shape)")
    return pred != 0, gt != 0


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: intersection over union; 1.0 when both masks are empty."""
    p, g = _pair(pred, gt)
    union = np.count_nonzero(p | g)
    if union == 0:
        return 1.0
    return np.count_nonzero(p & g) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """The one-pixel boundary of a mask, as DAVIS defines it at the mask's own resolution: a
    pixel is on the boundary when it differs from its right, lower or lower-right neighbour
    (pixels past the image border count as background only along those three directions, and
    the bottom-right pixel is never a boundary pixel). Returns (H, W) bool."""
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise InvalidShapeError("mask", m.shape, "(H, W)")
    right = np.zeros_like(m)
    below = np.zeros_like(m)
    diag = np.zeros_like(m)
    right[:, :-1] = m[:, 1:]
    below[:-1, :] = m[1:, :]
    diag[:-1, :-1] = m[1:, 1:]
    b = (m ^ right) | (m ^ below) | (m ^ diag)
    # last row: only the right neighbour; last column: only the lower one
    b[-1, :] = m[-1, :] ^ right[-1, :]
    b[:, -1] = m[:, -1] ^ below[:, -1]
    b[-1, -1] = False
    return b


def boundary_radius(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """The tolerance in pixels: ``bound_th`` itself when >= 1, else ceil(bound_th * diagonal)."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def disk(radius: int) -> np.ndarray:
    """A (2r+1, 2r+1) bool disk: offsets (dy, dx) with dy^2 + dx^2 <= r^2."""
    r = int(radius)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return yy * yy + xx * xx <= r * r


def _dilate(b: np.ndarray, radius: int) -> np.ndarray:
    from scipy import ndimage

    if radius <= 0 or not b.any():
        return b.copy()
    return ndimage.binary_dilation(b, structure=disk(radius))


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """F: the boundary F-measure with the DAVIS tolerance (see the module docstring)."""
    p, g = _pair(pred, gt)
    radius = boundary_radius(p.shape, bound_th)
    bp, bg = boundary_map(p), boundary_map(g)
    n_p, n_g = int(np.count_nonzero(bp)), int(np.count_nonzero(bg))
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0  # P = 1, R = 0 or P = 0, R = 1
    precision = np.count_nonzero(bp & _dilate(bg, radius)) / n_p
    recall = np.count_nonzero(bg & _dilate(bp, radius)) / n_g
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def jf(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH) -> tuple[float, float]:
    """(J, F) of one frame."""
    return region_similarity(pred, gt), boundary_f(pred, gt, bound_th)


@dataclass
class DavisResult:
    """J, F and J&F (fractions) and what they were averaged over."""

    J: float
    F: float
    JF: float
    expressions: int
    frames: int
    sets: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per expression set: {"J", "F", "J&F", "expressions"}."""

    def to_dict(self) -> dict:
        return {"J": self.J, "F": self.F, "J&F": self.JF, "expressions": self.expressions,
                "frames": self.frames, "sets": self.sets}


def mask_groups(name: str, with_sets: bool) -> tuple[str, str]:
    """(set, expression) of a mask's relative path ``[<set>/]<video>/<expression>/<frame>.png``
    (:func:`acga.data.refvos.expression_mask_path`): the expression is the folder, the set its
    first part when ``with_sets``, else ``"all"``."""
    parts = name.split("/")
    return (parts[0] if with_sets else "all"), "/".join(parts[:-1])


def davis_record(name: str, pred, gt, with_sets: bool,
                 bound_th: float | None = None) -> tuple[str, str, float, float]:
    """The (set, expression, J, F) record of one frame's masks for :func:`davis_protocol`;
    ``name`` is the mask's relative path (:func:`mask_groups`)."""
    j, f = jf(pred, gt, BOUND_TH if bound_th is None else bound_th)
    return (*mask_groups(name, with_sets), j, f)


def expression_means(frames: Iterable[tuple[str, str, float, float]]
                     ) -> dict[tuple[str, str], tuple[float, float, int]]:
    """Per (set, expression), in first-seen order: the mean J and F over its frames and the
    number of frames."""
    per_exp: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for set_name, expression, j, f in frames:
        per_exp.setdefault((str(set_name), str(expression)), []).append((float(j), float(f)))
    out = {}
    for key, values in per_exp.items():
        arr = np.asarray(values)
        out[key] = (float(arr[:, 0].mean()), float(arr[:, 1].mean()), len(values))
    return out


def davis_protocol(frames: Iterable[tuple[str, str, float, float]]) -> DavisResult:
    """Aggregate per-frame (set, expression, J, F) records: frames -> expression means ->
    set means -> unweighted mean over sets.

    Raises:
        ValueError: no records.
    """
    per_exp = expression_means(frames)
    if not per_exp:
        raise ValueError("davis_protocol needs at least one frame")
    per_set: dict[str, list[tuple[float, float]]] = {}
    for (set_name, _), (j, f, _) in per_exp.items():
        per_set.setdefault(set_name, []).append((j, f))
    sets = {}
    for name in sorted(per_set):
        arr = np.asarray(per_set[name])
        j, f = float(arr[:, 0].mean()), float(arr[:, 1].mean())
        sets[name] = {"J": j, "F": f, "J&F": (j + f) / 2, "expressions": len(arr)}
    j = float(np.mean([s["J"] for s in sets.values()]))
    f = float(np.mean([s["F"] for s in sets.values()]))
    n_frames = sum(n for _, _, n in per_exp.values())
    return DavisResult(j, f, (j + f) / 2, len(per_exp), n_frames, sets)
