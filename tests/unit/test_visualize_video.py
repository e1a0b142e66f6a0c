"""`acga.visualize_video`: the MP4 writer's timestamps, padding and encoder options, the
bounded thumbnail sheet, the legend."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from acga.visualize_video import Mp4Writer, ThumbnailSheet, draw_legend, thumbnail


def decode(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [(f.width, f.height, f.time, f.to_ndarray(format="rgb24")) for f in c.decode(s)]
        return frames, s.codec_context.name


def test_mp4_writer_keeps_timestamps_and_pads_odd_sides(tmp_path):
    w = Mp4Writer(tmp_path / "a.mp4", 15, 9, Fraction(10), Fraction(1, 1000),
                  options={"crf": "0", "preset": "ultrafast"})
    gray = np.full((9, 15, 3), 128, np.uint8)
    # 0, 150, 200 ms as given; a repeated and a missing pts continue one frame (100 ms) later
    for pts in (0, 150, 200, 200, None):
        w.write(gray, pts)
    w.close()
    frames, codec = decode(tmp_path / "a.mp4")
    assert [f[2] for f in frames] == [0.0, 0.15, 0.2, 0.3, 0.4]
    assert {(f[0], f[1]) for f in frames} == {(16, 10)} and w.frames == 5
    assert codec in ("h264", "libx264")
    # crf 0 (lossless luma) keeps the grey inside the frame; the padding is black
    assert np.abs(frames[0][3][:9, :15].astype(int) - 128).max() <= 2
    assert frames[0][3][9:, :].max() <= 20


def test_mp4_writer_default_rate_and_time_base(tmp_path):
    w = Mp4Writer(tmp_path / "b.mp4", 16, 16, None, None)  # 25 fps, time base 1/25
    for _ in range(3):
        w.write(np.zeros((16, 16, 3), np.uint8), None)
    w.close()
    frames, _ = decode(tmp_path / "b.mp4")
    np.testing.assert_allclose([f[2] for f in frames], [0.0, 0.04, 0.08], atol=1e-9)


def test_mp4_writer_as_a_context_manager(tmp_path):
    with Mp4Writer(tmp_path / "c.mp4", 16, 16, Fraction(24), None,
                   options={"crf": "0", "preset": "ultrafast"}) as w:
        for value in (40, 200):
            w.write(np.full((16, 16, 3), value, np.uint8), None)
    frames, _ = decode(tmp_path / "c.mp4")  # finished on leaving: both frames are there
    np.testing.assert_allclose([f[2] for f in frames], [0.0, 1 / 24], atol=1e-9)
    assert [int(np.median(f[3])) for f in frames] == pytest.approx([40, 200], abs=2)
    # after an error the file is closed without flushing, and the error is the one raised
    closed = []
    with pytest.raises(RuntimeError, match="render failed"):
        with Mp4Writer(tmp_path / "d.mp4", 16, 16, None, None) as w:
            w.close = lambda flush=True: closed.append(flush) or Mp4Writer.close(w, flush)
            w.write(np.zeros((16, 16, 3), np.uint8), None)
            raise RuntimeError("render failed")
    assert closed == [False]


def test_thumbnail_sheet_stays_bounded_and_spreads_its_frames():
    sheet = ThumbnailSheet(frames=4, width=8)
    frame = np.zeros((6, 16, 3), np.uint8)
    for number in range(1, 101):
        sheet.add(number, frame)
        assert len(sheet.thumbs) <= 8
    # kept: every stride-th frame from 1, the stride doubled until at most 8 remain
    stride = sheet.stride
    assert stride == 16 and [n for n, _ in sheet.thumbs] == list(range(1, 101, stride))
    assert sheet.thumbs[0][1].shape == (3, 8, 3)  # half width, half height
    image = sheet.image()
    assert image.width >= 4 * 8


def test_thumbnail_and_legend():
    rgb = np.full((20, 640, 3), 50, np.uint8)
    assert thumbnail(rgb).shape == (10, 320, 3)
    small = np.zeros((4, 8, 3), np.uint8)
    assert thumbnail(small) is not small and np.array_equal(thumbnail(small), small)
    frame = np.full((60, 120, 3), 200, np.uint8)
    shown = draw_legend(frame, ["the dog"], [(255, 0, 0)])
    assert shown.shape == frame.shape and np.array_equal(frame, np.full_like(frame, 200))
    assert (shown[5:10, 5:12] == (255, 0, 0)).all(axis=-1).any()  # the swatch
    assert np.array_equal(shown[40:, :], frame[40:, :])  # below the legend: untouched
