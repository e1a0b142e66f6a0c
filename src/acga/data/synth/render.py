"""Drawing a video: the procedural sprites of the 7 actor classes, the panning noise
background, and the frames with their instance label map."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .vocabulary import COLOURS, SIZES

if TYPE_CHECKING:
    from .scene import Video

__all__ = ["sprite_size", "render_sprite", "render_video"]

# class -> (width / height, height relative to an adult's)
_CLASS_SHAPE: dict[str, tuple[float, float]] = {
    "adult": (0.42, 1.0), "baby": (0.85, 0.62), "ball": (1.0, 0.5), "bird": (1.35, 0.5),
    "car": (1.9, 0.55), "cat": (1.1, 0.6), "dog": (1.5, 0.62),
}
_SKIN = (235, 195, 160)
_BEAK = (250, 175, 30)
_TYRE = (18, 18, 18)

# Drawing of each class in unit coordinates of its box: (kind, coords, part), drawn in order.
# part: body = the actor's colour, dark / light = shades of it, or a fixed colour.
_SPRITES: dict[str, tuple[tuple[str, tuple, str], ...]] = {
    "adult": (
        ("rect", (0.18, 0.62, 0.45, 1.0), "dark"), ("rect", (0.55, 0.62, 0.82, 1.0), "dark"),
        ("rect", (0.12, 0.24, 0.88, 0.66), "body"),
        ("rect", (0.0, 0.26, 0.14, 0.6), "body"), ("rect", (0.86, 0.26, 1.0, 0.6), "body"),
        ("ellipse", (0.2, 0.0, 0.8, 0.24), "skin"),
    ),
    "baby": (
        ("ellipse", (0.06, 0.42, 0.94, 1.0), "body"),
        ("ellipse", (0.16, 0.0, 0.84, 0.54), "skin"),
        ("ellipse", (0.32, 0.2, 0.44, 0.32), "dark"), ("ellipse", (0.56, 0.2, 0.68, 0.32), "dark"),
    ),
    "ball": (
        ("ellipse", (0.0, 0.0, 1.0, 1.0), "body"),
        ("ellipse", (0.04, 0.36, 0.96, 0.64), "light"),
        ("ellipse", (0.36, 0.04, 0.64, 0.96), "dark"),
    ),
    "bird": (
        ("poly", ((0.0, 0.3), (0.26, 0.5), (0.0, 0.72)), "dark"),
        ("ellipse", (0.14, 0.35, 0.76, 0.86), "body"),
        ("ellipse", (0.58, 0.12, 0.9, 0.5), "body"),
        ("poly", ((0.86, 0.24), (1.0, 0.34), (0.86, 0.44)), "beak"),
        ("poly", ((0.26, 0.58), (0.44, 0.0), (0.6, 0.58)), "dark"),
    ),
    "car": (
        ("rect", (0.0, 0.38, 1.0, 0.8), "body"),
        ("poly", ((0.18, 0.4), (0.3, 0.04), (0.7, 0.04), (0.84, 0.4)), "body"),
        ("rect", (0.33, 0.12, 0.48, 0.36), "light"), ("rect", (0.53, 0.12, 0.7, 0.36), "light"),
        ("ellipse", (0.08, 0.58, 0.34, 1.0), "tyre"), ("ellipse", (0.66, 0.58, 0.92, 1.0), "tyre"),
    ),
    "cat": (
        ("rect", (0.0, 0.08, 0.1, 0.72), "body"),
        ("ellipse", (0.04, 0.5, 0.74, 1.0), "body"),
        ("ellipse", (0.5, 0.2, 0.96, 0.64), "body"),
        ("poly", ((0.52, 0.34), (0.57, 0.0), (0.71, 0.24)), "body"),
        ("poly", ((0.77, 0.24), (0.91, 0.0), (0.95, 0.34)), "body"),
        ("rect", (0.2, 0.56, 0.27, 0.96), "dark"), ("rect", (0.37, 0.52, 0.44, 0.99), "dark"),
        ("ellipse", (0.76, 0.34, 0.86, 0.44), "dark"),
    ),
    "dog": (
        ("poly", ((0.0, 0.08), (0.07, 0.04), (0.2, 0.4), (0.13, 0.46)), "body"),
        ("rect", (0.15, 0.6, 0.25, 1.0), "body"), ("rect", (0.29, 0.6, 0.39, 1.0), "body"),
        ("rect", (0.55, 0.6, 0.65, 1.0), "body"), ("rect", (0.67, 0.6, 0.77, 1.0), "body"),
        ("rect", (0.13, 0.34, 0.79, 0.7), "body"),
        ("rect", (0.68, 0.1, 0.94, 0.46), "body"), ("rect", (0.9, 0.25, 1.0, 0.42), "body"),
        ("rect", (0.68, 0.12, 0.79, 0.52), "dark"),
        ("ellipse", (0.28, 0.38, 0.5, 0.6), "dark"),
    ),
}


def _shades(rgb: tuple[int, int, int]) -> dict[str, tuple[int, ...]]:
    c = np.asarray(rgb, dtype=np.float64)
    # a dark colour gets a lighter "dark" part, or its details would vanish
    dark = c * 0.5 if c.mean() > 70 else c + (255 - c) * 0.35
    light = c + (255 - c) * 0.6
    return {"body": tuple(rgb), "dark": tuple(int(v) for v in dark),
            "light": tuple(int(v) for v in light), "skin": _SKIN, "beak": _BEAK, "tyre": _TYRE}


def sprite_size(actor: str, size: str, frame_height: int) -> tuple[int, int]:
    """(height, width) in pixels of the sprite of ``actor`` at ``size`` in a frame this tall."""
    aspect, rel = _CLASS_SHAPE[actor]
    h = max(4, int(round(SIZES[size] * rel * frame_height)))
    return h, max(4, int(round(h * aspect)))


def render_sprite(actor: str, colour: str, height: int, width: int,
                  flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Draw one actor: RGB (h, w, 3) uint8 (black outside the shape) and its hard-edged alpha
    (h, w) bool.

    A pure function of its arguments: two actors with the same class, colour, size and facing
    have identical pixels (the ``same_appearance`` distractors rely on it).
    """
    from PIL import Image, ImageDraw

    shades = _shades(COLOURS[colour])
    rgb = Image.new("RGB", (width, height), (0, 0, 0))
    alpha = Image.new("L", (width, height), 0)
    draw_rgb, draw_alpha = ImageDraw.Draw(rgb), ImageDraw.Draw(alpha)
    sx, sy = width - 1, height - 1
    for kind, coords, part in _SPRITES[actor]:
        fill = shades[part]
        if kind == "poly":
            pts = [(x * sx, y * sy) for x, y in coords]
            draw_rgb.polygon(pts, fill=fill)
            draw_alpha.polygon(pts, fill=255)
        else:
            x0, y0, x1, y1 = coords
            box = (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
            method = "rectangle" if kind == "rect" else "ellipse"
            getattr(draw_rgb, method)(box, fill=fill)
            getattr(draw_alpha, method)(box, fill=255)
    rgb_arr, alpha_arr = np.asarray(rgb), np.asarray(alpha) > 0
    if flip:
        rgb_arr, alpha_arr = rgb_arr[:, ::-1], alpha_arr[:, ::-1]
    rgb_arr = np.where(alpha_arr[..., None], rgb_arr, 0).astype(np.uint8)
    return np.ascontiguousarray(rgb_arr), np.ascontiguousarray(alpha_arr)


def _background_frames(bg: dict[str, Any], num_frames: int, H: int, W: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a muted noise texture, cropped along the pan."""
    import colorsys

    from PIL import Image

    rng = np.random.default_rng(bg["seed"])
    px, py = bg["pan"]
    pad_x = int(math.ceil(abs(px) * num_frames)) + 1
    pad_y = int(math.ceil(abs(py) * num_frames)) + 1
    th, tw = H + pad_y, W + pad_x
    base = np.array(colorsys.hsv_to_rgb(bg["hue"], rng.uniform(0.05, 0.2), rng.uniform(0.45, 0.65)))

    def smooth(cell: int, channels: int, resample: int) -> np.ndarray:
        """Noise in [-1, 1] on a grid of ``cell``-pixel cells, upsampled: (th, tw, channels)."""
        grid = rng.uniform(-1, 1, size=(max(2, th // cell), max(2, tw // cell), channels))
        return np.stack([np.asarray(Image.fromarray(grid[..., c].astype(np.float32)).resize(
            (tw, th), resample)) for c in range(channels)], axis=-1)

    # mostly luminance variation, so the saturated sprites stand out by colour; a 3-pixel grain
    # rather than per-pixel noise, and levels in steps of 6: as textured to the eye, but PNGs
    # half the size and faster to write (incompressible noise dominates both)
    tex = (base[None, None] * 255 + 36 * smooth(12, 1, Image.BICUBIC)
           + 12 * smooth(16, 3, Image.BICUBIC) + 14 * smooth(3, 1, Image.BILINEAR))
    tex = (np.clip(tex, 0, 255) // 6 * 6).astype(np.uint8)
    frames = np.empty((num_frames, H, W, 3), dtype=np.uint8)
    # start at the side the pan moves away from, so the crop stays inside the texture
    ox0 = pad_x - 1 if px < 0 else 0
    oy0 = pad_y - 1 if py < 0 else 0
    for t in range(num_frames):
        ox = ox0 + int(round(px * t))
        oy = oy0 + int(round(py * t))
        frames[t] = tex[oy:oy + H, ox:ox + W]
    return frames


def render_video(video: Video, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 and a label map (T, H, W) int16 (instance + 1; 0 = none)."""
    frames = _background_frames(video.background, video.num_frames, H, W)
    labels = np.zeros((video.num_frames, H, W), dtype=np.int16)
    for a in sorted(video.actors, key=lambda a: a.z):
        rgb, alpha = render_sprite(a.actor, a.colour, *a.hw, flip=a.flip)
        h, w = a.hw
        for t in range(video.num_frames):
            x, y = int(a.xy[t, 0]), int(a.xy[t, 1])
            frames[t, y:y + h, x:x + w][alpha] = rgb[alpha]
            labels[t, y:y + h, x:x + w][alpha] = a.instance + 1
    return frames, labels
