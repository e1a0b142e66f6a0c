"""CMSA + CFSA (Ye, Rochan, Liu, Wang, CVPR 2019 and TPAMI 2021) on ACGA's pipeline:
cross-modal self-attention over the word-pixel volume at two I3D levels, gated multi-level
fusion, cross-frame self-attention, bilinear upsampling of the prediction."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..backbone import I3DMixed4fEncoder, Small3DEncoder
from ..layers import check_shape, coordinate_map
from ..text_encoder import build_text_encoder
from .base import Baseline, interp

__all__ = ["CrossModalSelfAttention", "GatedMultiLevelFusion", "CrossFrameSelfAttention", "CMSA",
           "frame_levels"]


def frame_levels(encoder: nn.Module, visual: torch.Tensor) -> list[torch.Tensor]:
    """The two per-frame feature levels of the shared visual backbone, each L2-normalised per
    pixel and frame: [low (B, C_low, T', r1, r1), high (B, C_V, T', r1, r1)].

    ``i3d_cached``: low = the cached Mixed_4e input (frozen), high = Mixed_4f; ``small3d``: low =
    the last CNN stage, high = the 1x1x1 projection. With two streams, each level is the mean of
    the normalised streams, normalised again (the backbone's late fusion of F_V).
    """
    if isinstance(encoder, I3DMixed4fEncoder):
        expected = encoder.in_channels * len(encoder.streams)
        check_shape("visual features", visual,
                    (None, expected, None, encoder.feature_size, encoder.feature_size))
        lows, highs = [], []
        for stream, x in zip(encoder.streams, visual.split(encoder.in_channels, dim=1)):
            lows.append(F.normalize(x, p=2, dim=1))
            highs.append(F.normalize(stream(x), p=2, dim=1))
        if len(lows) == 1:
            return [lows[0], highs[0]]
        return [F.normalize(torch.stack(v).mean(0), p=2, dim=1) for v in (lows, highs)]
    if isinstance(encoder, Small3DEncoder):
        check_shape("clip", visual, (None, 3, None, encoder.input_size, encoder.input_size))
        low = encoder.features(visual)
        return [F.normalize(low, p=2, dim=1), F.normalize(encoder.proj(low), p=2, dim=1)]
    raise TypeError(f"no feature levels for {type(encoder).__name__}")


class CrossModalSelfAttention(nn.Module):
    """CMSA over the word-pixel volume of one frame and one visual level.

    Every (word l, pixel p) pair has the joint feature f_lp = [v_p, w_l, c_p]. q, k, v are linear
    maps of f_lp; attention runs over all L*H*W positions; y_lp = f_lp + W_o(attention)_lp
    (residual); then mean over words and a 1x1 convolution to ``out_dim`` channels.

    A linear map of a concatenation is the sum of linear maps of its parts, so q_lp = A v_p +
    B w_l + C c_p is formed by broadcasting without materialising the (L*H*W, C_v + D + 8)
    volume; equally mean_l f_lp = [v_p, mean_l w_l, c_p].
    """

    def __init__(self, visual_dim: int, word_dim: int, coord_dim: int, key_dim: int, out_dim: int):
        super().__init__()
        self.key_dim = key_dim
        self.visual = nn.Linear(visual_dim, 3 * key_dim, bias=False)
        self.word = nn.Linear(word_dim, 3 * key_dim, bias=False)
        self.coord = nn.Linear(coord_dim, 3 * key_dim)
        joint = visual_dim + word_dim + coord_dim
        self.out = nn.Linear(key_dim, joint)
        self.project = nn.Conv2d(joint, out_dim, kernel_size=1)

    def forward(self, v: torch.Tensor, w: torch.Tensor, c: torch.Tensor,
                word_mask: torch.Tensor | None = None) -> torch.Tensor:
        """v (N, C_v, H, W) visual, w (N, L, D) words, c (N, 8, H, W) coordinates; word_mask
        (N, L) bool or None (padded words then take no part as keys nor in the mean).

        Returns the word-pooled cross-modal feature (N, out_dim, H, W).
        """
        n, _, hh, ww = v.shape
        length = w.shape[1]
        pix = self.visual(v.flatten(2).transpose(1, 2)) + \
            self.coord(c.flatten(2).transpose(1, 2))  # (N, HW, 3K)
        wrd = self.word(w)  # (N, L, 3K)
        qkv = (wrd[:, :, None] + pix[:, None]).flatten(1, 2)  # (N, L*HW, 3K)
        q, k, val = qkv.chunk(3, dim=-1)
        mask = None
        if word_mask is not None:  # keys of padded words are excluded
            mask = word_mask[:, :, None].expand(-1, -1, hh * ww).reshape(n, 1, 1, length * hh * ww)
        att = F.scaled_dot_product_attention(q[:, None], k[:, None], val[:, None],
                                             attn_mask=mask)[:, 0]  # (N, L*HW, K)
        res = self.out(att).reshape(n, length, hh * ww, -1)  # (N, L, HW, C_joint)
        if word_mask is None:
            res_mean = res.mean(dim=1)
            w_mean = w.mean(dim=1)
        else:
            m = word_mask.to(res.dtype)
            denom = m.sum(dim=1).clamp(min=1)
            res_mean = (res * m[:, :, None, None]).sum(dim=1) / denom[:, None, None]
            w_mean = (w * m[:, :, None]).sum(dim=1) / denom[:, None]
        pooled = torch.cat([v, w_mean[:, :, None, None].expand(-1, -1, hh, ww), c], dim=1)
        pooled = pooled + res_mean.transpose(1, 2).reshape(n, -1, hh, ww)  # (N, C_joint, H, W)
        return self.project(pooled)


class GatedMultiLevelFusion(nn.Module):
    """GMLF: for each level i a memory gate g_i and a reset gate r_i (sigmoid of 1x1
    convolutions of X_i); the contextual controller C_i = sum_{j != i} g_j * X_j gathers the
    other levels; F_i = r_i * tanh(X_i) + (1 - r_i) * C_i; the fused map is sum_i F_i."""

    def __init__(self, levels: int, dim: int):
        super().__init__()
        self.memory = nn.ModuleList(nn.Conv2d(dim, dim, 1) for _ in range(levels))
        self.reset = nn.ModuleList(nn.Conv2d(dim, dim, 1) for _ in range(levels))

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        gated = [torch.sigmoid(m(x)) * x for m, x in zip(self.memory, xs)]
        total = torch.stack(gated).sum(dim=0)
        fused = 0
        for i, x in enumerate(xs):
            r = torch.sigmoid(self.reset[i](x))
            fused = fused + r * torch.tanh(x) + (1 - r) * (total - gated[i])
        return fused


class CrossFrameSelfAttention(nn.Module):
    """CFSA: self-attention over all T*H*W positions of the per-frame fused maps, residual;
    the annotated (middle) frame's map is returned."""

    def __init__(self, dim: int, key_dim: int):
        super().__init__()
        self.qkv = nn.Conv3d(dim, 2 * key_dim + dim, kernel_size=1)
        self.key_dim = key_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W) -> (B, C, H, W) at frame T // 2."""
        b, ch, t, hh, ww = x.shape
        q, k, v = self.qkv(x).flatten(2).transpose(1, 2).split(
            [self.key_dim, self.key_dim, ch], dim=-1)  # (B, THW, .)
        att = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        y = x + att.transpose(1, 2).reshape(b, ch, t, hh, ww)
        return y[:, :, t // 2]


class CMSA(Baseline):
    """CMSA + CFSA: Ye, Rochan, Liu, Wang, "Cross-Modal Self-Attention Network for Referring
    Image Segmentation", CVPR 2019, and its TPAMI extension to video with cross-frame
    self-attention ("Referring Segmentation in Images and Videos with Cross-Modal
    Self-Attention Network").

    Data flow (paper configuration, T' = 4 Mixed_4f time steps):

    1. Words: Enc_T (the pipeline's Conv1d + tanh or LSTM) over the word vectors -> w (B, L, D).
    2. Two visual levels per frame (:func:`frame_levels`): Mixed_4e (528, frozen cache) and
       Mixed_4f (832), each (B, C, T', 32, 32), L2-normalised; coordinates C (8).
    3. Per level and frame: :class:`CrossModalSelfAttention` over the 20 x 32 x 32 word-pixel
       volume of [v, w, c] -> mean over words -> X (``baseline.cmsa_dim``).
    4. Per frame: :class:`GatedMultiLevelFusion` of the two levels.
    5. :class:`CrossFrameSelfAttention` over the T' x 32 x 32 positions; annotated frame.
    6. Conv3x3 -> R_S (32x32); R_M, R_L by bilinear interpolation (CMSA upsamples its
       prediction bilinearly to the image size); loss at full resolution (``heads: [L]``).

    Our choices: the paper's three DeepLab-101 levels (res3-res5) become the two I3D levels the
    cache provides (a third, the decoder's upsampled map, would make the word-pixel volume 16x
    larger: 327,680 positions at 128x128); word2vec vectors through Enc_T stand in for CMSA's
    learned word embeddings; the attention projections are ``baseline.cmsa_key_dim`` = 64 wide
    so the 20,480-position attention runs on a CPU; GMLF is written from the paper's equations as we
    read them (gates from 1x1 convolutions).

    Args: those of :class:`~acga.models.baselines.base.Baseline`; ``low_dim`` and
    ``visual_dim``, the channels of the two levels (:func:`frame_levels` of ``visual``: 528 and
    832 for I3D); ``coord_dim``; ``resolutions``; ``text_encoder`` and ``text_kernel_size``
    (Enc_T); ``dim`` and ``key_dim``, the widths ``baseline.cmsa_dim`` and
    ``baseline.cmsa_key_dim``. Defaults: the ``baselines/cmsa`` configuration.
    """

    def __init__(self, visual: nn.Module | None = None, *, low_dim: int = 528,
                 num_words: int = 20, word_dim: int = 300, visual_dim: int = 832,
                 coord_dim: int = 8, resolutions: tuple[int, int, int] = (32, 128, 512),
                 text_encoder: str = "conv1d", text_kernel_size: int = 3,
                 heads: tuple[str, ...] = ("L",), mrf: bool = False, mask_padding: bool = False,
                 init: str = "released", dim: int = 512, key_dim: int = 64):
        super().__init__(visual, num_words=num_words, word_dim=word_dim, heads=heads, mrf=mrf,
                         mask_padding=mask_padding, init=init)
        self.dim = dim
        self.resolutions = tuple(resolutions)
        self.text_encoder = build_text_encoder(text_encoder, word_dim, text_kernel_size)
        self.cmsa = nn.ModuleList(
            CrossModalSelfAttention(d, word_dim, coord_dim, key_dim, dim)
            for d in (low_dim, visual_dim))
        self.fusion_levels = GatedMultiLevelFusion(2, dim)
        self.cfsa = CrossFrameSelfAttention(dim, key_dim)
        self.predict = nn.Conv2d(dim, 1, kernel_size=3, padding=1)
        self.init_heads()
        self.register_buffer("coords_S", coordinate_map(resolutions[0], resolutions[0]),
                             persistent=False)
        self.maybe_init(self.text_encoder)
        self.maybe_init(self.cmsa)

    def responses(self, visual: torch.Tensor, words: torch.Tensor,
                  word_mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        b = visual.shape[0]
        mask = word_mask
        w = self.text_encoder(words)  # (B, L, D)
        levels = frame_levels(self.visual, visual)  # [(B, C_i, T', r1, r1)]
        t, r = levels[0].shape[2], levels[0].shape[-1]
        # frames into the batch: (B*T', ...)
        w_bt = w.repeat_interleave(t, dim=0)
        m_bt = None if mask is None else mask.repeat_interleave(t, dim=0)
        coords = self.coords_S.to(w.dtype).expand(b * t, -1, -1, -1)
        xs = [att(lv.transpose(1, 2).flatten(0, 1), w_bt, coords, m_bt)  # (B*T', cmsa, r1, r1)
              for att, lv in zip(self.cmsa, levels)]
        fused = self.fusion_levels(xs).reshape(b, t, self.dim, r, r).transpose(1, 2)
        y = self.cfsa(fused)  # (B, cmsa, r1, r1)
        r_s = self.predict(y)  # (B, 1, r1, r1)
        return {"S": r_s, "M": interp(r_s, self.resolutions[1]),
                "L": interp(r_s, self.resolutions[2])}

