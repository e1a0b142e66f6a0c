"""Overlays, contact sheets, training curves and atomic PNG writes."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from acga.errors import InvalidShapeError
from acga.visualize import PALETTE, contact_sheet, overlay, plot_curves, save_png_atomic


def _frame(h: int = 40, w: int = 60) -> np.ndarray:
    frame = np.zeros((h, w, 3), dtype=np.uint8)
    frame[..., 0] = 100
    frame[..., 1] = 50
    frame[..., 2] = 200
    return frame


def test_overlay_blends_masked_pixels_only():
    frame = _frame()
    a = np.zeros((40, 60), bool)
    a[20:30, 10:20] = True
    b = np.zeros((40, 60), bool)
    b[25:35, 15:25] = True  # overlaps a at rows 25..29, cols 15..19
    out = overlay(frame, [a, b], colors=[(255, 0, 0), (0, 255, 0)], alpha=0.5)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    # (1 - 0.5) * (100, 50, 200) + 0.5 * (255, 0, 0) = (177.5, 25, 100) -> rounds half to even
    assert out[21, 11].tolist() == [178, 25, 100]
    assert out[34, 24].tolist() == [50, 152, 100]  # only b: 0.5*(100,50,200) + 0.5*(0,255,0)
    # overlap: b painted over a's blend: 0.5 * (177.5, 25, 100) + 0.5 * (0, 255, 0)
    assert out[26, 16].tolist() == [89, 140, 50]
    assert out[5, 50].tolist() == [100, 50, 200]  # untouched
    assert frame[21, 11].tolist() == [100, 50, 200]  # input not modified
    full = overlay(frame, [a], colors=[(9, 8, 7)], alpha=1.0)
    assert full[21, 11].tolist() == [9, 8, 7]


def test_overlay_default_palette_and_text():
    frame = _frame()
    m = np.ones((40, 60), bool)
    out = overlay(frame, [m], alpha=0.5)
    expected = np.round(0.5 * np.array([100, 50, 200]) + 0.5 * np.array(PALETTE[0])).tolist()
    assert out[39, 59].tolist() == expected
    labelled = overlay(frame, [], text="the dog running on the left")
    # the label box (black) and text (white, anti-aliased) change the top-left; the rest stays
    corner = labelled[:14, :60].astype(int)
    grey = (corner[..., 0] == corner[..., 1]) & (corner[..., 1] == corner[..., 2])
    assert (grey & (corner[..., 0] > 200)).any() and (corner == 0).all(axis=2).any()
    assert labelled[30:, :].tolist() == frame[30:, :].tolist()
    two = overlay(frame, [], text=["first query", "second query"])
    assert not np.array_equal(two[16:28], frame[16:28])  # second line drawn below the first


def test_overlay_rejects_bad_shapes():
    with pytest.raises(InvalidShapeError, match=r"masks\[0\]"):
        overlay(_frame(), [np.zeros((10, 10), bool)])
    with pytest.raises(InvalidShapeError, match="frame"):
        overlay(np.zeros((10, 10), np.uint8), [])


def test_contact_sheet_layout():
    red = np.zeros((10, 20, 3), np.uint8)
    red[..., 0] = 255
    mask = np.zeros((8, 8), bool)
    mask[:4] = True
    sheet = contact_sheet([red, mask, red], ncols=2, captions=["a", "b", "c"], pad=4)
    assert isinstance(sheet, Image.Image) and sheet.mode == "RGB"
    # 2 columns of 20 px + 3 pads; 2 rows of (10 px + 14 caption) + 3 pads
    assert sheet.size == (4 + 2 * 24, 4 + 2 * (10 + 14 + 4))
    px = np.asarray(sheet)
    assert px[4, 4].tolist() == [255, 0, 0]  # first tile at (pad, pad)
    assert px[4, 28].tolist() == [255, 255, 255]  # mask foreground -> white, second cell
    assert px[4 + 6, 28].tolist() == [0, 0, 0]  # mask background -> black
    assert px[4 + 28, 4].tolist() == [255, 0, 0]  # third tile, second row
    no_captions = contact_sheet([red], ncols=3)
    assert no_captions.size == (28, 18)


def test_plot_curves_writes_png_without_global_changes(tmp_path):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    records = [{"step": i, "loss": 1.0 / (i + 1), "lr": 5e-4} for i in range(20)]
    records.append({"step": 20, "mAP": 0.3})  # an eval record without loss
    out = tmp_path / "plots" / "curves.png"
    plot_curves(records, out, keys=("loss", "lr"))
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (800, 300)
    assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend
    assert [p.name for p in out.parent.iterdir()] == ["curves.png"]  # no temp file left
    with pytest.raises(ValueError, match="no numeric value|has a numeric value"):
        plot_curves(records, tmp_path / "x.png", keys=("accuracy",))


def test_save_png_atomic_round_trip(tmp_path):
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:4] = True
    save_png_atomic(mask, tmp_path / "m.png")
    back = np.asarray(Image.open(tmp_path / "m.png"))
    assert back.dtype == np.uint8 and (back == 255).tolist() == mask.tolist()
    rgb = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    save_png_atomic(rgb, tmp_path / "sub" / "rgb.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "sub" / "rgb.png")), rgb)
    with pytest.raises(ValueError, match="float64"):
        save_png_atomic(np.zeros((3, 3)), tmp_path / "f.png")
