"""Frame sources: read the few frames a clip needs from a release's video.

A2D-Sentences ships MP4 clips (``Release/clips320H/<video>.mp4``, some copies name the folder
``CLIPS320``) and sometimes decoded frames (``Release/pngs320H/<video>/<frame:05d>.png``);
JHMDB-Sentences ships PNGs (``Rename_Images/<action>/<video>/<frame:05d>.png``). Frame numbers
in file names are 1-based; everything here uses 0-based indices (index i = file i + 1).
Ref-YouTube-VOS and Ref-DAVIS17 ship JPEG folders (``<split>/JPEGImages/<video>/`` and
``DAVIS/JPEGImages/480p/<video>/``) named by 0-based numbers that may skip (Ref-YouTube-VOS: every
5th, 00000, 00005, ...): index i is the i-th file in ascending number (:class:`JpegFrames`). A
clip is built the same way from every source (:func:`sample_clip_indices`).

MP4 reading never decodes a whole video for one clip: the packet timestamps are listed once by
demuxing (no decoding), so index i is the i-th timestamp in display order; a clip then costs one
seek to the keyframe before its first frame and decoding up to its last frame.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError
from .records import Sample

__all__ = ["FrameSource", "PngFrames", "JpegFrames", "Mp4Frames", "open_frames", "clip_indices",
           "sample_clip_indices", "read_clip", "find_video_file"]

log = logging.getLogger(__name__)

_PNG_NAME = re.compile(r"^(\d+)\.png$")
_JPG_NAME = re.compile(r"^(\d+)\.jpg$")

# Indices closer than this are decoded in one pass rather than with a second seek: decoding a
# few frames is cheaper than seeking back to a keyframe.
_SEEK_GAP = 32


class FrameSource:
    """The frames of one video, read on demand. Use as a context manager to close it."""

    path: Path
    num_frames: int

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at the given 0-based indices (repeats allowed), (T, H, W, 3) uint8 RGB."""
        raise NotImplementedError

    def index(self, frame: int) -> int:
        """The 0-based index of the frame a sample names (A2D, JHMDB: 1-based number - 1)."""
        return frame - 1

    def close(self) -> None:
        pass

    def _check(self, indices: Sequence[int]) -> list[int]:
        idx = [int(i) for i in indices]
        if not idx:
            raise ValueError("no frame indices given")
        bad = [i for i in idx if not 0 <= i < self.num_frames]
        if bad:
            raise DataError(f"frame index {bad[0]} is outside video {self.path} "
                            f"({self.num_frames} frames, valid indices 0..{self.num_frames - 1})")
        return idx

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ImageFrames(FrameSource):
    """A folder of one image file per frame (:meth:`frame_path`)."""

    def frame_path(self, index: int) -> Path:
        raise NotImplementedError

    def read(self, indices: Sequence[int]) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        idx = self._check(indices)
        cache: dict[int, np.ndarray] = {}
        for i in sorted(set(idx)):
            p = self.frame_path(i)
            try:
                with Image.open(p) as img:
                    cache[i] = np.asarray(img.convert("RGB"), dtype=np.uint8)
            except (OSError, UnidentifiedImageError) as exc:
                raise DataError(f"cannot read frame {p}: {exc}; the file is corrupt or "
                                "truncated, re-extract it") from exc
        shapes = {a.shape for a in cache.values()}
        if len(shapes) > 1:
            raise DataError(f"frames of {self.path} differ in size: {sorted(shapes)}")
        return np.stack([cache[i] for i in idx])  # (T, H, W, 3)


