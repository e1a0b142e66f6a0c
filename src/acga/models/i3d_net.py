"""The I3D network: Inflated Inception-V1 (Carreira & Zisserman, "Quo Vadis, Action Recognition?",
CVPR 2017): its layers, endpoints and the trainable ``Mixed_4f`` block. Reading weight files is
:mod:`acga.models.i3d_weights`; building a ready I3D and its input scaling, :mod:`acga.models.i3d`.

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
differently (``mixed_4f.branch_1.1.batch3d``);
:func:`~acga.models.i3d_weights.remap_release_i3d` renames them. That port also differs in
numerics: PyTorch's default BatchNorm (eps=1e-5, momentum=0.1) and padding fixed at construction
as if every size were a multiple of the stride (identical to ours for the clip sizes ACGA uses,
e.g. 8/16/24 frames of 224 or 512 pixels; different for odd sizes). Pass
``bn_eps=RELEASE_BN_EPS, bn_momentum=RELEASE_BN_MOMENTUM`` to reproduce the release exactly;
:func:`~acga.models.i3d.build_i3d` does so by itself for weights in the release's layout
(:func:`~acga.models.i3d_weights.bn_settings_for_layout`), so ``acga extract`` and
``acga segment`` compute the features the way the release's I3D does.

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

import math
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidShapeError

__all__ = [
    "ENDPOINTS",
    "ENDPOINT_CHANNELS",
    "RELEASE_BN_EPS",
    "RELEASE_BN_MOMENTUM",
    "TF_BN_EPS",
    "TF_BN_MOMENTUM",
    "I3D",
    "InceptionModule",
    "Unit3D",
    "build_mixed_4f",
    "module_name",
]

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


def module_name(endpoint: str) -> str:
    """The attribute an endpoint's block is registered under in :class:`I3D`."""
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
            self.add_module(module_name(name), _build_block(
                name, in_channels, num_classes, dropout, bn_eps, bn_momentum))

    def block(self, name: str) -> nn.Module:
        """The module of one endpoint, e.g. ``block("Mixed_4f")`` (an :class:`InceptionModule`)."""
        if name not in self.endpoints:
            raise KeyError(f"endpoint {name!r} is not built in this I3D (built: "
                           f"{self.endpoints[0]} .. {self.final_endpoint})")
        return getattr(self, module_name(name))

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
            x = getattr(self, module_name(name))(x)
            if name in wanted:
                result[name] = x
        return result


def build_mixed_4f(*, bn_eps: float = 1e-3, bn_momentum: float = 0.01) -> InceptionModule:
    """The trainable block of ACGA: I3D ``Mixed_4f``, (B, 528, T', H', W') -> (B, 832, T', H', W').

    Load its pretrained weights with ``load_i3d_weights(block, path, block="Mixed_4f")``.
    """
    return InceptionModule(*_MIXED["Mixed_4f"], bn_eps=bn_eps, bn_momentum=bn_momentum)
