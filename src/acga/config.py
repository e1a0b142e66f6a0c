"""Typed experiment configuration.

A config is a YAML file whose sections map onto the frozen dataclasses below. A variant is a
diff: ``base: acga_a2d.yaml`` plus the keys that change (resolved relative to the file). Configs
shipped with the package can be named without a path (``acga params baseline``). ``key=value``
overrides use dotted keys (``train.lr=1e-4``) and YAML values.

Every wrong key, type or value fails at load time with the file, the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence

import logging

import yaml

from .errors import ConfigError

__all__ = [
    "ModelConfig",
    "LossConfig",
    "TrainConfig",
    "DataConfig",
    "SynthConfig",
    "Config",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "packaged_config_dir",
    "list_packaged_configs",
    "resolve_config_path",
]

log = logging.getLogger(__name__)

Head = Literal["S", "M", "L"]

RETIRED_KEYS: dict[str, tuple[Any, ...] | None] = {
    "train.optimizer": ("adam",),
    "data.hflip": None,
    "paper": None,
}
"""Keys earlier acga versions had and wrote into every checkpoint's stored config, removed
since because nothing read them: ``train.optimizer`` (training always used Adam, the only value
ever allowed), ``data.hflip`` (the flip was never wired
into training) and ``paper`` (the published numbers a config reproduced; they live in
:mod:`acga.paper_results` alone). A config that still holds one loads as before: the key is dropped with a debug
log. The tuple lists the only values it may have (``None``: any); another value is a
ConfigError, since acga cannot do what it asks."""


@dataclass(frozen=True)
class ModelConfig:
    """The network. Defaults are the paper's configuration (Wang et al. 2019, section 3-4)."""

    name: str = "acga"
    """Model family: ``acga``; baselines register further names in ``acga.models.MODELS``."""

    # --- inputs -------------------------------------------------------------------------------
    num_words: int = 20
    """Words per query (longer queries are truncated, shorter zero-padded)."""
    word_dim: int = 300
    """Word-vector size D_T (300 for word2vec GoogleNews)."""
    backbone: Literal["i3d_cached", "small3d"] = "i3d_cached"
    """``i3d_cached``: input is I3D Mixed_4e features (B, 528, T/4, H/16, W/16) from the cache and
    only Mixed_4f is trained; ``small3d``: input is the clip itself (B, 3, T, H, W) through a small
    3-D CNN trained jointly (the CPU demo, where no I3D weights exist)."""
    modality: Literal["rgb", "flow", "rgb+flow"] = "rgb"
    """Input stream(s). ``rgb+flow`` runs one Mixed_4f per stream and averages the two
    L2-normalised feature maps before re-normalising (late fusion of F_V)."""
    clip_len: int = 16
    """Frames per clip N_V, annotated frame in the middle."""
    input_size: int = 512
    """Side of the square (letterboxed) model input, = the Res3 decoder resolution."""
    backbone_in_channels: int = 528
    """Channels of the cached features (I3D Mixed_4e)."""
    visual_dim: int = 832
    """Channels of F_V (I3D Mixed_4f output)."""
    mixed_4f_bn_eps: float = 1e-3
    """BatchNorm eps of the trainable Mixed_4f (1e-3 as I3D; the release builds it with
    PyTorch's default 1e-5)."""
    mixed_4f_bn_momentum: float = 0.01
    """BatchNorm momentum of Mixed_4f (0.01 as the PyTorch I3D port; the release: 0.1)."""
    small3d_widths: tuple[int, ...] = (16, 32, 64)
    """Widths of the small 3-D CNN stages (``backbone: small3d`` only)."""
    small3d_stem_kernel: tuple[int, int, int] = (3, 5, 5)
    """(T, H, W) kernel of the small 3-D CNN's first convolution. A temporal extent of 1 makes
    the stem 4x cheaper to train; the later stages (temporal kernel 3) still see motion."""
    coord_dim: int = 8
    """Spatial-coordinate channels C (xmin, ymin, xmax, ymax, xc, yc, 1/W, 1/H)."""
    resolutions: tuple[int, int, int] = (32, 128, 512)
    """Decoder resolutions Res1 (S), Res2 (M), Res3 (L). Res1 is the feature-map size."""

    # --- text encoder -------------------------------------------------------------------------
    text_encoder: Literal["conv1d", "lstm"] = "conv1d"
    text_kernel_size: int = 3
    """Conv1d kernel of Enc_T. The paper's Table-1 baseline count implies 2 (see docs)."""

    # --- attention ----------------------------------------------------------------------------
    attention: Literal["acga", "kwa", "none"] = "acga"
    """``acga``: VGLA + LGVA (ours); ``kwa``: Key-Word-Aware attention (Shi et al. 2018);
    ``none``: the Baseline (F_V and the max-pooled sentence feature go to the decoder)."""
    text_attention: bool = True
    """Use VGLA's F_TA (else the max-pooled sentence feature tiled over the map)."""
    vision_attention: bool = True
    """Use LGVA's F_VA (else F_V)."""
    lgva_value_channels: int | None = None
    """Value channels of LGVA kept for the decoder; ``null`` keeps all visual_dim + coord_dim
    (the paper's count). The released code keeps the first 832."""
    lgva_scores: Literal["query_key", "key_query"] = "query_key"
    """Paper eq. 8: softmax(Q K^T) (rows indexed by queries); release: softmax(K Q^T)."""
    lgva_gate: Literal["linear", "sigmoid"] = "linear"
    """Activation of the text gate F_{T->VC}: eq. 5 is a plain Linear; ``sigmoid`` is an option."""
    mask_padding: bool = False
    """Mask padded word positions in VGLA's softmax and LGVA's max-pool (neither the paper nor
    the release does)."""

    # --- decoder ------------------------------------------------------------------------------
    heads: tuple[Head, ...] = ("S", "M", "L")
    """Resolutions that get an FCN response head (and a loss). Must contain L (Res3)."""
    mrf: bool = True
    """Multi-resolution fusion: Conv3x3 over the interpolated responses of all heads."""
    head_widths: tuple[int, int, int] = (256, 128, 64)
    """FCN widths at S, M, L."""
    deconv_dims: tuple[int, int] = (256, 128)
    """Channels of F_V^M and F_V^L."""
    deconv_activation: bool = False
    """ReLU between the transposed conv and the 3x3 conv of each Deconv (the release has none)."""
    coords: Literal["interp", "native"] = "interp"
    """Coordinates at M and L: bilinear Interp(C) as eq. 11, or computed at each resolution."""
    concat_order: Literal["video_coords_text", "video_text_coords"] = "video_coords_text"
    """Channel order of the decoder's concatenations: eq. 11's [F_VA, C, F_TA], or the release's."""
    init: Literal["released", "pytorch"] = "released"
    """``released``: Linear weights N(0, 0.02), zero bias; convolutions PyTorch's default."""
    decoder_impl: Literal["fast", "reference"] = "fast"
    """How the decoder computes (same parameters, same outputs up to float rounding): ``fast``
    (channels-last, text and coordinate terms of each head's first convolution computed at low
    resolution, see acga.models.decoder) or ``reference``, the direct transcription of eq. 10-13
    that the tests and benchmarks compare against."""

    # --- baselines (acga.models.baselines; ignored by ACGA) -------------------------------------
    lstm_hidden: int = 1000
    """Hidden size of the LSTM sentence encoder of the ``hu`` and ``li`` baselines (Hu et al.
    2016: 1000)."""
    classifier_width: int = 500
    """Width of the hidden 1x1 convolution of the ``hu`` baseline's classifier (Hu et al.: 500)."""
    cmsa_dim: int = 512
    """``cmsa`` baseline: channels of each level's pooled cross-modal feature and of the fused
    map (gated multi-level fusion, cross-frame self-attention)."""
    cmsa_key_dim: int = 64
    """``cmsa`` baseline: query/key/value channels of the cross-modal self-attention over the
    word-pixel volume (kept small: that volume has num_words x r1 x r1 positions)."""


