"""Small helpers shared across the package: atomic writes and seeding."""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "seed_everything", "peak_rss_mib",
           "retain_freed_memory"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    A crash or a full disk while writing leaves ``path`` as it was (the previous version stays
    intact) and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
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
