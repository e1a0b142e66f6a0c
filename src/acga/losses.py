"""Weighted binary cross entropy at every resolution (eq. 14-16)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LossConfig, ModelConfig

__all__ = ["weighted_bce", "resize_target", "segmentation_loss"]


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """Eq. 14-15: mean over pixels (and batch) of -P y log s(r) - (1 - y) log(1 - s(r)).

    ``target`` may be soft (bilinear-resized masks). Computed stably from logits.
    """
    weight = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), pos_weight=weight)


def resize_target(mask: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """Y^r from Y^L: mask (B, 1, H, W) float -> (B, 1, size, size) (eq. 14: bilinear)."""
    if mask.shape[-1] == size and mask.shape[-2] == size:
        return mask
    if mode == "nearest":
        return F.interpolate(mask, size=(size, size), mode="nearest")
    return F.interpolate(mask, size=(size, size), mode="bilinear", align_corners=False)


def segmentation_loss(outputs: dict[str, torch.Tensor], mask: torch.Tensor, model_cfg: ModelConfig,
                      loss_cfg: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 16: sum over heads of lambda_r * L^r. With MRF the Res3 term is on the fused map
    (the paper's eq. 12 renames the fused map R^L; the release does the same).

    Args:
        outputs: the model's responses (B, 1, r, r) by head, and "final".
        mask: ground truth at Res3 (B, 1, r3, r3), values in [0, 1].

    Returns:
        total loss and the value of each term (for logging).
    """
    total = mask.new_zeros(())
    terms: dict[str, float] = {}
    for head, lam in zip(model_cfg.heads, loss_cfg.weights):
        logits = outputs["final"] if head == "L" else outputs[head]
        target = resize_target(mask, logits.shape[-1], loss_cfg.target_resize)
        term = weighted_bce(logits, target, loss_cfg.pos_weight)
        terms[f"loss_{head}"] = float(term.detach())
        total = total + lam * term
        if head == "L" and loss_cfg.unfused_large_loss:
            extra = weighted_bce(outputs["L"], target, loss_cfg.pos_weight)
            terms["loss_L_unfused"] = float(extra.detach())
            total = total + lam * extra
    return total, terms