@dataclass(frozen=True)
class LossConfig:
    pos_weight: float = 1.5
    """Foreground coefficient P of the weighted BCE (1.0 = plain BCE)."""
    weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    """lambda for each head, in the order of ``model.heads``."""
    unfused_large_loss: bool = False
    """With MRF, also put a loss on the unfused R_L (neither paper nor release does)."""
    target_resize: Literal["bilinear", "nearest"] = "bilinear"
    """How Y^S and Y^M are made from Y^L (eq. 14: bilinear, i.e. soft targets)."""


@dataclass(frozen=True)
class TrainConfig:
    """Training: always Adam (the paper's optimiser), with ``lr`` and ``weight_decay``."""

    lr: float = 5e-4
    batch_size: int = 4
    epochs: int = 12
    lr_step: int = 8
    """Divide the learning rate by 1/lr_gamma every lr_step epochs."""
    lr_gamma: float = 0.1
    lr_schedule: Literal["step", "cosine"] = "step"
    """``step``: the paper's (lr_step, lr_gamma), set per epoch; ``cosine``: from lr down to 0
    over all training steps, set per step (lr_step and lr_gamma unused)."""
    sampling: Literal["shuffle", "random_batches"] = "shuffle"
    """``shuffle``: each epoch visits every sample once; ``random_batches``: the release's fresh
    random batch per step (draws repeat within an epoch)."""
    steps_per_epoch: int | None = None
    """Limit on steps per epoch (``null`` = len(dataset) // batch_size)."""
    seed: int = 2019
    checkpoint_every: int = 0
    """Also checkpoint every N steps (0 = only at the end of each epoch)."""
    processes: int = 1
    """Training processes on this machine's CPU. Above 1, ``acga train`` / ``demo`` / ``ablate``
    spawn that many DDP (gloo) workers, each with an equal share of the cores and its slice of
    every global batch (``batch_size`` stays the global batch). On the 2-core CPU two processes
    measured the same speed as one with two threads (benchmarks/demo_train_speed.py); more cores
    may differ. Ignored on a GPU and under ``torchrun``; capped at the CPU count; it must divide
    ``batch_size``."""
    num_workers: int = 0
    """Processes that load the next batches while a step runs (``torch.utils.data.DataLoader``
    workers, kept for the whole run); 0 loads each batch in the training process when the step
    needs it. The batches and losses are the same for any value."""
    amp: Literal["none", "bf16", "fp16"] = "none"
    device: str = "auto"
    weight_decay: float = 0.0


