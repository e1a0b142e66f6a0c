"""The two attention pictures of the supplement's Figure 1, for one frame and one query.

- :func:`draw_word_attention` (Figure 1 left): VGLA's weights over the query's words for a few
  regions (feature cells) of the frame, one bar chart per region, the region's box drawn on the
  frame in the same colour. Padded word positions are labelled ``<0s>`` as in the paper (the
  paper's softmax runs over all 20 positions, padding included).
- :func:`draw_pixel_attention` (Figure 1 right): LGVA's attention row of one query cell, i.e.
  which pixels the query point gathers its context from, as a heat map over the frame, with a
  black star at the query point.

Cells live on the r1 x r1 feature grid of the letterboxed S x S input; :func:`pick_regions` maps
them back to the original frame by the inverse of the centred letterbox. matplotlib is used
through its object API on the Agg canvas (no pyplot, no global state).

:class:`AttentionPicker` chooses, while a video is segmented window by window, the window to
draw per query (the most confident response, or the one nearest a frame asked for) and writes
both figures of its choice.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from .data.transforms import letterbox_geometry, unletterbox_mask
from .errors import InvalidShapeError

__all__ = ["Region", "pick_regions", "draw_word_attention", "draw_pixel_attention",
           "REGION_COLORS", "AttentionPicker"]

REGION_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231")
"""Box and bar colours of the regions, in order (top response, second, background)."""


@dataclass(frozen=True)
class Region:
    """One feature cell, located in the original frame."""

    cell: int
    """Flat index row * r1 + col on the r1 x r1 grid (the row of the attention matrices)."""
    row: int
    col: int
    box: tuple[float, float, float, float]
    """(x0, y0, x1, y1) in original-frame pixels, clipped to the frame."""
    centre: tuple[float, float]
    """(x, y) in original-frame pixels."""
    label: str
    score: float
    """Mean response probability in the cell."""


def _cell_geometry(row: int, col: int, r1: int, height: int, width: int
                   ) -> tuple[tuple[float, float, float, float], tuple[float, float]]:
    side, top, left = letterbox_geometry(height, width)
    step = side / r1  # one cell in original pixels (the S-square maps to the M-square)
    x0, y0 = col * step - left, row * step - top
    x1, y1 = x0 + step, y0 + step
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    box = (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
    return box, centre


def pick_regions(prob: np.ndarray, r1: int, height: int, width: int, top: int = 2
                 ) -> list[Region]:
    """The ``top`` cells of highest mean response and the cell of lowest (a background cell).

    Args:
        prob: (S, S) response probabilities (sigmoid of the logits) on the letterboxed input.
        r1: side of the feature grid (S must be a multiple).
        height, width: the original frame size.

    Only cells whose centre lies inside the frame (not in the letterbox padding) are chosen.
    """
    prob = np.asarray(prob, dtype=np.float32)
    if prob.ndim != 2 or prob.shape[0] != prob.shape[1] or prob.shape[0] % r1:
        raise InvalidShapeError("prob", prob.shape, f"(S, S) with S a multiple of r1 = {r1}")
    k = prob.shape[0] // r1
    pooled = prob.reshape(r1, k, r1, k).mean(axis=(1, 3))  # (r1, r1)
    inside = []
    for r in range(r1):
        for c in range(r1):
            _, (cx, cy) = _cell_geometry(r, c, r1, height, width)
            if 0 <= cx < width and 0 <= cy < height:
                inside.append((float(pooled[r, c]), r, c))
    if not inside:  # a frame thinner than a cell: take every cell
        inside = [(float(pooled[r, c]), r, c) for r in range(r1) for c in range(r1)]
    ranked = sorted(inside, key=lambda t: (-t[0], t[1], t[2]))
    chosen = [(s, r, c, f"region {i + 1} (response {s:.2f})") for i, (s, r, c) in
              enumerate(ranked[:top])]
    low = ranked[-1]
    if len(ranked) > top:
        chosen.append((low[0], low[1], low[2], f"background (response {low[0]:.2f})"))
    out = []
    for s, r, c, label in chosen:
        box, centre = _cell_geometry(r, c, r1, height, width)
        out.append(Region(r * r1 + c, r, c, box, centre, label, s))
    return out


def _figure_to_image(fig) -> Image.Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    with Image.open(buffer) as im:
        return im.convert("RGB")


def _wrap_title(text: str, width: int = 70) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def draw_word_attention(frame: np.ndarray, regions: Sequence[Region], att_words: np.ndarray,
                        tokens: Sequence[str], title: str, input_size: int | None = None
                        ) -> Image.Image:
    """Supplement Figure 1, left: the frame with region boxes, and VGLA's word weights per box.

    Args:
        frame: (H, W, 3) uint8, the original frame.
        regions: from :func:`pick_regions`.
        att_words: (r1*r1, L) VGLA softmax weights over the L word positions, per cell.
        tokens: L labels (the query's tokens, then ``<0s>`` for padded positions).
        title: written above the frame (the query).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    att = np.asarray(att_words, dtype=np.float32)
    if att.ndim != 2 or att.shape[1] != len(tokens):
        raise InvalidShapeError("att_words", att.shape, f"(cells, {len(tokens)})")
    h, w = frame.shape[:2]
    n = max(1, len(regions))
    fig = Figure(figsize=(11.0, max(3.2, 1.9 * n)), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(n, 2, width_ratios=(1.0, 1.35), wspace=0.12, hspace=0.9)
    ax_img = fig.add_subplot(grid[:, 0])
    ax_img.imshow(frame)
    ax_img.set_title(_wrap_title(title, 50), fontsize=9)
    ax_img.set_axis_off()
    x = np.arange(len(tokens))
    for i, region in enumerate(regions):
        color = REGION_COLORS[i % len(REGION_COLORS)]
        x0, y0, x1, y1 = region.box
        ax_img.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor=color, linewidth=2.0))
        ax_img.text(x0, y0 - 1, str(i + 1), color="white", fontsize=8, va="bottom",
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1})
        ax = fig.add_subplot(grid[i, 1])
        ax.bar(x, att[region.cell], color=color)
        ax.set_xticks(x)
        ax.set_xticklabels(tokens, rotation=60, ha="right", fontsize=7)
        ax.set_ylim(0, max(0.05, float(att[region.cell].max()) * 1.15))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{i + 1}: {region.label}", fontsize=8, color=color, loc="left")
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.16)
    return _figure_to_image(fig)


