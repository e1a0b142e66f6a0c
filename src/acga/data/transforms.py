"""Geometric transforms on clips and masks: the centred letterbox and its exact inverse.

Letterbox geometry (docs/data.md, "Preprocessing"). A frame of H x W is pasted centred on a
black M x M square, M = max(H, W), at offset ((M - H) // 2, (M - W) // 2) (the smaller padding
on the top/left when the difference is odd), and the square is resized M -> S. The inverse
resizes S -> M and crops the H x W window at the same offset.

Nearest-neighbour resizing samples pixel centres with integer arithmetic: output pixel j of a
resize n -> m reads input pixel floor((j + 0.5) * n / m) = ((2j + 1) * n) // (2m). With this
rule, resizing M -> S -> M is the identity whenever S >= M (each of the M source pixels maps to
its own block of S / M output pixels and back), so ``unletterbox_mask(letterbox_mask(m, S), H,
W) == m`` exactly. Floating-point index computations (``torch`` nearest modes) can be off by one
at block boundaries, which is why masks do not use them. :func:`acga.postprocess.undo_letterbox`
uses the same rule.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidShapeError

__all__ = ["letterbox", "letterbox_float", "letterbox_mask", "unletterbox_mask",
           "letterbox_geometry"]


def letterbox_geometry(height: int, width: int) -> tuple[int, int, int]:
    """(M, top, left): the square's side M = max(H, W) and where the H x W frame sits in it."""
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size {height}x{width} must be positive")
    side = max(height, width)
    return side, (side - height) // 2, (side - width) // 2


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """(n_out,) int64: the source pixel of each output pixel of a nearest resize n_in -> n_out."""
    return ((2 * np.arange(n_out, dtype=np.int64) + 1) * n_in) // (2 * n_out)


def _check_size(size: int) -> None:
    if int(size) != size or size <= 0:
        raise ValueError(f"letterbox size must be a positive integer, got {size!r}")


def letterbox_float(frames: np.ndarray, size: int) -> np.ndarray:
    """The letterbox core shared by RGB frames and flow fields: centre-pad to a square (zeros)
    and resize it to ``size`` (bilinear, antialiased when shrinking), in float32.

    Args:
        frames: (T, H, W, C), any real dtype (converted to float32 when pasted).
        size: side S of the output square.

    Returns:
        (T, S, S, C) float32.
    """
    _check_size(size)
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise InvalidShapeError("frames", frames.shape, "(T, H, W, C)")
    t, h, w, c = frames.shape
    side, top, left = letterbox_geometry(h, w)
    square = np.zeros((t, side, side, c), dtype=np.float32)  # (T, M, M, C)
    square[:, top:top + h, left:left + w] = frames
    if side == size:
        return square
    x = torch.from_numpy(square).permute(0, 3, 1, 2)  # (T, C, M, M)
    # antialias only matters when shrinking; it keeps thin structures from aliasing away
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                      antialias=size < side)
    return y.permute(0, 2, 3, 1).contiguous().numpy()  # (T, S, S, C)


def letterbox(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre-pad RGB frames to a square and resize it (bilinear) to ``size``.

    Args:
        frames: (T, H, W, 3) uint8.
        size: side S of the output square.

    Returns:
        (T, S, S, 3) uint8; the padding is black.
    """
    _check_size(size)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidShapeError("frames", frames.shape, "(T, H, W, 3)")
    y = letterbox_float(frames, size)
    if max(frames.shape[1:3]) == size:  # pasted only: the values are the frames' own
        return y.astype(np.uint8)
    return np.clip(np.round(y), 0, 255).astype(np.uint8)


def letterbox_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Centre-pad a mask to a square and resize it (nearest) to ``size``.

    Args:
        mask: (H, W) (any dtype; 0/1 for ground truth).
        size: side S of the output square.

    Returns:
        (S, S) of the mask's dtype; the padding is 0.
    """
    _check_size(size)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InvalidShapeError("mask", mask.shape, "(H, W)")
    h, w = mask.shape
    side, top, left = letterbox_geometry(h, w)
    square = np.zeros((side, side), dtype=mask.dtype)  # (M, M)
    square[top:top + h, left:left + w] = mask
    idx = _nearest_index(side, size)
    return square[idx[:, None], idx[None, :]]


def unletterbox_mask(mask_square: np.ndarray, height: int, width: int, *,
                     mode: Literal["nearest", "bilinear"] = "nearest") -> np.ndarray:
    """The exact inverse of :func:`letterbox_mask`: resize S -> max(H, W), crop the frame.

    Args:
        mask_square: (S, S) or (B, S, S): binary masks (``mode="nearest"``, dtype kept) or float
            responses (``mode="bilinear"``, returned as float32).
        height, width: the original frame size H, W.

    Returns:
        (H, W) or (B, H, W).
    """
    arr = np.asarray(mask_square)
    if arr.ndim not in (2, 3) or arr.shape[-1] != arr.shape[-2]:
        raise InvalidShapeError("mask_square", arr.shape, "(S, S) or (B, S, S)")
    size = arr.shape[-1]
    side, top, left = letterbox_geometry(height, width)
    if mode == "nearest":
        idx = _nearest_index(size, side)
        rows, cols = idx[top:top + height], idx[left:left + width]
        return arr[..., rows[:, None], cols[None, :]]
    if mode != "bilinear":
        raise ValueError(f"unletterbox mode must be 'nearest' or 'bilinear', got {mode!r}")
    x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    x = x.reshape(-1, 1, size, size)  # (B, 1, S, S)
    y = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False,
                      antialias=side < size)
    y = y[:, 0, top:top + height, left:left + width]  # (B, H, W)
    return y.reshape(arr.shape[:-2] + (height, width)).numpy()
