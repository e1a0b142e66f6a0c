"""Prediction and evaluation: masks of a trained model over a dataset, scored at the original
frame size with both protocols of :mod:`acga.metrics`."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .training import _progress, collate

__all__ = ["predict_masks", "evaluate"]


@torch.no_grad()
def predict_masks(model: nn.Module, dataset, indices: Sequence[int] | None = None, *,
                  batch_size: int = 4, device: torch.device | None = None,
                  progress: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (sample index, boolean mask (S, S) at the model's input resolution)."""
    from ..postprocess import response_to_mask

    device = device or next(model.parameters()).device
    model.eval()
    indices = list(range(len(dataset))) if indices is None else list(indices)
    chunks = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    for chunk in _progress(chunks, progress, "evaluating", unit="batch"):
        batch = collate([dataset[i] for i in chunk])
        out = model(batch["visual"].to(device), batch["words"].to(device), batch["word_mask"].to(device))
        masks = response_to_mask(out["final"][:, 0].float().cpu())
        for i, m in zip(chunk, np.asarray(masks)):
            yield i, m


def evaluate(model: nn.Module, dataset, *, eval_mask: str = "original", batch_size: int = 4,
             progress: bool = False):
    """Score the model on every sample of ``dataset`` at original frame size.

    Returns a :class:`acga.metrics.MetricAccumulator` (per-sample IoUs and both protocols).
    """
    from ..data.dataset import load_mask
    from ..data.transforms import letterbox_mask, unletterbox_mask
    from ..metrics import MetricAccumulator

    acc = MetricAccumulator()
    size = dataset.size
    for i, pred_sq in predict_masks(model, dataset, batch_size=batch_size, progress=progress):
        sample = dataset.samples[i]
        pred = unletterbox_mask(pred_sq.astype(np.uint8), sample.height, sample.width)
        gt = load_mask(dataset.root, sample)
        if eval_mask == "training":  # the release: the 512x512 training mask mapped back
            gt = unletterbox_mask(letterbox_mask(gt, size), sample.height, sample.width)
        acc.add(pred.astype(bool), gt.astype(bool), key=sample.key)
    return acc
