"""Convert the authors' released ACGA checkpoint (haowang1992/ACGA) into an acga checkpoint.

The release saves ``{'epoch', 'state_dict', 'optimizer'}`` with ``torch.save`` from a model wrapped
in ``nn.DataParallel`` (keys prefixed ``module.``). Its modules and ours, for the
``released_code`` config (which reproduces the release's forward pass exactly):

=========================================  ==========================================
release (``module.`` +)                    acga
=========================================  ==========================================
``video_model.model.mixed_4f.*``           ``visual.streams.0.*`` (via
                                           :func:`acga.models.i3d_weights.remap_release_i3d`)
``video_model.model.<any other block>``    dropped: the frozen I3D up to Mixed_4e runs
                                           once, in ``acga extract``; Mixed_5b.. and
                                           the logits never run in ACGA
``txt_model.0``                            ``text_encoder.conv`` (same Conv1d layout)
``attention_layer.video_reduce``           ``text_attention.video_to_text`` (VGLA)
``attention_layer.video_linearQ/K/V``      ``vision_attention.query/key/value`` (LGVA)
``attention_layer.txt_increase``           ``vision_attention.text_to_video`` (gate)
``deconv_small.0/1``                       ``decoder.deconv_medium.0/1`` (32 -> 128)
``deconv_medium.0/1``                      ``decoder.deconv_large.0/1`` (128 -> 512)
``conv_mask_small/medium/large.0/2/4``     ``decoder.head.S/M/L.0/2/4``
``conv_fusion``                            ``decoder.fusion``
=========================================  ==========================================

The release names a deconvolution by the resolution it starts from, we by the one it produces.
Every tensor is copied unchanged (the layouts are PyTorch's on both sides). The optimizer state
is not converted: a converted checkpoint evaluates and fine-tunes, it does not resume.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from .errors import CheckpointError

__all__ = ["remap_official", "convert_official_checkpoint", "ConversionReport", "OFFICIAL_SOURCE"]

logger = logging.getLogger(__name__)

OFFICIAL_SOURCE = "haowang1992/ACGA"

_I3D_PREFIX = "video_model.model."

# release module prefix -> ours (the rest of the key, e.g. ``0.weight``, is kept)
_HEAD_MODULES: dict[str, str] = {
    "txt_model.0.": "text_encoder.conv.",
    "attention_layer.video_reduce.": "text_attention.video_to_text.",
    "attention_layer.video_linearQ.": "vision_attention.query.",
    "attention_layer.video_linearK.": "vision_attention.key.",
    "attention_layer.video_linearV.": "vision_attention.value.",
    "attention_layer.txt_increase.": "vision_attention.text_to_video.",
    "deconv_small.": "decoder.deconv_medium.",
    "deconv_medium.": "decoder.deconv_large.",
    "conv_mask_small.": "decoder.head.S.",
    "conv_mask_medium.": "decoder.head.M.",
    "conv_mask_large.": "decoder.head.L.",
    "conv_fusion.": "decoder.fusion.",
}

_OPTIONAL_SUFFIX = "num_batches_tracked"
"""BatchNorm counters: files written by PyTorch < 0.4.1 lack them; unused with momentum 0.1."""


@dataclass
class ConversionReport:
    """What :func:`convert_official_checkpoint` did."""

    source: str
    destination: str
    epoch: int | None
    modality: str
    mapped: int = 0
    """Tensors copied into our model."""
    dropped: dict[str, str] = field(default_factory=dict)
    """{release key: why it is not needed} (the frozen I3D blocks; optimizer state)."""
    defaulted: list[str] = field(default_factory=list)
    """Our keys the file lacks and that were left at their default (``num_batches_tracked``)."""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        bare = [k[len("module."):] if k.startswith("module.") else k for k in self.dropped]
        blocks = sorted({k[len(_I3D_PREFIX):].split(".", 1)[0] for k in bare
                         if k.startswith(_I3D_PREFIX)})
        others = [k for k in bare if not k.startswith(_I3D_PREFIX)]
        lines = [f"converted {self.source} (epoch {self.epoch}, {self.modality}) -> "
                 f"{self.destination}",
                 f"  {self.mapped} tensors mapped; {len(self.dropped)} dropped "
                 f"(frozen I3D blocks not used by ACGA: {', '.join(blocks) or 'none'}"
                 + (f"; {', '.join(others)}" if others else "") + ")"]
        if self.defaulted:
            lines.append(f"  {len(self.defaulted)} BatchNorm counters absent, left at 0")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _strip_dataparallel(state_dict: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    keys = list(state_dict)
    if keys and all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in state_dict.items()}, True
    return dict(state_dict), False


def _fmt(keys: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def _target_shapes(overrides: Sequence[str] = ()) -> dict[str, tuple[int, ...]]:
    """Key -> shape of our ``released_code`` model (built on the meta device: no memory)."""
    from .config import load_config
    from .models import build_model

    cfg = load_config("released_code", overrides)
    with torch.device("meta"):
        model = build_model(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _split(state_dict: Mapping[str, Any]
           ) -> tuple[dict[str, Any], dict[str, str], list[str], dict[str, str]]:
    """Release keys (no ``module.``) -> (our key: tensor, dropped {key: reason}, unknown keys,
    {our key: release key})."""
    from .models.i3d_weights import remap_release_i3d

    mapped: dict[str, Any] = {}
    origin: dict[str, str] = {}
    dropped: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        if key.startswith(_I3D_PREFIX):
            ours = next(iter(remap_release_i3d({key: value})))
            if ours == key:  # remap_release_i3d leaves keys it does not know unchanged
                unknown.append(key)
            elif ours.startswith("Mixed_4f."):
                mapped["visual.streams.0." + ours[len("Mixed_4f."):]] = value
                origin["visual.streams.0." + ours[len("Mixed_4f."):]] = key
            else:
                block = ours.split(".", 1)[0]
                dropped[key] = (f"frozen I3D block {block}: not part of ACGA's trainable model "
                                "(up to Mixed_4e runs in `acga extract`; later blocks never run)")
            continue
        for theirs, ours in _HEAD_MODULES.items():
            if key.startswith(theirs):
                mapped[ours + key[len(theirs):]] = value
                origin[ours + key[len(theirs):]] = key
                break
        else:
            unknown.append(key)
    return mapped, dropped, unknown, origin


def remap_official(state_dict: Mapping[str, Any], *, source: str = "<state dict>",
                   overrides: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """The authors' ACGA ``state_dict`` -> our ACGA state dict for the ``released_code`` config.

    A pure function: the input is not modified and values are not copied. Keys may carry the
    DataParallel ``module.`` prefix (the release's) or not. The release's whole I3D is in the
    file; only ``mixed_4f`` is kept (see the module docstring for every name).

    Args:
        state_dict: the ``'state_dict'`` entry of the release's checkpoint.
        source: the file name, for error messages.
        overrides: ``key=value`` overrides of ``released_code`` whose model must take the weights
            (e.g. ``model.modality=flow``); parameter shapes do not depend on the resolutions.

    Returns:
        ``{our key: tensor}`` in our model's key order, every key of the model present except
        BatchNorm ``num_batches_tracked`` counters the file lacks.

    Raises:
        CheckpointError: naming ``source`` and the keys, when a key of the file is not a known
            release name, a tensor our model needs is missing, or a shape differs.
    """
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: state_dict entries {_fmt(bad)} are not tensors; "
                              "not an ACGA checkpoint")
    bare, prefixed = _strip_dataparallel(state_dict)
    mapped, _, unknown, origin = _split(bare)
    pre = "module." if prefixed else ""
    target = _target_shapes(overrides)
    missing = [k for k in target if k not in mapped and not k.endswith(_OPTIONAL_SUFFIX)]
    extra = [f"{pre}{origin[k]} -> {k}" for k in mapped if k not in target]
    shapes = [f"{pre}{origin[k]} -> {k}: file {tuple(mapped[k].shape)} vs model {target[k]}"
              for k in target if k in mapped and tuple(mapped[k].shape) != target[k]]
    problems = []
    if unknown:
        problems.append(f"keys that are not the release's ACGA: {_fmt([pre + k for k in unknown])}")
    if missing:
        rev = {v: k for k, v in _HEAD_MODULES.items()}
        named = [_release_name(k, rev) for k in missing]
        problems.append(f"missing tensors (release name -> ours): {_fmt(named)}")
    if extra:
        problems.append(f"tensors our model does not have: {_fmt(extra)}")
    if shapes:
        problems.append(f"shape mismatches: {'; '.join(shapes[:10])}"
                        + (f" ... ({len(shapes)} in all)" if len(shapes) > 10 else ""))
    if problems:
        raise CheckpointError(
            f"{source} does not map completely onto ACGA (released_code config): "
            + " | ".join(problems) + ". Pass the authors' ACGA checkpoint "
            "(ckpt.tar -> checkpoint/ACGA/model_best.pth.tar), unmodified")
    return {k: mapped[k] for k in target if k in mapped}


def _release_name(ours: str, rev: Mapping[str, str]) -> str:
    for our_prefix, their_prefix in rev.items():
        if ours.startswith(our_prefix):
            return f"module.{their_prefix}{ours[len(our_prefix):]} -> {ours}"
    if ours.startswith("visual.streams.0."):
        branch, _, rest = ours[len("visual.streams.0."):].partition(".")
        leaf, _, param = rest.partition(".")
        theirs = {"b0": "branch_0", "b1a": "branch_1.0", "b1b": "branch_1.1", "b2a": "branch_2.0",
                  "b2b": "branch_2.1", "b3b": "branch_3.1"}.get(branch, branch)
        leaf = {"bn": "batch3d"}.get(leaf, leaf)
        return f"module.{_I3D_PREFIX}mixed_4f.{theirs}.{leaf}.{param} -> {ours}"
    return ours


def _load_official(path: Path) -> Any:
    from .checkpoint import load_torch_file

    if not path.is_file():
        raise CheckpointError(f"{path} does not exist; pass the authors' checkpoint "
                              "(model_best.pth.tar from their ckpt.tar)")
    return load_torch_file(path, "checkpoint", "pass the authors' model_best.pth.tar (from "
                           "their ckpt.tar), which holds only tensors and plain values")


def _detect_modality(bare: Mapping[str, Any]) -> str | None:
    w = bare.get(_I3D_PREFIX + "conv3d_1a_7x7.conv3d.weight")
    if isinstance(w, torch.Tensor) and w.ndim == 5:
        return {3: "rgb", 2: "flow"}.get(int(w.shape[1]))
    return None


def convert_official_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, *,
                                overrides: Sequence[str] = ()) -> ConversionReport:
    """Convert the authors' ``model_best.pth.tar`` into our safetensors checkpoint ``dst``.

    Reads ``src`` with ``torch.load(..., weights_only=True)`` (no code runs), remaps it with
    :func:`remap_official`, loads it into our model built from the ``released_code`` config
    (plus ``overrides``) and writes ``dst`` with that config and state ``{"epoch", "source",
    "converted_from"}``. The frozen I3D blocks and the optimizer state are dropped and listed in
    the report. Untested paths (no ``module.`` prefix, a bare state dict, the flow model) are
    converted with a logged warning.

    Raises:
        CheckpointError: the file is missing, not a checkpoint, refused by ``weights_only``, or
            does not map completely (naming the keys).
    """
    from .checkpoint import save_checkpoint
    from .config import config_to_dict, load_config
    from .models import build_model

    src, dst = Path(src), Path(dst)
    obj = _load_official(src)
    warnings: list[str] = []
    dropped: dict[str, str] = {}
    epoch: int | None = None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        state_dict = obj["state_dict"]
        raw_epoch = obj.get("epoch")
        if isinstance(raw_epoch, torch.Tensor) and raw_epoch.numel() == 1:
            raw_epoch = raw_epoch.item()
        epoch = int(raw_epoch) if isinstance(raw_epoch, (int, float)) else None
        for k in obj:
            if k not in ("state_dict", "epoch"):
                dropped[k] = "checkpoint entry (optimizer state is not converted)"
    elif isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor)
                                                  for v in obj.values()):
        state_dict = obj
        warnings.append("the file is a bare state dict, not the release's {'epoch', 'state_dict', "
                        "'optimizer'}: untested path, converted as is")
    else:
        what = f"a dict with keys {_fmt([str(k) for k in obj])}" if isinstance(obj, Mapping) \
            else f"a {type(obj).__name__}"
        raise CheckpointError(f"{src} holds {what}, not the authors' checkpoint "
                              "{'epoch', 'state_dict', 'optimizer'}")

    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{src}: state_dict entries {_fmt([str(k) for k in bad])} are not "
                              "tensors; not an ACGA checkpoint")
    bare, prefixed = _strip_dataparallel(state_dict)
    if not prefixed:
        warnings.append("keys lack the DataParallel 'module.' prefix of the release: untested "
                        "path, converted as is")
    modality = _detect_modality(bare) or "rgb"
    overrides = list(overrides)
    if modality == "flow":
        warnings.append("the I3D in the file takes optical flow (2 input channels): the flow model "
                        "of the release is untested here; converted with model.modality=flow")
        overrides = ["model.modality=flow", *overrides]
    elif _detect_modality(bare) is None:
        warnings.append("cannot tell the modality (no conv3d_1a_7x7 weight of the release's "
                        "I3D in the file): assumed rgb")

    sd = remap_official(state_dict, source=str(src), overrides=overrides)
    _, i3d_dropped, _, _ = _split(bare)
    dropped = {**{("module." if prefixed else "") + k: v for k, v in i3d_dropped.items()},
               **dropped}

    cfg = load_config("released_code", overrides)
    model = build_model(cfg)
    own = model.state_dict()
    defaulted = [k for k in own if k not in sd]  # only num_batches_tracked (remap_official checked)
    result = model.load_state_dict(sd, strict=False)
    assert not result.unexpected_keys and sorted(result.missing_keys) == sorted(defaulted)
    for w in warnings:
        logger.warning("%s: %s", src, w)
    if defaulted:
        logger.warning("%s: %d BatchNorm num_batches_tracked counters absent (PyTorch < 0.4.1 "
                       "file?); left at 0 (unused with momentum 0.1)", src, len(defaulted))
    logger.info("%s: %d tensors mapped, %d entries dropped", src, len(sd), len(dropped))
    logger.debug("dropped: %s", dropped)

    save_checkpoint(dst, model, config=config_to_dict(cfg), include_rng=False,
                    state={"epoch": epoch, "source": OFFICIAL_SOURCE, "converted_from": src.name})
    return ConversionReport(source=str(src), destination=str(dst), epoch=epoch, modality=modality,
                            mapped=len(sd), dropped=dropped, defaulted=defaulted,
                            warnings=warnings)
