"""The feature cache: frozen I3D Mixed_4e outputs, computed once per clip (docs/data.md,
"Feature cache").

Everything up to Mixed_4e is frozen, so ``acga extract`` runs it once per sample and training
reads the cache. The authors' release loads all features (163 GB) into RAM; this cache reads one
sample at a time from a memory map, so a data loader's peak memory does not grow with the
dataset (measured by ``benchmarks/cache_loader.py``).

Layout of a cache folder (one modality per cache)::

    CACHE/manifest.json          settings + the list of finished keys (written atomically)
    CACHE/features/<key>.npy     one sample, (C, T, H, W) (528, 4, 32, 32) for the paper config
    CACHE/.lock                  held (flock) by the one process that writes the cache

Design and crash safety:

- Every sample is written to a temporary file in ``features/`` (name starting with ``.``) and
  renamed to ``<key>.npy`` only when complete and fsynced, so a file under its final name is a
  whole entry. A crash leaves at most a temporary file, which the next writer deletes.
- The manifest is rewritten (atomically) every ``flush_every`` writes and on :meth:`close`, not
  on every write (that would cost O(N^2) for N samples). On open, finished files that the
  manifest does not list yet (written after the last flush, before a crash) are adopted after a
  size check; a file whose size is not that of a whole entry (torn by a power cut or a copy) is
  never read: it is dropped from the index, deleted by a writer, and redone by ``acga extract``.
- The manifest records the settings the features depend on (:class:`CacheSettings`, among
  them the frozen I3D's BatchNorm eps; the manifest file: :mod:`acga.data.feature_manifest`):
  opening an existing cache for writing with other settings is refused with a
  :class:`DataError` naming the fields that differ, so one cache never mixes features of two
  backbones or resolutions.
- Sharded extraction (``--shard i/n``) writes one cache folder per shard;
  :func:`acga.data.feature_merge.merge_shards` checks that their settings agree and hard-links
  (or copies) their files into one cache with one manifest (:meth:`FeatureCache.adopt`).
- On disk float16 by default (half the size of float32: 4.3 MB per paper-config sample),
  float32 as an option; :meth:`FeatureCache.read` always returns float32.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError, InvalidShapeError
from ..utils import atomic_write
from .feature_manifest import MANIFEST, CacheSettings, read_manifest, write_manifest

__all__ = ["FeatureCache", "CacheReport", "CachedFeatureDataset"]

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]*$")


@dataclass
class CacheReport:
    """What :meth:`FeatureCache.verify` found."""

    ok: int
    bad: dict[str, str]
    """key -> what is wrong (missing, torn, wrong shape, non-finite)."""
    stray: list[str]
    """Temporary or foreign files in ``features/`` (leftovers of a crash)."""

    @property
    def clean(self) -> bool:
        return not self.bad and not self.stray


class FeatureCache:
    """One cache folder (see the module docstring). Use :meth:`create` or :meth:`open`.

    A writable cache holds an exclusive lock on the folder until :meth:`close` (or the end of a
    ``with`` block); reading needs no lock and may run while a writer adds samples.
    """

    def __init__(self, path: Path, settings: CacheSettings, keys: set[str], writable: bool,
                 flush_every: int, lock: object | None):
        self.path = path
        self.settings = settings
        self._keys = keys
        self.writable = writable
        self.flush_every = flush_every
        self._lock = lock
        self._unflushed = 0
        self._entry_bytes = settings.entry_bytes

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, settings: CacheSettings, *, flush_every: int = 64) -> "FeatureCache":
        """Open ``path`` for writing: a new cache, or resume an existing one with equal settings.

        Raises:
            DataError: the folder holds a cache with other settings (the message names the
                fields), or a file that is not a cache manifest, or another writer holds it.
        """
        path = Path(path)
        (path / "features").mkdir(parents=True, exist_ok=True)
        lock = _acquire_lock(path)
        try:
            manifest = path / MANIFEST
            if manifest.exists():
                found, keys = read_manifest(manifest)
                diff = found.differences(settings)
                if diff:
                    raise DataError(f"feature cache {path} was made with other settings "
                                    f"(cache != requested): {'; '.join(diff)}. Use another "
                                    f"--out folder, or delete this one to rebuild it")
            else:
                keys = set()
            cache = cls(path, settings, keys, True, flush_every, lock)
            cache._reconcile(repair=True)
            cache.flush()
        except BaseException:
            _release_lock(lock)
            raise
        log.info("feature cache %s: %d samples done", path, len(cache._keys))
        return cache

    @classmethod
    def open(cls, path: str | os.PathLike, expect: CacheSettings | None = None) -> "FeatureCache":
        """Open an existing cache read-only.

        Args:
            path: the cache folder.
            expect: settings the caller needs; a difference is a :class:`DataError` naming the
                fields.
        """
        path = Path(path)
        manifest = path / MANIFEST
        if not manifest.is_file():
            raise DataError(f"{path} is not a feature cache (no {MANIFEST}); run `acga extract "
                            f"--out {path}` first")
        settings, keys = read_manifest(manifest)
        if expect is not None:
            diff = settings.differences(expect)
            if diff:
                raise DataError(f"feature cache {path} does not match the config "
                                f"(cache != expected): {'; '.join(diff)}")
        cache = cls(path, settings, keys, False, 0, None)
        cache._reconcile(repair=False)
        return cache

    def _file(self, key: str) -> Path:
        return self.path / "features" / f"{key}.npy"

    def _reconcile(self, repair: bool) -> None:
        """Make the key set match whole files on disk (see the module docstring)."""
        on_disk: dict[str, int] = {}
        stray: list[Path] = []
        with os.scandir(self.path / "features") as entries:
            for entry in entries:
                if entry.name.endswith(".npy") and not entry.name.startswith("."):
                    on_disk[entry.name[:-4]] = entry.stat().st_size
                else:
                    stray.append(Path(entry.path))
        keys = set()
        for key in self._keys | set(on_disk):
            size = on_disk.get(key)
            if size == self._entry_bytes:
                keys.add(key)
                continue
            why = "missing" if size is None else f"torn ({size} of {self._entry_bytes} bytes)"
            log.warning("feature cache %s: entry %s is %s; it will be redone", self.path, key, why)
            if repair and size is not None:
                self._file(key).unlink()
        if repair:
            for p in stray:
                if p.name.startswith(".") and p.name.endswith(".tmp"):
                    log.info("feature cache %s: removing %s left by an interrupted write",
                             self.path, p.name)
                    p.unlink()
        changed = keys != self._keys
        self._keys = keys
        if changed:
            self._unflushed += 1

    # -- reading ----------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self._keys

    __contains__ = has

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self) -> list[str]:
        """The finished keys, sorted."""
        return sorted(self._keys)

    def read(self, key: str, *, mmap: bool = False) -> np.ndarray:
        """One sample, ``settings.feature_shape`` (e.g. (528, 4, 32, 32)).

        Args:
            mmap: return the read-only on-disk array (its dtype) instead of a float32 copy.

        Raises:
            DataError: the key is not in the cache, or its file is corrupt (names the file).
        """
        if key not in self._keys:
            raise DataError(f"feature cache {self.path} has no sample {key!r}; run `acga extract` "
                            f"for this dataset and split (it resumes where it stopped)")
        file = self._file(key)
        try:
            arr = np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # permission denied, I/O error: the file system's words, not "corrupt"
            raise DataError(f"feature file {file} cannot be read: it is not a whole .npy array "
                            f"({_npy_cause(exc)}); delete it and re-run `acga extract` to redo "
                            "it") from None
        if arr.shape != self.settings.feature_shape or arr.dtype != np.dtype(self.settings.dtype):
            raise DataError(f"feature file {file} holds {arr.dtype}{arr.shape}, the manifest says "
                            f"{self.settings.dtype}{self.settings.feature_shape}")
        return arr if mmap else np.array(arr, dtype=np.float32)

    def verify(self, deep: bool = False) -> CacheReport:
        """Check every listed entry: present, whole; with ``deep`` also readable, of the right
        shape and dtype, and finite (reads everything: ~1 min per 10 GB)."""
        bad: dict[str, str] = {}
        for key in sorted(self._keys):
            file = self._file(key)
            try:
                size = file.stat().st_size
            except FileNotFoundError:
                bad[key] = "missing"
                continue
            if size != self._entry_bytes:
                bad[key] = f"torn ({size} of {self._entry_bytes} bytes)"
                continue
            if deep:
                try:
                    arr = self.read(key, mmap=True)
                except DataError as exc:
                    bad[key] = str(exc)
                    continue
                if not np.isfinite(arr).all():
                    bad[key] = "non-finite values"
        stray = sorted(e.name for e in os.scandir(self.path / "features")
                       if not (e.name.endswith(".npy") and not e.name.startswith(".")))
        return CacheReport(ok=len(self._keys) - len(bad), bad=bad, stray=stray)

    # -- writing ----------------------------------------------------------------------------

    def write(self, key: str, array: np.ndarray) -> None:
        """Store one sample atomically (replacing an existing one).

        Args:
            key: a file-name-safe id (:attr:`acga.data.records.Sample.key`).
            array: ``settings.feature_shape``, any float dtype (a torch tensor on the CPU works).
        """
        if not self.writable:
            raise DataError(f"feature cache {self.path} was opened read-only; use FeatureCache.create")
        if not _KEY.match(key):
            raise DataError(f"feature cache key {key!r} is not file-name-safe "
                            f"(letters, digits, _ . + = -; not starting with a dot)")
        array = np.asarray(array)
        if array.shape != self.settings.feature_shape:
            raise InvalidShapeError(f"features of {key}", array.shape, str(self.settings.feature_shape))
        with np.errstate(over="ignore"):  # overflow to inf is reported just below
            data = np.ascontiguousarray(array, dtype=self.settings.dtype)
        if not np.isfinite(data).all():
            where = "after conversion to float16 (values beyond +-65504)" if np.isfinite(array).all() else ""
            raise DataError(f"features of {key} have NaN or infinite values {where}".rstrip())
        final = self._file(key)
        with atomic_write(final, "wb") as handle:  # temp ".<key>.npy.*.tmp", fsync, rename
            np.lib.format.write_array(handle, data, allow_pickle=False)
        self._keys.add(key)
        self._unflushed += 1
        if self._unflushed >= self.flush_every:
            self.flush()

    def adopt(self, key: str, source: "FeatureCache", *, copy: bool = False) -> None:
        """Take entry ``key`` of ``source`` (a cache with equal settings) as it is on disk:
        hard-linked when possible (no extra disk), else copied (``copy=True`` forces a copy),
        then renamed into place (used by :func:`acga.data.feature_merge.merge_shards`)."""
        if not self.writable:
            raise DataError(f"feature cache {self.path} was opened read-only; use FeatureCache.create")
        src, dst = source._file(key), self._file(key)
        tmp = dst.with_name(f".{key}.merge.tmp")
        if not copy:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        self._keys.add(key)
        self._unflushed += 1

    def flush(self) -> None:
        """Write the manifest now (atomically)."""
        if not self.writable:
            return
        write_manifest(self.path, self.settings, self._keys)
        self._unflushed = 0

    def close(self) -> None:
        """Flush the manifest and release the lock (a writable cache); idempotent."""
        if self.writable and self._lock is not None:
            self.flush()
            _release_lock(self._lock)
            self._lock = None

    def __enter__(self) -> "FeatureCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # Data-loader workers get a read-only view: the lock and writes stay in the parent.
        state = self.__dict__.copy()
        state.update(_lock=None, writable=False, _unflushed=0)
        return state

    def __repr__(self) -> str:
        mode = "rw" if self.writable else "r"
        return f"FeatureCache({str(self.path)!r}, {len(self)} samples, {self.settings.dtype}, {mode})"


class CachedFeatureDataset(Dataset):
    """A torch ``Dataset`` over cache entries: item i is ``cache.read(keys[i])`` as a float32
    tensor of ``cache.settings.feature_shape``. Nothing is held in memory between items."""

    def __init__(self, cache: FeatureCache, keys: Sequence[str] | None = None):
        self.cache = cache
        self.keys = list(cache.keys() if keys is None else keys)
        missing = [k for k in self.keys if not cache.has(k)]
        if missing:
            raise DataError(f"feature cache {cache.path} lacks {len(missing)} of {len(self.keys)} "
                            f"samples (first: {missing[0]}); run `acga extract` to add them")

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> "torch.Tensor":
        return torch.from_numpy(self.cache.read(self.keys[i]))


# ----------------------------------------------------------------------------------------------


def _acquire_lock(path: Path):
    handle = open(path / ".lock", "a+b")
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; single writer by convention
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise DataError(f"feature cache {path} is being written by another process; run one "
                        f"writer per folder (use --shard i/n with separate --out folders)") from None
    return handle


def _release_lock(handle) -> None:
    with contextlib.suppress(OSError):
        handle.close()  # closing the descriptor releases the flock


def _npy_cause(exc: Exception) -> str:
    """numpy's reason for refusing an .npy file, without its advice to load pickles unsafely."""
    text = str(exc)
    if "pickle" in text:
        return "it is not an .npy file"
    return text.split(". ")[0] or type(exc).__name__
