"""Sentence encoders Enc_T (eq. 1): a single Conv1d + tanh (the paper), or an LSTM (supplement)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvTextEncoder", "LSTMTextEncoder", "build_text_encoder"]


class ConvTextEncoder(nn.Module):
    """Conv1d(D, D, k) over the word axis, then tanh (Kim 2014's single layer).

    Odd kernels are padded symmetrically (k=3: pad 1, as the release). A kernel of 2 (the one the
    paper's Baseline parameter count implies, Gavrilyuk et al.'s encoder) is padded by one
    position on the right so the output keeps one vector per word.
    """

    def __init__(self, dim: int, kernel_size: int = 3):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(dim, dim, kernel_size=kernel_size)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        """words (B, L, D) -> F_T (B, L, D)."""
        x = words.transpose(1, 2)  # (B, D, L)
        k = self.kernel_size
        x = F.pad(x, ((k - 1) // 2, k // 2))
        return torch.tanh(self.conv(x)).transpose(1, 2)


class LSTMTextEncoder(nn.Module):
    """One-layer unidirectional LSTM with hidden size D; its per-word outputs form F_T.

    The supplement compares "LSTM" with Conv1D without giving its size; we keep D so every
    downstream shape is unchanged.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers=1, batch_first=True)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        """words (B, L, D) -> F_T (B, L, D)."""
        out, _ = self.lstm(words)
        return out


def build_text_encoder(kind: str, dim: int, kernel_size: int = 3) -> nn.Module:
    if kind == "conv1d":
        return ConvTextEncoder(dim, kernel_size)
    if kind == "lstm":
        return LSTMTextEncoder(dim)
    raise ValueError(f"unknown text encoder {kind!r}; use conv1d or lstm")
