"""The asymmetric cross-guided attention (section 3.2) and the Key-Word-Aware alternative.

- :class:`VisionGuidedLanguageAttention` (VGLA, eq. 3-4): for every pixel, a softmax over the
  words of (pixel . word) / sqrt(D_T), and the weighted sum of the word features -> F_TA.
- :class:`LanguageGuidedVisionAttention` (LGVA, eq. 5-8): a gate from the max-pooled sentence
  multiplies the query and key projections of F_VC; softmax(Q K^T / sqrt(D_V)) V over all pixels
  -> F_VA.
- :class:`KeyWordAwareAttention`: Shi et al., "Key-Word-Aware Network for Referring Expression
  Image Segmentation", ECCV 2018, written from that paper's description (supplement Table 2).

All take F_VC as (B, C, H, W) and F_T as (B, L, D) and return maps as (B, C', H, W).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import check_choice

__all__ = [
    "VisionGuidedLanguageAttention",
    "LanguageGuidedVisionAttention",
    "KeyWordAwareAttention",
    "masked_max",
]


def masked_max(words: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Max over the word axis of (B, L, D); padded positions (mask False) excluded if given."""
    if mask is not None:
        words = words.masked_fill(~mask[:, :, None], float("-inf"))
    return words.max(dim=1).values


