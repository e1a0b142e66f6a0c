"""An independent forward pass of the I3D in the ACGA release's layout, up to Mixed_4e.

Written from the layout alone (key names ``conv3d_1a_7x7.conv3d.weight``,
``mixed_3b.branch_1.1.batch3d.running_var``, ...; tensor shapes give every width) with plain
torch ops, and the release port's numerics: padding fixed from kernel and stride as TF "SAME"
gives it for sizes that are multiples of the stride (``max(k - s, 0)``, the smaller half
before), zero padding before max pools, BatchNorm in eval mode with eps 1e-5 (PyTorch's
default, which the release's port keeps). Nothing here imports acga, so a mistake in our I3D
(names, padding, eps) cannot cancel out in a comparison.

Also builds state dicts in that layout with BatchNorm statistics like a trained network's:
running variances 1e-4 .. 1e-2 (where eps 1e-3 and 1e-5 give visibly different features) and
convolution weights scaled so each unit's output has about that variance, keeping activations
of order one through the 20-odd units.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

RELEASE_EPS = 1e-5

# (block, input channels, widths of branch_0, branch_1.0, branch_1.1, branch_2.0, branch_2.1,
# branch_3.1) from the I3D paper's Inception-v1, up to Mixed_4e
MIXED_UP_TO_4E = [
    ("mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
]


def release_units(in_channels: int = 3):
    """(unit key prefix, c_in, c_out, kernel) of every conv unit up to Mixed_4e, release names."""
    yield "conv3d_1a_7x7", in_channels, 64, 7
    yield "conv3d_2b_1x1", 64, 64, 1
    yield "conv3d_2c_3x3", 64, 192, 3
    for block, cin, (c0, c1, c2, c3, c4, c5) in MIXED_UP_TO_4E:
        yield f"{block}.branch_0", cin, c0, 1
        yield f"{block}.branch_1.0", cin, c1, 1
        yield f"{block}.branch_1.1", c1, c2, 3
        yield f"{block}.branch_2.0", cin, c3, 1
        yield f"{block}.branch_2.1", c3, c4, 3
        yield f"{block}.branch_3.1", cin, c5, 1


def release_state_dict(seed: int = 0, in_channels: int = 3) -> dict[str, torch.Tensor]:
    """A bare I3D state dict in the release's layout (as its ``model/i3d_rgb.pth``), up to
    Mixed_4e, with small running variances (log-uniform in 1e-4 .. 1e-2)."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for unit, cin, cout, k in release_units(in_channels):
        var = torch.exp(torch.empty(cout).uniform_(math.log(1e-4), math.log(1e-2), generator=g))
        gamma = torch.empty(cout).uniform_(0.5, 1.5, generator=g)
        fan_in = cin * k ** 3
        # He scaling times the target std: conv output variance ~ running_var
        scale = (2.0 / fan_in) ** 0.5 * var.sqrt()
        sd[f"{unit}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=g) * \
            scale.view(-1, 1, 1, 1, 1)
        sd[f"{unit}.batch3d.weight"] = gamma
        sd[f"{unit}.batch3d.bias"] = torch.randn(cout, generator=g) * 0.1
        sd[f"{unit}.batch3d.running_mean"] = torch.randn(cout, generator=g) * var.sqrt() * 0.5
        sd[f"{unit}.batch3d.running_var"] = var
        sd[f"{unit}.batch3d.num_batches_tracked"] = torch.tensor(1000)
    return sd


def _fixed_same(kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> list[int]:
    """F.pad argument (last axis first) of the release's fixed "SAME" padding."""
    pad: list[int] = []
    for k, s in reversed(list(zip(kernel, stride))):
        total = max(k - s, 0)
        pad += [total // 2, total - total // 2]
    return pad


def _unit(sd: dict[str, torch.Tensor], name: str, x: torch.Tensor, stride: int = 1,
          eps: float = RELEASE_EPS) -> torch.Tensor:
    w = sd[f"{name}.conv3d.weight"]
    k = tuple(w.shape[2:])
    x = F.conv3d(F.pad(x, _fixed_same(k, (stride,) * 3)), w, stride=stride)
    shape = (1, -1, 1, 1, 1)
    mean = sd[f"{name}.batch3d.running_mean"].view(shape)
    var = sd[f"{name}.batch3d.running_var"].view(shape)
    gamma = sd[f"{name}.batch3d.weight"].view(shape)
    beta = sd[f"{name}.batch3d.bias"].view(shape)
    return torch.clamp((x - mean) / torch.sqrt(var + eps) * gamma + beta, min=0)


def _pool(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]
          ) -> torch.Tensor:
    return F.max_pool3d(F.pad(x, _fixed_same(kernel, stride)), kernel, stride)


def _mixed(sd: dict[str, torch.Tensor], block: str, x: torch.Tensor, eps: float) -> torch.Tensor:
    b0 = _unit(sd, f"{block}.branch_0", x, eps=eps)
    b1 = _unit(sd, f"{block}.branch_1.1", _unit(sd, f"{block}.branch_1.0", x, eps=eps), eps=eps)
    b2 = _unit(sd, f"{block}.branch_2.1", _unit(sd, f"{block}.branch_2.0", x, eps=eps), eps=eps)
    b3 = _unit(sd, f"{block}.branch_3.1", _pool(x, (3, 3, 3), (1, 1, 1)), eps=eps)
    return torch.cat([b0, b1, b2, b3], dim=1)


def release_mixed_4e(sd: dict[str, torch.Tensor], x: torch.Tensor,
                     eps: float = RELEASE_EPS) -> torch.Tensor:
    """Mixed_4e of the clip ``x`` (B, C, T, H, W), T a multiple of 4 and H, W of 16 (the sizes
    for which the release's fixed padding is TF's SAME padding); ``sd`` in the release's bare
    layout (strip ``module.video_model.model.`` first)."""
    x = _unit(sd, "conv3d_1a_7x7", x, stride=2, eps=eps)
    x = _pool(x, (1, 3, 3), (1, 2, 2))
    x = _unit(sd, "conv3d_2b_1x1", x, eps=eps)
    x = _unit(sd, "conv3d_2c_3x3", x, eps=eps)
    x = _pool(x, (1, 3, 3), (1, 2, 2))
    x = _mixed(sd, "mixed_3b", x, eps)
    x = _mixed(sd, "mixed_3c", x, eps)
    x = _pool(x, (3, 3, 3), (2, 2, 2))
    for block in ("mixed_4b", "mixed_4c", "mixed_4d", "mixed_4e"):
        x = _mixed(sd, block, x, eps)
    return x
