"""Config -> model: the one place a config is read into the arguments of blocks and models.

``MODELS`` is the plain dict ``name -> builder``; :func:`build_model` picks by ``model.name`` and
is where model names are checked (:mod:`acga.config` knows nothing of the models). Each builder
takes the ``model`` and ``baseline`` sections (:class:`~acga.config.ModelConfig`,
:class:`~acga.config.BaselineConfig`) and passes their fields to a model that takes explicit
arguments (``ACGA(word_dim=300, ...)`` needs no config); a baseline's builder first refuses the
options it does not implement (:data:`SUPPORTED`). A builder imports its model only when called,
so naming the models does not import every one of them.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..config import BaselineConfig, Config, ModelConfig
from ..errors import ConfigError
from .backbone import build_visual_backbone

__all__ = ["MODELS", "SUPPORTED", "backbone_from_config", "build_model", "check_model_name",
           "check_supported", "parameters_without_gradient"]

Builder = Callable[[ModelConfig, BaselineConfig], nn.Module]

# Options each baseline implements. Any other value of these ModelConfig fields is refused when
# the model is built (ACGA's attention options have no meaning for a baseline).
_COMMON: dict[str, tuple] = {
    "attention": ("none",),
    "lgva_scores": ("query_key",),
    "lgva_gate": ("linear",),
    "lgva_value_channels": (None,),
    "coords": ("interp",),
    "concat_order": ("video_coords_text",),
}
SUPPORTED: dict[str, dict[str, tuple]] = {
    "gavrilyuk": {**_COMMON, "text_encoder": ("conv1d", "lstm")},
    "hu": {**_COMMON, "text_encoder": ("lstm",), "deconv_activation": (False,)},
    "li": {**_COMMON, "text_encoder": ("lstm",), "deconv_activation": (False,)},
    "cmsa": {**_COMMON, "text_encoder": ("conv1d", "lstm"), "deconv_activation": (False,)},
}


def check_supported(name: str, cfg: ModelConfig) -> None:
    """Raise ConfigError if ``cfg`` sets an option baseline ``name`` does not implement."""
    for key, valid in SUPPORTED[name].items():
        value = getattr(cfg, key)
        if value not in valid:
            raise ConfigError(
                f"model.name = {name!r} does not support model.{key} = {value!r}; valid: "
                f"{', '.join(repr(v) for v in valid)}")


def backbone_from_config(cfg: ModelConfig, streams: int | None = None) -> nn.Module:
    """The visual encoder of ``cfg`` (:func:`~acga.models.backbone.build_visual_backbone`);
    ``streams`` Mixed_4f blocks (default: 2 for ``rgb+flow``, else 1)."""
    if streams is None:
        streams = 2 if cfg.modality == "rgb+flow" else 1
    return build_visual_backbone(
        cfg.backbone, cfg.visual_dim, in_channels=cfg.backbone_in_channels,
        streams=streams, feature_size=cfg.resolutions[0],
        input_size=cfg.input_size, small3d_widths=cfg.small3d_widths,
        small3d_stem_kernel=cfg.small3d_stem_kernel, bn_eps=cfg.mixed_4f_bn_eps,
        bn_momentum=cfg.mixed_4f_bn_momentum)


def _baseline_args(m: ModelConfig) -> dict[str, Any]:
    """The arguments of :class:`~acga.models.baselines.base.Baseline` every baseline takes."""
    return dict(num_words=m.num_words, word_dim=m.word_dim, heads=m.heads, mrf=m.mrf,
                mask_padding=m.mask_padding, init=m.init)


# Each builder creates the visual encoder before the model: the models create it first too when
# given none, so the draw order of the initial weights is the same either way.

def build_acga(m: ModelConfig, baseline: BaselineConfig | None = None) -> nn.Module:
    """ACGA from the ``model`` section (``baseline``, the baselines' sizes, is not read)."""
    from .acga import ACGA
    return ACGA(
        backbone_from_config(m), num_words=m.num_words, word_dim=m.word_dim,
        visual_dim=m.visual_dim, coord_dim=m.coord_dim, text_encoder=m.text_encoder,
        text_kernel_size=m.text_kernel_size, attention=m.attention,
        text_attention=m.text_attention, vision_attention=m.vision_attention,
        lgva_value_channels=m.lgva_value_channels, lgva_scores=m.lgva_scores,
        lgva_gate=m.lgva_gate, mask_padding=m.mask_padding, resolutions=m.resolutions,
        heads=m.heads, mrf=m.mrf, head_widths=m.head_widths, deconv_dims=m.deconv_dims,
        deconv_activation=m.deconv_activation, coords=m.coords, concat_order=m.concat_order,
        init=m.init, decoder_impl=m.decoder_impl)


def build_gavrilyuk(m: ModelConfig, baseline: BaselineConfig | None = None) -> nn.Module:
    """Gavrilyuk et al. from the ``model`` section (it has no ``baseline`` sizes); with
    ``rgb+flow``, two single-stream networks, RGB's built (and drawn) first."""
    from .baselines.gavrilyuk import Gavrilyuk, GavrilyukTwoStream
    check_supported("gavrilyuk", m)
    two_stream = m.modality == "rgb+flow"
    if two_stream and m.backbone != "i3d_cached":
        raise ConfigError("model.name = 'gavrilyuk' with model.modality = 'rgb+flow' needs "
                          "model.backbone = 'i3d_cached'")

    def stream() -> Gavrilyuk:
        return Gavrilyuk(
            backbone_from_config(m, streams=1), **_baseline_args(m), visual_dim=m.visual_dim,
            coord_dim=m.coord_dim, resolutions=m.resolutions, text_encoder=m.text_encoder,
            text_kernel_size=m.text_kernel_size, deconv_dims=m.deconv_dims,
            deconv_activation=m.deconv_activation)

    if not two_stream:
        return stream()
    rgb = stream()
    return GavrilyukTwoStream(rgb, stream(), in_channels=m.backbone_in_channels)


def build_hu(m: ModelConfig, baseline: BaselineConfig | None = None) -> nn.Module:
    """Hu et al. from the ``model`` section and the ``baseline`` sizes (default: the paper's)."""
    from .baselines.hu import HuSegmentation
    check_supported("hu", m)
    b = baseline or BaselineConfig()
    return HuSegmentation(
        backbone_from_config(m), **_baseline_args(m), visual_dim=m.visual_dim,
        coord_dim=m.coord_dim, resolutions=m.resolutions, lstm_hidden=b.lstm_hidden,
        classifier_width=b.classifier_width)


def build_li(m: ModelConfig, baseline: BaselineConfig | None = None) -> nn.Module:
    """Li et al. from the ``model`` section and the ``baseline`` sizes (default: the paper's)."""
    from .baselines.li import LiDynamicFilter
    check_supported("li", m)
    b = baseline or BaselineConfig()
    return LiDynamicFilter(
        backbone_from_config(m), **_baseline_args(m), visual_dim=m.visual_dim,
        resolutions=m.resolutions, lstm_hidden=b.lstm_hidden)


def build_cmsa(m: ModelConfig, baseline: BaselineConfig | None = None) -> nn.Module:
    """CMSA + CFSA from the ``model`` section and the ``baseline`` sizes (default: the paper's)."""
    from .baselines.cmsa import CMSA
    check_supported("cmsa", m)
    b = baseline or BaselineConfig()
    visual = backbone_from_config(m)
    # CMSA's low level: the cached Mixed_4e input, or the last stage of the small 3-D CNN
    low_dim = m.backbone_in_channels if m.backbone == "i3d_cached" else visual.proj.in_channels
    return CMSA(
        visual, low_dim=low_dim, **_baseline_args(m), visual_dim=m.visual_dim,
        coord_dim=m.coord_dim, resolutions=m.resolutions, text_encoder=m.text_encoder,
        text_kernel_size=m.text_kernel_size, dim=b.cmsa_dim, key_dim=b.cmsa_key_dim)


MODELS: dict[str, Builder] = {
    "acga": build_acga,
    "gavrilyuk": build_gavrilyuk,
    "hu": build_hu,
    "li": build_li,
    "cmsa": build_cmsa,
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