class VisionGuidedLanguageAttention(nn.Module):
    """VGLA (eq. 3-4). Linear(C_VC -> D_T) on every pixel; softmax over words; weighted words."""

    def __init__(self, visual_dim: int, text_dim: int):
        super().__init__()
        self.text_dim = text_dim
        self.video_to_text = nn.Linear(visual_dim, text_dim)

    def forward(self, f_vc: torch.Tensor, f_t: torch.Tensor,
                word_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """f_vc (B, C, H, W), f_t (B, L, D), word_mask (B, L) bool or None.

        Returns F_TA (B, D, H, W) and the word weights (B, H*W, L).
        """
        b, _, h, w = f_vc.shape
        pixels = self.video_to_text(f_vc.flatten(2).transpose(1, 2))  # (B, HW, D)
        scores = pixels @ f_t.transpose(1, 2) / math.sqrt(self.text_dim)  # (B, HW, L)
        if word_mask is not None:
            scores = scores.masked_fill(~word_mask[:, None, :], float("-inf"))
        weights = scores.softmax(dim=-1)
        f_ta = (weights @ f_t).transpose(1, 2).reshape(b, self.text_dim, h, w)
        return f_ta, weights


class LanguageGuidedVisionAttention(nn.Module):
    """LGVA (eq. 5-8): gated self-attention over all pixels of F_VC.

    Args:
        visual_dim: channels of F_VC (D_V; 840 in the paper configuration).
        text_dim: channels of F_T.
        value_channels: how many of the value outputs to return (None: all; the release: 832).
        scores: ``query_key`` = softmax(Q K^T) as eq. 8; ``key_query`` = softmax(K Q^T), the
            release's indexing (rows indexed by the key projection).
        gate: ``linear`` (eq. 5) or ``sigmoid`` applied to the gate.

    The bias of the projection that indexes the softmax's columns (``key`` for ``query_key``,
    ``query`` for ``key_query``) adds q_i . (b * gate) to every entry of row i, a constant that the
    softmax over that row cancels: it has no effect on the output and no gradient. It is kept
    because the paper's parameter count and the release's checkpoints include it.
    """

    def __init__(self, visual_dim: int, text_dim: int, value_channels: int | None = None,
                 scores: str = "query_key", gate: str = "linear"):
        super().__init__()
        self.visual_dim = visual_dim
        self.value_channels = value_channels or visual_dim
        self.scores = check_choice("LGVA scores", scores, ("query_key", "key_query"))
        self.gate_activation = check_choice("LGVA gate", gate, ("linear", "sigmoid"))
        self.query = nn.Linear(visual_dim, visual_dim)
        self.key = nn.Linear(visual_dim, visual_dim)
        self.value = nn.Linear(visual_dim, visual_dim)
        self.text_to_video = nn.Linear(text_dim, visual_dim)

    def forward(self, f_vc: torch.Tensor, f_t: torch.Tensor,
                word_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """f_vc (B, C, H, W), f_t (B, L, D). Returns F_VA (B, C', H, W), weights (B, HW, HW)."""
        b, c, h, w = f_vc.shape
        gate = self.text_to_video(masked_max(f_t, word_mask))[:, None, :]  # (B, 1, C)
        if self.gate_activation == "sigmoid":
            gate = gate.sigmoid()
        pixels = f_vc.flatten(2).transpose(1, 2)  # (B, HW, C)
        q = self.query(pixels) * gate
        k = self.key(pixels) * gate
        v = self.value(pixels)
        if self.scores == "query_key":
            logits = q @ k.transpose(1, 2)
        else:
            logits = k @ q.transpose(1, 2)
        weights = (logits / math.sqrt(self.visual_dim)).softmax(dim=-1)  # (B, HW, HW)
        f_va = weights @ v[:, :, : self.value_channels]  # (B, HW, C')
        return f_va.transpose(1, 2).reshape(b, self.value_channels, h, w), weights


class KeyWordAwareAttention(nn.Module):
    """Key-Word-Aware attention (Shi et al., ECCV 2018), in place of VGLA + LGVA.

    From the paper's description: (1) *query attention*: every region i weights every word t by
    an additive attention a_{i,t} = softmax_t(w^T tanh(W_v v_i + W_q q_t)); the region's query
    feature is sum_t a_{i,t} q_t (takes F_TA's place). (2) *key-word-aware visual context*: each
    word gathers the regions that attend to it, c_t = sum_i a_{i,t} v_i / sum_i a_{i,t}, and each
    region receives the context of its key words, x_i = sum_t a_{i,t} c_t. The paper concatenates
    v_i, the query feature and x_i for its classifier; to keep ACGA's decoder unchanged we add
    x_i to the visual feature (a residual), so the decoder sees the same channel counts as with
    LGVA (documented in docs/faithfulness.md). Hidden size of the additive attention: D_T.
    """

    def __init__(self, visual_dim: int, text_dim: int):
        super().__init__()
        self.visual_proj = nn.Linear(visual_dim, text_dim)
        self.word_proj = nn.Linear(text_dim, text_dim)
        # No bias: a constant added to every word's logit cancels in the softmax over words, so
        # its gradient is zero by algebra and it could never learn.
        self.score = nn.Linear(text_dim, 1, bias=False)
        self.text_dim = text_dim

    def forward(self, f_vc: torch.Tensor, f_t: torch.Tensor,
                word_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the query feature (B, D, H, W), the visual feature with key-word context
        (B, C, H, W) and the word weights (B, HW, L)."""
        b, c, h, w = f_vc.shape
        pixels = f_vc.flatten(2).transpose(1, 2)  # (B, HW, C)
        hidden = torch.tanh(self.visual_proj(pixels)[:, :, None, :] + self.word_proj(f_t)[:, None, :, :])
        logits = self.score(hidden).squeeze(-1)  # (B, HW, L)
        if word_mask is not None:
            logits = logits.masked_fill(~word_mask[:, None, :], float("-inf"))
        weights = logits.softmax(dim=-1)
        query_feature = weights @ f_t  # (B, HW, D)
        word_context = weights.transpose(1, 2) @ pixels  # (B, L, C)
        word_context = word_context / weights.sum(dim=1)[:, :, None].clamp_min(1e-6)
        region_context = weights @ word_context  # (B, HW, C)
        visual = pixels + region_context
        return (query_feature.transpose(1, 2).reshape(b, self.text_dim, h, w),
                visual.transpose(1, 2).reshape(b, c, h, w), weights)