def draw_pixel_attention(frame: np.ndarray, att_row: np.ndarray, point: Region, title: str,
                         r1: int, input_size: int, alpha: float = 0.55) -> Image.Image:
    """Supplement Figure 1, right: LGVA's attention of one query cell over all cells.

    Args:
        frame: (H, W, 3) uint8, the original frame.
        att_row: (r1*r1,) the query cell's softmax weights over all cells (a row of LGVA's
            attention matrix).
        point: the query cell (its centre gets the star).
        r1, input_size: the feature grid and the letterboxed input side S.
    """
    import torch
    import torch.nn.functional as F
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    row = np.asarray(att_row, dtype=np.float32)
    if row.shape != (r1 * r1,):
        raise InvalidShapeError("att_row", row.shape, f"({r1 * r1},)")
    h, w = frame.shape[:2]
    grid = torch.from_numpy(row.reshape(1, 1, r1, r1))
    square = F.interpolate(grid, size=(input_size, input_size), mode="bilinear",
                           align_corners=False)[0, 0].numpy()  # (S, S)
    heat = unletterbox_mask(square, h, w, mode="bilinear")  # (H, W)
    heat = heat - heat.min()
    heat = heat / heat.max() if heat.max() > 0 else heat
    fig = Figure(figsize=(6.0, 6.0 * h / w + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(frame)
    im = ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
    ax.plot([point.centre[0]], [point.centre[1]], marker="*", markersize=18, color="black",
            markeredgecolor="white", markeredgewidth=1.2)
    ax.set_title(_wrap_title(title, 60), fontsize=9)
    ax.set_axis_off()
    cbar = fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02)
    cbar.set_label("LGVA attention of the starred cell (relative)", fontsize=7)
    cbar.ax.tick_params(labelsize=7)
    fig.subplots_adjust(left=0.02, right=0.9, top=0.88, bottom=0.02)
    return _figure_to_image(fig)


class _Pick:
    """The window chosen so far for one query, with what the figures need."""

    def __init__(self):
        self.score = -math.inf
        self.data: dict[str, Any] | None = None


class AttentionPicker:
    """Per query, the window whose attention to draw, chosen as windows are run.

    Args:
        num_queries: Q.
        wanted_centre: the window centre (0-based frame) nearest the frame asked for; ``None``:
            the window whose response peak is highest, per query.
    """

    def __init__(self, num_queries: int, wanted_centre: int | None = None):
        self.picks = [_Pick() for _ in range(num_queries)]
        self.wanted_centre = wanted_centre

    def consider(self, centre: int, rgb: np.ndarray, out: dict, response) -> None:
        """Keep window ``centre`` for the queries it scores best for so far.

        Args:
            rgb: the window's centre frame (H, W, 3) uint8 as shown.
            out: the model's output dict (``att_words`` (Q, r1*r1, L), ``att_pixels``
                (Q, r1*r1, r1*r1) when it has them).
            response: (Q, 1, S, S) torch logits.
        """
        import torch

        prob = torch.sigmoid(response[:, 0])  # (Q, S, S)
        for q, pick in enumerate(self.picks):
            if self.wanted_centre is not None:
                score = -abs(centre - self.wanted_centre)
            else:
                score = float(prob[q].max())
            if score <= pick.score:
                continue
            pick.score = score
            pick.data = {
                "frame": centre, "rgb": rgb.copy(), "prob": prob[q].cpu().numpy(),
                "att_words": (out["att_words"][q].float().cpu().numpy()
                              if "att_words" in out else None),
                "att_pixels": (out["att_pixels"][q].float().cpu().numpy()
                               if "att_pixels" in out else None)}

    def frame(self, q: int = 0) -> int | None:
        """The 0-based frame chosen for query ``q`` (None before any window)."""
        data = self.picks[q].data if self.picks else None
        return None if data is None else data["frame"]

    def write(self, folder: Path, texts: Sequence[str], tokens: Sequence[Sequence[str]], *,
              num_words: int, r1: int, input_size: int, height: int, width: int,
              model: str) -> tuple[list[str], list[str]]:
        """Draw ``folder/q<i>_words.png`` and ``q<i>_pixels.png`` of every query.

        Args:
            texts, tokens: each query's sentence and embedded tokens (padded with ``<0s>`` to
                ``num_words``).
            r1: the attention grid side; input_size: S; height, width: the frame as shown.
            model: how warnings name the model (``"model 'x' (config)"``).

        Returns:
            (file names written, warnings: one per figure the model cannot draw).
        """
        folder.mkdir()
        names: list[str] = []
        warnings: list[str] = []
        for q, (pick, text, toks) in enumerate(zip(self.picks, texts, tokens)):
            d = pick.data
            if d is None:
                continue
            toks = list(toks) + ["<0s>"] * (num_words - len(toks))
            regions = pick_regions(d["prob"], r1, height, width)
            title = f"{text}  (frame {d['frame'] + 1})"
            if d["att_words"] is not None:
                image = draw_word_attention(d["rgb"], regions, d["att_words"], toks, title,
                                            input_size)
                names.append(f"q{q}_words.png")
                image.save(folder / names[-1])
            else:
                warnings.append(f"{model} has no VGLA word attention: q{q}_words.png not drawn")
            if d["att_pixels"] is not None:
                point = regions[0]
                image = draw_pixel_attention(d["rgb"], d["att_pixels"][point.cell], point, title,
                                             r1, input_size)
                names.append(f"q{q}_pixels.png")
                image.save(folder / names[-1])
            else:
                warnings.append(f"{model} has no LGVA pixel attention: q{q}_pixels.png not drawn")
        return names, warnings
