"""The multi-resolution feature decoder (section 3.3, eq. 10-13) with multi-resolution fusion.

Two implementations share one set of parameters:

- ``reference``: eq. 10-13 as written. Each head's first convolution runs over the concatenation
  [video_r, C_r, Interp(F_TA)] at its resolution, so at Res3 (512x512) it convolves 300 text
  channels that are only a bilinear upsampling of a 32x32 map.
- ``fast`` (the default): the same function, computed in a cheaper order. The first convolution is
  linear in its input, so it splits into a video term, a coordinate term and a text term.
  The coordinate term is a constant map (C does not depend on the sample), computed once per
  forward at batch 1. The text term uses that bilinear interpolation is linear and per channel:
  every 3x3 tap's 300 -> C_out channel mixing is applied at 32x32, and the upsampling and the
  tap's one-pixel shift (zero outside the map, as the convolution's padding) become two small
  matrix products with the interpolation matrix. At Res3 this replaces about 45 of the 65 GMAC
  of that convolution by about 2. Without an activation inside Deconv, the L head's video term
  Conv3x3(Conv3x3(ConvT(F_V^M))) is one transposed convolution with a composed 12x12 kernel,
  exact except on a two-pixel border that is recomputed directly. Everything runs channels-last (one memory layout end to
  end: the transposed convolutions are about twice as fast in it on CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import (Deconv, FCNHead, check_choice, coordinate_map, fuse_responses, mrf_fusion,
                     ordered_heads)

__all__ = ["MultiResolutionDecoder", "interpolation_matrix"]

_INDEX = {"S": 0, "M": 1, "L": 2}
_CL = torch.channels_last


def interpolation_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """U (size_out, size_in) with Interp(x) = U x along one axis, for ``F.interpolate(...,
    mode="bilinear", align_corners=False)``: obtained by interpolating the identity, so it has
    exactly PyTorch's weights and border clamping. float64."""
    eye = torch.eye(size_in, dtype=torch.float64)[None, :, :, None]  # channel k holds e_k
    up = F.interpolate(eye, size=(size_out, 1), mode="bilinear", align_corners=False)
    return up[0, :, :, 0].T.contiguous()


