"""Pictures for people: mask overlays with the query text, contact sheets, training curves.

Everything returns arrays or PIL images, or writes PNG files atomically. matplotlib is used
through its object API on the Agg canvas (no pyplot, no rcParams changes), so importing or
calling this module changes no global state.
"""

from __future__ import annotations

import io
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import InvalidShapeError
from .utils import atomic_write_bytes

__all__ = ["PALETTE", "overlay", "contact_sheet", "plot_curves", "save_png_atomic", "to_uint8_rgb"]

# Distinct, saturated colours (RGB) for up to eight simultaneous queries; cycled beyond.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25),
    (145, 30, 180), (245, 130, 48), (70, 240, 240), (240, 50, 230),
)


def to_uint8_rgb(image: Any) -> np.ndarray:
    """An (H, W, 3) uint8 array from a PIL image, a grey/bool (H, W) array or an RGB(A) array.

    Bool and float arrays in [0, 1] are scaled to 0..255; RGBA drops alpha.
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    arr = np.asarray(image)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        arr = np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidShapeError("image", arr.shape, "(H, W), (H, W, 3) or (H, W, 4)")
    return np.ascontiguousarray(arr[:, :, :3])


def _draw_label(image: Image.Image, text: str, xy: tuple[int, int] = (2, 2)) -> None:
    """Draw ``text`` in white on a black box (readable on any frame), clipped to the image."""
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox(xy, text, font=font)
    draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(0, 0, 0))
    draw.text(xy, text, fill=(255, 255, 255), font=font)


def overlay(frame: Any, masks: Sequence[Any], colors: Sequence[Sequence[int]] | None = None,
            alpha: float = 0.5, text: str | Sequence[str] | None = None) -> np.ndarray:
    """Blend coloured masks onto a frame and optionally write the query text.

    Args:
        frame: (H, W, 3) uint8 RGB frame.
        masks: (H, W) boolean masks (non-zero = foreground), painted in order, so a later mask
            is on top where masks overlap.
        colors: one RGB colour per mask (default :data:`PALETTE`, cycled).
        alpha: opacity of the colour: masked pixels become ``(1 - alpha) * frame + alpha * color``
            (rounded to the nearest integer); unmasked pixels are unchanged.
        text: a query (or one query per mask, drawn one per line, each in a box) written at the
            top-left in Pillow's default font.

    Returns:
        A new (H, W, 3) uint8 array; ``frame`` is not modified.
    """
    base = np.asarray(frame)
    if base.ndim != 3 or base.shape[2] != 3:
        raise InvalidShapeError("frame", base.shape, "(H, W, 3)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha {alpha} is outside [0, 1]")
    out = base.astype(np.float32)
    palette = list(colors) if colors is not None else list(PALETTE)
    if not palette:
        raise ValueError("colors is empty; give one RGB colour per mask or leave it None")
    for i, mask in enumerate(masks):
        m = np.asarray(mask)
        if m.shape != base.shape[:2]:
            raise InvalidShapeError(f"masks[{i}]", m.shape, f"{base.shape[:2]} (the frame's H, W)")
        m = m.astype(bool)
        color = np.asarray(palette[i % len(palette)], dtype=np.float32)[:3]
        out[m] = (1.0 - alpha) * out[m] + alpha * color
    result = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if text:
        lines = [text] if isinstance(text, str) else list(text)
        image = Image.fromarray(result)
        y = 2
        for i, line in enumerate(lines):
            _draw_label(image, line, (4, y))
            y += 14  # the default bitmap font is about 11 px tall, plus the box margin
        result = np.asarray(image, dtype=np.uint8).copy()
    return result


def contact_sheet(images: Sequence[Any], ncols: int, captions: Sequence[str] | None = None,
                  pad: int = 4, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Tile images in a grid, each with an optional caption below it.

    Args:
        images: frames, overlays or masks (anything :func:`to_uint8_rgb` accepts); each cell is
            as large as the largest image, smaller images sit at its top-left.
        ncols: columns of the grid (rows follow from the count).
        captions: one caption per image (or None).
        pad: pixels between cells and around the sheet.

    Returns:
        An RGB ``PIL.Image``.
    """
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"{len(captions)} captions for {len(images)} images")
    tiles = [to_uint8_rgb(im) for im in images]
    cell_h = max(t.shape[0] for t in tiles)
    cell_w = max(t.shape[1] for t in tiles)
    caption_h = 14 if captions else 0
    ncols = min(ncols, len(tiles))
    nrows = math.ceil(len(tiles) / ncols)
    sheet = Image.new("RGB", (pad + ncols * (cell_w + pad), pad + nrows * (cell_h + caption_h + pad)),
                      background)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        x, y = pad + c * (cell_w + pad), pad + r * (cell_h + caption_h + pad)
        sheet.paste(Image.fromarray(tile), (x, y))
        if captions:
            draw.text((x, y + cell_h + 1), str(captions[i]), fill=(0, 0, 0), font=font)
    return sheet


def plot_curves(log_records: Sequence[Mapping[str, Any]], out_png: str | os.PathLike,
                keys: Sequence[str] = ("loss",), title: str | None = None) -> None:
    """Plot training curves, one panel per key, and write them as a PNG (atomically).

    Args:
        log_records: training-log entries (e.g. the JSON Lines of ``acga train``); the x axis is
            ``step`` when the records have it, else ``epoch``, else the record index. Records
            without a key (or with a non-numeric value) are skipped in that key's panel.
        out_png: output path.
        keys: the record keys to plot.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not keys:
        raise ValueError("keys is empty: name at least one logged value to plot")
    x_key = next((k for k in ("step", "epoch") if any(k in r for r in log_records)), None)
    series = {}
    for key in keys:
        xs, ys = [], []
        for i, rec in enumerate(log_records):
            value = rec.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                xs.append(rec.get(x_key, i) if x_key else i)
                ys.append(float(value))
        series[key] = (xs, ys)
    if not any(ys for _, ys in series.values()):
        raise ValueError(f"none of the {len(log_records)} records has a numeric value for "
                         f"{', '.join(keys)}")
    fig = Figure(figsize=(4.0 * len(keys), 3.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        xs, ys = series[key]
        ax.plot(xs, ys, marker="." if len(xs) < 50 else None, linewidth=1.2)
        ax.set_title(key)
        ax.set_xlabel(x_key or "record")
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write_bytes(out_png, buffer.getvalue())


def save_png_atomic(image: Any, path: str | os.PathLike) -> None:
    """Write an image as PNG, atomically (a crash leaves no half-written file).

    ``image``: a PIL image, or an array: (H, W) bool (saved 0/255, mode L), (H, W) uint8
    (mode L, values kept), (H, W, 3) uint8 RGB or (H, W, 4) uint8 RGBA.
    """
    if isinstance(image, Image.Image):
        pil = image
    else:
        arr = np.asarray(image)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8) * 255
        if arr.dtype != np.uint8:
            raise ValueError(f"image dtype {arr.dtype} is not uint8 or bool; convert it first")
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4)):
            pil = Image.fromarray(arr)
        else:
            raise InvalidShapeError("image", arr.shape, "(H, W), (H, W, 3) or (H, W, 4)")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
