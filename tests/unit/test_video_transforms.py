"""Frame sources (PyAV seek vs PNG), clip indices, letterbox and its inverse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures_release import make_a2d_release, video_frames

from acga.data.records import Sample
from acga.data.transforms import letterbox, letterbox_mask, unletterbox_mask
from acga.data.video import Mp4Frames, PngFrames, clip_indices, open_frames, read_clip
from acga.errors import DataError, InvalidShapeError


@pytest.fixture(scope="module")
def a2d_root(tmp_path_factory) -> Path:
    return make_a2d_release(tmp_path_factory.mktemp("a2d_video"), corrupt=True)


# ----------------------------------------------------------------------------- clip indices


def test_clip_indices_middle_and_ends():
    assert clip_indices(5, 8, 10) == [0, 1, 2, 3, 4, 5, 6, 7]  # frame 5 = index 4 at N//2 = 4
    assert clip_indices(5, 3, 10) == [3, 4, 5]
    assert clip_indices(7, 1, 10) == [6]
    # start of the video: the first frame repeats, the annotated index 0 sits at 16//2 = 8
    assert clip_indices(1, 16, 100) == [0] * 9 + [1, 2, 3, 4, 5, 6, 7]
    # end of the video: the last frame repeats
    assert clip_indices(100, 16, 100) == list(range(91, 100)) + [99] * 7
    # a video shorter than the clip
    assert clip_indices(2, 6, 3) == [0, 0, 0, 1, 2, 2]
    for f in (1, 2, 50, 99, 100):
        assert clip_indices(f, 16, 100)[8] == f - 1


# ----------------------------------------------------------------------------- frame sources


def _assert_frames_close(got: np.ndarray, want: np.ndarray) -> None:
    """Within H.264 tolerance, and each frame nearest to the intended one (red = 20 + 10 t)."""
    assert got.shape == want.shape and got.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert diff.mean() < 3.0, diff.mean()
    np.testing.assert_allclose(got[..., 0].mean(axis=(1, 2)), want[..., 0].mean(axis=(1, 2)),
                               atol=3.0)


def test_mp4_seek_matches_png(a2d_root):
    release = a2d_root / "Release"
    png = PngFrames(release / "pngs320H" / "vidB")
    with Mp4Frames(release / "clips320H" / "vidB.mp4") as mp4:
        assert mp4.num_frames == png.num_frames == 8
        idx = [7, 0, 0, 3, 4, 7, 5]
        exact = png.read(idx)
        np.testing.assert_array_equal(exact, video_frames(8, 16, 24)[idx])  # PNG is lossless
        _assert_frames_close(mp4.read(idx), exact)


def test_mp4_decodes_only_from_the_keyframe_before(a2d_root):
    # keyframe every 4 frames: frames 10, 11 of 12 need frames 8..11 only
    with Mp4Frames(a2d_root / "Release" / "clips320H" / "vidA.mp4") as mp4:
        decoded = []

        class Counting:  # PyAV containers are immutable: wrap one to count decoded frames
            def __init__(self, inner):
                self._inner = inner

            def __getattr__(self, name):
                return getattr(self._inner, name)

            def decode(self, *args, **kwargs):
                for frame in self._inner.decode(*args, **kwargs):
                    decoded.append(frame.pts)
                    yield frame

        mp4._container = Counting(mp4._container)
        got = mp4.read([10, 11])
    _assert_frames_close(got, video_frames(12, 24, 40)[[10, 11]])
    assert 2 <= len(decoded) <= 6, decoded


def test_open_frames_prefers_png(a2d_root):
    with open_frames(a2d_root, "a2d", "vidB") as src:
        assert isinstance(src, PngFrames)
    with open_frames(a2d_root, "a2d", "vidA") as src:
        assert isinstance(src, Mp4Frames) and src.num_frames == 12


def test_read_clip_at_both_ends(a2d_root):
    frames = video_frames(12, 24, 40)
    first = Sample("a2d", "train", "vidA", 1, 0, "q", 24, 40, 0)
    clip = read_clip(a2d_root, "a2d", first, 4)
    _assert_frames_close(clip, frames[[0, 0, 0, 1]])
    last = Sample("a2d", "train", "vidA", 12, 0, "q", 24, 40, 0)
    clip = read_clip(a2d_root, "a2d", last, 5)
    _assert_frames_close(clip, frames[[9, 10, 11, 11, 11]])
    png_clip = read_clip(a2d_root, "a2d", Sample("a2d", "test", "vidB", 8, 1, "q", 16, 24, 0), 3)
    np.testing.assert_array_equal(png_clip, video_frames(8, 16, 24)[[6, 7, 7]])


def test_clips320_folder_name(tmp_path):
    root = make_a2d_release(tmp_path / "a2d", clips_folder="CLIPS320")
    with open_frames(root, "a2d", "vidA") as src:
        assert isinstance(src, Mp4Frames) and src.path.parent.name == "CLIPS320"


def test_corrupt_and_missing_videos(a2d_root):
    with pytest.raises(DataError, match=r"vidX\.mp4"):
        Mp4Frames(a2d_root / "Release" / "clips320H" / "vidX.mp4")
    with pytest.raises(DataError, match=r"vidQ not found.*clips320H[/\\]vidQ\.mp4"):
        open_frames(a2d_root, "a2d", "vidQ")
    with pytest.raises(DataError, match=r"outside video .*vidB.*8 frames"):
        PngFrames(a2d_root / "Release" / "pngs320H" / "vidB").read([8])


def test_png_folder_with_gap(tmp_path):
    from PIL import Image

    for n in (1, 2, 4):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / f"{n:05d}.png")
    with pytest.raises(DataError, match=r"first missing: 00003\.png"):
        PngFrames(tmp_path)


# ----------------------------------------------------------------------------- letterbox


def test_letterbox_mask_by_hand():
    m = np.array([[1, 0, 0, 1],
                  [0, 1, 1, 0]], np.uint8)  # H=2, W=4: M=4, pasted at rows 1..2
    np.testing.assert_array_equal(letterbox_mask(m, 4), [[0, 0, 0, 0],
                                                         [1, 0, 0, 1],
                                                         [0, 1, 1, 0],
                                                         [0, 0, 0, 0]])
    big = letterbox_mask(m, 8)  # each pixel of the 4x4 square becomes a 2x2 block
    np.testing.assert_array_equal(big, np.kron(letterbox_mask(m, 4), np.ones((2, 2), np.uint8)))
    # odd difference: H=1, W=4 -> top offset (4-1)//2 = 1
    np.testing.assert_array_equal(letterbox_mask(np.ones((1, 4), np.uint8), 4)[:, 0], [0, 1, 0, 0])


@pytest.mark.parametrize("hw", [(24, 40), (40, 24), (7, 5), (5, 7), (13, 13), (1, 9), (9, 1),
                                (31, 17), (320, 427)])
def test_unletterbox_inverts_letterbox_exactly(hw):
    rng = np.random.default_rng(sum(hw))
    h, w = hw
    m = (rng.random((h, w)) < 0.4).astype(np.uint8)
    side = max(h, w)
    for size in sorted({side, side + 1, 2 * side + 3, 512 if side <= 512 else side}):
        sq = letterbox_mask(m, size)
        assert sq.shape == (size, size)
        np.testing.assert_array_equal(unletterbox_mask(sq, h, w), m)


@pytest.mark.parametrize("fn", ["unletterbox_mask", "undo_letterbox"])
def test_unletterbox_by_hand(fn):
    # Every square pixel holds its own label (10 * row + col), so the output names the source
    # pixel of each frame pixel. Nearest rule: output j of a resize n -> m reads
    # floor((j + 0.5) * n / m); the frame's window starts at ((M - H) // 2, (M - W) // 2).
    from acga.postprocess import undo_letterbox

    undo = unletterbox_mask if fn == "unletterbox_mask" else undo_letterbox

    def labels(s):
        return (10 * np.arange(s)[:, None] + np.arange(s)[None, :]).astype(np.int32)

    # S=4 -> M=3 (H=2, W=3, no offset): sources floor(4/6)=0, floor(12/6)=2, floor(20/6)=3
    np.testing.assert_array_equal(undo(labels(4), 2, 3), [[0, 2, 3],
                                                          [20, 22, 23]])
    # S=6 -> M=3 (H=1, W=3: top offset 1): sources 1, 3, 5; the frame is square row 1 -> 3
    np.testing.assert_array_equal(undo(labels(6), 1, 3), [[31, 33, 35]])
    # S=2 -> M=4 (H=4, W=2: left offset 1): sources 0, 0, 1, 1; columns 1..2 of them -> 0, 1
    np.testing.assert_array_equal(undo(labels(2), 4, 2), [[0, 1], [0, 1], [10, 11], [10, 11]])
    # a batch maps each square alike
    batch = np.stack([labels(4), labels(4) + 100])
    np.testing.assert_array_equal(undo(batch, 2, 3), [[[0, 2, 3], [20, 22, 23]],
                                                      [[100, 102, 103], [120, 122, 123]]])


def test_unletterbox_bilinear_and_batches():
    sq = np.full((2, 16, 16), 0.25, np.float32)
    out = unletterbox_mask(sq, 6, 10, mode="bilinear")
    assert out.shape == (2, 6, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.25, atol=1e-6)
    # a ramp along x survives resize + crop: monotone, same range
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    out = unletterbox_mask(ramp, 16, 16, mode="bilinear")
    np.testing.assert_allclose(out, ramp, atol=1e-6)
    with pytest.raises(InvalidShapeError, match="mask_square"):
        unletterbox_mask(np.zeros((4, 5)), 4, 5)


def test_letterbox_frames():
    frames = np.zeros((2, 2, 4, 3), np.uint8)
    frames[0] = 100
    frames[1, :, :, 2] = 200
    out = letterbox(frames, 4)  # same side: pure padding
    assert out.shape == (2, 4, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 1:3], frames[0])
    assert out[:, 0].max() == 0 and out[:, 3].max() == 0
    up = letterbox(frames, 8)  # bilinear upscale: the centre of the content keeps its value
    np.testing.assert_array_equal(up[0, 3:5, 2:6], 100)
    np.testing.assert_array_equal(up[1, 3:5, :, 2], 200)
    assert up[0, 0].max() == 0
    with pytest.raises(InvalidShapeError, match="frames"):
        letterbox(np.zeros((4, 4, 3), np.uint8), 8)
