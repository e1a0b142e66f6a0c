"""Models: one plain dict ``name -> builder``; ``build_model(cfg)`` picks by ``cfg.model.name``."""

from __future__ import annotations

from typing import Callable

from torch import nn

from ..config import Config, ModelConfig
from ..errors import ConfigError

__all__ = ["MODELS", "build_model", "parameter_table", "parameters_without_gradient"]


def _acga(cfg: ModelConfig) -> nn.Module:
    from .acga import ACGA

    return ACGA(cfg)


def _baseline(name: str) -> Callable[[ModelConfig], nn.Module]:
    def build(cfg: ModelConfig) -> nn.Module:
        from . import baselines

        return getattr(baselines, f"build_{name}")(cfg)

    build.__name__ = f"build_{name}"
    return build


MODELS: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "acga": _acga,
    "gavrilyuk": _baseline("gavrilyuk"),
    "hu": _baseline("hu"),
    "li": _baseline("li"),
    "cmsa": _baseline("cmsa"),
}


def build_model(cfg: Config | ModelConfig) -> nn.Module:
    model_cfg = cfg.model if isinstance(cfg, Config) else cfg
    try:
        builder = MODELS[model_cfg.name]
    except KeyError:
        raise ConfigError(f"model.name = {model_cfg.name!r} is not a model; use one of: "
                          f"{', '.join(sorted(MODELS))}") from None
    return builder(model_cfg)


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


def parameters_without_gradient(cfg: Config | ModelConfig) -> set[str]:
    """Names of the parameters whose gradient is zero in exact arithmetic (so only rounding noise
    in float): in ACGA with LGVA, the bias of the projection that indexes the softmax's columns
    adds a constant to each row of logits, which the softmax cancels. Kept for the paper's
    parameter count and the released checkpoints (see LanguageGuidedVisionAttention and
    docs/parameters.md)."""
    m = cfg.model if isinstance(cfg, Config) else cfg
    if m.name != "acga" or m.attention != "acga" or not m.vision_attention:
        return set()
    return {"vision_attention.key.bias" if m.lgva_scores == "query_key" else "vision_attention.query.bias"}
