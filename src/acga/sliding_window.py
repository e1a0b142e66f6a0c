"""Run a clip model over a stream of frames, one window every K frames, in bounded memory.

Every ``every``-th frame (0, K, 2K, ...) is a window centre c: the model runs on the
``clip_len`` frames c - N//2 ... c + (N+1)//2 - 1, clamped to the video (edge frames repeat, as
in training, :func:`acga.data.video.clip_indices`). Every other frame takes the result of its
nearest centre (:func:`nearest_centre`: ties go to the earlier centre; frames after the last
centre take the last one).

Streaming: prepared (letterboxed) frames live in a ring buffer of ``clip_len`` frames; original
frames wait in a queue only until the result of their nearest centre is known, so at most
``clip_len + every + 1`` frames are held whatever the video's length, and each frame is handed
on as soon as it is final.
"""

from __future__ import annotations

import collections
from typing import Callable, Generic, Iterable, Iterator, TypeVar

import numpy as np

__all__ = ["nearest_centre", "SlidingWindows"]

F = TypeVar("F")  # a frame as the source yields it
M = TypeVar("M")  # what the model makes of one window (the masks)


def nearest_centre(frame: int, every: int, num_frames: int | None = None) -> int:
    """The window centre (a multiple of ``every``) nearest to 0-based ``frame``; ties go to the
    earlier centre; with ``num_frames`` known, a centre past the end falls back to the one before."""
    q, r = divmod(frame, every)
    centre = q * every if r <= every // 2 else (q + 1) * every
    if num_frames is not None and centre > num_frames - 1:
        centre = q * every
    return centre


class SlidingWindows(Generic[F, M]):
    """Iterate ``(frame index, frame, result)`` over ``frames``, in order, each frame once.

    Args:
        frames: the frames in display order (index = position, 0-based).
        clip_len: N, frames per window.
        every: K, frames between window centres.
        prepare: frame -> the array the model reads, e.g. (S, S, 3) letterboxed; kept in the ring.
        predict: ``(centre, clip (N, ...) stacked prepared frames, centre frame) -> result``.

    Attributes (final once iterated):
        windows: model runs so far; num_frames: frames read; peak: most frames held at once
        (ring + waiting originals).
    """

    def __init__(self, frames: Iterable[F], clip_len: int, every: int,
                 prepare: Callable[[F], np.ndarray],
                 predict: Callable[[int, np.ndarray, F | None], M]):
        if every < 1 or clip_len < 1:
            raise ValueError(f"every ({every}) and clip_len ({clip_len}) must be at least 1")
        self.frames, self.clip_len, self.every = frames, clip_len, every
        self.prepare, self.predict = prepare, predict
        self.windows = self.num_frames = self.peak = 0
        self._ring: collections.deque = collections.deque(maxlen=clip_len)  # (index, prepared)
        self._pending: collections.deque = collections.deque()  # (index, frame) awaiting a result
        self._results: dict[int, M] = {}  # centre -> result

    def __iter__(self) -> Iterator[tuple[int, F, M]]:
        every, after = self.every, (self.clip_len + 1) // 2 - 1
        next_centre, last = 0, -1
        for last, frame in enumerate(self.frames):
            self._ring.append((last, self.prepare(frame)))
            self._pending.append((last, frame))
            self.peak = max(self.peak, len(self._ring) + len(self._pending))
            while next_centre + after <= last:  # the window's last frame has arrived
                self._run(next_centre, last)
                next_centre += every
            yield from self._flush(None)
        self.num_frames = last + 1
        while next_centre <= last:  # windows reaching past the end: edge frames repeat
            self._run(next_centre, last)
            next_centre += every
        yield from self._flush(self.num_frames)
        if self._pending:  # cannot happen: every frame has a centre once the length is known
            raise RuntimeError(f"{len(self._pending)} frames left without a mask")

    def _run(self, centre: int, last: int) -> None:
        held = dict(self._ring)
        start = centre - self.clip_len // 2
        idx = [min(max(j, 0), last) for j in range(start, start + self.clip_len)]
        clip = np.stack([held[j] for j in idx])  # (N, ...)
        frame = next((f for i, f in self._pending if i == centre), None)
        self._results[centre] = self.predict(centre, clip, frame)
        self.windows += 1

    def _flush(self, num_frames: int | None) -> Iterator[tuple[int, F, M]]:
        pending, results = self._pending, self._results
        while pending:
            target = nearest_centre(pending[0][0], self.every, num_frames)
            if target not in results:
                break
            index, frame = pending.popleft()
            yield index, frame, results[target]
        if pending:
            # the centre before the target too: once the length is known, a target past
            # the end falls back to it
            first = nearest_centre(pending[0][0], self.every, num_frames) - self.every
            for c in [c for c in results if c < first]:
                del results[c]
