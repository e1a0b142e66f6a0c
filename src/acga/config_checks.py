"""Cross-field checks of a resolved :class:`acga.config.Config`: values each field's type
allows but that no model or run can use (heads without L, resolutions not 4x apart, a loss
weight per head, ...). Each failure is one ConfigError naming the file, the keys and a fix.

Model names are not checked here: the model registry (:func:`acga.models.check_model_name`)
owns the list, and :mod:`acga.config` imports nothing of the models.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Config

__all__ = ["validate"]


def validate(cfg: Config, source: str) -> None:
    """Raise ConfigError for the first impossible combination of values in ``cfg``."""
    m, loss = cfg.model, cfg.loss

    def fail(msg: str) -> None:
        raise ConfigError(f"config {source}: {msg}")

    if "L" not in m.heads:
        fail(f"model.heads = {list(m.heads)} must contain 'L' (Res3, the output resolution)")
    if len(set(m.heads)) != len(m.heads):
        fail(f"model.heads = {list(m.heads)} repeats a resolution")
    if m.mrf and len(m.heads) < 2:
        fail(f"model.mrf = true needs at least two heads, got model.heads = {list(m.heads)}")
    if len(loss.weights) != len(m.heads):
        fail(f"loss.weights has {len(loss.weights)} values but model.heads has {len(m.heads)} "
             f"({list(m.heads)}): give one lambda per head")
    if loss.unfused_large_loss and not m.mrf:
        fail("loss.unfused_large_loss = true needs model.mrf = true")
    if loss.pos_weight <= 0:
        fail(f"loss.pos_weight = {loss.pos_weight} must be > 0")
    r1, r2, r3 = m.resolutions
    if not (r1 < r2 < r3) or r2 != 4 * r1 or r3 != 4 * r2:
        fail(f"model.resolutions = {list(m.resolutions)}: each must be 4x the previous "
             "(the Deconv has stride 4), e.g. [32, 128, 512]")
    if m.input_size != r3:
        fail(f"model.input_size = {m.input_size} must equal model.resolutions[2] = {r3}")
    if m.backbone == "i3d_cached" and m.input_size != 16 * r1:
        fail(f"model.input_size = {m.input_size} must be 16 x model.resolutions[0] = {16 * r1} "
             "(I3D's stride at Mixed_4e is 16)")
    if m.clip_len < 1 or m.num_words < 1 or m.word_dim < 1:
        fail("model.clip_len, model.num_words and model.word_dim must be >= 1")
    if m.text_encoder == "conv1d" and m.text_kernel_size % 2 == 0 and m.text_kernel_size != 2:
        fail(f"model.text_kernel_size = {m.text_kernel_size}: use an odd size, or 2")
    if m.attention == "acga" and not (m.text_attention or m.vision_attention):
        fail("model.attention = 'acga' with both text_attention and vision_attention false: "
             "use model.attention = 'none' for the Baseline")
    if m.attention != "acga" and m.lgva_value_channels is not None:
        fail("model.lgva_value_channels only applies to model.attention = 'acga'")
    if m.lgva_value_channels is not None and not (1 <= m.lgva_value_channels <= m.visual_dim + m.coord_dim):
        fail(f"model.lgva_value_channels = {m.lgva_value_channels} must be in 1..{m.visual_dim + m.coord_dim}")
    if m.backbone == "i3d_cached" and (m.visual_dim, m.backbone_in_channels) != (832, 528):
        fail(f"model.backbone = 'i3d_cached' trains I3D's Mixed_4f (528 -> 832): model.visual_dim "
             f"must be 832 and model.backbone_in_channels 528, got {m.visual_dim} and "
             f"{m.backbone_in_channels}; use model.backbone = 'small3d' for other sizes")
    if m.backbone == "small3d" and m.modality != "rgb":
        fail("model.backbone = 'small3d' supports model.modality = 'rgb' only")
    if len(m.small3d_stem_kernel) != 3 or any(k < 1 or k % 2 == 0 for k in m.small3d_stem_kernel):
        fail(f"model.small3d_stem_kernel = {list(m.small3d_stem_kernel)}: give three odd sizes "
             "(T, H, W), e.g. [1, 5, 5]")
    if cfg.train.processes < 1 or cfg.train.batch_size % cfg.train.processes:
        fail(f"train.processes = {cfg.train.processes} must be >= 1 and divide train.batch_size = "
             f"{cfg.train.batch_size} (each process takes an equal slice of every batch)")
    t = cfg.train
    if not (math.isfinite(t.lr) and t.lr > 0):
        fail(f"train.lr = {t.lr} must be finite and > 0 (e.g. train.lr=5e-4)")
    for key, value in _float_values(cfg):
        if not math.isfinite(value):
            fail(f"{key} = {value} must be a finite number")
    if t.batch_size < 1:
        fail(f"train.batch_size = {t.batch_size} must be >= 1")
    if t.num_workers < 0:
        fail(f"train.num_workers = {t.num_workers} must be >= 0 (0: load batches in the "
             "training process)")
    if cfg.synth.generator not in (1, 2):
        fail(f"synth.generator = {cfg.synth.generator} must be 1 or 2 (docs/synthetic.md)")
    if t.epochs < 1:
        fail(f"train.epochs = {t.epochs}: nothing would be trained; set train.epochs >= 1")
    if not 0 < t.lr_gamma <= 1:
        fail(f"train.lr_gamma = {t.lr_gamma} must be in (0, 1] (the factor of each lr step)")
    if t.weight_decay < 0:
        fail(f"train.weight_decay = {t.weight_decay} must be >= 0")
    if m.mixed_4f_bn_eps <= 0 or not 0 <= m.mixed_4f_bn_momentum <= 1:
        fail(f"model.mixed_4f_bn_eps = {m.mixed_4f_bn_eps} must be > 0 and "
             f"model.mixed_4f_bn_momentum = {m.mixed_4f_bn_momentum} in [0, 1]")
    if any(w < 0 for w in loss.weights):
        fail(f"loss.weights = {list(loss.weights)} must be >= 0")
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", t.device.strip().lower()):
        fail(f"train.device = {t.device!r} is not a device acga trains on; use auto, cpu, cuda, "
             "cuda:N (N = 0, 1, ...) or mps")


def _float_values(obj: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """(dotted key, value) of every float in the config, tuples of floats item by item."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            yield from _float_values(value, key + ".")
        elif isinstance(value, float):
            yield key, value
        elif isinstance(value, tuple):
            yield from ((f"{key}[{i}]", v) for i, v in enumerate(value) if isinstance(v, float))