def shifted_interpolation(size_in: int, size_out: int) -> torch.Tensor:
    """(3, size_out, size_in): row y of slice k is row y + k - 1 of U, zero past the borders; the
    interpolation followed by the 3x3 convolution's tap k (with its zero padding)."""
    padded = F.pad(interpolation_matrix(size_in, size_out), (0, 0, 1, 1))
    return torch.stack([padded[k:k + size_out] for k in range(3)])


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
        implementation: ``fast`` or ``reference`` (see the module docstring); switchable after
            construction through the ``implementation`` attribute.
    """

    def __init__(self, video_dim: int, text_dim: int, coord_dim: int = 8,
                 resolutions: tuple[int, int, int] = (32, 128, 512),
                 heads: tuple[str, ...] = ("S", "M", "L"), mrf: bool = True,
                 head_widths: tuple[int, int, int] = (256, 128, 64),
                 deconv_dims: tuple[int, int] = (256, 128), deconv_activation: bool = False,
                 coords: str = "interp", concat_order: str = "video_coords_text",
                 implementation: str = "fast"):
        super().__init__()
        if coord_dim != 8:
            raise ValueError(f"coord_dim = {coord_dim}: the coordinate map has 8 channels")
        self.resolutions = tuple(resolutions)
        self.heads = ordered_heads(heads)
        self.mrf = mrf
        self.deconv_activation = deconv_activation
        self.coords = check_choice("decoder coords", coords, ("interp", "native"))
        self.concat_order = check_choice("decoder concat_order", concat_order,
                                         ("video_coords_text", "video_text_coords"))
        check_choice("decoder implementation", implementation, ("fast", "reference"))
        self.deconv_medium = Deconv(video_dim, deconv_dims[0], deconv_activation)
        self.deconv_large = Deconv(deconv_dims[0], deconv_dims[1], deconv_activation)
        in_dims = {"S": video_dim, "M": deconv_dims[0], "L": deconv_dims[1]}
        self.head = nn.ModuleDict({
            h: FCNHead(in_dims[h] + text_dim + coord_dim, head_widths[_INDEX[h]]) for h in self.heads
        })
        self.fusion = mrf_fusion(len(self.heads)) if mrf else None
        # Coordinates are constants: buffers (not saved) so they follow .to(device).
        for name, size in zip(("S", "M", "L"), self.resolutions):
            self.register_buffer(f"coords_{name}", coordinate_map(size, size), persistent=False)
        self.implementation = implementation
        # The fast path's upsampling-with-shift matrices, (3, r, r1) for M and L.
        for name in ("M", "L"):
            size = self.resolutions[_INDEX[name]]
            self.register_buffer(f"interp_{name}", shifted_interpolation(self.resolutions[0], size)
                                 .float(), persistent=False)

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
        if self.implementation == "reference":
            return self.forward_reference(video, text)
        if self.implementation != "fast":
            raise ValueError(f"decoder implementation {self.implementation!r}: use 'fast' or 'reference'")
        return self.forward_fast(video, text)

    def forward_reference(self, video: torch.Tensor, text: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 10-13 as written: concatenate, then convolve, at every resolution."""
        # The attention modules return their maps as transposed views; one copy here instead of
        # a layout conversion inside every interpolation and concatenation.
        video, text = video.contiguous(), text.contiguous()
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
        return self._fuse(out)

    def forward_fast(self, video: torch.Tensor, text: torch.Tensor) -> dict[str, torch.Tensor]:
        """The same function as :meth:`forward_reference`, channels-last, with each head's first
        convolution split into video, coordinate and text terms (module docstring)."""
        video = video.contiguous(memory_format=_CL)
        maps = {"S": video}
        maps["M"] = self.deconv_medium(video).contiguous(memory_format=_CL)
        # Without the ReLU inside Deconv, F_V^L = Conv3x3(ConvT(F_V^M)) feeds the L head's first
        # convolution with nothing non-linear between: the three become one (_large_video_term).
        fuse_large = not self.deconv_activation and maps["M"].shape[-1] >= 3
        if not fuse_large:
            maps["L"] = self.deconv_large(maps["M"]).contiguous(memory_format=_CL)
        out: dict[str, torch.Tensor] = {}
        for name in self.heads:
            head = self.head[name]
            first = head[0]
            video_dim = self.deconv_large[-1].out_channels if name == "L" else maps[name].shape[1]
            w_video, w_coords, w_text = self._split_weight(first.weight, video_dim)
            if name == "L" and fuse_large:
                x = self._large_video_term(maps["M"], w_video, first.bias)
            else:
                x = F.conv2d(maps[name], w_video, first.bias, padding=1)  # (B, Co, r, r)
            coords = self._coords(name, x[:1]).contiguous(memory_format=_CL)  # (1, 8, r, r)
            x = x + F.conv2d(coords, w_coords, padding=1)  # the same for every sample
            x = x + self._text_term(text, w_text, name)
            for layer in list(head)[1:]:
                x = layer(x)
            out[name] = x
        return self._fuse(out)

    def _large_video_term(self, medium: torch.Tensor, w_head: torch.Tensor,
                          b_head: torch.Tensor | None) -> torch.Tensor:
        """Conv3x3_head(Conv3x3(ConvT(F_V^M))) (video term of the L head's first convolution)
        as one transposed convolution, then the border the zero paddings change, recomputed.

        medium (B, dM, r2, r2) -> (B, Co, r3, r3). With kernels W_T (8x8, stride 4, padding 2),
        W_B and W_C (3x3, padding 1), the composition is a transposed convolution of stride 4
        with the 12x12 kernel W_T * W_B * W_C and padding 4, exact wherever the two zero
        paddings play no part: all but the two outermost rows and columns. Those are recomputed
        from thin strips of the input (2 rows or columns of F_V^M reach them).
        """
        convt, conv = self.deconv_large[0], self.deconv_large[-1]
        kernel, bias = self._large_kernel(convt.weight, convt.bias, conv.weight, conv.bias,
                                          w_head, b_head)
        out = F.conv_transpose2d(medium, kernel, bias, stride=4, padding=4)

        def chain(x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(conv(convt(x)), w_head, b_head, padding=1)

        # Output rows 0-3 of ConvT depend on input rows 0-1 only; after the two 3x3
        # convolutions rows 0-1 of a strip are those of the whole map (likewise at each side).
        out[:, :, :2, :] = chain(medium[:, :, :2, :])[:, :, :2, :]
        out[:, :, -2:, :] = chain(medium[:, :, -2:, :])[:, :, -2:, :]
        out[:, :, :, :2] = chain(medium[:, :, :, :2])[:, :, :, :2]
        out[:, :, :, -2:] = chain(medium[:, :, :, -2:])[:, :, :, -2:]
        return out

    @staticmethod
    def _large_kernel(w_t: torch.Tensor, b_t: torch.Tensor | None, w_b: torch.Tensor,
                      b_b: torch.Tensor | None, w_c: torch.Tensor, b_c: torch.Tensor | None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """The 12x12 transposed-convolution kernel (C_in, Co, 12, 12) and the bias (Co,) of
        ConvT(w_t, b_t) -> Conv3x3(w_b, b_b) -> Conv3x3(w_c, b_c), away from the borders."""
        # W_BC[o, i, e] = sum over a + c = e of W_C[o, :, c] W_B[:, i, a]: (Co, C_mid, 5, 5)
        w_bc = F.conv_transpose2d(w_b.transpose(0, 1), w_c.transpose(0, 1)).transpose(0, 1)
        # K[j, o, k'] = sum over k - e + 4 = k' of W_T[j, :, k] W_BC[o, :, e]: (C_in, Co, 12, 12)
        kernel = F.conv_transpose2d(w_t, w_bc.transpose(0, 1).flip(-2, -1))
        bias = torch.zeros(w_c.shape[0], dtype=w_c.dtype, device=w_c.device)
        if b_t is not None:
            bias = bias + w_bc.sum(dim=(2, 3)) @ b_t
        if b_b is not None:
            bias = bias + w_c.sum(dim=(2, 3)) @ b_b
        if b_c is not None:
            bias = bias + b_c
        return kernel, bias

    def _split_weight(self, weight: torch.Tensor, video_dim: int
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A head's first-convolution weight (Co, Cv + 8 + D, 3, 3) -> its video, coordinate and
        text slices, in the order of :meth:`_concat`."""
        v = weight[:, :video_dim]
        if self.concat_order == "video_coords_text":
            return v, weight[:, video_dim:video_dim + 8], weight[:, video_dim + 8:]
        d = weight.shape[1] - video_dim - 8
        return v, weight[:, video_dim + d:], weight[:, video_dim:video_dim + d]

    def _text_term(self, text: torch.Tensor, weight: torch.Tensor, name: str) -> torch.Tensor:
        """Conv3x3(Interp_r(text)) with zero padding, without the upsampled text.

        text (B, D, h, w) at Res1, weight (Co, D, 3, 3) -> (B, Co, r, r) channels-last, where
        out[y, x] = sum over taps (ky, kx) of Uy[ky] (W[ky, kx] text) Ux[kx]^T and U[k] is the
        interpolation matrix shifted by the tap (``shifted_interpolation``).
        """
        if name == "S":
            return F.conv2d(text, weight, padding=1).contiguous(memory_format=_CL)
        b, d, h, w = text.shape
        co = weight.shape[0]
        u = getattr(self, f"interp_{name}").to(text.dtype)  # (3, r, h); square maps: same for x
        r = u.shape[1]
        # every tap's channel mixing at low resolution: (B, ky, kx, Co, h, w)
        mixed = F.conv2d(text, weight.permute(2, 3, 0, 1).reshape(9 * co, d, 1, 1))
        mixed = mixed.view(b, 3, 3, co, h, w)
        # along x: sum over kx and j of mixed[.., kx, .., i, j] Ux[kx, X, j] -> (B, ky, Co, h, X)
        rows = mixed.permute(0, 1, 3, 4, 2, 5).reshape(b * 3 * co * h, 3 * w)
        z = rows @ u.permute(0, 2, 1).reshape(3 * w, r)
        # along y: sum over ky and i of Uy[ky, Y, i] z[.., ky, .., i, X] -> (B, Y, X, Co)
        z = z.view(b, 3, co, h, r).permute(0, 1, 3, 4, 2).reshape(b, 3 * h, r * co)
        out = u.permute(1, 0, 2).reshape(r, 3 * h) @ z  # (B, r, r * Co)
        return out.view(b, r, r, co).permute(0, 3, 1, 2)  # channels-last view

    def _fuse(self, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out["final"] = fuse_responses(out, self.heads, self.fusion)
        return out
