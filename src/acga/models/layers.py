"""Building blocks shared by ACGA and the baselines: spatial coordinates, FCN heads, Deconv,
the multi-resolution fusion of the heads' responses, the release's initialisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["coordinate_map", "FCNHead", "Deconv", "ordered_heads", "mrf_fusion", "fuse_responses",
           "init_released", "check_shape"]

from ..errors import InvalidShapeError


def coordinate_map(height: int, width: int, *, dtype: torch.dtype = torch.float32,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """The 8 spatial-coordinate channels C of every cell of an (height, width) grid.

    Channels: xmin, ymin, xmax, ymax, xcenter, ycenter, 1/W, 1/H, where the image spans [-1, 1]
    in x and y; the cell at column w spans x in [2w/W - 1, 2(w+1)/W - 1]. The last two are the
    cell size constants used by the authors' code (1/W, 1/H, not 2/W).

    Returns:
        (8, height, width) tensor.
    """
    ys = torch.arange(height, dtype=torch.float64, device=device)
    xs = torch.arange(width, dtype=torch.float64, device=device)
    xmin = (xs / width * 2 - 1).expand(height, width)
    xmax = ((xs + 1) / width * 2 - 1).expand(height, width)
    ymin = (ys / height * 2 - 1)[:, None].expand(height, width)
    ymax = ((ys + 1) / height * 2 - 1)[:, None].expand(height, width)
    coords = torch.stack([
        xmin, ymin, xmax, ymax, (xmin + xmax) / 2, (ymin + ymax) / 2,
        torch.full((height, width), 1.0 / width, dtype=torch.float64, device=device),
        torch.full((height, width), 1.0 / height, dtype=torch.float64, device=device),
    ])
    return coords.to(dtype)


class FCNHead(nn.Sequential):
    """Conv3x3 -> ReLU -> Conv3x3 -> ReLU -> Conv1x1 -> one response channel (eq. 11's FCN)."""

    def __init__(self, in_channels: int, width: int):
        super().__init__(
            nn.Conv2d(in_channels, width, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 1, kernel_size=1),
        )


class Deconv(nn.Sequential):
    """One transposed convolution (x4 upsampling: k8, s4, p2) then a 3x3 convolution (eq. 10).

    Args:
        activation: put a ReLU between the two (the paper is silent; the release has none).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: bool = False):
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_channels, out_channels, kernel_size=8, stride=4, padding=2)
        ]
        if activation:
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1))
        super().__init__(*layers)


def ordered_heads(heads: tuple[str, ...]) -> tuple[str, ...]:
    """The configured heads in resolution order S, M, L (the channel order of the MRF input)."""
    return tuple(h for h in ("S", "M", "L") if h in heads)


def mrf_fusion(num_heads: int) -> nn.Conv2d:
    """MRF's Conv3x3 over the ``num_heads`` responses stacked at Res3 -> one fused response."""
    return nn.Conv2d(num_heads, 1, kernel_size=3, padding=1)


def fuse_responses(responses: dict[str, torch.Tensor], heads: tuple[str, ...],
                   fusion: nn.Module | None) -> torch.Tensor:
    """The "final" response (B, 1, r3, r3): ``fusion`` over the heads' responses (in ``heads``
    order, each bilinearly interpolated to R^L's size), or R^L itself when ``fusion`` is None."""
    if fusion is None:
        return responses["L"]
    size = responses["L"].shape[-2:]
    stacked = [responses[h] if h == "L" else
               F.interpolate(responses[h], size=size, mode="bilinear", align_corners=False)
               for h in heads]
    return fusion(torch.cat(stacked, dim=1))


def init_released(module: nn.Module) -> None:
    """The release's initialisation: Linear weights N(0, 0.02) and zero bias; convolutions keep
    PyTorch's default."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; else a ValueError naming ``what`` and the choices
    (a module must not run an unknown option string as one of its other modes)."""
    if value not in choices:
        raise ValueError(f"{what} = {value!r} is not an option; use one of "
                         f"{', '.join(repr(c) for c in choices)}")
    return value


def check_shape(name: str, tensor: torch.Tensor, expected: tuple[int | None, ...]) -> None:
    """Raise InvalidShapeError unless ``tensor.shape`` matches ``expected`` (None = any)."""
    shape = tuple(tensor.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for s, e in zip(shape, expected)):
        pretty = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise InvalidShapeError(name, shape, pretty)
