"""`acga.sliding_window.SlidingWindows` against the straightforward computation (every window on
the whole list of frames), and its memory bound: at most clip_len + every + 1 frames held."""

from __future__ import annotations

import numpy as np
import pytest

from acga.data.video import clip_indices
from acga.sliding_window import SlidingWindows, nearest_centre


def run(n: int, clip_len: int, every: int):
    """Frames are their indices; a window's result is the tuple of frame indices it read."""
    read = []  # frames taken from the source, to see how far ahead the iterator reads
    calls = []

    def frames():
        for i in range(n):
            read.append(i)
            yield i

    def predict(centre, clip, frame):
        calls.append((centre, frame))
        return tuple(int(v) for v in clip[:, 0])

    windows = SlidingWindows(frames(), clip_len, every, prepare=lambda f: np.array([f, -f]),
                             predict=predict)
    out = []
    for index, frame, result in windows:
        out.append((index, frame, result, len(read)))
    return windows, out, calls


@pytest.mark.parametrize("n", [1, 2, 5, 12, 31])
@pytest.mark.parametrize("clip_len, every", [(1, 1), (4, 1), (4, 3), (8, 4), (5, 7), (3, 2)])
def test_same_results_as_running_every_window_on_the_whole_video(n, clip_len, every):
    windows, out, calls = run(n, clip_len, every)
    centres = list(range(0, n, every))
    assert [c for c, _ in calls] == centres and windows.windows == len(centres)
    assert all(frame == c for c, frame in calls)  # predict sees its centre frame
    assert [i for i, *_ in out] == list(range(n)) and [f for _, f, *_ in out] == list(range(n))
    for index, _, result, _ in out:
        centre = nearest_centre(index, every, n)
        # clip_indices takes the 1-based frame: the window of centre c is that of frame c + 1
        assert result == tuple(clip_indices(centre + 1, clip_len, n)), index
    assert windows.num_frames == n


@pytest.mark.parametrize("clip_len, every", [(4, 1), (4, 4), (8, 4), (8, 16), (5, 3)])
def test_memory_is_bounded_and_does_not_grow_with_length(clip_len, every):
    peaks = []
    for n in (3 * (clip_len + every), 200):
        windows, out, _ = run(n, clip_len, every)
        assert windows.peak <= clip_len + every + 1
        peaks.append(windows.peak)
        # a frame is handed on as soon as its window has run (once its last frame is read)
        after = (clip_len + 1) // 2 - 1
        for index, _, _, read in out:
            centre = nearest_centre(index, every, n)
            assert read == min(n, max(index, centre + after) + 1), (index, read)
    assert peaks[0] == peaks[1]


def test_nearest_centre_ties_and_the_end():
    assert [nearest_centre(f, 4) for f in range(10)] == [0, 0, 0, 4, 4, 4, 4, 8, 8, 8]
    assert nearest_centre(9, 4, num_frames=10) == 8 and nearest_centre(7, 4, num_frames=8) == 4


def test_empty_source_and_bad_arguments():
    windows, out, calls = run(0, 4, 2)
    assert out == [] and calls == [] and windows.num_frames == 0
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindows([], 4, 0, prepare=lambda f: f, predict=lambda *a: None)
