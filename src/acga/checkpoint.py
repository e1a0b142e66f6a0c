"""Checkpoints: one safetensors file per checkpoint, written atomically, read without unpickling.

Layout of ``*.safetensors``:

- tensors ``model/<name>`` (the model's state dict), ``optim/<param index>/<state name>``
  (Adam moments, step), ``rng/torch`` (the CPU generator state);
- header metadata (strings): ``format`` = ``acga-checkpoint``, ``version``, ``config`` (the
  resolved config as JSON), ``state`` (epoch, step, optimizer hyper-parameters, numpy and
  python RNG states, anything else JSON-safe).

The file is written to a temporary name beside the target and renamed over it, so a crash or
a full disk leaves the previous checkpoint intact; its mode follows the umask, as for any file.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "load_model_weights", "load_torch_file",
           "Checkpoint", "FORMAT", "FEATURES_BN_EPS", "expected_features_bn_eps",
           "check_features_convention"]

FORMAT = "acga-checkpoint"
VERSION = "1"

FEATURES_BN_EPS = "features_bn_eps"
"""State entry: the I3D BatchNorm eps of the feature cache the model was trained on."""


class Checkpoint:
    """What :func:`load_checkpoint` returns: tensors by group, config and state dicts."""

    def __init__(self, path: Path, model: dict[str, torch.Tensor], optim: dict[str, torch.Tensor],
                 rng: dict[str, torch.Tensor], config: dict, state: dict):
        self.path, self.model, self.optim, self.rng = path, model, optim, rng
        self.config, self.state = config, state


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    np_state = np.random.get_state()
    return ({"rng/torch": torch.get_rng_state()},
            {"numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                       float(np_state[4])],
             "python": json.loads(json.dumps(random.getstate()))})


def restore_rng(ckpt: Checkpoint) -> None:
    if "rng/torch" in ckpt.rng:
        torch.set_rng_state(ckpt.rng["rng/torch"])
    rng = ckpt.state.get("rng", {})
    if "numpy" in rng:
        kind, keys, pos, has_gauss, gauss = rng["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "python" in rng:
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, config: dict,
                    optimizer: torch.optim.Optimizer | None = None, state: dict | None = None,
                    include_rng: bool = True) -> Path:
    """Write model (+ optimizer, RNG, state) to ``path`` atomically."""
    from safetensors.torch import save

    from .utils import atomic_write_bytes

    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DDP
    tensors: dict[str, torch.Tensor] = {
        f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    meta_state = dict(state or {})
    if optimizer is not None:
        osd = optimizer.state_dict()
        for idx, pstate in osd["state"].items():
            for name, value in pstate.items():
                if torch.is_tensor(value):
                    tensors[f"optim/{idx}/{name}"] = value.detach().cpu().contiguous()
                else:
                    meta_state.setdefault("optim_scalars", {})[f"{idx}/{name}"] = value
        meta_state["optim_param_groups"] = osd["param_groups"]
    if include_rng:
        rng_tensors, rng_meta = _rng_state()
        tensors.update(rng_tensors)
        meta_state["rng"] = rng_meta
    metadata = {"format": FORMAT, "version": VERSION, "config": json.dumps(config),
                "state": json.dumps(meta_state)}
    # serialised in memory, then written by atomic_write: the one place that names the target
    # in file-system errors (a full disk included), cleans up its temporary file and gives the
    # file the umask's mode
    data = save(tensors, metadata=metadata)
    atomic_write_bytes(path, data)
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; refuse truncated or foreign files."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass a .safetensors file "
                              "written by `acga train` (or convert one with `acga convert-official`)")
    from .utils import file_kind

    kind = file_kind(path)  # opens the file first: an unreadable one is the OSError it is
    if kind in ("a zip archive", "a pickle"):
        raise CheckpointError(f"checkpoint {path} is a PyTorch torch.save file, not an acga "
                              "checkpoint (.safetensors); convert the authors' checkpoint with "
                              "`acga convert-official`")
    if kind != "a safetensors file":
        raise CheckpointError(f"checkpoint {path} is not a checkpoint: it is {kind}; pass a "
                              ".safetensors file written by `acga train` or `acga demo`")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"checkpoint {path} is a truncated or damaged safetensors file "
                              f"({exc}); use a complete checkpoint written by acga") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an acga checkpoint (format "
                              f"{metadata.get('format')!r}); an authors' checkpoint must first go "
                              "through `acga convert-official`")
    try:
        config = json.loads(metadata["config"])
        state = json.loads(metadata.get("state", "{}"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} has a damaged header ({exc})") from None
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optim": {}, "rng": {}}
    for key, value in tensors.items():
        group, _, name = key.partition("/")
        if group == "rng":
            groups["rng"][key] = value
        elif group in groups:
            groups[group][name] = value
    return Checkpoint(path, groups["model"], groups["optim"], groups["rng"], config, state)


# Parameters that older versions had and that never influenced the output; a checkpoint that
# still holds them loads without them. Key-Word-Aware's score bias cancelled in its softmax.
RETIRED_KEYS = ("text_attention.score.bias",)


def load_model_weights(model: nn.Module, ckpt: Checkpoint, part: str = "") -> None:
    """Load ``ckpt``'s model tensors, or raise listing every mismatched key and shape.

    ``part``: load only this submodule (e.g. ``"visual"``, the visual encoder) from the
    checkpoint's tensors under ``part.``; the rest of ``model`` is left as it is.
    """
    model = getattr(model, "module", model)
    tensors = ckpt.model
    if part:
        model = model.get_submodule(part)
        tensors = {k[len(part) + 1:]: v for k, v in tensors.items() if k.startswith(part + ".")}
    own = model.state_dict()
    tensors = {k: v for k, v in tensors.items() if k in own or k not in RETIRED_KEYS}
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(tensors)) if own[k].shape != tensors[k].shape]
    if missing or unexpected or shapes:
        lines = []
        if missing:
            lines.append(f"missing in checkpoint: {', '.join(missing[:20])}" +
                         (f" (+{len(missing) - 20} more)" if len(missing) > 20 else ""))
        if unexpected:
            lines.append(f"not in model: {', '.join(unexpected[:20])}" +
                         (f" (+{len(unexpected) - 20} more)" if len(unexpected) > 20 else ""))
        if shapes:
            lines.append("shape mismatch: " + "; ".join(shapes[:20]))
        if part:
            what, fix = (f"the model's {part!r} part", f"Give a checkpoint whose {part!r} part "
                         "was trained with this config's sizes")
        else:
            what, fix = ("the model's config", "Use the config the checkpoint was trained with "
                         "(it is stored in the checkpoint)")
        raise CheckpointError(f"checkpoint {ckpt.path} does not match {what}: " +
                              " | ".join(lines) + f". {fix}.")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})


def load_optimizer_state(optimizer: torch.optim.Optimizer, ckpt: Checkpoint) -> None:
    groups = ckpt.state.get("optim_param_groups")
    if groups is None:
        raise CheckpointError(f"checkpoint {ckpt.path} holds no optimizer state; cannot --resume")
    state: dict[int, dict[str, Any]] = {}
    for key, value in ckpt.optim.items():
        idx, name = key.split("/", 1)
        state.setdefault(int(idx), {})[name] = value
    for key, value in ckpt.state.get("optim_scalars", {}).items():
        idx, name = key.split("/", 1)
        state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def expected_features_bn_eps(ckpt: Checkpoint) -> tuple[float, str]:
    """The I3D BatchNorm eps of the features ``ckpt``'s weights were trained on, and why.

    A checkpoint converted from the ACGA release (``acga convert-official``) was trained on the
    release's I3D (eps 1e-5); one of ``acga train`` records the eps of its cache in its state;
    an older one was trained on a cache of TF's eps (1e-3), the only one ``acga extract`` made
    before it recorded the eps.
    """
    from .convert import OFFICIAL_SOURCE
    from .models.i3d_net import RELEASE_BN_EPS, TF_BN_EPS

    if ckpt.state.get("source") == OFFICIAL_SOURCE:
        return RELEASE_BN_EPS, f"converted from the {OFFICIAL_SOURCE} release, whose I3D uses"
    recorded = ckpt.state.get(FEATURES_BN_EPS)
    if isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        return float(recorded), "trained on a feature cache made with"
    return TF_BN_EPS, "trained before acga recorded it, so on a cache made with"


def check_features_convention(ckpt: Checkpoint, caches) -> list[str]:
    """Warn (``logging.warning``) for every feature cache whose I3D BatchNorm eps is not the one
    ``ckpt``'s weights expect; returns the warnings. ``caches`` are
    :class:`acga.data.features.FeatureCache` objects (empty when the model reads pixels)."""
    import logging

    expected, why = expected_features_bn_eps(ckpt)
    warnings = []
    for cache in caches or ():
        eps = cache.settings.bn_eps
        if eps != expected:
            warnings.append(
                f"feature cache {cache.path} was extracted with I3D BatchNorm eps {eps:g}, but "
                f"checkpoint {ckpt.path} is {why} eps {expected:g}: the features do not match the "
                f"weights' convention and the scores will be off; re-extract with `acga extract "
                f"--bn-eps {expected:g}` into another --out folder")
    for w in warnings:
        logging.getLogger(__name__).warning("%s", w)
    return warnings


def load_torch_file(path: str | os.PathLike, what: str, advice: str) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain values only, no code runs.

    A file it cannot read is a :class:`CheckpointError` that says what the file is instead
    (not a PyTorch file at all and what it looks like, a damaged or truncated zip archive, a
    zip archive of something else, a pickle holding Python objects, naming their type), then
    ``advice`` (what to pass instead). No message suggests loading the file unsafely.

    Args:
        what: the file's role, e.g. "the authors' checkpoint" or "I3D weights".
    """
    from .utils import file_kind

    path = Path(path)
    kind = file_kind(path)  # opens the file first: a missing/unreadable one is an OSError
    if kind not in ("a zip archive", "a pickle"):
        raise CheckpointError(f"{what} {path} is not a PyTorch file: it is {kind}, not the zip "
                              f"archive (or pickle) torch.save writes; {advice}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if found:
            cause = (f"holds a Python object of type {found.group(1)}, and acga reads only "
                     "tensors and plain values (no code from a file runs)")
        else:
            cause = "is damaged: its pickle data cannot be read"
        raise CheckpointError(f"{what} {path} {cause}; {advice}") from None
    except (RuntimeError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        if kind == "a zip archive":
            cause = _zip_cause(path)
        else:
            cause = "is a damaged or truncated PyTorch checkpoint (its pickle data ends early)"
        raise CheckpointError(f"{what} {path} {cause}; {advice}") from None


def _zip_cause(path: Path) -> str:
    """Why torch.load refused a zip archive: damaged, or a zip of something else."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "is a damaged or truncated PyTorch checkpoint (its zip archive cannot be read)"
    if not any(n.endswith("/data.pkl") for n in names):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        return f"is a zip archive but not a PyTorch checkpoint (it holds {shown or 'nothing'})"
    return "is a damaged PyTorch checkpoint (a part of its zip archive cannot be read)"


# Config fields that decide what the model is fed (clip length, frame size, feature channels,
# word count and vectors): a model evaluated with other values than it was trained with runs,
# but on inputs it never saw.
INPUT_FIELDS = ("model.input_size", "model.resolutions", "model.clip_len", "model.modality",
                "model.backbone", "model.backbone_in_channels", "model.num_words",
                "model.word_dim", "data.source", "data.word_vectors")


def input_differences(stored: dict, given: dict,
                      keys: tuple[str, ...] = INPUT_FIELDS) -> list[tuple[str, Any, Any]]:
    """``(key, stored value, given value)`` for each of ``keys`` where two config dicts (a
    checkpoint's and the one in use, as :func:`acga.config.config_to_dict` writes them) differ.
    A key the stored config lacks (an older checkpoint) is not reported."""
    out = []
    for key in keys:
        a, b = stored, given
        for part in key.split("."):
            a = a.get(part, _ABSENT) if isinstance(a, dict) else _ABSENT
            b = b.get(part, _ABSENT) if isinstance(b, dict) else _ABSENT
        if a is _ABSENT or b is _ABSENT:
            continue
        if _plain(a) != _plain(b):
            out.append((key, _plain(a), _plain(b)))
    return out


_ABSENT = object()


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
