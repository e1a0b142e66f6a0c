"""Visual encoders that produce F_V (B, C_V, r1, r1) for ACGA and the baselines.

- ``i3d_cached``: the input is I3D Mixed_4e features from the cache (frozen part, computed once
  per clip by ``acga extract``); the trainable Mixed_4f block runs here, then the temporal mean
  and per-pixel L2 normalisation of eq. 2. With ``rgb+flow`` each stream has its own Mixed_4f
  and the two normalised maps are averaged and normalised again (late fusion).
- ``small3d``: a small 3-D CNN over the clip itself, trained jointly: the CPU demo, where no
  pretrained I3D weights can be downloaded. Same output contract.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidShapeError
from .i3d_net import build_mixed_4f

__all__ = ["I3DMixed4fEncoder", "Small3DEncoder", "build_visual_backbone"]


def _pool_normalize(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> temporal mean -> per-pixel L2 over channels -> (B, C, H, W)."""
    return F.normalize(x.mean(dim=2), p=2, dim=1)


class I3DMixed4fEncoder(nn.Module):
    """Mixed_4f (528 -> 832) per stream on cached Mixed_4e features (B, S*528, T', H, W)."""

    def __init__(self, in_channels: int = 528, streams: int = 1, feature_size: int = 32,
                 bn_eps: float = 1e-3, bn_momentum: float = 0.01):
        super().__init__()
        self.in_channels = in_channels
        self.feature_size = feature_size
        self.streams = nn.ModuleList(build_mixed_4f(bn_eps=bn_eps, bn_momentum=bn_momentum)
                                     for _ in range(streams))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, c = features.shape[:2]
        expected = self.in_channels * len(self.streams)
        if features.ndim != 5 or c != expected or features.shape[-1] != self.feature_size \
                or features.shape[-2] != self.feature_size:
            raise InvalidShapeError(
                "visual features", tuple(features.shape),
                f"(B, {expected}, T', {self.feature_size}, {self.feature_size}) "
                "(I3D Mixed_4e from the feature cache)")
        maps = [_pool_normalize(stream(x)) for stream, x in
                zip(self.streams, features.split(self.in_channels, dim=1))]
        if len(maps) == 1:
            return maps[0]
        return F.normalize(torch.stack(maps).mean(dim=0), p=2, dim=1)


class Small3DEncoder(nn.Module):
    """A small jointly trained 3-D CNN: clip (B, 3, T, H, W) -> F_V (B, C_V, H/16, W/16).

    One strided Conv3d-BN-ReLU stage per width: the first (the stem) with kernel
    ``stem_kernel`` (default (3, 5, 5)) and stride (1, 2, 2), the next two with kernel 3 and
    temporal stride 2, spatial stride 2 until the total stride is input_size / feature_size
    (more strided stages are added if the widths run out); a 1x1x1 projection to C_V; temporal
    mean and L2 normalisation as for I3D.
    """

    def __init__(self, out_channels: int, widths: tuple[int, ...] = (16, 32, 64),
                 input_size: int = 128, feature_size: int = 8,
                 stem_kernel: tuple[int, int, int] = (3, 5, 5)):
        super().__init__()
        if input_size % feature_size or (input_size // feature_size) & (input_size // feature_size - 1):
            raise ValueError(f"input_size {input_size} / feature_size {feature_size} must be a power of 2")
        stride_total = input_size // feature_size
        layers: list[nn.Module] = []
        in_ch, spatial = 3, 1
        for i, width in enumerate(widths):
            s = 2 if spatial < stride_total else 1
            t = 2 if i in (1, 2) else 1
            k = tuple(stem_kernel) if i == 0 else (3, 3, 3)
            layers += [nn.Conv3d(in_ch, width, k, stride=(t, s, s),
                                 padding=(k[0] // 2, k[1] // 2, k[2] // 2), bias=False),
                       nn.BatchNorm3d(width), nn.ReLU(inplace=True)]
            in_ch, spatial = width, spatial * s
        while spatial < stride_total:  # more strided stages if the widths run out
            layers += [nn.Conv3d(in_ch, in_ch, 3, stride=(1, 2, 2), padding=1, bias=False),
                       nn.BatchNorm3d(in_ch), nn.ReLU(inplace=True)]
            spatial *= 2
        self.features = nn.Sequential(*layers)
        self.proj = nn.Conv3d(in_ch, out_channels, kernel_size=1)
        self.input_size = input_size

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        if clip.ndim != 5 or clip.shape[1] != 3 or clip.shape[-1] != self.input_size \
                or clip.shape[-2] != self.input_size:
            raise InvalidShapeError("clip", tuple(clip.shape),
                                    f"(B, 3, T, {self.input_size}, {self.input_size})")
        return _pool_normalize(self.proj(self.features(clip)))


def build_visual_backbone(backbone: str, visual_dim: int, *, in_channels: int = 528,
                          streams: int = 1, feature_size: int = 32, input_size: int = 512,
                          small3d_widths: tuple[int, ...] = (16, 32, 64),
                          small3d_stem_kernel: tuple[int, int, int] = (3, 5, 5),
                          bn_eps: float = 1e-3, bn_momentum: float = 0.01) -> nn.Module:
    """The encoder that makes F_V (B, visual_dim, feature_size, feature_size).

    Args:
        backbone: ``i3d_cached`` (:class:`I3DMixed4fEncoder`: ``streams`` Mixed_4f blocks on
            ``in_channels`` cached features each, BatchNorm ``bn_eps`` / ``bn_momentum``; its
            output has I3D's 832 channels) or ``small3d`` (:class:`Small3DEncoder` over a
            clip of ``input_size`` pixels, stage widths ``small3d_widths``, stem kernel
            ``small3d_stem_kernel``).
    """
    if backbone == "small3d":
        return Small3DEncoder(visual_dim, small3d_widths, input_size, feature_size, small3d_stem_kernel)
    if backbone != "i3d_cached":
        raise ValueError(f"backbone = {backbone!r} is not an option; use 'i3d_cached' or 'small3d'")
    return I3DMixed4fEncoder(in_channels, streams, feature_size, bn_eps, bn_momentum)
