"""Config -> model: the one place a config is read into the arguments of blocks and models.

``MODELS`` is the plain dict ``name -> builder``; :func:`build_model` picks by ``model.name`` and
is where model names are checked (:mod:`acga.config` knows nothing of the models). Each builder
takes the ``model`` and ``baseline`` sections (:class:`~acga.config.ModelConfig`,
:class:`~acga.config.BaselineConfig`); the blocks it assembles take explicit arguments.
"""

from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

from ..config import BaselineConfig, Config, ModelConfig
from ..errors import ConfigError
from .backbone import build_visual_backbone

__all__ = ["MODELS", "backbone_from_config", "build_model", "check_model_name",
           "parameters_without_gradient"]

Builder = Callable[[ModelConfig, BaselineConfig], nn.Module]


def _lazy(module: str, builder: str) -> Builder:
    """A builder that imports ``module`` (relative to this package) only when it is called, so
    naming the models does not import every one of them."""
    def build(model: ModelConfig, baseline: BaselineConfig) -> nn.Module:
        return getattr(importlib.import_module(module, __package__), builder)(model, baseline)

    build.__name__ = builder
    return build


MODELS: dict[str, Builder] = {
    "acga": _lazy(".acga", "build_acga"),
    "gavrilyuk": _lazy(".baselines.gavrilyuk", "build_gavrilyuk"),
    "hu": _lazy(".baselines.hu", "build_hu"),
    "li": _lazy(".baselines.li", "build_li"),
    "cmsa": _lazy(".baselines.cmsa", "build_cmsa"),
}


def check_model_name(name: str) -> None:
    """Raise ConfigError unless ``name`` is a key of :data:`MODELS` (commands call it right after
    loading a config, so a wrong name fails before any work)."""
    if name not in MODELS:
        raise ConfigError(f"model.name = {name!r} is not a model; use one of: "
                          f"{', '.join(sorted(MODELS))}")


def build_model(cfg: Config | ModelConfig) -> nn.Module:
    """The network ``cfg`` describes. Given a :class:`ModelConfig` alone, the baselines' layer
    sizes are :class:`BaselineConfig`'s defaults (the paper's)."""
    if isinstance(cfg, Config):
        model_cfg, baseline_cfg = cfg.model, cfg.baseline
    else:
        model_cfg, baseline_cfg = cfg, BaselineConfig()
    check_model_name(model_cfg.name)
    return MODELS[model_cfg.name](model_cfg, baseline_cfg)


def backbone_from_config(cfg: ModelConfig) -> nn.Module:
    """The visual encoder of ``cfg`` (:func:`~acga.models.backbone.build_visual_backbone`)."""
    return build_visual_backbone(
        cfg.backbone, cfg.visual_dim, in_channels=cfg.backbone_in_channels,
        streams=2 if cfg.modality == "rgb+flow" else 1, feature_size=cfg.resolutions[0],
        input_size=cfg.input_size, small3d_widths=cfg.small3d_widths,
        small3d_stem_kernel=cfg.small3d_stem_kernel, bn_eps=cfg.mixed_4f_bn_eps,
        bn_momentum=cfg.mixed_4f_bn_momentum)


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
