"""From the network's response map to a binary mask at the original frame size.

Two steps, both as the authors' released code does them (haowang1992/ACGA, ``util/tool.py``,
``report_result``):

1. :func:`response_to_mask`: a pixel is foreground when ``sigmoid(response) > threshold *
   max(sigmoid(response))``, the maximum taken per sample over the map (strict ``>``). The
   authors scale by 255 on both sides first, which changes nothing but float rounding.
   The threshold is relative, so every map has at least one foreground pixel unless the map is
   constant (then ``p > 0.5 p`` holds everywhere for p > 0: a constant map is all foreground).
2. :func:`undo_letterbox`: the 512x512 mask is mapped back to the frame by the inverse of the
   centred letterbox (docs/data.md, "Preprocessing"): resize the square to max(H, W) (nearest
   neighbour) and crop the centre H x W; the geometry lives in :mod:`acga.data.transforms`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidShapeError

__all__ = ["response_to_mask", "undo_letterbox"]


def response_to_mask(response: Any, threshold: float = 0.5) -> Any:
    """Binary mask from response logits, relative to each map's maximum.

    Args:
        response: logits of shape (H, W), (B, H, W) or (B, 1, H, W); a ``torch.Tensor`` (any
            device) or anything numpy can read.
        threshold: fraction of the per-map maximum of ``sigmoid(response)`` a pixel must exceed.

    Returns:
        A boolean mask of the input's shape, of the input's kind (``torch.bool`` tensor on the
        input's device, or a numpy bool array): ``sigmoid(r) > threshold * max_hw(sigmoid(r))``,
        where ``max_hw`` is taken over the last two axes of each sample.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is outside [0, 1]")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency; numpy input still works
        torch = None
    if torch is not None and isinstance(response, torch.Tensor):
        if response.ndim not in (2, 3, 4) or (response.ndim == 4 and response.shape[1] != 1):
            raise InvalidShapeError("response", tuple(response.shape), "(H, W), (B, H, W) or (B, 1, H, W)")
        prob = torch.sigmoid(response.detach().float())
        peak = prob.amax(dim=(-2, -1), keepdim=True)
        return prob > threshold * peak
    arr = np.asarray(response)
    if arr.ndim not in (2, 3, 4) or (arr.ndim == 4 and arr.shape[1] != 1):
        raise InvalidShapeError("response", arr.shape, "(H, W), (B, H, W) or (B, 1, H, W)")
    # float32 like the authors' GPU tensors; the logistic function written to avoid exp overflow.
    logits = arr.astype(np.float32, copy=False)
    decay = np.exp(-np.abs(logits))  # in (0, 1]: no overflow for any logit
    prob = np.where(logits >= 0, 1.0 / (1.0 + decay), decay / (1.0 + decay)).astype(np.float32)
    peak = prob.max(axis=(-2, -1), keepdims=True)
    return prob > np.float32(threshold) * peak


def undo_letterbox(mask: Any, height: int, width: int) -> np.ndarray:
    """Map a square mask (S, S) (or a batch (B, S, S)) back to an H x W frame.

    The exact inverse of the centred letterbox: resize S -> max(H, W) with nearest-neighbour
    sampling (integer pixel-centre rule) and crop the frame's window. One implementation serves
    data and evaluation: this delegates to :func:`acga.data.transforms.unletterbox_mask`.
    """
    from .data.transforms import unletterbox_mask

    return unletterbox_mask(mask, height, width, mode="nearest")
