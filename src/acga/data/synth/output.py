"""The output folder of a generator: which folders may be written and what a previous synthetic
output owns there (staged and published by :class:`acga.staging.StagedFolder`, meta file last),
recognising a previous synthetic output, and the files written into it: PNG frames, CSV text,
the MP4 encoder settings (written by :class:`acga.visualize_video.Mp4Writer`)."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ...staging import StagedFolder
from ...utils import atomic_write_json

__all__ = ["META_NAME", "META_FORMAT", "FPS", "MP4_OPTIONS", "is_synth_output",
           "staged_output", "publish_output", "reusable_output", "write_pngs", "csv_text"]

META_NAME = "synth_meta.json"
META_FORMAT = "acga-synth"
FPS = 24  # frame rate of the MP4s and of videoset.csv's durations
# near-lossless (readers may decode the MP4 rather than the PNGs); ultrafast and one thread:
# the frames are tiny, and this is 3x faster than the default preset
MP4_OPTIONS = {"crf": "12", "preset": "ultrafast", "threads": "1"}

# what a generator owns in its output folder (replaced when it writes again): these top-level
# names and everything under them
_OWNED = {
    "a2d": ("Release", "text_annotations", META_NAME),
    "jhmdb": ("jhmdb_annotation.txt", "Rename_Images", "puppet_mask", META_NAME),
    # written by refvos.py
    "ytvos": ("train", "valid", "test", "meta_expressions", META_NAME),
    "davis": ("DAVIS", "davis_text_annotations", META_NAME),
}


def is_synth_output(folder: str | Path) -> str | None:
    """The layout (``a2d``, ``jhmdb``, ``ytvos``, ``davis``) of a synthetic benchmark already in
    ``folder``, else None."""
    meta = Path(folder) / META_NAME
    if not meta.is_file():
        return None
    try:
        head = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(head, dict) and head.get("format") == META_FORMAT:
        return str(head.get("layout"))
    return None


def staged_output(out: Path, layout: str, force: bool) -> StagedFolder:
    """Check that ``out`` may be written with ``layout`` and return its (not yet begun) staged
    folder.

    ``out`` must be new, empty, or a previous synthetic output of the same layout, unless
    ``force``. Generation writes into the staged folder, beside ``out``, and then moves it into
    place (the files of ``_OWNED[layout]`` replaced, every other file kept), with the meta file
    last, so a crash never leaves a half-written dataset that looks complete.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"output {out} exists and is not a folder; pass a new or empty folder")
    previous = is_synth_output(out) if out.is_dir() else None
    if out.is_dir() and any(out.iterdir()) and previous is None and not force:
        raise DataError(f"output folder {out} is not empty and holds no synthetic benchmark "
                        f"({META_NAME}); pass an empty folder, or --force to write into it")
    if previous is not None and previous != layout and not force:
        raise DataError(f"output folder {out} holds the synthetic {previous} layout; pass "
                        f"another folder for {layout}, or --force")
    names = "|".join(re.escape(name) for name in _OWNED[layout])
    # refusing a foreign folder was done above, with the generator's own rule and message
    return StagedFolder(out, marker=META_NAME, what="`acga synth`", option="--out",
                        replace="owned", own_names=re.compile(rf"(?:{names})(?:/|$)"),
                        listed_key=None, allow_foreign=True)


def publish_output(staged: StagedFolder, meta: dict[str, Any]) -> None:
    """Write the meta file into the staged folder and publish it (the meta file moves last)."""
    atomic_write_json(staged.tmp / META_NAME, meta, indent=None)
    staged.publish()


def reusable_output(folder: str | Path, generator: int) -> bool:
    """Is there a finished synthetic A2D output of generator version ``generator`` in ``folder``
    to reuse (True), or none (False)? One of another version raises a :class:`DataError`:
    data are never reused silently for a config that asks for another version."""
    meta = Path(folder) / META_NAME
    if not meta.is_file():
        return False
    try:
        found = json.loads(meta.read_text(encoding="utf-8")).get("generator", 1)
    except (OSError, ValueError, AttributeError) as err:
        raise DataError(f"{meta}: unreadable ({err}); delete {folder} to generate it again")
    if found != generator:
        raise DataError(f"{folder} holds synthetic data of generator version {found}, but the "
                        f"config asks for synth.generator={generator}; use another output "
                        f"folder, or delete {folder}")
    return True


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png_bytes(img: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``img`` (H, W, 3) uint8.

    Written directly (every row with PNG's "Up" filter, zlib level 1) because this is the
    generator's hot loop: about 3x faster than Pillow's encoder on these small frames, and the
    bytes are a pure function of the pixels.
    """
    h, w, _ = img.shape
    raw = np.ascontiguousarray(img).reshape(h, w * 3)
    rows = np.empty((h, w * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type 2 (Up): each byte minus the byte above, modulo 256
    rows[0, 1:] = raw[0]
    rows[1:, 1:] = raw[1:] - raw[:-1]
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def write_pngs(folder: Path, frames: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, img in enumerate(frames):
        (folder / f"{t + 1:05d}.png").write_bytes(_png_bytes(img))


def csv_text(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
