"""Hu, Rohrbach, Darrell, "Segmentation from Natural Language Expressions", ECCV 2016, on
ACGA's pipeline: [F_V, C, LSTM sentence] -> 1x1 convolutions at Res1 -> learned upsampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import coordinate_map
from .base import LowResBaseline

__all__ = ["HuSegmentation"]


class HuSegmentation(LowResBaseline):
    """Hu, Rohrbach, Darrell, "Segmentation from Natural Language Expressions", ECCV 2016.

    - Sentence: LSTM (hidden ``lstm_hidden`` = 1000) over the word vectors; its state after the
      last word, L2-normalised -> h (B, 1000), tiled over the map.
    - Visual: F_V (L2-normalised, as Hu et al. normalise their FCN features) and the 8
      coordinate channels C.
    - Classifier: [F_V, C, h] -> Conv1x1(``classifier_width`` = 500) -> ReLU -> Conv1x1(1)
      -> R_S at Res1; one learned transposed convolution (x16, bilinear init; Hu et al.'s
      x32 "deconvolution" for VGG-16's stride 32) -> R_L.

    Our choices: F_V from the same I3D Mixed_4f as ACGA instead of VGG-16 fc8 features; the
    LSTM reads the zero-padded 20-word sequence (or stops at the last real word with
    ``mask_padding``); the configs train at full resolution only (``heads: [L]``), Hu et al.'s
    second (high-resolution) stage.

    Args: those of :class:`~acga.models.baselines.base.LowResBaseline`; ``visual_dim`` and
    ``coord_dim``, the channels of F_V and C; ``classifier_width``. Defaults: the ``baselines/hu``
    configuration.
    """

    def __init__(self, visual: nn.Module | None = None, *, num_words: int = 20,
                 word_dim: int = 300, visual_dim: int = 832, coord_dim: int = 8,
                 resolutions: tuple[int, int, int] = (32, 128, 512), lstm_hidden: int = 1000,
                 classifier_width: int = 500, heads: tuple[str, ...] = ("L",), mrf: bool = False,
                 mask_padding: bool = False, init: str = "released"):
        super().__init__(visual, num_words=num_words, word_dim=word_dim, resolutions=resolutions,
                         lstm_hidden=lstm_hidden, heads=heads, mrf=mrf,
                         mask_padding=mask_padding, init=init)
        in_dim = visual_dim + coord_dim + lstm_hidden
        self.classifier = nn.Sequential(
            nn.Conv2d(in_dim, classifier_width, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(classifier_width, 1, kernel_size=1))
        self.register_buffer("coords_S", coordinate_map(resolutions[0], resolutions[0]),
                             persistent=False)
        self.maybe_init(self.lstm)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        b, _, r, _ = f_v.shape
        h = F.normalize(h, p=2, dim=1)[:, :, None, None].expand(-1, -1, r, r)  # (B, H, r1, r1)
        coords = self.coords_S.to(f_v.dtype).expand(b, -1, -1, -1)
        return self.classifier(torch.cat([f_v, coords, h], dim=1))

