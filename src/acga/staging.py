"""Staged output folders: write beside the final folder, publish by rename.

An output written by :class:`StagedFolder` is either complete or absent: the files go into a
hidden temporary sibling ``.<name>.tmp-<pid>-<hex>`` and reach ``<name>`` at the end, so an
error, Ctrl-C or SIGTERM leaves nothing behind (the temporaries of a killed run are removed by
the next one, :func:`acga.runsafety.remove_stale_temporaries`). Two ways to publish:

``replace="owned"`` (``acga segment``)
    A new folder is the renamed temporary. Into an earlier output of ours (it has the
    ``marker`` file) only the files that output owns are replaced: those its marker lists under
    ``listed_key`` and those whose relative path matches ``own_names``; every other file is the
    user's and is kept. A user's file where this run writes one is refused before anything
    changes. The marker is moved last, so until it is replaced the old list stays valid.
``replace="first"`` (``acga ablate``'s demo data)
    Several processes may build the same folder at once; the first rename wins and the others
    discard their copy (the folder then has the marker).

Writing into a non-empty folder that is not ours is refused unless ``allow_foreign`` (a
``--force``). The synthetic generator (``data.synth``) maps onto ``"owned"`` with ``own_names``
matching its top-level names, its meta file as the marker and no list (``listed_key=None``):
then the old marker is removed before any old file, so an interrupted publication never looks
like a complete output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Literal

from .errors import DataError

__all__ = ["StagedFolder", "files_under", "temporary_prefix"]

log = logging.getLogger(__name__)


def files_under(folder: Path) -> list[str]:
    """Relative POSIX paths of the files (and symlinks) under ``folder``, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() or p.is_symlink())


def temporary_prefix(out: Path) -> str:
    """The start of the temporary folders' paths of output ``out`` (for error messages)."""
    return str(out.parent / f".{out.name}.tmp-")


class StagedFolder:
    """One output folder written whole into a temporary sibling and then published.

    Use as a context manager: entering checks ``out`` and creates :attr:`tmp`; leaving with an
    exception, or without :meth:`publish`, removes the temporary folder.

    Args:
        out: the final folder.
        marker: the file (relative to ``out``) that marks an output of ours; written by the
            caller into :attr:`tmp`, published last.
        what: who writes it, for messages (``"`acga segment`"``).
        option: the option naming ``out``, for messages (``"--out"``).
        replace: ``"owned"`` or ``"first"`` (module docstring).
        own_names: relative paths an earlier output of ours owns even when its marker does not
            list them (an interrupted replacement, an older version).
        listed_key: the marker's JSON key listing the files it owns (``None``: no list; what
            is owned is ``own_names`` alone, and the old marker goes first when publishing).
        allow_foreign: write into a non-empty folder without the marker.
    """

    def __init__(self, out: str | os.PathLike, *, marker: str, what: str, option: str = "--out",
                 replace: Literal["owned", "first"] = "owned", own_names: re.Pattern | None = None,
                 listed_key: str | None = "files", allow_foreign: bool = False):
        self.out = Path(out)
        self.marker, self.what, self.option = marker, what, option
        self.replace, self.own_names, self.listed_key = replace, own_names, listed_key
        self.allow_foreign = allow_foreign
        self.tmp: Path | None = None

    # ------------------------------------------------------------------------------- staging

    def __enter__(self) -> "StagedFolder":
        self.begin()
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def begin(self) -> Path:
        """Refuse an ``out`` that is not ours; remove stale temporaries; return :attr:`tmp`."""
        from .runsafety import remove_stale_temporaries

        out = self.out
        if out.exists() and not self.allow_foreign:
            if not out.is_dir():
                raise DataError(f"output {out} is a file; pass a folder with {self.option}")
            if any(out.iterdir()) and not (out / self.marker).is_file():
                raise DataError(f"output folder {out} exists and is not an {self.what} output "
                                f"(no {self.marker}); choose another {self.option} or empty it")
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out.parent, beside=out.name)
        self.tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        return self.tmp

    def discard(self) -> None:
        """Remove the temporary folder (nothing happens after :meth:`publish`)."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def files(self) -> list[str]:
        """The files staged so far (relative paths), sorted."""
        return files_under(self._staged())

    # ----------------------------------------------------------------------------- publishing

    def owned(self) -> set[str]:
        """The files of the earlier output in ``out`` that are ours (module docstring)."""
        out = self.out
        listed: list = []
        if self.listed_key is not None:
            try:
                listed = json.loads((out / self.marker).read_text(encoding="utf-8")
                                    ).get(self.listed_key, [])
            except (OSError, ValueError, AttributeError):
                listed = []
        owned = {rel for rel in listed if isinstance(rel, str) and not rel.startswith("/")
                 and ".." not in rel.split("/") and ((out / rel).is_file() or
                                                     (out / rel).is_symlink())}
        if self.own_names is not None:
            owned.update(rel for rel in files_under(out) if self.own_names.match(rel))
        if (out / self.marker).is_file():
            owned.add(self.marker)
        return owned

    def publish(self) -> None:
        """Move the finished temporary folder to ``out`` (module docstring)."""
        tmp, out = self._staged(), self.out
        if self.replace == "first":
            try:
                os.rename(tmp, out)
            except OSError:
                if not (out / self.marker).exists():
                    raise
                self.discard()  # another process finished first
            self.tmp = None
            return
        if not out.exists():
            os.replace(tmp, out)
            self.tmp = None
            return
        self._merge(tmp, out)
        self.discard()

    def _merge(self, tmp: Path, out: Path) -> None:
        new = files_under(tmp)
        owned = self.owned()
        clash = []
        for rel in new:
            target = out / rel
            if (target.exists() or target.is_symlink()) and rel not in owned:
                clash.append(rel)
            clash.extend(parent.relative_to(out).as_posix() for parent in target.parents
                         if parent != out and out in parent.parents and parent.exists()
                         and not parent.is_dir())
        if clash:
            raise DataError(f"output folder {out}: {clash[0]} is not a file {self.what} wrote "
                            f"and this run would replace it; move it away or choose another "
                            f"{self.option}")
        kept = [rel for rel in files_under(out) if rel not in owned]
        if self.listed_key is None and self.marker in owned:
            # nothing in it says what is ours: removed first, so that until the new marker
            # arrives the folder does not look like a complete output
            (out / self.marker).unlink()
        for rel in sorted(owned - {self.marker}):
            with contextlib.suppress(FileNotFoundError):
                (out / rel).unlink()
        folders = {parent for rel in owned for parent in (out / rel).parents
                   if out in parent.parents}
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: a user's file is in it
                folder.rmdir()
        for rel in new:  # the marker last: until it is replaced, the old list stays valid
            if rel != self.marker:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, out / rel)
        if (tmp / self.marker).exists():
            os.replace(tmp / self.marker, out / self.marker)
        if kept:
            log.info("kept %d file(s) in %s that %s did not write: %s", len(kept), out,
                     self.what, ", ".join(kept[:3])
                     + (f" (+{len(kept) - 3} more)" if len(kept) > 3 else ""))

    def _staged(self) -> Path:
        if self.tmp is None:
            raise RuntimeError(f"{self.out}: nothing staged (call begin() first)")
        return self.tmp
