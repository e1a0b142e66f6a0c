"""Keeping output folders safe: run-folder locks, stale temporaries, SIGTERM as an exception.

- :func:`run_folder_lock`: an exclusive, non-blocking ``fcntl.flock`` on ``<folder>/.acga.lock``
  (the file holds the holder's pid, for the message a second process gets). Re-entrant within
  one process; released when the process ends, however it ends (the kernel drops flock locks
  with the file descriptor), so a killed run never leaves a folder locked.
- :func:`remove_stale_temporaries`: temporaries carry the pid of the process that writes them
  (``.last.safetensors.<pid>.tmp``, ``.<out>.tmp-<pid>-<hex>``); one whose process no longer
  exists (``os.kill(pid, 0)`` raises ProcessLookupError) is left over from a SIGKILL or a power
  cut and is removed. Pids are those of this machine: a folder shared by several machines is
  not cleaned up correctly (the lock over NFS is not reliable either).
- :func:`sigterm_as_exception`: turns SIGTERM into :class:`Terminated` (a KeyboardInterrupt),
  so ``finally`` blocks and ``except BaseException`` clean-ups run as they do on Ctrl-C; the CLI
  commands then exit with status 143 (128 + SIGTERM).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import threading
from pathlib import Path
from typing import Iterator

from .errors import AcgaError

__all__ = ["LOCK_NAME", "run_folder_lock", "launching_process", "pid_alive",
           "remove_stale_temporaries", "Terminated", "sigterm_as_exception"]

log = logging.getLogger(__name__)

LOCK_NAME = ".acga.lock"
TERMINATED_EXIT = 128 + signal.SIGTERM

_held: dict[str, tuple[int, int]] = {}  # resolved folder -> (fd, depth)
_held_guard = threading.Lock()


def launching_process() -> bool:
    """True in the process that owns a run: not a torchrun rank other than 0 (``RANK``)."""
    try:
        return int(os.environ.get("RANK", "0")) == 0
    except ValueError:
        return True


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


@contextlib.contextmanager
def run_folder_lock(folder: str | os.PathLike, what: str = "acga train") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) for the ``with`` block.

    Raises:
        AcgaError: another process holds it; the message names the folder and its pid.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AcgaError(f"run folder {folder} is a file; pass a folder with --out")
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        log.debug("fcntl is not available: %s is not locked", folder)
        yield folder
        return
    with _held_guard:
        if key in _held:  # this process already holds it (e.g. `acga train` -> fit_local)
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
        else:
            path = folder / LOCK_NAME
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise AcgaError(
                    f"run folder {folder} is in use by another {what} (pid {_holder(path)}); "
                    "wait for it to finish (or stop it), or pass another --out") from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            _held[key] = (fd, 1)
    try:
        yield folder
    finally:
        with _held_guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)  # the folder is free: no stale pid in the file
                os.close(fd)  # releases the flock


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: keep the file
    return True


# A temporary's name -> the pid in it. Files written atomically (checkpoints, config.json):
# .<name>.<pid>-<random>.tmp (older checkpoints: .<name>.<pid>.tmp);
# folders written whole and renamed (segment, ablate's data): .<name>.tmp-<pid>[-<hex>] and
# .<name>.old-<pid>-<hex> (an earlier output being replaced).
_CHECKPOINT_TMP = re.compile(r"^\..+\.(\d+)(?:-[A-Za-z0-9_]+)?\.tmp$")


def _folder_tmp(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.(?:tmp|old)-(\d+)(?:-[0-9a-f]+)?$")


def remove_stale_temporaries(folder: str | os.PathLike, *, beside: str | None = None) -> list[Path]:
    """Remove the temporaries of dead processes; return what was removed.

    ``beside=None``: checkpoint temporaries in ``folder`` (a run folder). ``beside=NAME``: the
    temporary folders of an output ``folder/NAME`` written whole and renamed (``acga segment``).
    Temporaries of live processes (a run in progress) are never touched.
    """
    folder = Path(folder)
    pattern = _CHECKPOINT_TMP if beside is None else _folder_tmp(beside)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or pid_alive(int(match.group(1))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove the stale temporary %s (%s); delete it by hand", entry, exc)
            continue
        removed.append(entry)
    if removed:
        log.warning("removed %d temporar%s left by a process that no longer runs: %s",
                    len(removed), "y" if len(removed) == 1 else "ies",
                    ", ".join(str(p) for p in removed[:3])
                    + (f" (+{len(removed) - 3} more)" if len(removed) > 3 else ""))
    return removed


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM (inside sigterm_as_exception)."""


@contextlib.contextmanager
def sigterm_as_exception(command: str | None = None) -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    The first SIGTERM restores the previous handler, so a second one acts as before (kills).
    With ``command`` (CLI use), a :class:`Terminated` that leaves the block is reported on
    stderr and turned into ``SystemExit(143)``, after every ``finally`` inside has run.
    Outside the main thread (where signal handlers cannot be set) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, previous)
        raise Terminated(f"terminated by signal {signum} (SIGTERM)")

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Terminated:
        if command is None:
            raise
        # the library logs (stderr under the acga command, which configures logging)
        log.error("acga %s: terminated (SIGTERM); temporary files removed", command)
        raise SystemExit(TERMINATED_EXIT) from None
    finally:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous)
