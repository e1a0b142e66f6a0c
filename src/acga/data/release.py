"""What the A2D and JHMDB release readers (``a2d.py``, ``jhmdb.py``) share for finding and
reading the released files: the root folder, a file or folder it must hold, a UTF-8 text table,
the rows of a CSV file with a header. Each failure is one line naming the path and what to pass
instead."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from ..errors import DataError

__all__ = ["release_root", "release_entry", "read_text_table", "csv_rows"]


def release_root(root: str | Path, dataset: str, holding: str) -> Path:
    """``root`` as a folder path, or a :class:`DataError` asking for the folder ``holding``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{dataset} root {root} does not exist or is not a folder; pass the folder "
                        f"holding {holding}")
    return root


def release_entry(root: Path, rel: str, what: str, *, dataset: str, holding: str,
                  folder: bool = False) -> Path:
    """``root / rel``, which must be a file (``folder``: a folder) holding ``what``."""
    path = root / rel
    if not (path.is_dir() if folder else path.is_file()):
        raise DataError(f"{dataset} root {root} has no {rel}{'/' if folder else ''} ({what}); "
                        f"pass the folder holding {holding}")
    return path


def read_text_table(path: Path, reader, *args):
    """``reader(path, *args)``, with a file that is not UTF-8 text (random bytes, a binary file
    under a text name) reported as a :class:`DataError` naming the file and the byte offset."""
    from ..utils import file_kind

    try:
        return reader(path, *args)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not a UTF-8 text file (byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}; "
                        f"the file is {file_kind(path)}); restore the release's text file") from None
    except csv.Error as exc:  # NUL bytes and other binary content
        raise DataError(f"{path} is not a CSV text file ({exc}; the file is {file_kind(path)}); "
                        "restore the release's text file") from None


def csv_rows(path: Path, columns: tuple[str, ...], name: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the non-blank rows of the CSV file ``path`` (the release's
    ``name``), whose header must start with ``columns`` but the last; the last column is free
    text and may span several fields (an unquoted comma), so a row needs at least one field per
    column."""
    expected = ",".join(columns)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:len(columns) - 1]] != list(columns[:-1]):
            raise DataError(f"{path} does not start with the header {expected} (found "
                            f"{header!r}); is this {name}?")
        for line_no, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < len(columns):
                raise DataError(f"{path} line {line_no} has {len(row)} fields, expected {expected}")
            yield line_no, row
