"""The 8 actions as motions: the displacement of a sprite over the frames, reflected at the
frame borders into integer positions, and the per-frame box-overlap test of placement."""

from __future__ import annotations

import math

import numpy as np

from .vocabulary import ACTIONS

__all__ = ["trajectory", "boxes_overlap"]

_MEAN_ABS_SIN = 2 / math.pi  # mean of |sin| over a period


def _displacement(action: str, t: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy) of the sprite at frames ``t``, in frame heights, relative to frame 0.

    Its parameters (directions, phase, a +-20 % speed jitter) are drawn from ``rng``. Periodic
    parts have zero mean, so that no action shifts where its actor is on average (a hop that
    only went up would put jumping actors higher in the frame: a single-frame cue).
    """
    d = float(rng.choice([-1.0, 1.0]))
    d2 = float(rng.choice([-1.0, 1.0]))
    phase = float(rng.uniform(0, 2 * math.pi))
    s = float(rng.uniform(0.8, 1.2))
    zero = np.zeros_like(t)
    if action == "climbing":  # steady vertical
        return zero, d2 * 0.03 * s * t
    if action == "crawling":  # very slow horizontal, smooth
        return d * 0.015 * s * t, zero
    if action == "eating":  # in place, pecking
        return zero, 0.03 * np.sin(2 * math.pi * t / 4 + phase)
    if action == "flying":  # steady diagonal
        return d * 0.035 * s * t, d2 * 0.035 * s * t
    if action == "jumping":  # hops of 0.2 H every 8 frames, no drift
        return zero, -0.2 * (np.abs(np.sin(math.pi * t / 8 + phase)) - _MEAN_ABS_SIN)
    if action == "rolling":  # cycloid of a point on a wheel of radius r, one turn per 8 frames
        # (its height r cos(theta) is the cycloid's -r (1 - cos(theta)) shifted to zero mean)
        r, theta = 0.045 * s, 2 * math.pi * t / 8 + phase
        return d * r * (theta - np.sin(theta)), r * np.cos(theta)
    if action == "running":  # fast horizontal, smooth
        return d * 0.05 * s * t, zero
    if action == "walking":  # slow horizontal with a bobbing gait
        return d * 0.02 * s * t, -0.04 * (np.abs(np.sin(math.pi * t / 4 + phase)) - _MEAN_ABS_SIN)
    raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")


def _reflect(v: np.ndarray, hi: float) -> np.ndarray:
    """Fold positions into [0, hi] by reflection at both ends (a triangle wave)."""
    if hi <= 0:
        return np.zeros_like(v)
    m = np.mod(v, 2 * hi)
    return hi - np.abs(m - hi)


def trajectory(action: str, num_frames: int, box: tuple[int, int], frame: tuple[int, int],
                rng: np.random.Generator) -> np.ndarray:
    """Integer top-left (x, y) of the sprite in every frame: (T, 2) int64."""
    (h, w), (H, W) = box, frame
    t = np.arange(num_frames, dtype=np.float64)
    dx, dy = _displacement(action, t, rng)
    x0, y0 = rng.uniform(0, W - w), rng.uniform(0, H - h)
    x = _reflect(x0 + dx * H, W - w)
    y = _reflect(y0 + dy * H, H - h)
    return np.stack([np.rint(x), np.rint(y)], axis=1).astype(np.int64)


def boxes_overlap(a: np.ndarray, ah: int, aw: int, b: np.ndarray, bh: int, bw: int,
                   gap: int = 1) -> np.ndarray:
    """Per frame: do the boxes with top-lefts ``a`` and ``b`` (T, 2) overlap (within ``gap``)?"""
    sep_x = (a[:, 0] + aw + gap <= b[:, 0]) | (b[:, 0] + bw + gap <= a[:, 0])
    sep_y = (a[:, 1] + ah + gap <= b[:, 1]) | (b[:, 1] + bh + gap <= a[:, 1])
    return ~(sep_x | sep_y)
