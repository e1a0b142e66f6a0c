"""Error types. Every error a user can cause is an :class:`AcgaError`: the CLI prints its message
on one line and exits with status 2, without a traceback."""

from __future__ import annotations

import errno
import os

__all__ = [
    "describe_os_error",
    "AcgaError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "InvalidShapeError",
]


class AcgaError(Exception):
    """Base class for errors caused by user input (files, configs, arguments)."""


class ConfigError(AcgaError):
    """A config file or override is wrong: unknown key, wrong type, impossible combination."""


class DataError(AcgaError):
    """A data file or folder is missing, corrupt, or not in the expected layout."""


class CheckpointError(AcgaError):
    """A checkpoint is truncated, foreign, or does not match the model's configuration."""


class InvalidShapeError(AcgaError, ValueError):
    """A tensor has the wrong shape. The message names the tensor and both shapes."""

    def __init__(self, name: str, got: tuple, expected: str):
        self.name, self.got, self.expected = name, tuple(got), expected
        super().__init__(f"{name} has shape {tuple(got)}, expected {expected}")


# errno -> (the cause in words, what to do)
_OS_CAUSES: dict[int, tuple[str, str]] = {
    errno.EACCES: ("permission denied", "choose a location you may write to (or read), or fix "
                   "its permissions"),
    errno.EPERM: ("operation not permitted", "choose another location, or fix its permissions"),
    errno.EROFS: ("read-only file system", "choose a location on a writable file system"),
    errno.ENOSPC: ("no space left on device", "free some space or choose another location"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose another location"),
    errno.EISDIR: ("is a directory", "name a file there, not a folder"),
    errno.ENOTDIR: ("not a directory", "a part of the path is a file; name a folder there"),
    errno.EEXIST: ("already exists", "choose another name or remove it"),
    errno.ENOENT: ("no such file or directory", "check the path"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter path"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) or use fewer workers"),
    errno.EIO: ("input/output error", "check the disk or the network file system"),
}


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error: ``<path>: <cause in words>; <what to do>``.

    A path that exists as a file where a folder is needed (``mkdir`` of it, or of a folder
    below it) reads "not a directory", whatever errno the call chose.
    """
    path = exc.filename
    code = exc.errno
    blocker = _file_in_the_way(path) if code in (errno.EEXIST, errno.ENOTDIR) else None
    if blocker is not None:
        code = errno.ENOTDIR
        where = "it is a file" if blocker == os.fspath(path) else f"{blocker} is a file"
        cause, hint = f"not a directory ({where})", "name a folder there, or move the file away"
    elif code in _OS_CAUSES:
        cause, hint = _OS_CAUSES[code]
    elif code is not None:
        cause, hint = os.strerror(code).lower(), ""
    else:  # a library's OSError without errno (h5py, PIL): its message is all there is
        cause, hint = str(exc) or type(exc).__name__, ""
    if exc.filename2 is not None and code not in (errno.EISDIR, errno.ENOTDIR):
        path = f"{exc.filename} -> {exc.filename2}"
    text = f"{path}: {cause}" if path is not None else cause
    return f"{text}; {hint}" if hint else text


def _file_in_the_way(path) -> str | None:
    """The existing non-folder that ``path`` or one of its parents is, if any."""
    if path is None:
        return None
    current = os.fspath(path)
    try:
        while current and current != os.path.dirname(current):
            if os.path.lexists(current):
                return None if os.path.isdir(current) else current
            current = os.path.dirname(current)
    except (OSError, ValueError):
        pass
    return None
