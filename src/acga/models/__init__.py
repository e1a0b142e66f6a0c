"""Models: ACGA (:mod:`.acga`), its blocks, the baselines (:mod:`.baselines`) and I3D.

:mod:`.build` holds the registry ``MODELS`` (name -> builder) and :func:`build_model`, which
picks by ``cfg.model.name``; this package exposes them with the parameter table of a model.
"""

from __future__ import annotations

from torch import nn

from .build import MODELS, build_model, check_model_name, parameters_without_gradient

__all__ = ["MODELS", "build_model", "check_model_name", "parameter_table",
           "parameters_without_gradient"]


def parameter_table(model: nn.Module, depth: int = 1) -> list[tuple[str, int, int]]:
    """(module name, total, trainable) for each child module up to ``depth`` levels, in order.

    Names are dotted paths; parameters directly on the root appear under "(root)".
    """
    rows: dict[str, list[int]] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")[:-1]
        key = ".".join(parts[:depth]) if parts else "(root)"
        row = rows.setdefault(key, [0, 0])
        row[0] += p.numel()
        if p.requires_grad:
            row[1] += p.numel()
    return [(k, v[0], v[1]) for k, v in rows.items()]
