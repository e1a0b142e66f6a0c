"""The output folder of ``acga segment``: its files, written frame by frame, published whole.

:class:`SegmentOutput` writes, as each frame is finalised, its masks (``masks/<q>/<frame>.png``),
its overlay frame (``overlay.mp4``), its time (``frames.csv``) and maybe its thumbnail
(``contact_sheet.png`` at the end). :func:`staged_output` is the :class:`acga.staging.StagedFolder`
the folder is written through: ``segment.json`` marks it and lists its files, so a re-run
replaces only those (and files with names only segment writes) and keeps the user's.
"""

from __future__ import annotations

import csv
import json
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from .data.video_decode import DecodedFrame
from .staging import StagedFolder

__all__ = ["SegmentOutput", "staged_output", "MARKER"]

MARKER = "segment.json"
"""Marks an ``acga segment`` output; lists the files it wrote."""

SHEET_FRAMES = 8
"""Frames on the contact sheet."""

# names only segment writes: an earlier output's files even when its segment.json lacks them
_OWN_NAME = re.compile(r"^(?:overlay\.mp4|contact_sheet\.png|frames\.csv|segment\.json|"
                       r"masks/\d+/\d{5,}\.png|attention/q\d+_(?:words|pixels)\.png)$")


def staged_output(out_dir: str | os.PathLike) -> StagedFolder:
    """The staged folder an ``acga segment`` output is written through."""
    return StagedFolder(out_dir, marker=MARKER, what="`acga segment`", option="--out",
                        replace="owned", own_names=_OWN_NAME, listed_key="files")


class SegmentOutput:
    """The per-frame files of one run in the staging folder ``tmp``.

    Args:
        tmp: the staging folder.
        queries: the sentences (legend), one mask folder each.
        colors: each query's mask colour.
        rate, time_base: the source video's frame rate and time base (the overlay keeps its
            timestamps).
    """

    def __init__(self, tmp: Path, queries: Sequence[str], colors: Sequence[Sequence[int]],
                 rate: Fraction | None, time_base: Fraction | None):
        from .visualize_video import ThumbnailSheet

        self.tmp, self.queries, self.colors = tmp, list(queries), list(colors)
        self.rate, self.time_base = rate, time_base
        for q in range(len(self.queries)):
            (tmp / "masks" / str(q)).mkdir(parents=True)
        self._csv_file = open(tmp / "frames.csv", "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(["frame", "time_s"])
        self._sheet = ThumbnailSheet(SHEET_FRAMES)
        self._writer = None

    def add(self, frame: DecodedFrame, masks: np.ndarray) -> None:
        """Write frame ``frame.index``'s files; ``masks`` (Q, H, W) bool at the frame's size."""
        from .visualize import overlay
        from .visualize_video import Mp4Writer, draw_legend

        number = frame.index + 1
        for q in range(len(self.queries)):
            Image.fromarray(masks[q].astype(np.uint8) * 255).save(
                self.tmp / "masks" / str(q) / f"{number:05d}.png")
        shown = overlay(frame.rgb, list(masks), self.colors, alpha=0.5)
        shown = draw_legend(shown, self.queries, self.colors)
        if self._writer is None:
            height, width = frame.rgb.shape[:2]
            self._writer = Mp4Writer(self.tmp / "overlay.mp4", width, height, self.rate,
                                     self.time_base, options={"crf": "20", "preset": "veryfast"})
        self._writer.write(shown, frame.pts)
        self._csv.writerow([number, "" if frame.time is None else f"{frame.time:.6f}"])
        self._sheet.add(number, shown)

    def close(self) -> None:
        """Finish the overlay video and frames.csv; draw the contact sheet."""
        self._csv_file.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._sheet.image().save(self.tmp / "contact_sheet.png")

    def abort(self) -> None:
        """After an error: close the files without finishing them."""
        self._csv_file.close()
        if self._writer is not None:
            try:
                self._writer.close(flush=False)
            except Exception:  # the error being raised matters, not this one
                pass
            self._writer = None

    def write_marker(self, staged: StagedFolder, summary: dict[str, Any]) -> None:
        """``segment.json``: ``summary`` plus the list of files this run wrote (written last)."""
        # what this run wrote: a later run into out_dir replaces these and nothing else
        summary["files"] = sorted(set(staged.files()) | {MARKER})
        (self.tmp / MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
