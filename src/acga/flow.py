"""Optical flow for I3D's flow stream: TV-L1 (Zach, Pock, Bischof, DAGM 2007), as I3D's authors
computed it for Kinetics (Carreira & Zisserman 2017, section 3: "optical flow ... computed with a
TV-L1 algorithm"), with OpenCV's implementation and default parameters.

The paper's Flow and RGB+Flow ablations (Table 3) feed I3D's flow stream; ACGA's release has no
preprocessing code, so this is our pipeline, step by step:

1. :func:`compute_flow`: frames (T+1, H, W, 3) uint8 at their original size -> greyscale
   (ITU-R 601 luma, ``cv2.COLOR_RGB2GRAY``) -> TV-L1 from frame t to frame t+1 -> (T+1, H, W, 2)
   float32 in pixels, channel 0 = horizontal u (positive = rightwards), 1 = vertical v
   (positive = downwards). The last frame has no successor: it gets a copy of the last field
   (the usual convention; :func:`flow_input` never uses it, see step 3).
2. :func:`letterbox_flow`: the same centred letterbox as the RGB frames
   (:func:`acga.data.transforms.letterbox`): zero flow in the black padding, bilinear resize of
   the M x M square to S x S, and the vectors multiplied by S / M, so they are in pixels of the
   network input (I3D's Kinetics flow was likewise measured at the input scale, 256 pixels on
   the short side).
3. :func:`flow_input`: a clip of T flow fields is made from T + 1 frames: the clip's T frames
   and the one after (:func:`acga.data.video.clip_indices` with T + 1 gives exactly the T
   indices of the RGB clip plus one, clamped at the end of the video), so field t is the motion
   from RGB frame t to t + 1 and the annotated frame (at T // 2) has its own forward motion.
   Frames repeated at a video's ends give zero flow. Then I3D's preprocessing
   (:func:`acga.models.i3d.preprocess_flow`): clip to [-20, 20] pixels, divide by 20.

Flow is computed at the video's own resolution (A2D: 320 pixels high) before the letterbox:
cheaper than at 512 x 512, and the black padding never enters TV-L1's smoothness term.

TV-L1 needs OpenCV's contrib modules (``cv2.optflow``), an optional dependency:
``pip install "acga[flow]"`` (``opencv-contrib-python-headless``; tested with 5.0.0 and
numpy 2.4). Only one OpenCV wheel may be installed: ``opencv-python`` and the contrib wheel both
provide ``cv2``, and whichever was installed last wins.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from .data.transforms import letterbox_float
from .errors import AcgaError, InvalidShapeError
from .models.i3d import preprocess_flow

__all__ = ["compute_flow", "letterbox_flow", "flow_input", "require_tvl1", "TVL1_PARAMS"]

log = logging.getLogger(__name__)

TVL1_PARAMS: dict[str, float | int] = {
    "tau": 0.25, "lambda_": 0.15, "theta": 0.3, "nscales": 5, "warps": 5, "epsilon": 0.01,
    "innnerIterations": 30, "outerIterations": 10, "scaleStep": 0.8, "gamma": 0.0,
    "medianFiltering": 5, "useInitialFlow": False,
}
"""OpenCV's defaults for ``cv2.optflow.DualTVL1OpticalFlow_create`` (spelled as OpenCV spells
them): the parameters I3D's flow was computed with. Listed so the manifest-free flow cache is
reproducible across OpenCV versions whose defaults might change."""

_INSTALL_HINT = ('optical flow (--modality flow) needs OpenCV with its contrib modules: '
                 'pip install "acga[flow]" (installs opencv-contrib-python-headless)')


def require_tvl1():
    """The ``cv2`` module, checked to provide TV-L1; an :class:`AcgaError` saying what to
    install otherwise."""
    try:
        import cv2
    except ImportError as exc:
        raise AcgaError(f"{_INSTALL_HINT}; importing cv2 failed: {exc}") from exc
    if not hasattr(getattr(cv2, "optflow", None), "DualTVL1OpticalFlow_create"):
        raise AcgaError(f"{_INSTALL_HINT}; the installed cv2 {getattr(cv2, '__version__', '?')} "
                        "lacks cv2.optflow (opencv-python without contrib?): pip uninstall "
                        "opencv-python opencv-python-headless, then install acga[flow]")
    return cv2


def _create_tvl1(cv2):
    return cv2.optflow.DualTVL1OpticalFlow_create(**TVL1_PARAMS)


def compute_flow(frames: np.ndarray) -> np.ndarray:
    """TV-L1 optical flow between consecutive frames.

    Args:
        frames: (T, H, W, 3) uint8 RGB, T >= 1.

    Returns:
        (T, H, W, 2) float32 in pixels: field t (t < T - 1) maps frame t to frame t + 1
        (frame_{t+1}(x + flow_t(x)) ~= frame_t(x)); channel 0 = u (horizontal, + right),
        1 = v (vertical, + down). Field T - 1 repeats field T - 2 (zeros when T == 1).
        Identical consecutive frames (repeated at a clip's edge) get exact zeros without
        running TV-L1.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidShapeError("frames", frames.shape, "(T, H, W, 3)")
    if frames.dtype != np.uint8:
        raise TypeError(f"compute_flow expects uint8 frames, got {frames.dtype}")
    cv2 = require_tvl1()
    t, h, w, _ = frames.shape
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]  # (H, W)
    flow = np.zeros((t, h, w, 2), dtype=np.float32)  # (T, H, W, 2)
    tvl1 = _create_tvl1(cv2)
    for i in range(t - 1):
        if np.array_equal(frames[i], frames[i + 1]):
            continue  # a repeated frame: no motion
        flow[i] = tvl1.calc(grey[i], grey[i + 1], None)
    if t > 1:
        flow[t - 1] = flow[t - 2]
    return flow


def letterbox_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """Centre-pad flow fields to a square (zero flow) and resize to ``size``, scaling vectors.

    The pad and resize are :func:`acga.data.transforms.letterbox_float`, the core of the RGB
    :func:`~acga.data.transforms.letterbox` (same offsets, bilinear, antialiased when
    shrinking); vectors are multiplied by ``size / max(H, W)`` so they stay in
    pixels of the resized image.

    Args:
        flow: (T, H, W, 2) float.
        size: side S of the output square.

    Returns:
        (T, S, S, 2) float32.
    """
    flow = np.asarray(flow)
    if flow.ndim != 4 or flow.shape[-1] != 2:
        raise InvalidShapeError("flow", flow.shape, "(T, H, W, 2)")
    side = max(flow.shape[1:3])
    y = letterbox_float(flow, size)  # (T, S, S, 2); checks size
    return y if side == size else y * np.float32(size / side)


def flow_input(frames: np.ndarray, size: int) -> torch.Tensor:
    """I3D flow-stream input from T + 1 frames: (2, T, S, S) float32 in [-1, 1].

    Args:
        frames: (T + 1, H, W, 3) uint8: the clip's T frames and the frame after the clip
            (``read_clip(..., clip_len + 1)``).
        size: the letterbox side S.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise InvalidShapeError("frames", frames.shape, "(T + 1, H, W, 3) with T >= 1")
    flow = compute_flow(frames)[:-1]  # (T, H, W, 2): drop the repeated last field
    return preprocess_flow(letterbox_flow(flow, size))  # (2, T, S, S)
