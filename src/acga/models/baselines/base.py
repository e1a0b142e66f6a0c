"""The frame every baseline shares: the forward contract of :class:`acga.models.acga.ACGA`
with the MRF fusion of its heads, the release's initialisation, the sentence-generated dynamic
filter (Gavrilyuk, Li), and the low-resolution response upsampled by a learned transposed
convolution (Hu, Li)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..backbone import I3DMixed4fEncoder
from ..layers import check_shape, fuse_responses, init_released, mrf_fusion, ordered_heads

__all__ = ["Baseline", "DynamicFilter", "bilinear_upsampling", "LowResBaseline", "interp",
           "last_state"]


# ------------------------------------------------------------------------------------------
# the forward contract


class Baseline(nn.Module):
    """A baseline model: ``forward`` keeps :meth:`acga.models.acga.ACGA.forward`'s contract.

    A subclass computes its responses in :meth:`responses` and calls :meth:`init_heads` in
    ``__init__`` where it creates the MRF fusion (the point in the parameter draw order its
    initial weights were fixed with).

    Args (each the :class:`acga.config.ModelConfig` field of the same name):
        visual: the visual encoder making F_V, created first (default: Mixed_4f on cached
            Mixed_4e features, :class:`~acga.models.backbone.I3DMixed4fEncoder`).
        num_words, word_dim: the query's shape (B, num_words, word_dim).
        heads, mrf: the responses returned and whether "final" is their MRF fusion.
        mask_padding: whether padded words are masked out.
        init: ``released`` (Linear N(0, 0.02), zero bias, in :meth:`maybe_init`) or ``pytorch``.
    """

    heads: tuple[str, ...]
    fusion: nn.Conv2d | None

    def __init__(self, visual: nn.Module | None, *, num_words: int, word_dim: int,
                 heads: tuple[str, ...], mrf: bool, mask_padding: bool, init: str):
        super().__init__()
        self.num_words, self.word_dim = num_words, word_dim
        self.heads = ordered_heads(heads)
        self.mrf, self.mask_padding, self.init = mrf, mask_padding, init
        self.visual = visual if visual is not None else I3DMixed4fEncoder()

    def init_heads(self) -> None:
        """With ``mrf``, the fusion convolution of the heads (in S, M, L order)."""
        self.fusion = mrf_fusion(len(self.heads)) if self.mrf else None

    def maybe_init(self, module: nn.Module) -> None:
        """``init: released``: the release's initialisation (Linear N(0, 0.02), zero bias)."""
        if self.init == "released":
            init_released(module)

    def responses(self, visual: torch.Tensor, words: torch.Tensor,
                  word_mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Logits (B, 1, r, r) by resolution, at least every configured head and "L";
        ``word_mask`` is None unless ``mask_padding``."""
        raise NotImplementedError

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        """Same contract as :meth:`acga.models.acga.ACGA.forward` (no attention maps): the
        configured heads' logits and "final", their MRF fusion (``mrf``) or R^L."""
        check_shape("words", words, (visual.shape[0], self.num_words, self.word_dim))
        responses = self.responses(visual, words, word_mask if self.mask_padding else None)
        out = {h: responses[h] for h in self.heads}
        out["final"] = fuse_responses(responses, self.heads, self.fusion)
        return out


def interp(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to (B, C, size, size)."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


# ------------------------------------------------------------------------------------------
# shared pieces


class DynamicFilter(nn.Module):
    """A 1x1 convolution whose weights are generated from the sentence (no bias term).

    f = act(W s + b) (B, C); response[b, 0, y, x] = sum_c f[b, c] * features[b, c, y, x].

    Args:
        text_dim: size of the sentence vector s.
        channels: channels C of the feature map it filters.
        activation: ``tanh`` (Gavrilyuk et al. eq. 2) or ``sigmoid``.
    """

    def __init__(self, text_dim: int, channels: int, activation: str = "tanh"):
        super().__init__()
        if activation not in ("tanh", "sigmoid"):
            raise ValueError(f"activation {activation!r}: use tanh or sigmoid")
        self.channels = channels
        self.generator = nn.Linear(text_dim, channels)
        self.activation = torch.tanh if activation == "tanh" else torch.sigmoid

    def filters(self, sentence: torch.Tensor) -> torch.Tensor:
        """sentence (B, D) -> filters (B, C)."""
        return self.activation(self.generator(sentence))

    def forward(self, features: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """features (B, C, H, W), sentence (B, D) -> response (B, 1, H, W)."""
        check_shape("dynamic-filter features", features, (sentence.shape[0], self.channels, None, None))
        return torch.einsum("bchw,bc->bhw", features, self.filters(sentence))[:, None]


def bilinear_upsampling(factor: int) -> nn.ConvTranspose2d:
    """A learned 1 -> 1 channel transposed convolution upsampling by ``factor``, initialised to
    bilinear interpolation (FCN, Long et al. 2015; Hu et al. 2016's "deconvolution")."""
    k = 2 * factor
    up = nn.ConvTranspose2d(1, 1, kernel_size=k, stride=factor, padding=factor // 2)
    if up.weight.device.type != "meta":
        center = (k - 1) / 2
        og = torch.arange(k, dtype=torch.float32)
        filt = 1 - (og - center).abs() / factor
        with torch.no_grad():
            up.weight.copy_((filt[:, None] * filt[None, :])[None, None])
            up.bias.zero_()
    return up


def last_state(outputs: torch.Tensor, word_mask: torch.Tensor | None) -> torch.Tensor:
    """LSTM outputs (B, L, H) -> the state after the last real word (mask given) or the last
    position (the padded sequence, as a fixed-length encoder would)."""
    if word_mask is None:
        return outputs[:, -1]
    last = (word_mask.long().sum(dim=1) - 1).clamp(min=0)  # (B,)
    return outputs[torch.arange(outputs.shape[0], device=outputs.device), last]



class LowResBaseline(Baseline):
    """Shared frame of Hu and Li: a response at Res1, upsampled to Res3 by one learned
    transposed convolution (x16, bilinear init); R_M, if a head, is Interp(R_S) to Res2.

    Args: those of :class:`Baseline`; ``resolutions`` (r1, r2, r3); ``lstm_hidden``, the
    sentence LSTM's hidden size.
    """

    def __init__(self, visual: nn.Module | None, *, num_words: int, word_dim: int,
                 resolutions: tuple[int, int, int], lstm_hidden: int, heads: tuple[str, ...],
                 mrf: bool, mask_padding: bool, init: str):
        super().__init__(visual, num_words=num_words, word_dim=word_dim, heads=heads, mrf=mrf,
                         mask_padding=mask_padding, init=init)
        self.resolutions = tuple(resolutions)
        self.lstm = nn.LSTM(word_dim, lstm_hidden, num_layers=1, batch_first=True)
        self.init_heads()
        self.upsample = bilinear_upsampling(resolutions[2] // resolutions[0])

    def forward_text(self, words: torch.Tensor, word_mask: torch.Tensor | None) -> torch.Tensor:
        """words (B, L, D) -> the LSTM state after the last word (B, H)."""
        out, _ = self.lstm(words)  # (B, L, H)
        return last_state(out, word_mask if self.mask_padding else None)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def responses(self, visual: torch.Tensor, words: torch.Tensor,
                  word_mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        h = self.forward_text(words, word_mask)  # (B, H)
        f_v = self.visual(visual)  # (B, C_V, r1, r1)
        r_s = self.response_small(f_v, h)  # (B, 1, r1, r1)
        responses = {"S": r_s, "L": self.upsample(r_s)}  # (B, 1, r3, r3)
        if "M" in self.heads:
            responses["M"] = interp(r_s, self.resolutions[1])
        return responses
