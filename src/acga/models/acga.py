"""ACGA: Asymmetric Cross-Guided Attention network (Wang, Deng, Yan, Tao, ICCV 2019).

Data flow (paper configuration, B = batch):

    words (B, 20, 300) -> Enc_T -> F_T (B, 20, 300)
    Mixed_4e features (B, 528, 4, 32, 32) -> Mixed_4f (trainable) -> (B, 832, 4, 32, 32)
        -> temporal mean -> per-pixel L2 -> F_V (B, 832, 32, 32); F_VC = [F_V, C] (B, 840, 32, 32)
    VGLA(F_VC, F_T) -> F_TA (B, 300, 32, 32); LGVA(F_VC, F_T) -> F_VA (B, 840, 32, 32)
    decoder -> R_S (B, 1, 32, 32), R_M (B, 1, 128, 128), R_L (B, 1, 512, 512), fused map.

How we differ from the authors' released code is a config switch each (``released_code.yaml``
reproduces the release); docs/faithfulness.md lists them.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import (KeyWordAwareAttention, LanguageGuidedVisionAttention,
                        VisionGuidedLanguageAttention, masked_max)
from .backbone import I3DMixed4fEncoder
from .decoder import MultiResolutionDecoder
from .layers import check_shape, init_released
from .text_encoder import build_text_encoder

__all__ = ["ACGA"]


class ACGA(nn.Module):
    """The full model and every ablation of the paper's Table 3 and the supplement's Table 2.

    ``ACGA()`` is the paper's configuration; :func:`acga.models.build.build_acga` makes one from
    a config's ``model`` section (each argument is the :class:`acga.config.ModelConfig` field of
    the same name, documented there).

    Args:
        visual: the visual encoder making F_V (B, visual_dim, r1, r1) (default: Mixed_4f on
            cached Mixed_4e features, :class:`~acga.models.backbone.I3DMixed4fEncoder`).
        num_words, word_dim: the query's shape (B, num_words, word_dim).
        visual_dim, coord_dim: channels of F_V and of the coordinate map C.
        text_encoder, text_kernel_size: Enc_T, ``conv1d`` (with that kernel) or ``lstm``.
        attention: ``acga`` (VGLA and/or LGVA, per ``text_attention``, ``vision_attention``),
            ``kwa`` (Key-Word-Aware attention) or ``none`` (the Baseline).
        lgva_value_channels, lgva_scores, lgva_gate: LGVA's variants (paper or release).
        mask_padding: whether padded words are masked out (neither paper nor release does).
        resolutions, heads, mrf, head_widths, deconv_dims, deconv_activation, coords,
        concat_order, decoder_impl: the multi-resolution decoder's
            (:class:`~acga.models.decoder.MultiResolutionDecoder`).
        init: ``released`` (Linear N(0, 0.02) in Enc_T and the attention) or ``pytorch``.
    """

    def __init__(self, visual: nn.Module | None = None, *, num_words: int = 20,
                 word_dim: int = 300, visual_dim: int = 832, coord_dim: int = 8,
                 text_encoder: str = "conv1d", text_kernel_size: int = 3,
                 attention: str = "acga", text_attention: bool = True,
                 vision_attention: bool = True, lgva_value_channels: int | None = None,
                 lgva_scores: str = "query_key", lgva_gate: str = "linear",
                 mask_padding: bool = False, resolutions: tuple[int, int, int] = (32, 128, 512),
                 heads: tuple[str, ...] = ("S", "M", "L"), mrf: bool = True,
                 head_widths: tuple[int, int, int] = (256, 128, 64),
                 deconv_dims: tuple[int, int] = (256, 128), deconv_activation: bool = False,
                 coords: str = "interp", concat_order: str = "video_coords_text",
                 init: str = "released", decoder_impl: str = "fast"):
        super().__init__()
        if attention not in ("acga", "kwa", "none"):
            raise ValueError(f"attention = {attention!r}: use 'acga', 'kwa' or 'none'")
        self.num_words, self.word_dim = num_words, word_dim
        self.attention, self.mask_padding = attention, mask_padding
        # Creation order is the parameters' order and the draw order of their initial weights.
        self.visual = visual if visual is not None else I3DMixed4fEncoder()
        self.text_encoder = build_text_encoder(text_encoder, word_dim, text_kernel_size)
        vc_dim = visual_dim + coord_dim
        self.text_attention: nn.Module | None = None
        self.vision_attention: nn.Module | None = None
        video_dim = visual_dim
        if attention == "acga":
            if text_attention:
                self.text_attention = VisionGuidedLanguageAttention(vc_dim, word_dim)
            if vision_attention:
                self.vision_attention = LanguageGuidedVisionAttention(
                    vc_dim, word_dim, lgva_value_channels, lgva_scores, lgva_gate)
                video_dim = self.vision_attention.value_channels
        elif attention == "kwa":
            self.text_attention = KeyWordAwareAttention(vc_dim, word_dim)
            video_dim = vc_dim
        self.decoder = MultiResolutionDecoder(
            video_dim, word_dim, coord_dim, resolutions, heads, mrf, head_widths,
            deconv_dims, deconv_activation, coords, concat_order, decoder_impl)
        if init == "released":
            init_released(self.text_encoder)
            for m in (self.text_attention, self.vision_attention):
                if m is not None:
                    init_released(m)

    # -- stages ------------------------------------------------------------------------------
    def forward_visual(self, visual: torch.Tensor) -> torch.Tensor:
        """Backbone input -> F_V (B, C_V, r1, r1), temporally averaged and L2-normalised."""
        return self.visual(visual)

    def forward_text(self, words: torch.Tensor) -> torch.Tensor:
        """words (B, L, D) -> F_T (B, L, D)."""
        return self.text_encoder(words)

    def forward_attention(self, f_v: torch.Tensor, f_t: torch.Tensor,
                          word_mask: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """F_V (B, C_V, r1, r1), F_T (B, L, D) -> (video map, text map, attention weights)."""
        if not self.mask_padding:
            word_mask = None  # neither the paper nor the release masks padded words
        b = f_v.shape[0]
        coords = self.decoder.coords_S.to(f_v.dtype).expand(b, -1, -1, -1)  # (B, 8, r1, r1)
        f_vc = torch.cat([f_v, coords], dim=1)
        weights: dict[str, torch.Tensor] = {}
        if self.attention == "kwa":
            text_map, video_map, weights["words"] = self.text_attention(f_vc, f_t, word_mask)
            return video_map, text_map, weights
        if self.text_attention is not None:
            text_map, weights["words"] = self.text_attention(f_vc, f_t, word_mask)
        else:  # Baseline / F_VA only: the max-pooled sentence tiled over the map
            pooled = masked_max(f_t, word_mask)  # (B, D)
            text_map = pooled[:, :, None, None].expand(-1, -1, *f_v.shape[-2:])
        if self.vision_attention is not None:
            video_map, weights["pixels"] = self.vision_attention(f_vc, f_t, word_mask)
        else:
            video_map = f_v
        return video_map, text_map, weights

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        """Args:
            visual: cached Mixed_4e features (B, S*528, T', r1, r1) (S = 2 streams for
                rgb+flow, concatenated on channels), or a clip (B, 3, T, H, W) for ``small3d``.
            words: word vectors (B, L, D).
            word_mask: (B, L) bool, True at real words (used only with ``mask_padding``).

        Returns:
            dict of responses (logits) (B, 1, r, r): one per head ("S", "M", "L") and "final"
            (the fused map with MRF, else R_L); with ``return_attention`` also "att_words"
            (B, r1*r1, L) and "att_pixels" (B, r1*r1, r1*r1) where computed.
        """
        check_shape("words", words, (visual.shape[0], self.num_words, self.word_dim))
        f_v = self.forward_visual(visual)
        f_t = self.forward_text(words)
        video_map, text_map, weights = self.forward_attention(f_v, f_t, word_mask)
        out = self.decoder(video_map, text_map)
        if return_attention:
            for k, v in weights.items():
                out[f"att_{k}"] = v
        return out