@dataclass(frozen=True)
class DataConfig:
    dataset: Literal["a2d", "jhmdb"] = "a2d"
    root: str = ""
    """Dataset root (the folder holding ``Release/`` for A2D). Empty: env ACGA_A2D_ROOT /
    ACGA_JHMDB_ROOT, or the ``--root`` argument."""
    source: Literal["cache", "video"] = "cache"
    """``cache``: Mixed_4e features from ``acga extract``; ``video``: decode clips on the fly."""
    cache: str = ""
    word_vectors: str = "builtin"
    """``builtin`` (vectors shipped in a PyPI package) or a path to word2vec/GloVe vectors."""
    eval_mask: Literal["original", "training"] = "original"
    """Evaluate against the original annotation, or (the release) the 512x512 training mask
    mapped back to the original size."""
    jhmdb_frames: str = "uniform"
    """``uniform``, ``all`` or a path to a JSON list of frames."""


@dataclass(frozen=True)
class SynthConfig:
    """The synthetic benchmark `acga demo` generates (ignored by other commands)."""

    videos: int = 300
    jhmdb_videos: int = 60
    size: int = 96
    """Frame height in pixels."""
    generator: int = 1
    """Synthetic generator version (docs/synthetic.md): 1, or 2 with relation/comparison queries."""


