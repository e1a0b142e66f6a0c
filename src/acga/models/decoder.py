"""The multi-resolution feature decoder (section 3.3, eq. 10-13) with multi-resolution fusion."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Deconv, FCNHead, coordinate_map

__all__ = ["MultiResolutionDecoder"]

_INDEX = {"S": 0, "M": 1, "L": 2}


class MultiResolutionDecoder(nn.Module):
    """Responses at Res1 (S), Res2 (M) and Res3 (L), fused by a 3x3 convolution (MRF).

    F_V^M = Deconv(F_VA), F_V^L = Deconv(F_V^M); each head r is an FCN over
    [video_r, C_r, Interp(F_TA)] (or the release's [video_r, Interp(F_TA), C_r]).

    Args:
        video_dim: channels of the attended visual map at Res1.
        text_dim: channels of the text map at Res1.
        coord_dim: channels of C.
        resolutions: (Res1, Res2, Res3).
        heads: which of "S", "M", "L" get a response head.
        mrf: fuse the heads' responses with Conv3x3(len(heads) -> 1) at Res3.
        head_widths: FCN widths at S, M, L.
        deconv_dims: channels of F_V^M and F_V^L.
        coords: ``interp`` (bilinear Interp(C) from Res1, eq. 11) or ``native``.
        concat_order: ``video_coords_text`` (eq. 11) or ``video_text_coords`` (release).
    """

    def __init__(self, video_dim: int, text_dim: int, coord_dim: int = 8,
                 resolutions: tuple[int, int, int] = (32, 128, 512),
                 heads: tuple[str, ...] = ("S", "M", "L"), mrf: bool = True,
                 head_widths: tuple[int, int, int] = (256, 128, 64),
                 deconv_dims: tuple[int, int] = (256, 128), deconv_activation: bool = False,
                 coords: str = "interp", concat_order: str = "video_coords_text"):
        super().__init__()
        if coord_dim != 8:
            raise ValueError(f"coord_dim = {coord_dim}: the coordinate map has 8 channels")
        self.resolutions = tuple(resolutions)
        self.heads = tuple(h for h in ("S", "M", "L") if h in heads)
        self.mrf = mrf
        self.coords = coords
        self.concat_order = concat_order
        self.deconv_medium = Deconv(video_dim, deconv_dims[0], deconv_activation)
        self.deconv_large = Deconv(deconv_dims[0], deconv_dims[1], deconv_activation)
        in_dims = {"S": video_dim, "M": deconv_dims[0], "L": deconv_dims[1]}
        self.head = nn.ModuleDict({
            h: FCNHead(in_dims[h] + text_dim + coord_dim, head_widths[_INDEX[h]]) for h in self.heads
        })
        self.fusion = nn.Conv2d(len(self.heads), 1, kernel_size=3, padding=1) if mrf else None
        # Coordinates are constants: buffers (not saved) so they follow .to(device).
        for name, size in zip(("S", "M", "L"), self.resolutions):
            self.register_buffer(f"coords_{name}", coordinate_map(size, size), persistent=False)

    def _coords(self, name: str, like: torch.Tensor) -> torch.Tensor:
        b = like.shape[0]
        if name == "S" or self.coords == "native":
            c = getattr(self, f"coords_{name}")
        else:
            size = self.resolutions[_INDEX[name]]
            c = F.interpolate(self.coords_S[None], size=(size, size), mode="bilinear",
                              align_corners=False)[0]
        return c.to(like.dtype).expand(b, -1, -1, -1)

    def _concat(self, video: torch.Tensor, text: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        if self.concat_order == "video_coords_text":
            return torch.cat([video, coords, text], dim=1)
        return torch.cat([video, text, coords], dim=1)

    def forward(self, video: torch.Tensor, text: torch.Tensor) -> dict[str, torch.Tensor]:
        """video (B, Cv, r1, r1), text (B, D, r1, r1) -> responses (B, 1, r, r) by head name,
        plus "final": the fused map at Res3 (MRF) or R^L."""
        out: dict[str, torch.Tensor] = {}
        maps = {"S": video}
        maps["M"] = self.deconv_medium(video)  # (B, dM, r2, r2)
        maps["L"] = self.deconv_large(maps["M"])  # (B, dL, r3, r3)
        for name in self.heads:
            feat = maps[name]
            size = feat.shape[-2:]
            text_r = text if name == "S" else F.interpolate(text, size=size, mode="bilinear",
                                                            align_corners=False)
            out[name] = self.head[name](self._concat(feat, text_r, self._coords(name, feat)))
        if self.fusion is not None:
            size = out["L"].shape[-2:]
            stacked = [out[h] if h == "L" else F.interpolate(out[h], size=size, mode="bilinear",
                                                             align_corners=False)
                       for h in self.heads]
            out["final"] = self.fusion(torch.cat(stacked, dim=1))
        else:
            out["final"] = out["L"]
        return out
