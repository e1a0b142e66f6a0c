"""Li, Tao, Gavves, Snoek, Smeulders, "Tracking by Natural Language Specification", CVPR 2017,
adapted to segmentation on ACGA's pipeline: an LSTM-generated dynamic 1x1 filter on F_V at Res1,
learned upsampling."""

from __future__ import annotations

import torch
from torch import nn

from .base import DynamicFilter, LowResBaseline

__all__ = ["LiDynamicFilter"]


class LiDynamicFilter(LowResBaseline):
    """Li, Tao, Gavves, Snoek, Smeulders, "Tracking by Natural Language Specification",
    CVPR 2017: its lingual specification network adapted to segmentation, as in Gavrilyuk
    et al.'s comparison.

    - Sentence: LSTM (``lstm_hidden``) state after the last word -> h.
    - One dynamic 1x1 filter f = sigmoid(W h + b) (B, C_V) convolved with F_V -> R_S at Res1;
      upsampled to Res3 by a learned x16 transposed convolution (bilinear init) -> R_L.

    Our choices: no spatial coordinates (the tracker has none, which is what separates it from
    Gavrilyuk et al.'s filters on [F_V, C]); a single resolution; the sigmoid activation of the
    filter generator is our reading of Li et al.; the segmentation decoder of the adaptation
    is not described in the ACGA or Gavrilyuk papers, hence the learned upsampling as for Hu.

    Args: those of :class:`~acga.models.baselines.base.LowResBaseline`; ``visual_dim``, the
    channels of F_V the filter spans. Defaults: the ``baselines/li`` configuration.
    """

    def __init__(self, visual: nn.Module | None = None, *, num_words: int = 20,
                 word_dim: int = 300, visual_dim: int = 832,
                 resolutions: tuple[int, int, int] = (32, 128, 512), lstm_hidden: int = 1000,
                 heads: tuple[str, ...] = ("L",), mrf: bool = False, mask_padding: bool = False,
                 init: str = "released"):
        super().__init__(visual, num_words=num_words, word_dim=word_dim, resolutions=resolutions,
                         lstm_hidden=lstm_hidden, heads=heads, mrf=mrf,
                         mask_padding=mask_padding, init=init)
        self.filter = DynamicFilter(lstm_hidden, visual_dim, "sigmoid")
        self.maybe_init(self.filter)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.filter(f_v, h)

