"""Stream every frame of a user's video, upright, in decoder output order (``acga segment``).

:mod:`acga.data.video` reads the few frames a training clip needs from a release's video; this
module reads a whole video of any origin once, front to back, without holding it:

- Frame ``i`` (0-based) is the i-th frame out of the decoder (= display order), whatever the
  container's timestamps say, so a variable frame rate or broken timestamps cannot reorder or
  drop frames. Each frame keeps its presentation time and pts, so an output video stays in sync.
- Phone videos store their orientation as a display matrix (side data): frames are rotated
  upright (``VideoFrame.rotation``) before anything else, so they have the size the video is
  *shown* at.
- A video that changes size midway (rare, but FFmpeg allows it) is resized to its first size.
- :meth:`VideoStream.stated_length` says how many frames the container claims, to tell a
  truncated download from a complete video once the frames are counted.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from ..errors import DataError

__all__ = ["DecodedFrame", "VideoStream"]

log = logging.getLogger(__name__)


@dataclass
class DecodedFrame:
    index: int
    """0-based, in decoder output order."""
    rgb: np.ndarray
    """(H, W, 3) uint8, upright (display rotation applied)."""
    time: float | None
    """Presentation time in seconds (None when the stream has no timestamps)."""
    pts: int | None
    rotation: int


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame counter-clockwise by ``rotation`` degrees (multiple of 90)."""
    k = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


class VideoStream:
    """The first video stream of a file, opened for one pass. Use as a context manager.

    Attributes:
        rate: the frame rate the container states (average, guessed or base), or None.
        fps: ``rate`` as a float, or None.
        time_base: the stream's time base (of :attr:`DecodedFrame.pts`).
        total: the frame count for a progress bar (stated or estimated), or None.
        height, width, rotation: of the frames as shown, once :meth:`frames` has yielded one.
        count: frames yielded so far.

    Raises:
        DataError: a missing path, a folder, a file FFmpeg cannot open, no video stream.
    """

    def __init__(self, path: str | Path):
        import av

        self.path = path = Path(path)
        if not path.exists():
            raise DataError(f"video {path} does not exist")
        if path.is_dir():
            raise DataError(f"video {path} is a folder; pass a video file (mp4, mov, avi, webm, ...)")
        try:
            self.container = av.open(str(path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise DataError(f"cannot open {path} as a video ({exc}); pass a video file PyAV/FFmpeg "
                            "can read (mp4, mov, avi, mkv, webm, ...)") from None
        if not self.container.streams.video:
            self.container.close()
            raise DataError(f"{path} has no video stream (no frames were ever written to it, or it "
                            "is an audio or subtitle file); pass a video with at least one frame")
        self.stream = stream = self.container.streams.video[0]
        self.rate: Fraction | None = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.fps = float(self.rate) if self.rate else None
        self.time_base: Fraction | None = stream.time_base
        total = stream.frames or None
        if not total and stream.duration and stream.time_base and self.fps:
            total = int(round(float(stream.duration * stream.time_base) * self.fps)) or None
        self.total = total
        self.height: int | None = None
        self.width: int | None = None
        self.rotation = 0
        self.count = 0

    def frames(self, warn: Callable[[str], None] | None = None) -> Iterator[DecodedFrame]:
        """Decode every frame, upright, in decoder output order, all at the first frame's size.

        A video that changes size midway has its later frames resized to the first size, said
        once through ``warn`` (default: the log). Sets :attr:`height`, :attr:`width`,
        :attr:`rotation` at the first frame and counts :attr:`count`.

        Raises:
            DataError: the file stops decoding (corrupt or truncated mid-packet).
        """
        import av

        stream, path = self.stream, self.path
        warn = warn or (lambda msg: log.warning("%s", msg))
        with contextlib.suppress(Exception):
            stream.thread_type = "AUTO"
        index, resized = 0, False
        try:
            for frame in self.container.decode(stream):
                rotation = int(getattr(frame, "rotation", 0) or 0)
                rgb = _upright(frame.to_ndarray(format="rgb24"), rotation)
                if self.height is None:
                    self.height, self.width = rgb.shape[:2]
                    self.rotation = rotation
                    if rotation:
                        log.info("%s is shown rotated by %d degrees: frames are turned upright "
                                 "(%dx%d)", path, rotation, self.width, self.height)
                elif rgb.shape[:2] != (self.height, self.width):
                    if not resized:
                        resized = True
                        warn(f"{path} changes size at frame {index + 1} ({rgb.shape[1]}x"
                             f"{rgb.shape[0]} after {self.width}x{self.height}); later frames "
                             "are resized to the first size")
                    rgb = np.asarray(Image.fromarray(rgb).resize((self.width, self.height),
                                                                 Image.BILINEAR))
                t = frame.time
                yield DecodedFrame(index, rgb, None if t is None else float(t), frame.pts, rotation)
                index += 1
                self.count = index
        except av.FFmpegError as exc:
            raise DataError(f"cannot decode {path} after {index} frames ({exc}); the file is "
                            "corrupt or truncated") from None

    def stated_length(self) -> tuple[int, str] | None:
        """(fewest frames the container's header implies, how it says so) or None if silent.

        An MP4's sample table counts its frames exactly. Otherwise the stated duration times the
        frame rate estimates the count; one frame, or 2%, of slack absorbs rounding and a
        variable frame rate.
        """
        stream, fps = self.stream, self.fps
        if stream.frames:
            return int(stream.frames), f"{int(stream.frames)} frames"
        seconds = None
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        elif self.container.duration:
            seconds = self.container.duration / 1_000_000  # av.time_base: microseconds
        if not seconds or not fps:
            return None
        estimate = seconds * fps
        least = int(math.floor(estimate - max(1.0, 0.02 * estimate)))
        if least < 1:
            return None
        return least, f"a duration of {seconds:.2f} s (about {round(estimate)} frames at {fps:g} fps)"

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "VideoStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
