"""TV-L1 optical flow for I3D's flow stream (acga.flow)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("cv2", reason="optical flow needs the optional acga[flow] dependency")

from acga.errors import AcgaError  # noqa: E402
from acga.flow import compute_flow, flow_input, letterbox_flow, require_tvl1  # noqa: E402


def _texture(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (H, W, 3) uint8: every pixel has a usable gradient."""
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).random((height, width))
    grey = gaussian_filter(noise, 1.5, mode="wrap")
    grey = (grey - grey.min()) / (grey.max() - grey.min()) * 255
    return np.repeat(grey[..., None], 3, axis=2).round().astype(np.uint8)


def _interior(a: np.ndarray, margin: int = 6) -> np.ndarray:
    return a[margin:-margin, margin:-margin]


@pytest.mark.parametrize("shift, axis, expect", [(2, 1, (2.0, 0.0)), (-2, 1, (-2.0, 0.0)),
                                                 (1, 0, (0.0, 1.0)), (3, 0, (0.0, 3.0))])
def test_translation_gives_its_direction_and_magnitude(shift, axis, expect):
    img = _texture()
    frames = np.stack([img, np.roll(img, shift, axis=axis)])  # the pattern moves by `shift`
    flow = compute_flow(frames)
    assert flow.shape == (2, 48, 64, 2) and flow.dtype == np.float32
    u, v = _interior(flow[0]).reshape(-1, 2).mean(axis=0)
    assert u == pytest.approx(expect[0], abs=0.05)
    assert v == pytest.approx(expect[1], abs=0.05)


def test_last_field_repeats_and_still_frames_give_zero():
    img = _texture()
    frames = np.stack([img, img, np.roll(img, 2, axis=1)])
    flow = compute_flow(frames)
    assert flow.shape == (3, 48, 64, 2)
    assert not flow[0].any()  # a repeated frame: exactly zero
    np.testing.assert_array_equal(flow[2], flow[1])  # the last frame repeats the last field
    assert not compute_flow(frames[:1]).any()  # one frame: no motion at all


def test_letterbox_flow_pads_with_zero_and_scales_vectors():
    flow = np.zeros((1, 20, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 4.0, -2.0
    out = letterbox_flow(flow, 20)  # 40 x 40 square (rows 10..29 hold the frame) -> 20 x 20
    assert out.shape == (1, 20, 20, 2)
    np.testing.assert_allclose(out[0, 7:13, :, 0], 2.0, atol=1e-5)  # 4 px * 20/40
    np.testing.assert_allclose(out[0, 7:13, :, 1], -1.0, atol=1e-5)
    assert not out[0, :3].any() and not out[0, -3:].any()  # the black padding has no motion
    np.testing.assert_array_equal(letterbox_flow(flow[:, :, :20], 20)[0], flow[0, :, :20])


def test_flow_input_is_i3d_ready():
    img = _texture(32, 48)
    frames = np.stack([np.roll(img, 2 * t, axis=1) for t in range(5)])  # 4 fields from 5 frames
    x = flow_input(frames, 24)
    assert tuple(x.shape) == (2, 4, 24, 24)
    assert float(x.abs().max()) <= 1.0
    # 2 px right at 48 -> 24 is 1 px at the input scale, / 20 after I3D's scaling
    centre = x[0, :, 8:16, 6:18]
    assert float(centre.mean()) == pytest.approx(1 / 20, abs=0.01)
    assert float(x[1, :, 8:16, 6:18].mean()) == pytest.approx(0.0, abs=0.01)


def test_missing_opencv_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    with pytest.raises(AcgaError, match=r'pip install "acga\[flow\]"'):
        require_tvl1()


def test_letterbox_flow_bilinear_upscale_by_hand():
    # a 1 x 2 field: square side 2 (row 0 = the field, row 1 = zero padding), resized 2 -> 4.
    # Bilinear, half-pixel centres: outputs sample source coordinates -0.25, 0.25, 0.75, 1.25
    # (clamped to the edges), so weights (1, 0), (.75, .25), (.25, .75), (0, 1); vectors x 4/2.
    flow = np.zeros((1, 1, 2, 2), np.float32)
    flow[0, 0, :, 0] = [3.0, 5.0]
    flow[0, 0, :, 1] = [-1.0, 1.0]
    col_w = np.array([[1, 0], [.75, .25], [.25, .75], [0, 1]])  # (4 out, 2 in)
    row_w = col_w  # the same rule vertically; source row 1 is padding
    for c in range(2):
        square = np.zeros((2, 2))
        square[0] = flow[0, 0, :, c]
        expected = 2.0 * row_w @ square @ col_w.T
        np.testing.assert_allclose(letterbox_flow(flow, 4)[0, :, :, c], expected, atol=1e-6)
