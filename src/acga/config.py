"""Typed experiment configuration.

A config is a YAML file whose sections map onto the frozen dataclasses below. A variant is a
diff: ``base: acga_a2d.yaml`` plus the keys that change (resolved relative to the file). Configs
shipped with the package can be named without a path (``acga params baseline``). ``key=value``
overrides use dotted keys (``train.lr=1e-4``) and YAML values.

Every wrong key, type or value fails at load time with the file, the key and the allowed values
(:mod:`acga.config_coerce` builds the dataclasses, :mod:`acga.config_checks` checks values across
fields); keys of older configs are first brought up to date (:mod:`acga.config_upgrade`). Model names are checked where models are built (:func:`acga.models.build_model`): this
module imports nothing of the models.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml

from .config_checks import validate
from .config_coerce import build_dataclass
from .config_upgrade import upgrade_keys
from .errors import ConfigError

__all__ = [
    "ModelConfig",
    "BaselineConfig",
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

Head = Literal["S", "M", "L"]


@dataclass(frozen=True)
class ModelConfig:
    """The network. Defaults are the paper's configuration (Wang et al. 2019, section 3-4)."""

    name: str = "acga"
    """Model family: ``acga`` or a baseline; the names are the keys of ``acga.models.MODELS``,
    checked when the model is built (:func:`acga.models.check_model_name`)."""

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


@dataclass(frozen=True)
class BaselineConfig:
    """Sizes of the baselines' own layers (:mod:`acga.models.baselines`; ACGA ignores them).
    The baseline is chosen by ``model.name``; every other setting it reads is in ``model``."""

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
    init_visual: str = ""
    """A checkpoint (``.safetensors`` of `acga train`, `demo` or `ablate`) whose visual encoder
    (its ``visual.*`` weights) initialises this run's before training, as the paper's I3D comes
    pretrained; its shapes must match. Empty: the encoder's own initialisation."""


@dataclass(frozen=True)
class DataConfig:
    dataset: Literal["a2d", "jhmdb", "ytvos", "davis"] = "a2d"
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
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
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
    """A checked :class:`Config` from a plain mapping (parsed YAML, a checkpoint's config)."""
    cfg = build_dataclass(Config, upgrade_keys(data, source), source)
    validate(cfg, source)
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