@dataclass(frozen=True)
class Config:
    name: str = "acga_a2d"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)


# ------------------------------------------------------------------------------------------
# loading


def packaged_config_dir() -> Path:
    return Path(__file__).resolve().parent / "configs"


def list_packaged_configs() -> list[str]:
    root = packaged_config_dir()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def resolve_config_path(name: str | os.PathLike, relative_to: Path | None = None) -> Path:
    """A path to a YAML file, or the name of a packaged config (``ablations/baseline``)."""
    candidates = [Path(name)]
    if relative_to is not None:
        candidates.insert(0, relative_to / name)
    stem = str(name)
    if not stem.endswith((".yaml", ".yml")):
        stem += ".yaml"
    candidates.append(packaged_config_dir() / stem)
    candidates += sorted(packaged_config_dir().rglob(Path(stem).name))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    known = ", ".join(list_packaged_configs())
    raise ConfigError(f"config {name!s} not found: pass a YAML file or one of: {known}")


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in chain:
        raise ConfigError(f"config {path}: circular 'base' chain: {' -> '.join(map(str, chain))}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    parent = _read_yaml(resolve_config_path(base, path.parent), chain + (path,))
    return _deep_merge(parent, data)


def _deep_merge(base: dict, update: Mapping) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Load a YAML config (with its ``base`` chain) and apply ``key=value`` overrides."""
    resolved = resolve_config_path(path)
    data = _read_yaml(resolved)
    data.setdefault("name", resolved.stem)
    data = apply_overrides(data, overrides)
    return config_from_dict(data, source=str(resolved))


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    data = _deep_merge({}, data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (e.g. train.lr=1e-4)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[parts[-1]] = value
    return data


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Config:
    cfg = _build(Config, data, source, "")
    _validate(cfg, source)
    return cfg


def config_to_dict(cfg: Any) -> Any:
    """Plain dict (YAML/JSON-safe: tuples become lists)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: config_to_dict(v) for k, v in cfg.items()}
    return cfg


def _build(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"config {source}: {prefix.rstrip('.') or 'top level'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names and f"{prefix}{key}" in RETIRED_KEYS:
            _drop_retired(f"{prefix}{key}", value, source)
            continue
        if key not in names:
            near = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {prefix}{near[0]}?)" if near else ""
            raise ConfigError(
                f"config {source}: unknown key {prefix}{key}{hint}; valid keys: {', '.join(names)}"
            )
        kwargs[key] = _coerce(hints[key], value, source, f"{prefix}{key}")
    return cls(**kwargs)


def _drop_retired(key: str, value: Any, source: str) -> None:
    allowed = RETIRED_KEYS[key]
    if allowed is not None and value not in allowed:
        raise ConfigError(f"config {source}: {key} = {value!r}: the key was removed and acga "
                          f"only ever supported {', '.join(repr(a) for a in allowed)}; "
                          f"delete the key")
    log.debug("config %s: ignoring retired key %s = %r (no longer a setting)", source, key, value)


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value if value is not None else {}, source, key + ".")
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, source, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1] if errors else f"config {source}: {key} has a wrong value")
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"config {source}: {key} = {value!r} is not allowed; use one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config {source}: {key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"config {source}: {key} must have {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config {source}: {key} must be a mapping")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config {source}: {key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config {source}: {key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config {source}: {key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config {source}: {key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"config {source}: {key} has unsupported type {tp}")


def _validate(cfg: Config, source: str) -> None:
    m, loss = cfg.model, cfg.loss

    def fail(msg: str) -> None:
        raise ConfigError(f"config {source}: {msg}")

    from .models import MODELS  # the registry is the one list of model names

    if m.name not in MODELS:
        fail(f"model.name = {m.name!r} is not a model; use one of: {', '.join(sorted(MODELS))}")
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
    if cfg.synth.generator not in (1, 2):
        fail(f"synth.generator = {cfg.synth.generator} must be 1 or 2 (docs/synthetic.md)")
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
