"""Small helpers shared across the package: atomic writes, seeding, devices, progress."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "new_file_mode", "seed_everything",
           "peak_rss_mib", "retain_freed_memory", "resolve_device", "file_kind",
           "check_writable", "progress_bar"]


def _current_umask() -> int:
    """The process umask. Linux shows it in /proc/self/status (no side effect); elsewhere set it
    and put it back at once (os.umask can only be read by writing it)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0o666 less the umask.

    tempfile.mkstemp creates its files 0o600; every atomic write applies this mode to its
    temporary file so checkpoints, features and JSON honour the user's umask like any file."""
    return 0o666 & ~_current_umask()


def _with_target(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path``: a failed write to the hidden temporary file (or a full disk, which
    names no file) is reported as a failure to write ``path``, the name the user gave."""
    if exc.errno is None:
        return exc
    new = type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))
    new.__cause__ = exc
    return new


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    A crash or a full disk while writing leaves ``path`` as it was (the previous version stays
    intact) and removes the temporary file.

    The new file gets the mode of any new file (:func:`new_file_mode`). A file-system error
    (permission denied, no space left, ``path`` is a folder, ...) is raised as an OSError whose
    ``filename`` is ``path``, whichever step failed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():  # os.replace would fail only after the whole file is written
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        # the pid in the name lets a later run remove what a killed writer left
        # (acga.runsafety.remove_stale_temporaries)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise _with_target(exc, path) from exc
    try:
        os.chmod(tmp, new_file_mode())
        handle = os.fdopen(fd, mode)
        try:
            yield handle
        except OSError as exc:
            handle.close()
            # an error of the caller's own that names a file (reading its input) keeps its name;
            # the write's errors (ENOSPC at write() names no file) get the target's
            raise (exc if exc.filename is not None else _with_target(exc, path)) from exc
        except BaseException:
            handle.close()
            raise
        try:
            with handle:
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise _with_target(exc, path) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    with atomic_write(path, "w") as handle:
        json.dump(obj, handle, indent=indent, sort_keys=False)
        handle.write("\n")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch from one integer (the config's ``seed``)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (VmHWM; ru_maxrss where /proc is absent)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def retain_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the OS.

    A training step allocates and frees the same few hundred MB of activations every time. With
    glibc's defaults, freed chunks at the top of the heap (and every chunk above the dynamic mmap
    threshold) go back to the kernel and are faulted in, page by page, again at the next step:
    on the 2-core CPU this was ~85,000 page faults per second and ~15% of the time in the
    kernel. Serving tensors up to ``mmap_threshold`` bytes from the heap and trimming only
    beyond ``trim_threshold`` free bytes removes that; the process then holds its peak
    working set, which it needs at every step anyway.

    A process-wide setting, so only entry points call it: the ``acga`` command and the training
    processes ``engine.fit_local`` spawns. Returns False, changing nothing, when the environment
    variable ``ACGA_MALLOC`` is ``default`` or glibc is not the C library.
    """
    import ctypes
    import sys

    if os.environ.get("ACGA_MALLOC", "retain") == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and \
        bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))


DEVICES = "auto, cpu, cuda, cuda:N (N = 0, 1, ...) or mps"


def resolve_device(name: str, what: str = "--device", *, per_rank: bool = False):
    """The torch.device ``name`` means, checked before any work starts: acga's one resolver
    (``--device`` of every command, ``train.device``).

    ``auto`` is CUDA when torch sees a GPU, else the CPU; with ``per_rank`` (training, where
    torchrun starts one process per GPU) it is this process's GPU, ``cuda:$LOCAL_RANK``
    (``cuda:0`` without the variable). Anything but auto, cpu, cuda, cuda:N and mps, or a device
    this machine lacks, is a :class:`~acga.errors.ConfigError` naming ``what`` (the flag or
    config key) and the choices.
    """
    import re

    import torch

    from .errors import ConfigError

    text = str(name).strip().lower()
    if text == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        if per_rank:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cuda")
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", text):
        raise ConfigError(f"{what} {name!r} is not a device acga runs on; use {DEVICES}")
    device = torch.device(text)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{what} {name}: torch {torch.__version__} sees no CUDA GPU on this "
                              "machine; use --device cpu (or auto)")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"{what} {name}: this machine has {count} CUDA GPU(s), numbered "
                              f"0..{count - 1}; use one of those or cuda")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                     and torch.backends.mps.is_available()):
        raise ConfigError(f"{what} {name}: torch sees no Apple MPS device on this machine; use "
                          "--device cpu (or auto)")
    return device