class PngFrames(_ImageFrames):
    """A folder of ``00001.png``, ``00002.png``, ... (index i reads the file numbered i + 1)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder)
        if not self.path.is_dir():
            raise DataError(f"frame folder {self.path} does not exist; expected "
                            "<frame:05d>.png files in it")
        numbers = sorted(int(m.group(1)) for p in self.path.iterdir()
                         if (m := _PNG_NAME.match(p.name)))
        if not numbers:
            raise DataError(f"frame folder {self.path} has no <frame:05d>.png files")
        # frames are numbered 1..T; a gap would shift every later index, so refuse it
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
            raise DataError(f"frame folder {self.path} is not numbered 00001.png .. "
                            f"{numbers[-1]:05d}.png without gaps (first missing: "
                            f"{missing[0] if missing else numbers[0]:05d}.png)")
        self.num_frames = len(numbers)

    def frame_path(self, index: int) -> Path:
        return self.path / f"{index + 1:05d}.png"


class JpegFrames(_ImageFrames):
    """A Ref-YouTube-VOS / Ref-DAVIS17 frame folder: ``<number>.jpg`` files, 0-based numbers
    that may skip (``00000.jpg``, ``00005.jpg``, ...); index i is the i-th in ascending number.

    Args:
        folder: the video's ``JPEGImages`` folder.
        numbers: only these frame numbers (e.g. those a reader kept with ``skip_bad``);
            default: every complete ``<number>.jpg`` in the folder. A truncated or non-JPEG file
            (:func:`acga.data.refvos.jpeg_problem`, a cheap check of its first and last bytes)
            is left out, so clips never read it: the release readers refuse such a file unless
            ``skip_bad``, and with it the clips of its neighbours repeat the frames around it.
    """

    def __init__(self, folder: str | Path, numbers: Sequence[int] | None = None):
        self.path = Path(folder)
        if not self.path.is_dir():
            raise DataError(f"frame folder {self.path} does not exist; expected "
                            "<number>.jpg files in it")
        if numbers is None:
            from .refvos import jpeg_problem

            numbers = [int(m.group(1)) for p in self.path.iterdir()
                       if (m := _JPG_NAME.match(p.name)) and jpeg_problem(p) is None]
        self.numbers = sorted(set(int(n) for n in numbers))
        if not self.numbers:
            raise DataError(f"frame folder {self.path} has no <number>.jpg files")
        self._position = {n: i for i, n in enumerate(self.numbers)}
        self.num_frames = len(self.numbers)

    def index(self, frame: int) -> int:
        if frame not in self._position:
            raise DataError(f"frame {self.path / f'{frame:05d}.jpg'} does not exist; "
                            "re-download the video's frames (or pass --skip-bad)")
        return self._position[frame]

    def frame_path(self, index: int) -> Path:
        return self.path / f"{self.numbers[index]:05d}.jpg"


class Mp4Frames(FrameSource):
    """A video file read with PyAV, seeking to the frames asked for."""

    def __init__(self, path: str | Path):
        import av

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"video file {self.path} does not exist")
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as exc:
            raise DataError(f"cannot open video {self.path}: {exc}; the file is corrupt or not "
                            "a video, re-download it") from exc
        try:
            if not self._container.streams.video:
                raise DataError(f"video file {self.path} has no video stream")
            self._stream = self._container.streams.video[0]
            self._pts = self._list_timestamps()
        except BaseException:
            self._container.close()
            raise
        self.num_frames = len(self._pts)
        stated = int(self._stream.frames or 0)  # an MP4's sample table counts them exactly
        if self.num_frames == 0:
            self._container.close()
            raise DataError(f"video file {self.path} has no frames"
                            f"{f' (its container states {stated})' if stated else ''}; "
                            "re-download it")
        if stated > self.num_frames:
            log.warning("video file %s is truncated or damaged: %d of the %d frames its container "
                        "states can be read; clips past frame %d repeat the last one. Re-download "
                        "it", self.path, self.num_frames, stated, self.num_frames)
        self._index_of = {p: i for i, p in enumerate(self._pts)}

    def _list_timestamps(self) -> list[int]:
        """Presentation timestamps of every frame, sorted (= display order), by demuxing only."""
        import av

        pts: list[int] = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size and packet.pts is not None:
                    pts.append(int(packet.pts))
        except av.FFmpegError as exc:
            raise DataError(f"cannot read video {self.path}: {exc}; the file is corrupt, "
                            "re-download it") from exc
        pts.sort()
        return pts

    def _decode_run(self, wanted: list[int], out: dict[int, np.ndarray], *,
                    from_start: bool = False) -> None:
        """Decode the frames ``wanted`` (sorted indices) in one pass after one seek."""
        import av

        stream = self._stream
        target = self._pts[0] if from_start else self._pts[wanted[0]]
        want = {self._pts[i]: i for i in wanted}
        last = self._pts[wanted[-1]]
        try:
            self._container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in self._container.decode(stream):
                pts = frame.pts
                if pts is None:
                    continue
                if pts in want and want[pts] not in out:
                    out[want[pts]] = frame.to_ndarray(format="rgb24")
                if pts >= last:
                    break
        except av.FFmpegError as exc:
            raise DataError(f"cannot decode video {self.path}: {exc}; the file is corrupt, "
                            "re-download it") from exc

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check(indices)
        unique = sorted(set(idx))
        runs: list[list[int]] = [[unique[0]]]
        for i in unique[1:]:
            if i - runs[-1][-1] > _SEEK_GAP:
                runs.append([i])
            else:
                runs[-1].append(i)
        out: dict[int, np.ndarray] = {}
        for run in runs:
            self._decode_run(run, out)
            missing = [i for i in run if i not in out]
            if missing:
                # the seek landed after the frame (a file without a proper keyframe index):
                # decode this run from the start of the stream instead
                log.debug("seek in %s missed frames %s; decoding from the start", self.path,
                          missing)
                self._decode_run(run, out, from_start=True)
        missing = [i for i in unique if i not in out]
        if missing:
            raise DataError(f"video {self.path} did not decode frame index {missing[0]} of "
                            f"{self.num_frames}; the file is truncated or corrupt")
        return np.stack([out[i] for i in idx])  # (T, H, W, 3)

    def close(self) -> None:
        self._container.close()


def find_video_file(root: str | Path, dataset: str, video: str, split: str | None = None) -> Path:
    """The PNG folder (preferred: exact pixels) or MP4 file holding ``video``'s frames (the JPEG
    folder for Ref-YouTube-VOS, under ``split``, and Ref-DAVIS17)."""
    root = Path(root)
    if dataset == "a2d":
        release = root / "Release"
        candidates = [release / "pngs320H" / video, release / "clips320H" / f"{video}.mp4",
                      release / "CLIPS320" / f"{video}.mp4"]
        for c in candidates:
            if c.is_dir() if c.suffix != ".mp4" else c.is_file():
                return c
        raise DataError(f"A2D video {video} not found: none of "
                        f"{', '.join(str(c) for c in candidates)} exists; pass the A2D root "
                        "(the folder holding Release/)")
    if dataset == "jhmdb":
        images = root / "Rename_Images"
        if not images.is_dir():
            raise DataError(f"JHMDB root {root} has no Rename_Images/ folder; pass the folder "
                            "holding Rename_Images/ and puppet_mask/")
        found = [d / video for d in sorted(images.iterdir()) if (d / video).is_dir()]
        if not found:
            raise DataError(f"JHMDB video {video} not found under {images}/<action>/{video}/")
        return found[0]
    if dataset == "ytvos":
        return root / str(split or "train") / "JPEGImages" / video
    if dataset == "davis":
        davis = root / "DAVIS" if (root / "DAVIS").is_dir() else root
        return davis / "JPEGImages" / "480p" / video
    raise DataError(f"unknown dataset {dataset!r}; use a2d, jhmdb, ytvos or davis")


def open_frames(root: str | Path, dataset: str, video: str, split: str | None = None
                ) -> FrameSource:
    """Open ``video`` of a release: its PNG folder when present, else its MP4; for
    Ref-YouTube-VOS (``split``: its folder) and Ref-DAVIS17 its JPEG folder."""
    path = find_video_file(root, dataset, video, split)
    if dataset in ("ytvos", "davis"):
        return JpegFrames(path)
    return PngFrames(path) if path.is_dir() else Mp4Frames(path)


def clip_indices(frame: int, clip_len: int, num_frames: int) -> list[int]:
    """0-based indices of the ``clip_len`` frames around the 1-based annotated ``frame``.

    Indices f-1-N//2 ... f-1+(N+1)//2-1, each clamped to [0, num_frames - 1], so edge frames
    repeat and the annotated frame sits at position N//2 (when it exists in the video).
    """
    if clip_len <= 0:
        raise ValueError(f"clip_len must be positive, got {clip_len}")
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    centre = frame - 1
    start = centre - clip_len // 2
    return [min(max(i, 0), num_frames - 1) for i in range(start, start + clip_len)]


def sample_clip_indices(source: FrameSource, frame: int, clip_len: int) -> list[int]:
    """:func:`clip_indices` of the frame a sample names, in ``source``'s 0-based indices."""
    return clip_indices(source.index(frame) + 1, clip_len, source.num_frames)


def read_clip(root: str | Path, dataset: str, sample: Sample, clip_len: int) -> np.ndarray:
    """The clip of ``sample``: (T, H, W, 3) uint8, T = ``clip_len``, annotated frame at T//2.

    Indices are clamped to the frames the video has (for JHMDB: all its PNGs, including those
    past the last mask; MTTR clamps to the masked frames instead).
    """
    with open_frames(root, dataset, sample.video, sample.split) as source:
        if source.index(sample.frame) >= source.num_frames:
            log.warning("annotated frame %d of %s is past the video's %d frames; the clip "
                        "repeats the last frame", sample.frame, source.path, source.num_frames)
        return source.read(sample_clip_indices(source, sample.frame, clip_len))
