"""Gavrilyuk, Ghodrati, Li, Snoek, "Actor and Action Video Segmentation from a Sentence",
CVPR 2018, on ACGA's pipeline: dynamic 1x1 filters generated from the sentence at each of the
three resolutions (:class:`Gavrilyuk`), and its RGB + Flow form, two such networks averaged
(:class:`GavrilyukTwoStream`). docs/baselines.md gives the parameter arithmetic."""

from __future__ import annotations

import torch
from torch import nn

from ..attention import masked_max
from ..layers import Deconv, check_shape, coordinate_map
from ..text_encoder import build_text_encoder
from .base import Baseline, DynamicFilter

__all__ = ["Gavrilyuk", "GavrilyukTwoStream"]


class Gavrilyuk(Baseline):
    """Gavrilyuk, Ghodrati, Li, Snoek, "Actor and Action Video Segmentation from a Sentence",
    CVPR 2018: one stream (RGB or flow).

    - Sentence: word2vec (B, L, 300) -> Conv1d(300, 300, k=2) + tanh (``text_kernel_size: 2``)
      -> max over words -> s (B, 300).
    - Video: I3D Mixed_4f (trainable), temporal mean, L2 -> F_V; V_S = [F_V, C] (840, 32x32).
    - Decoder: V_M = Deconv(V_S) (256 @ 128), V_L = Deconv(V_M) (128 @ 512); Deconv =
      ConvTranspose(k8, s4, p2) + Conv3x3, the block ACGA took from this paper.
    - Dynamic filters, one per resolution r: f_r = tanh(W_r s + b_r), R_r = f_r * V_r (1x1,
      no bias). Loss at every resolution (``heads: [S, M, L]``), plain logistic loss.

    Our choices where the paper is silent: coordinates only at Res1 (the 840-channel map the
    first deconvolution reads); a ReLU between the transposed convolution and the 3x3
    convolution when ``deconv_activation`` (the baseline configs set it; without it the decoder
    would be linear); ``init: released`` draws the filter generators N(0, 0.02).

    Trainable parameters at the paper configuration: Mixed_4f 1,799,168 + Conv1d 180,300 +
    Deconvs 14,352,896 + 2,244,864 + generators 301 x (840 + 256 + 128) = 368,424
    = 18,945,652, the supplement's Table 1 count exactly.

    Args: those of :class:`~acga.models.baselines.base.Baseline`; ``visual_dim`` and
    ``coord_dim`` (V_S has their sum of channels), ``resolutions``, ``text_encoder`` and
    ``text_kernel_size`` (Enc_T), ``deconv_dims`` and ``deconv_activation`` (the two Deconvs).
    Defaults: the ``baselines/gavrilyuk_rgb`` configuration.
    """

    def __init__(self, visual: nn.Module | None = None, *, num_words: int = 20,
                 word_dim: int = 300, visual_dim: int = 832, coord_dim: int = 8,
                 resolutions: tuple[int, int, int] = (32, 128, 512),
                 text_encoder: str = "conv1d", text_kernel_size: int = 2,
                 heads: tuple[str, ...] = ("S", "M", "L"), mrf: bool = False,
                 deconv_dims: tuple[int, int] = (256, 128), deconv_activation: bool = True,
                 mask_padding: bool = False, init: str = "released"):
        super().__init__(visual, num_words=num_words, word_dim=word_dim, heads=heads, mrf=mrf,
                         mask_padding=mask_padding, init=init)
        self.text_encoder = build_text_encoder(text_encoder, word_dim, text_kernel_size)
        dims = {"S": visual_dim + coord_dim, "M": deconv_dims[0], "L": deconv_dims[1]}
        self.init_heads()
        self.deconv_medium = Deconv(dims["S"], dims["M"], deconv_activation)
        self.deconv_large = Deconv(dims["M"], dims["L"], deconv_activation)
        # R_L is always computed ("final"); S and M only when they are heads.
        self.filters = nn.ModuleDict({
            h: DynamicFilter(word_dim, dims[h], "tanh")
            for h in ("S", "M", "L") if h in self.heads or h == "L"})
        self.register_buffer("coords_S", coordinate_map(resolutions[0], resolutions[0]),
                             persistent=False)
        self.maybe_init(self.text_encoder)
        self.maybe_init(self.filters)

    def forward_text(self, words: torch.Tensor, word_mask: torch.Tensor | None = None) -> torch.Tensor:
        """words (B, L, D) -> sentence s (B, D): Enc_T then max over words."""
        mask = word_mask if self.mask_padding else None
        return masked_max(self.text_encoder(words), mask)

    def responses(self, visual: torch.Tensor, words: torch.Tensor,
                  word_mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        s = self.forward_text(words, word_mask)  # (B, D)
        f_v = self.visual(visual)  # (B, 832, r1, r1)
        v = {"S": torch.cat([f_v, self.coords_S.to(f_v.dtype).expand(f_v.shape[0], -1, -1, -1)], 1)}
        v["M"] = self.deconv_medium(v["S"])  # (B, 256, r2, r2)
        v["L"] = self.deconv_large(v["M"])  # (B, 128, r3, r3)
        return {h: f(v[h], s) for h, f in self.filters.items()}


class GavrilyukTwoStream(nn.Module):
    """Gavrilyuk et al. RGB + Flow: two complete single-stream networks (``rgb``, ``flow``), each
    with its own Mixed_4f, sentence encoder, filters and decoder; their responses are averaged.

    This is what makes the supplement's count exactly twice the RGB one (37,891,304 =
    2 x 18,945,652). Input: (B, 2*528, T', r1, r1), RGB channels first. We train the two
    jointly through the averaged logits (the paper's training schedule of the streams is not
    in ACGA's comparison).

    Args:
        rgb, flow: the two single-stream networks (each with one Mixed_4f on cached features).
        in_channels: channels of each stream's cached features (528, Mixed_4e).
    """

    def __init__(self, rgb: Gavrilyuk, flow: Gavrilyuk, in_channels: int = 528):
        super().__init__()
        self.in_channels = in_channels
        self.rgb = rgb
        self.flow = flow

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        check_shape("visual features", visual, (None, 2 * self.in_channels, None, None, None))
        rgb, flow = visual.split(self.in_channels, dim=1)
        a = self.rgb(rgb, words, word_mask)
        b = self.flow(flow, words, word_mask)
        return {k: (a[k] + b[k]) / 2 for k in a}

