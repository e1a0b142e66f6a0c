"""Shared pieces of the tests/cli/test_bad_input_*.py modules: run a command through the real
``main()``, check it ends with exit 2 and exactly one error line (no traceback), simulate
file-system refusals without root, and list what a failed command left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from acga.cli.main import main

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_non_root = pytest.mark.skipif(IS_ROOT, reason="root ignores folder permissions")


def error_line(capsys, argv: list[str], *fragments: str, code: int = 2) -> str:
    """Run ``acga argv``; assert the exit status, a single ``acga <cmd>: error:`` line on stderr
    holding every fragment, and no traceback. Returns the line."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert rc == code, err
    lines = [line for line in err.splitlines() if ": error:" in line]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"acga {argv[0]}: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def tree(folder: Path) -> set[str]:
    """Every file and folder under ``folder`` (hidden ones too), relative, as strings."""
    return {p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")}


class Places:
    """Paths where writing must fail: ``file`` (an existing file), ``folder`` (an existing,
    empty folder), ``under_file`` (a path whose parent is a file), ``readonly`` (a folder of
    mode 0o500; only non-root users are refused)."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "a_file"
        self.file.write_text("keep me\n")
        self.folder = root / "a_folder"
        self.folder.mkdir()
        self.under_file = self.file / "out"
        self.readonly = root / "readonly"
        self.readonly.mkdir()
        self.readonly.chmod(0o500)

    def untouched(self) -> bool:
        """Nothing was written into any of the places (the file keeps its text)."""
        return (self.file.read_text() == "keep me\n" and tree(self.folder) == set()
                and tree(self.readonly) == set())


@pytest.fixture
def places(tmp_path):
    p = Places(tmp_path / "places")
    yield p
    p.readonly.chmod(0o700)


def inject(monkeypatch, code: int, where: str = "fsync") -> None:
    """Make the file system refuse with ``code`` (an errno): ``fsync`` at the flush of every
    atomic write (a disk that fills while writing), ``mkstemp`` at the creation of any
    temporary file (a read-only file system, a folder without write permission)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    def refuse_named(*args, dir=None, **kwargs):  # noqa: A002 - mkstemp's own keyword
        raise OSError(code, os.strerror(code), os.path.join(dir or ".", "tmpXXXX"))

    if where == "fsync":
        monkeypatch.setattr(os, "fsync", refuse)
    else:
        monkeypatch.setattr(tempfile, "mkstemp", refuse_named)


CAUSES = {errno.ENOSPC: "no space left on device", errno.EROFS: "read-only file system",
          errno.EACCES: "permission denied"}
