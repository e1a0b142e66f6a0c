"""Pictures of a whole video: an MP4 writer, the query legend, a bounded contact sheet.

:class:`Mp4Writer` writes H.264 in MP4 keeping the source's timestamps, with its encoder
settings as arguments (``acga segment``'s overlay video: ``crf 20, veryfast``; the synthetic
benchmark's clips: ``data.synth.output.MP4_OPTIONS``); as a context manager it finishes the
file, or after an error just closes it. :func:`draw_legend` writes the queries in their mask
colours on a frame. :class:`ThumbnailSheet` collects a few thumbnails spread over a video of
unknown length in bounded memory and draws them with :func:`acga.visualize.contact_sheet`.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["Mp4Writer", "draw_legend", "thumbnail", "ThumbnailSheet", "H264_CODECS"]

log = logging.getLogger(__name__)

H264_CODECS = ("libx264", "h264", "libopenh264")
"""H.264 encoders in the order they are tried."""


class Mp4Writer:
    """H.264 in MP4 via PyAV, keeping the source's timestamps (variable frame rate survives).

    yuv420p needs even sides: an odd width or height is padded by one black pixel. Timestamps
    that do not increase (or are missing) continue one frame after the previous one.

    Args:
        path: the ``.mp4`` to write.
        width, height: frame size (before padding to even).
        rate: frame rate (``None`` or <= 0: 25).
        time_base: of the pts passed to :meth:`write` (``None``: ``1 / rate``).
        codecs: encoders to try in order; none available: MPEG-4 part 2, warned.
        options: encoder options when the first of ``codecs`` (libx264) is the one used.
        pix_fmt: the encoded pixel format.
    """

    def __init__(self, path: str | Path, width: int, height: int, rate: Fraction | None,
                 time_base: Fraction | None, *, codecs: Sequence[str] = H264_CODECS,
                 options: Mapping[str, str] | None = None, pix_fmt: str = "yuv420p"):
        import av

        self.width, self.height = width + width % 2, height + height % 2
        self.rate = rate if rate and rate > 0 else Fraction(25)
        self.time_base = time_base or 1 / self.rate
        self.step = max(1, round(1 / (self.rate * self.time_base)))
        self.container = av.open(str(path), mode="w")
        codec = next((c for c in codecs if c in av.codecs_available), None)
        if codec is None:
            log.warning("no H.264 encoder in this PyAV build: the overlay video is MPEG-4 part 2")
            codec = "mpeg4"
        opts = dict(options or {}) if codec == codecs[0] else {}
        self.stream = self.container.add_stream(codec, rate=self.rate, options=opts)
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = pix_fmt
        self.stream.codec_context.time_base = self.time_base
        self.stream.time_base = self.time_base
        self.first_pts: int | None = None
        self.last_pts: int | None = None
        self.frames = 0

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(flush=exc_type is None)

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """Encode one (H, W, 3) uint8 frame at source timestamp ``pts`` (or the next one)."""
        import av

        if rgb.shape[0] != self.height or rgb.shape[1] != self.width:
            padded = np.zeros((self.height, self.width, 3), np.uint8)
            padded[:rgb.shape[0], :rgb.shape[1]] = rgb
            rgb = padded
        if pts is not None and self.first_pts is None:
            self.first_pts = pts
        out_pts = None if pts is None else pts - self.first_pts
        if out_pts is None or (self.last_pts is not None and out_pts <= self.last_pts):
            out_pts = 0 if self.last_pts is None else self.last_pts + self.step
        self.last_pts = out_pts
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = out_pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self, flush: bool = True) -> None:
        """Finish the file (``flush=False``: after an error, just close it)."""
        try:
            if flush:
                for packet in self.stream.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()


def _wrap(text: str, width_px: int, draw: ImageDraw.ImageDraw, font) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width_px:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def draw_legend(rgb: np.ndarray, queries: Sequence[str], colors: Sequence[Sequence[int]]) -> np.ndarray:
    """Write each query (wrapped to the frame width) in a black box at the top-left, after a
    swatch of its mask colour. Returns a new (H, W, 3) uint8 array."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    y = 2
    swatch = 9
    for i, query in enumerate(queries):
        color = tuple(int(c) for c in colors[i % len(colors)][:3])
        lines = _wrap(query, max(20, rgb.shape[1] - swatch - 14), draw, font) or [""]
        for j, line in enumerate(lines):
            x = 4 + (swatch + 4)
            left, top, right, bottom = draw.textbbox((x, y), line, font=font)
            draw.rectangle((2, top - 2, right + 2, bottom + 2), fill=(0, 0, 0))
            if j == 0:
                draw.rectangle((4, top, 4 + swatch, top + swatch), fill=color)
            draw.text((x, y), line, fill=(255, 255, 255), font=font)
            y = bottom + 4
    return np.asarray(image, dtype=np.uint8).copy()


def thumbnail(rgb: np.ndarray, width: int = 320) -> np.ndarray:
    """``rgb`` shrunk to ``width`` pixels wide (aspect kept); a copy when already narrower."""
    h, w = rgb.shape[:2]
    if w <= width:
        return rgb.copy()
    nh = max(1, round(h * width / w))
    return np.asarray(Image.fromarray(rgb).resize((width, nh), Image.BILINEAR))


class ThumbnailSheet:
    """Up to ``frames`` thumbnails spread over a video whose length is not known in advance.

    Frames are offered in order (:meth:`add`); every ``stride``-th is kept, and when more than
    twice ``frames`` are held the stride doubles, so memory stays bounded. :meth:`image` picks
    ``frames`` of the kept ones, evenly spaced.
    """

    def __init__(self, frames: int = 8, width: int = 320, ncols: int = 4):
        self.frames, self.width, self.ncols = frames, width, ncols
        self.stride = 1
        self.thumbs: list[tuple[int, np.ndarray]] = []  # (1-based frame number, thumbnail)

    def add(self, number: int, rgb: np.ndarray) -> None:
        """Offer frame ``number`` (1-based)."""
        if (number - 1) % self.stride:
            return
        self.thumbs.append((number, thumbnail(rgb, self.width)))
        if len(self.thumbs) > 2 * self.frames:  # keep the sheet's memory bounded
            self.stride *= 2
            self.thumbs = [(n, t) for n, t in self.thumbs if (n - 1) % self.stride == 0]

    def image(self) -> Image.Image:
        """The contact sheet, each thumbnail captioned ``frame N``."""
        from .visualize import contact_sheet

        chosen = self.thumbs
        if len(chosen) > self.frames:
            pick = np.linspace(0, len(chosen) - 1, self.frames).round().astype(int)
            chosen = [chosen[i] for i in pick]
        return contact_sheet([t for _, t in chosen], ncols=self.ncols,
                             captions=[f"frame {n}" for n, _ in chosen])
