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

from ..config import BaselineConfig, ModelConfig
from .attention import (KeyWordAwareAttention, LanguageGuidedVisionAttention,
                        VisionGuidedLanguageAttention, masked_max)
from .build import backbone_from_config
from .decoder import MultiResolutionDecoder
from .layers import check_shape, init_released
from .text_encoder import build_text_encoder

__all__ = ["ACGA", "build_acga"]


class ACGA(nn.Module):
    """The full model and every ablation of the paper's Table 3 and the supplement's Table 2.

    Args are the fields of :class:`acga.config.ModelConfig` (``ACGA(ModelConfig(...))``).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.visual = backbone_from_config(c)
        self.text_encoder = build_text_encoder(c.text_encoder, c.word_dim, c.text_kernel_size)
        vc_dim = c.visual_dim + c.coord_dim
        self.text_attention: nn.Module | None = None
        self.vision_attention: nn.Module | None = None
        video_dim = c.visual_dim
        if c.attention == "acga":
            if c.text_attention:
                self.text_attention = VisionGuidedLanguageAttention(vc_dim, c.word_dim)
            if c.vision_attention:
                self.vision_attention = LanguageGuidedVisionAttention(
                    vc_dim, c.word_dim, c.lgva_value_channels, c.lgva_scores, c.lgva_gate)
                video_dim = self.vision_attention.value_channels
        elif c.attention == "kwa":
            self.text_attention = KeyWordAwareAttention(vc_dim, c.word_dim)
            video_dim = vc_dim
        self.decoder = MultiResolutionDecoder(
            video_dim, c.word_dim, c.coord_dim, c.resolutions, c.heads, c.mrf, c.head_widths,
            c.deconv_dims, c.deconv_activation, c.coords, c.concat_order,
            c.decoder_impl)
        if c.init == "released":
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
        c = self.cfg
        if not c.mask_padding:
            word_mask = None  # neither the paper nor the release masks padded words
        b = f_v.shape[0]
        coords = self.decoder.coords_S.to(f_v.dtype).expand(b, -1, -1, -1)  # (B, 8, r1, r1)
        f_vc = torch.cat([f_v, coords], dim=1)
        weights: dict[str, torch.Tensor] = {}
        if c.attention == "kwa":
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
        c = self.cfg
        check_shape("words", words, (visual.shape[0], c.num_words, c.word_dim))
        f_v = self.forward_visual(visual)
        f_t = self.forward_text(words)
        video_map, text_map, weights = self.forward_attention(f_v, f_t, word_mask)
        out = self.decoder(video_map, text_map)
        if return_attention:
            for k, v in weights.items():
                out[f"att_{k}"] = v
        return out


def build_acga(cfg: ModelConfig, baseline: BaselineConfig | None = None) -> ACGA:
    """ACGA from the ``model`` section (``baseline``, the baselines' sizes, is not read)."""
    return ACGA(cfg)

