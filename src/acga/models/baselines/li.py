"""Li, Tao, Gavves, Snoek, Smeulders, "Tracking by Natural Language Specification", CVPR 2017,
adapted to segmentation on ACGA's pipeline: an LSTM-generated dynamic 1x1 filter on F_V at Res1,
learned upsampling."""

from __future__ import annotations

import torch
from torch import nn

from ...config import BaselineConfig, ModelConfig
from .base import DynamicFilter, LowResBaseline, check_supported

__all__ = ["LiDynamicFilter", "build_li"]


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
    """

    def __init__(self, cfg: ModelConfig, lstm_hidden: int = 1000):
        super().__init__(cfg, lstm_hidden)
        self.filter = DynamicFilter(lstm_hidden, cfg.visual_dim, "sigmoid")
        self.maybe_init(self.filter)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.filter(f_v, h)


def build_li(cfg: ModelConfig, baseline: BaselineConfig | None = None) -> nn.Module:
    """Li et al. from the ``model`` section and the ``baseline`` sizes (default: the paper's)."""
    check_supported("li", cfg)
    return LiDynamicFilter(cfg, (baseline or BaselineConfig()).lstm_hidden)