# (magic prefix, what a file that starts with it is), checked in this order
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive"), (b"PK\x05\x06", "an empty zip archive"),
    (b"\x93NUMPY", "a NumPy .npy array"), (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"MATLAB", "a MATLAB .mat file"), (b"\x1f\x8b", "a gzip file"),
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
)


def file_kind(path: str | os.PathLike) -> str:
    """What ``path`` holds, judged from its first bytes, for error messages: ``"a zip archive"``
    (torch.save's format, .npz), ``"a pickle"`` (torch.save before PyTorch 1.6), ``"a
    safetensors file"``, ``"a NumPy .npy array"``, ``"an HDF5 file"``, ``"a text file"``,
    ``"an empty file"``, ... or ``"unrecognised binary data"``.

    Opening the file is the first thing it does, so a missing or unreadable file raises the
    usual OSError (which the CLI turns into its error line).
    """
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        return "an empty file"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a pickle"
    if len(head) >= 9 and head[8:9] == b"{" and \
            int.from_bytes(head[:8], "little") < 100 * 2**20:
        return "a safetensors file"
    if head[4:8] == b"ftyp":
        return "an MP4/MOV video"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the 512-byte mark is still text
        text = head[:exc.start].decode("utf-8") if exc.start >= len(head) - 3 else ""
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "a text file"
    return "unrecognised binary data"


def check_writable(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Raise now the OSError that writing ``path`` (a file, or with ``folder`` a folder to
    create files in) would raise later, after the work: a parent that is a file, a file where a
    folder is meant (or the reverse), a read-only or full file system, no permission.

    Creates nothing that stays: it probes with a temporary file in ``path`` (folder) or in the
    nearest existing folder above it, removed at once.
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        if not folder and path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    probe_in = path if folder else path.parent
    while not probe_in.exists():  # the folders mkdir would create; probe where they would go
        if probe_in == probe_in.parent:
            break
        probe_in = probe_in.parent
    if probe_in.exists() and not probe_in.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(probe_in))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".acga-probe.", dir=probe_in)
    except OSError as exc:
        raise _with_target(exc, path) from exc
    os.close(fd)
    os.unlink(tmp)


# ----------------------------------------------------------------------------- progress

PROGRESS_LOG_INTERVAL_S = 60.0
"""Without a terminal, a progress bar logs a line at most this often (and one when it ends)."""


def _stderr_is_terminal() -> bool:
    import sys

    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


class _LoggedProgress:
    """What :func:`progress_bar` returns when stderr is not a terminal: the tqdm calls acga
    makes (iteration, ``update``, ``set_postfix``, ``close``), reported as a few log lines
    instead of carriage-return redraws, so a log file stays small."""

    def __init__(self, iterable, total: int | None, desc: str, unit: str,
                 interval_s: float) -> None:
        import logging
        import time

        self._iterable, self._desc, self._unit = iterable, desc, unit
        self.total = total if total is not None else _len_or_none(iterable)
        self.n = 0
        self._postfix: dict[str, Any] = {}
        self._interval = interval_s
        self._clock = time.monotonic
        self._start = self._last = self._clock()
        self._closed = False
        self._log = logging.getLogger("acga.progress")

    def __iter__(self):
        try:
            for item in self._iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._emit(now)

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self._postfix = dict(values)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._emit(self._clock(), done=True)

    def _emit(self, now: float, done: bool = False) -> None:
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        unit = self._unit
        units = unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")
        seconds = now - self._start
        per_s = self.n / seconds if seconds > 0 else 0.0
        rate = f", {per_s:.{2 if per_s < 10 else 1}f} {unit}/s" if per_s else ""
        extra = "".join(f", {k}={v}" for k, v in self._postfix.items())
        self._log.info("%s: %s %s%s in %.1f s%s%s", self._desc, count, units,
                       "" if done else " so far", seconds, rate, extra)


def _len_or_none(iterable) -> int | None:
    try:
        return len(iterable)
    except TypeError:
        return None


def progress_bar(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 enabled: bool = True, leave: bool = True,
                 interval_s: float = PROGRESS_LOG_INTERVAL_S):
    """A progress display for a loop: a tqdm bar on stderr when stderr is a terminal; otherwise
    (a log file, a pipe, a test's captured stream) a line on the ``acga.progress`` logger
    every ``interval_s`` seconds and one when it closes, instead of thousands of redraws.

    Use it as tqdm: iterate it, or call ``update(n)``, ``set_postfix(...)`` and ``close()``.
    With ``enabled`` false it shows and logs nothing.
    """
    if enabled and _stderr_is_terminal():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave,
                    dynamic_ncols=True)
    if not enabled:
        from tqdm import tqdm

        return tqdm(iterable, total=total, disable=True)
    return _LoggedProgress(iterable, total, desc, unit, interval_s)
