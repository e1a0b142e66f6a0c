"""The synthetic benchmark: seeded videos, masks and queries in the A2D-Sentences release layout
and its JHMDB-Sentences twin (layouts: docs/data.md), so the real readers (``a2d.py``,
``jhmdb.py``) read it with no special case. It is the embedded default (``acga demo``) and the
test bed of the ablations; ``docs/synthetic.md`` describes it.

Design, so that a query can only be resolved with both the language and the motion:

- Appearance is independent of action. The 7 A2D actor classes are procedural sprites (distinct
  silhouettes and details) drawn once per actor in one colour, size and facing, then pasted
  unchanged, with hard edges, at integer positions in every frame. A sprite never rotates,
  deforms or turns to face its motion, and its start position is uniform, so no single frame
  tells its action.
- The 8 actions are motions of the sprite's position over time (speeds in frame heights per
  frame, reflected at the borders so that positions stay uniform): climbing = steady vertical,
  crawling = very slow horizontal, eating = in place with a small pecking bob, flying = steady
  diagonal, jumping = periodic vertical hops, rolling = a cycloid (a point on a rolling wheel),
  running = fast horizontal, walking = slow horizontal with a bobbing gait. All are visible
  within 8 consecutive frames.
- Video kinds: ``same_appearance`` (two actors of the same class, colour, size and facing, i.e.
  the same sprite pixels, doing different actions; their queries name class and action only and
  use the same template, so only the motion resolves them), ``same_action`` (two actors of
  different classes with the same colour and size doing the same action; only the class resolves
  them), and ``random`` (1 to 3 actors with distinct (class, action) pairs; queries may add
  colour, size and position). Distractor videos may hold a third, unrelated actor.
- In every annotated frame, actors' boxes do not overlap, so every mask is the whole sprite.

Layouts written (A2D, under ``out``)::

    Release/videoset.csv                 no header; 9 columns, the 9th 0 = train / 1 = test
    Release/clips320H/<video>.mp4        H.264 yuv420p (even width and height)
    Release/pngs320H/<video>/<frame:05d>.png
    text_annotations/a2d_annotation.txt  header video_id,instance_id,query (string order of ids)
    text_annotations/a2d_missed_videos.txt
    text_annotations/a2d_annotation_with_instances/<video>/<frame:05d>.h5
    synth_meta.json                      per-video ground truth (written last: marks completion)

and (JHMDB) ``jhmdb_annotation.txt``, ``Rename_Images/<action>/<video>/<frame:05d>.png``,
``puppet_mask/<action>/<video>/puppet_mask.mat`` and ``synth_meta.json``. The folder name
"320H" is the release's name; the frames are ``size`` pixels tall.

Everything but the MP4 bytes is a pure function of the arguments: the same seed gives the same
bytes for CSV, text, PNG, HDF5 and MAT files and ``synth_meta.json``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
import string
import struct
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from ..utils import atomic_write_json

__all__ = [
    "generate_a2d",
    "generate_jhmdb",
    "SynthSummary",
    "is_synth_output",
    "render_sprite",
    "sprite_size",
    "ACTORS",
    "ACTIONS",
    "VALID_ACTIONS",
    "COLOURS",
    "SIZES",
    "ACTOR_WORDS",
    "ACTION_WORDS",
    "SIZE_WORDS",
    "POSITION_WORDS",
    "TEMPLATES",
    "LONG_TEMPLATES",
    "JHMDB_ACTIONS",
    "META_NAME",
]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- vocabulary

ACTORS = ("adult", "baby", "ball", "bird", "car", "cat", "dog")
ACTIONS = ("climbing", "crawling", "eating", "flying", "jumping", "rolling", "running", "walking")

# The 36 actor-action pairs that occur in A2D (Xu et al. 2015), without "none".
VALID_ACTIONS: dict[str, tuple[str, ...]] = {
    "adult": ("climbing", "crawling", "eating", "jumping", "rolling", "running", "walking"),
    "baby": ("climbing", "crawling", "rolling", "walking"),
    "ball": ("flying", "jumping", "rolling"),
    "bird": ("climbing", "eating", "flying", "jumping", "rolling", "walking"),
    "car": ("flying", "jumping", "rolling", "running"),
    "cat": ("climbing", "eating", "jumping", "rolling", "running", "walking"),
    "dog": ("crawling", "eating", "jumping", "rolling", "running", "walking"),
}

# Nouns a query may use for a class (all in the GloVe and word2vec vocabularies).
ACTOR_WORDS: dict[str, tuple[str, ...]] = {
    "adult": ("adult", "man", "woman", "person"),
    "baby": ("baby", "toddler"),
    "ball": ("ball",),
    "bird": ("bird",),
    "car": ("car",),
    "cat": ("cat", "kitten"),
    "dog": ("dog", "puppy"),
}

# action -> (-ing form, third person form, adverbial phrases)
ACTION_WORDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "climbing": ("climbing", "climbs", ("steadily", "up and down", "up the wall")),
    "crawling": ("crawling", "crawls", ("slowly", "along the ground", "very slowly")),
    "eating": ("eating", "eats", ("in place", "its food", "without moving away")),
    "flying": ("flying", "flies", ("diagonally", "through the air", "across the sky")),
    "jumping": ("jumping", "jumps", ("high", "again and again", "in place")),
    "rolling": ("rolling", "rolls", ("around", "along", "over and over")),
    "running": ("running", "runs", ("fast", "quickly", "very fast")),
    "walking": ("walking", "walks", ("calmly", "forward", "at a normal pace")),
}

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 45, 45),
    "green": (40, 170, 60),
    "blue": (45, 85, 220),
    "yellow": (235, 210, 40),
    "purple": (145, 60, 185),
    "orange": (240, 130, 30),
    "white": (242, 242, 242),
    "black": (28, 28, 28),
}

# Sprite height of an adult, as a fraction of the frame height (large, so that masks stay
# tens of pixels across at the demo's 64x64 input); other classes are scaled by
# their entry in _CLASS_SHAPE.
SIZES: dict[str, float] = {"small": 0.5, "big": 0.7}
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little"), "big": ("big", "large")}
POSITION_WORDS: dict[str, str] = {
    "left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
}

# Query templates. {det} a determiner, {adj} colour/size words (may be empty), {actor} the noun,
# {ing} / {s3} the verb, {adv} an adverbial phrase of the action (may be empty), {pos} a
# position phrase (may be empty). Empty slots vanish with their spaces.
TEMPLATES: tuple[str, ...] = (
    "{adj} {actor} {ing} {pos}",
    "{det} {adj} {actor} {ing} {adv} {pos}",
    "{det} {adj} {actor} is {ing} {adv} {pos}",
    "{det} {adj} {actor} {s3} {adv} {pos}",
    "{det} {adj} {actor} {pos} that is {ing} {adv}",
    "{det} {adj} {actor} {pos} who {s3} {adv}",
)
# Long templates: over 20 words, so the model's 20-token truncation is exercised.
LONG_TEMPLATES: tuple[str, ...] = (
    "in this short video there is {det} {adj} {actor} {pos} and it keeps {ing} {adv} from the "
    "beginning of the clip until the very end of it",
    "please find {det} {adj} {actor} {pos} in the picture which is {ing} {adv} while the camera "
    "watches the whole scene from far away without moving",
)
_LONG_PROB = 0.08

# JHMDB action folder of each synthetic action the JHMDB twin uses (the A2D actions with a
# JHMDB counterpart, so that zero-shot transfer is meaningful).
JHMDB_ACTIONS: dict[str, str] = {
    "climbing": "climb_stairs", "jumping": "jump", "running": "run", "walking": "walk",
}

META_NAME = "synth_meta.json"
_META_FORMAT = "acga-synth"
_STAGING = ".acga-synth-staging"
_FPS = 24

# A2D's numeric ids: label = 10 * actor + action (videoset.csv's second column).
_A2D_ACTOR_ID = {a: i + 1 for i, a in enumerate(ACTORS)}
_A2D_ACTION_ID = {a: i + 1 for i, a in enumerate(ACTIONS)}

# --------------------------------------------------------------------------- sprites

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


# --------------------------------------------------------------------------- motions


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


def _trajectory(action: str, num_frames: int, box: tuple[int, int], frame: tuple[int, int],
                rng: np.random.Generator) -> np.ndarray:
    """Integer top-left (x, y) of the sprite in every frame: (T, 2) int64."""
    (h, w), (H, W) = box, frame
    t = np.arange(num_frames, dtype=np.float64)
    dx, dy = _displacement(action, t, rng)
    x0, y0 = rng.uniform(0, W - w), rng.uniform(0, H - h)
    x = _reflect(x0 + dx * H, W - w)
    y = _reflect(y0 + dy * H, H - h)
    return np.stack([np.rint(x), np.rint(y)], axis=1).astype(np.int64)


def _boxes_overlap(a: np.ndarray, ah: int, aw: int, b: np.ndarray, bh: int, bw: int,
                   gap: int = 1) -> np.ndarray:
    """Per frame: do the boxes with top-lefts ``a`` and ``b`` (T, 2) overlap (within ``gap``)?"""
    sep_x = (a[:, 0] + aw + gap <= b[:, 0]) | (b[:, 0] + bw + gap <= a[:, 0])
    sep_y = (a[:, 1] + ah + gap <= b[:, 1]) | (b[:, 1] + bh + gap <= a[:, 1])
    return ~(sep_x | sep_y)


# --------------------------------------------------------------------------- video specs


@dataclass
class _Actor:
    actor: str
    action: str
    colour: str
    size: str
    flip: bool
    described: bool = True
    instance: int = -1
    z: int = 0
    query: str = ""
    xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    hw: tuple[int, int] = (0, 0)

    def meta(self) -> dict[str, Any]:
        return {"instance": self.instance, "class": self.actor, "action": self.action,
                "colour": self.colour, "size": self.size, "flip": self.flip, "z": self.z,
                "query": self.query if self.described else None,
                "box_hw": list(self.hw), "xy": self.xy.tolist()}


@dataclass
class _Video:
    video: str
    num_frames: int
    annotated: list[int]  # 0-based, ascending
    actors: list[_Actor]
    kind: str
    background: dict[str, Any]
    pair: list[int] = field(default_factory=list)  # instance ids of the distractor pair
    split: str = "train"
    missed: bool = False
    action_folder: str = ""  # JHMDB only
    mask_frames: int = 0  # JHMDB only: masks written (a few videos have fewer than frames)


def _pick(rng: np.random.Generator, items: Sequence) -> Any:
    return items[int(rng.integers(len(items)))]


def _annotated_frames(rng: np.random.Generator, num_frames: int, count: int) -> list[int]:
    """``count`` 0-based frames spread evenly (with jitter) away from both ends, so that a clip
    around each holds mostly real frames rather than repeated edge frames."""
    margin = 4
    lo, hi = margin, num_frames - 1 - margin
    centres = np.linspace(lo, hi, count + 2)[1:-1]
    jitter = rng.integers(-1, 2, size=count)
    frames = np.clip(np.rint(centres) + jitter, lo, hi).astype(int)
    return sorted(set(int(f) for f in frames))


def _video_id(rng: np.random.Generator) -> str:
    """11 characters like a YouTube id (A2D's video ids); never starting with '-'."""
    first = string.ascii_letters + string.digits
    rest = first + "-_"
    return _pick(rng, first) + "".join(_pick(rng, rest) for _ in range(10))


def _place(actors: list[_Actor], num_frames: int, frame: tuple[int, int], check: Sequence[int],
           rng: np.random.Generator, tries: int = 40) -> bool:
    """Draw trajectories so that no two actors' boxes overlap in the frames ``check``.

    Actors are placed one after another, each redrawn until it clears those already placed;
    one that cannot be placed in ``tries`` draws restarts the whole video (a few times).
    """
    H, _ = frame
    for a in actors:
        a.hw = sprite_size(a.actor, a.size, H)
    idx = np.asarray(list(check), dtype=int)
    for _ in range(5):
        placed: list[_Actor] = []
        for a in actors:
            for _ in range(tries):
                a.xy = _trajectory(a.action, num_frames, a.hw, frame, rng)
                if not any(_boxes_overlap(a.xy[idx], *a.hw, b.xy[idx], *b.hw).any()
                           for b in placed):
                    placed.append(a)
                    break
            else:
                break
        if len(placed) == len(actors):
            return True
    return False


def _place_or_drop(actors: list[_Actor], keep: int, num_frames: int, frame: tuple[int, int],
                   check: Sequence[int], rng: np.random.Generator) -> None:
    """:func:`_place`, dropping trailing actors (never the first ``keep``) while too crowded,
    then making big actors small (all at once, so that a distractor pair stays identical)."""
    for _ in range(50):
        if _place(actors, num_frames, frame, check, rng):
            return
        if len(actors) > keep:
            actors.pop()
        elif any(a.size == "big" for a in actors):
            for a in actors:
                a.size = "small"
    raise RuntimeError(f"cannot place {len(actors)} actors without overlap in a "
                       f"{frame[0]}x{frame[1]} frame")  # not reached for heights >= 32


def _positions(a: _Actor, frame: tuple[int, int]) -> list[str]:
    """Position words true of the actor's centre in every frame of the video."""
    H, W = frame
    cx = a.xy[:, 0] + a.hw[1] / 2
    cy = a.xy[:, 1] + a.hw[0] / 2
    out = []
    if np.all(cx < 0.45 * W):
        out.append("left")
    if np.all(cx > 0.55 * W):
        out.append("right")
    if np.all(cy < 0.45 * H):
        out.append("top")
    if np.all(cy > 0.55 * H):
        out.append("bottom")
    return out


def _query(action: str, *, template: str, noun: str, det: str, adj: Sequence[str] = (),
           pos: str = "", adv: str = "") -> str:
    ing, s3, _ = ACTION_WORDS[action]
    text = template.format(det=det, adj=" ".join(adj), actor=noun, ing=ing, s3=s3,
                           adv=adv, pos=pos)
    words = text.split()
    # "a" before a vowel is "an" ("an orange ball", "an adult")
    for i in range(len(words) - 1):
        if words[i] == "a" and words[i + 1][0] in "aeiou":
            words[i] = "an"
    return " ".join(words)


def _query_style(rng: np.random.Generator, actor: str) -> tuple[str, str, str]:
    """(template, noun, determiner) drawn for one query (or one distractor pair)."""
    template = _pick(rng, LONG_TEMPLATES) if rng.random() < _LONG_PROB else _pick(rng, TEMPLATES)
    return template, _pick(rng, ACTOR_WORDS[actor]), _pick(rng, ("the", "a"))


def _adverb(rng: np.random.Generator, action: str) -> str:
    return _pick(rng, ACTION_WORDS[action][2]) if rng.random() < 0.5 else ""


def _write_queries(rng: np.random.Generator, actors: list[_Actor], kind: str,
                   frame: tuple[int, int]) -> None:
    if kind == "same_appearance":
        # one template, noun and determiner for the pair: the two queries differ only in the
        # action's words; no colour, size or position (they would not, or must not, tell)
        template, noun, det = _query_style(rng, actors[0].actor)
        for a in actors[:2]:
            a.query = _query(a.action, template=template, noun=noun, det=det,
                             adv=_adverb(rng, a.action))
        rest = actors[2:]
    elif kind == "same_action":
        # the shared colour/size may be named (they do not tell the two apart); no position
        adj: list[str] = []
        if rng.random() < 0.3:
            adj.append(_pick(rng, SIZE_WORDS[actors[0].size]))
        if rng.random() < 0.4:
            adj.append(actors[0].colour)
        template, _, det = _query_style(rng, actors[0].actor)
        adv = _adverb(rng, actors[0].action)
        for a in actors[:2]:
            a.query = _query(a.action, template=template, noun=_pick(rng, ACTOR_WORDS[a.actor]),
                             det=det, adj=adj, adv=adv)
        rest = actors[2:]
    else:
        rest = actors
    for a in rest:
        adj = []
        if rng.random() < 0.3:
            adj.append(_pick(rng, SIZE_WORDS[a.size]))
        if rng.random() < 0.5:
            adj.append(a.colour)
        positions = _positions(a, frame)
        pos = POSITION_WORDS[_pick(rng, positions)] if positions and rng.random() < 0.6 else ""
        template, noun, det = _query_style(rng, a.actor)
        a.query = _query(a.action, template=template, noun=noun, det=det, adj=adj, pos=pos,
                         adv=_adverb(rng, a.action))


def _number(actors: list[_Actor], rng: np.random.Generator) -> None:
    """Random instance ids and drawing order: neither may tell which actor a query means."""
    for inst, k in enumerate(rng.permutation(len(actors))):
        actors[int(k)].instance = inst
    for z, k in enumerate(rng.permutation(len(actors))):
        actors[int(k)].z = z


def _background(rng: np.random.Generator, H: int) -> dict[str, Any]:
    """Parameters of a video's background: hue, pan (pixels per frame) and a texture seed."""
    hue = rng.uniform(0, 1)
    pan = [0.0, 0.0]
    if rng.random() < 0.5:  # half the videos have a slowly panning background
        angle = rng.uniform(0, 2 * math.pi)
        speed = rng.uniform(0.002, 0.005) * H
        pan = [speed * math.cos(angle), speed * math.sin(angle)]
    return {"hue": round(float(hue), 4), "pan": [round(float(p), 4) for p in pan],
            "seed": int(rng.integers(2**31))}


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


def _render(video: _Video, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
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


def _sample_a2d_video(rng: np.random.Generator, frame: tuple[int, int], kind: str) -> _Video:
    num_frames = int(rng.integers(24, 49))
    annotated = _annotated_frames(rng, num_frames, int(rng.integers(3, 6)))
    actors: list[_Actor] = []
    colours, sizes = list(COLOURS), list(SIZES)
    if kind == "same_appearance":
        cls = _pick(rng, ACTORS)
        acts = rng.choice(VALID_ACTIONS[cls], size=2, replace=False)
        colour, size, flip = _pick(rng, colours), _pick(rng, sizes), bool(rng.random() < 0.5)
        actors = [_Actor(cls, str(act), colour, size, flip) for act in acts]
    elif kind == "same_action":
        act = _pick(rng, ACTIONS)
        pair = rng.choice([c for c in ACTORS if act in VALID_ACTIONS[c]], size=2, replace=False)
        colour, size = _pick(rng, colours), _pick(rng, sizes)
        actors = [_Actor(str(c), act, colour, size, bool(rng.random() < 0.5)) for c in pair]
    if kind != "random":
        if rng.random() < 0.4:  # an unrelated third actor, of another class
            used = {a.actor for a in actors}
            cls = _pick(rng, [c for c in ACTORS if c not in used])
            actors.append(_Actor(cls, _pick(rng, VALID_ACTIONS[cls]), _pick(rng, colours),
                                 _pick(rng, sizes), bool(rng.random() < 0.5)))
    else:
        n = int(rng.choice([1, 2, 3], p=[0.15, 0.5, 0.35]))
        pairs = [(c, a) for c in ACTORS for a in VALID_ACTIONS[c]]
        for k in rng.choice(len(pairs), size=n, replace=False):
            cls, act = pairs[int(k)]
            actors.append(_Actor(cls, act, _pick(rng, colours), _pick(rng, sizes),
                                 bool(rng.random() < 0.5)))
    _place_or_drop(actors, 1 if kind == "random" else 2, num_frames, frame, annotated, rng)
    _number(actors, rng)
    _write_queries(rng, actors, kind, frame)
    pair = [a.instance for a in actors[:2]] if kind != "random" else []
    return _Video("", num_frames, annotated, actors, kind, _background(rng, frame[0]), pair=pair)


# --------------------------------------------------------------------------- writers


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png_bytes(img: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``img`` (H, W, 3) uint8.

    Written directly (every row with PNG's "Up" filter, zlib level 1) because this is the
    generator's hot loop: about 3x faster than Pillow's encoder on these small frames, and the
    bytes are a pure function of the pixels.
    """
    h, w, _ = img.shape
    raw = np.ascontiguousarray(img).reshape(h, w * 3)
    rows = np.empty((h, w * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type 2 (Up): each byte minus the byte above, modulo 256
    rows[0, 1:] = raw[0]
    rows[1:, 1:] = raw[1:] - raw[:-1]
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def _write_pngs(folder: Path, frames: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, img in enumerate(frames):
        (folder / f"{t + 1:05d}.png").write_bytes(_png_bytes(img))


def _write_mp4(path: Path, frames: np.ndarray) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    _, h, w, _ = frames.shape
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=_FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        # near-lossless (readers may decode the MP4 rather than the PNGs); ultrafast and one
        # thread: the frames are tiny, and this is 3x faster than the default preset
        stream.options = {"crf": "12", "preset": "ultrafast", "threads": "1"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_h5(path: Path, instances: list[int], masks: np.ndarray) -> None:
    """One A2D annotated frame: ``masks`` (N, H, W) 0/1 of ``instances``, stored as the release
    stores them (ids as floats, masks transposed, boxes (4, N) x1 y1 x2 y2)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    boxes = np.zeros((4, len(instances)), dtype=np.float64)
    for k, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        boxes[:, k] = (xs.min(), ys.min(), xs.max(), ys.max())
    stored = masks.transpose(0, 2, 1).astype(np.uint8)  # (N, W, H)
    if len(instances) == 1:
        stored = stored[0]  # (W, H): the release drops the axis for a single instance
    # track_times=False: no timestamps, so the same seed gives the same bytes
    with h5py.File(path, "w") as f:
        f.create_dataset("instance", data=np.asarray(instances, dtype=np.float64),
                         track_times=False)
        # gzip, as in MATLAB's v7.3 files of the release: 0/1 masks compress ~50x
        f.create_dataset("reMask", data=stored, track_times=False, compression="gzip",
                         compression_opts=1)
        f.create_dataset("reBBox", data=boxes, track_times=False)


def _mat_bytes(part_mask: np.ndarray) -> bytes:
    """MAT v5 bytes of ``{'part_mask': (H, W, T) uint8}`` with a fixed header text (scipy
    writes the creation time there, which would make the bytes differ between runs)."""
    import scipy.io

    buf = io.BytesIO()
    scipy.io.savemat(buf, {"part_mask": part_mask}, format="5", do_compression=True)
    data = bytearray(buf.getvalue())
    data[:116] = b"MATLAB 5.0 MAT-file, written by acga synth".ljust(116, b" ")
    return bytes(data)


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------- output folder


@dataclass
class SynthSummary:
    """What a generator wrote."""

    layout: str
    out: str
    videos: int
    samples: dict[str, int]
    """A2D: samples per split, as the readers enumerate them (missed videos dropped); JHMDB:
    ``{"all": n}``, the paper's 3 uniform frames per video."""
    missed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    height: int = 0
    width: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        """One line for humans (``acga synth`` prints it)."""
        samples = ", ".join(f"{k} {v}" for k, v in self.samples.items())
        missed = f" ({self.missed} listed as missed)" if self.missed else ""
        kinds = ", ".join(f"{k} {v}" for k, v in self.kinds.items())
        return (f"synthetic {self.layout}: {self.videos} videos{missed} of {self.height}x"
                f"{self.width}; samples {samples}; kinds {kinds}; {self.seconds:.1f} s "
                f"-> {self.out}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# what a generator owns in its output folder (replaced when it writes again)
_OWNED = {
    "a2d": ("Release", "text_annotations", META_NAME),
    "jhmdb": ("jhmdb_annotation.txt", "Rename_Images", "puppet_mask", META_NAME),
    # written by synth_refvos.py
    "ytvos": ("train", "valid", "test", "meta_expressions", META_NAME),
    "davis": ("DAVIS", "davis_text_annotations", META_NAME),
}


def is_synth_output(folder: str | Path) -> str | None:
    """The layout (``a2d``/``jhmdb``) of a synthetic benchmark already in ``folder``, else None.

    An interrupted generation (only the staging folder) counts as a previous output.
    """
    folder = Path(folder)
    meta = folder / META_NAME
    if meta.is_file():
        try:
            head = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(head, dict) and head.get("format") == _META_FORMAT:
            return str(head.get("layout"))
        return None
    marker = folder / _STAGING / "layout"
    if marker.is_file():
        return marker.read_text(encoding="utf-8").strip()
    return None


def _prepare(out: Path, layout: str, force: bool) -> Path:
    """Check that ``out`` may be written and return a fresh staging folder inside it.

    Generation writes into the staging folder and then moves everything into place, with the
    meta file last, so a crash never leaves a half-written dataset that looks complete.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"output {out} exists and is not a folder; pass a new or empty folder")
    previous = is_synth_output(out) if out.is_dir() else None
    entries = [p for p in out.iterdir() if p.name != _STAGING] if out.is_dir() else []
    if entries and previous is None and not force:
        raise DataError(f"output folder {out} is not empty and holds no synthetic benchmark "
                        f"({META_NAME}); pass an empty folder, or --force to write into it")
    if previous is not None and previous != layout and not force:
        raise DataError(f"output folder {out} holds the synthetic {previous} layout; pass "
                        f"another folder for {layout}, or --force")
    staging = out / _STAGING
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    (staging / "layout").write_text(layout + "\n", encoding="utf-8")
    return staging


def _commit(out: Path, staging: Path, layout: str, meta: dict[str, Any]) -> None:
    """Move the staged files into ``out``, replacing the previous ones; the meta file last."""
    for name in _OWNED[layout]:
        old = out / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    for item in sorted(staging.iterdir()):
        if item.name != "layout":
            os.replace(item, out / item.name)
    shutil.rmtree(staging)
    atomic_write_json(out / META_NAME, meta, indent=None)


def _frame_size(size: int) -> tuple[int, int]:
    """(height, width): ``size`` rounded up to even (H.264 in yuv420p), width 4/3 of it, even."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 32 <= size <= 1080:
        raise DataError(f"frame height (--size) {size!r} is outside 32..1080; pass e.g. 96")
    height = int(size) + int(size) % 2
    return height, int(round(height * 4 / 3 / 2)) * 2


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} {value!r} must be an integer >= {minimum}")
    return int(value)


def _vocabulary() -> dict[str, Any]:
    return {"actors": list(ACTORS), "actions": list(ACTIONS),
            "valid_actions": {k: list(v) for k, v in VALID_ACTIONS.items()},
            "colours": list(COLOURS), "sizes": list(SIZES), "positions": POSITION_WORDS}


def _video_meta(s: _Video) -> dict[str, Any]:
    d: dict[str, Any] = {"video": s.video, "kind": s.kind, "pair": s.pair,
                         "frames": s.num_frames}
    if s.action_folder:  # JHMDB
        d.update(action_folder=s.action_folder, mask_frames=s.mask_frames)
    else:
        d.update(split=s.split, missed=s.missed,
                 annotated_frames=[f + 1 for f in s.annotated])  # 1-based, as file names
    d["background"] = s.background
    d["actors"] = [a.meta() for a in sorted(s.actors, key=lambda a: a.instance)]
    return d


# --------------------------------------------------------------------------- A2D


def generate_a2d(out: str | Path, *, videos: int = 100, seed: int = 0, size: int = 96,
                 distractors: float = 0.4, missed: int = 2, test_fraction: float = 0.2,
                 mp4: bool = True, pngs: bool = True, force: bool = False) -> SynthSummary:
    """Write the synthetic benchmark in the A2D-Sentences release layout.

    Args:
        out: output folder: new, empty, or a previous synthetic A2D output (replaced).
        videos: number of videos (each 24-48 frames, 1-3 actors, 3-5 annotated frames).
        seed: everything but the MP4 bytes is a function of the arguments; video k is the
            same for any number of videos (only the split and missed lists depend on it).
        size: frame height in pixels (rounded up to even); the width is 4/3 of it, even.
        distractors: fraction of distractor videos, half ``same_appearance`` (only the motion
            tells the two actors apart) and half ``same_action`` (only the class does).
        missed: videos listed in ``a2d_missed_videos.txt`` (their files are written all the
            same; readers must drop them): at most a fifth of the videos, taken from train.
        test_fraction: fraction of the videos in the test split (subset 1).
        mp4, pngs: write ``Release/clips320H/<video>.mp4`` and/or ``Release/pngs320H/``.
        force: write into a non-empty folder that holds no synthetic benchmark.

    Returns:
        A :class:`SynthSummary` (counts, kinds, seconds).

    Raises:
        DataError: a bad argument, or ``out`` is neither empty nor a previous output.
    """
    t0 = time.perf_counter()
    videos = _check_count("videos", videos, 1)
    if not 0.0 <= distractors <= 1.0 or not 0.0 <= test_fraction < 1.0:
        raise DataError(f"distractors {distractors} and test_fraction {test_fraction} must be "
                        "fractions in [0, 1] (test_fraction below 1)")
    H, W = _frame_size(size)
    n_missed = min(_check_count("missed", missed, 0), videos // 5)
    out = Path(out)
    staging = _prepare(out, "a2d", force)

    root_ss = np.random.SeedSequence([int(seed), 0xA2D])
    master = np.random.default_rng(root_ss)
    # one stream per video, spawned from the seed: video k is the same whatever the count
    video_rngs = [np.random.default_rng(s) for s in root_ss.spawn(videos)]
    n_test = 0
    if videos > 1 and test_fraction > 0:
        n_test = min(max(int(round(videos * test_fraction)), 1), videos - 1)
    test_ids = {int(i) for i in master.permutation(videos)[:n_test]}

    specs: list[_Video] = []
    seen: set[str] = set()
    for k, rng in enumerate(video_rngs):
        u = rng.random()
        kind = ("same_appearance" if u < distractors / 2 else
                "same_action" if u < distractors else "random")
        vid = _video_id(rng)
        while vid in seen:
            vid = _video_id(rng)
        seen.add(vid)
        spec = _sample_a2d_video(rng, (H, W), kind)
        spec.video, spec.split = vid, "test" if k in test_ids else "train"
        specs.append(spec)
    train_idx = [k for k, s in enumerate(specs) if s.split == "train"]
    n_missed = min(n_missed, len(train_idx))
    for k in (master.choice(train_idx, size=n_missed, replace=False) if n_missed else []):
        specs[int(k)].missed = True

    release, text = staging / "Release", staging / "text_annotations"
    masks_dir = text / "a2d_annotation_with_instances"
    rows: list[list[Any]] = []
    videoset: list[list[Any]] = []
    for spec in specs:
        frames, labels = _render(spec, H, W)
        if pngs:
            _write_pngs(release / "pngs320H" / spec.video, frames)
        if mp4:
            _write_mp4(release / "clips320H" / f"{spec.video}.mp4", frames)
        ids = sorted(a.instance for a in spec.actors)
        for f in spec.annotated:
            masks = np.stack([labels[f] == i + 1 for i in ids]).astype(np.uint8)  # (N, H, W)
            _write_h5(masks_dir / spec.video / f"{f + 1:05d}.h5", ids, masks)
        first = next(a for a in spec.actors if a.instance == 0)
        label = 10 * _A2D_ACTOR_ID[first.actor] + _A2D_ACTION_ID[first.action]
        videoset.append([spec.video, label, 0, int(math.ceil(spec.num_frames / _FPS)), H, W,
                         spec.num_frames, len(spec.annotated), 1 if spec.split == "test" else 0])
        # rows of a video in string order of instance id, as in the release (0, 1, 10, 2, ...)
        for a in sorted(spec.actors, key=lambda a: str(a.instance)):
            rows.append([spec.video, str(a.instance), a.query])

    release.mkdir(parents=True, exist_ok=True)
    text.mkdir(parents=True, exist_ok=True)
    (release / "videoset.csv").write_text(_csv(videoset), encoding="utf-8")
    (text / "a2d_annotation.txt").write_text(
        _csv([["video_id", "instance_id", "query"]] + rows), encoding="utf-8")
    (text / "a2d_missed_videos.txt").write_text(
        "".join(f"{s.video}\n" for s in specs if s.missed), encoding="utf-8")

    samples = {"train": 0, "test": 0}
    kinds = {"random": 0, "same_appearance": 0, "same_action": 0}
    for s in specs:
        kinds[s.kind] += 1
        if not s.missed:
            samples[s.split] += len(s.actors) * len(s.annotated)
    meta = {
        "format": _META_FORMAT, "version": 1, "layout": "a2d", "seed": int(seed),
        "params": {"videos": videos, "size": int(size), "height": H, "width": W,
                   "distractors": distractors, "missed": n_missed,
                   "test_fraction": test_fraction, "fps": _FPS},
        "vocabulary": _vocabulary(), "samples": samples, "kinds": kinds,
        "videos": [_video_meta(s) for s in specs],
    }
    _commit(out, staging, "a2d", meta)
    summary = SynthSummary("a2d", str(out), videos, samples, n_missed, kinds, H, W,
                           round(time.perf_counter() - t0, 2))
    log.debug("%s", summary.line())
    return summary


# --------------------------------------------------------------------------- JHMDB


def _sample_jhmdb_video(rng: np.random.Generator, frame: tuple[int, int]) -> _Video:
    num_frames = int(rng.integers(24, 41))
    action = _pick(rng, list(JHMDB_ACTIONS))
    target = _Actor("adult", action, _pick(rng, list(COLOURS)), _pick(rng, list(SIZES)),
                    bool(rng.random() < 0.5))
    actors = [target]
    for _ in range(int(rng.choice([0, 1, 2], p=[0.3, 0.5, 0.2]))):
        if len(actors) == 1 and rng.random() < 0.4:
            # an adult that looks the same, doing another action: only the motion tells
            other = _pick(rng, [a for a in JHMDB_ACTIONS if a != action])
            actors.append(_Actor("adult", other, target.colour, target.size, target.flip,
                                 described=False))
        else:
            cls = _pick(rng, [c for c in ACTORS if c != "adult"])
            actors.append(_Actor(cls, _pick(rng, VALID_ACTIONS[cls]), _pick(rng, list(COLOURS)),
                                 _pick(rng, list(SIZES)), bool(rng.random() < 0.5),
                                 described=False))
    # no overlap in any frame: every frame of a JHMDB video may be evaluated
    _place_or_drop(actors, 1, num_frames, frame, range(num_frames), rng)
    kind = "same_appearance" if len(actors) > 1 and actors[1].actor == "adult" else "random"
    _number(actors, rng)
    template, noun, det = _query_style(rng, "adult")
    adj = [target.colour] if kind == "random" and rng.random() < 0.4 else []
    target.query = _query(action, template=template, noun=noun, det=det, adj=adj,
                          adv=_adverb(rng, action))
    pair = [a.instance for a in actors[:2]] if kind != "random" else []
    spec = _Video("", num_frames, [], actors, kind, _background(rng, frame[0]), pair=pair)
    spec.action_folder = JHMDB_ACTIONS[action]
    # as in the release, a few videos have more frames than masks
    spec.mask_frames = num_frames - (int(rng.integers(1, 4)) if rng.random() < 0.1 else 0)
    return spec


def generate_jhmdb(out: str | Path, *, videos: int = 30, seed: int = 0, size: int = 96,
                   force: bool = False) -> SynthSummary:
    """Write the JHMDB-Sentences-layout twin: one described adult per video (climbing, jumping,
    running or walking, in the action folders climb_stairs, jump, run, walk) and up to two
    undescribed actors, sometimes an identical-looking adult doing another action.

    Args:
        out, seed, size, force: as for :func:`generate_a2d`.
        videos: number of videos (24-40 frames each).

    Returns:
        A :class:`SynthSummary`; ``samples`` counts the paper's 3 uniform frames per video.
    """
    t0 = time.perf_counter()
    videos = _check_count("videos", videos, 1)
    H, W = _frame_size(size)
    out = Path(out)
    staging = _prepare(out, "jhmdb", force)
    root_ss = np.random.SeedSequence([int(seed), 0x7D3B])
    specs: list[_Video] = []
    seen: set[str] = set()
    for k, rng in enumerate(np.random.default_rng(s) for s in root_ss.spawn(videos)):
        spec = _sample_jhmdb_video(rng, (H, W))
        # JHMDB-like names, unique across action folders
        stem = "".join(_pick(rng, string.ascii_lowercase + string.digits) for _ in range(8))
        name = f"synth{stem}_{spec.action_folder}_f_cm_np1_fr_med_{k % 10}"
        while name in seen:
            name += "x"
        seen.add(name)
        spec.video = name
        specs.append(spec)

    rows: list[list[Any]] = [["video_id", "query"]]
    for spec in specs:
        frames, labels = _render(spec, H, W)
        _write_pngs(staging / "Rename_Images" / spec.action_folder / spec.video, frames)
        target = next(a for a in spec.actors if a.described)
        part = (labels[:spec.mask_frames] == target.instance + 1).astype(np.uint8)  # (T, H, W)
        path = staging / "puppet_mask" / spec.action_folder / spec.video / "puppet_mask.mat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_mat_bytes(np.ascontiguousarray(part.transpose(1, 2, 0))))  # (H, W, T)
        rows.append([spec.video, target.query])
    (staging / "jhmdb_annotation.txt").write_text(_csv(rows), encoding="utf-8")

    kinds = {"random": sum(s.kind == "random" for s in specs),
             "same_appearance": sum(s.kind == "same_appearance" for s in specs)}
    samples = {"all": sum(len({(2 * i + 1) * s.mask_frames // 6 for i in range(3)})
                          for s in specs)}
    meta = {
        "format": _META_FORMAT, "version": 1, "layout": "jhmdb", "seed": int(seed),
        "params": {"videos": videos, "size": int(size), "height": H, "width": W, "fps": _FPS},
        "vocabulary": {**_vocabulary(), "jhmdb_actions": JHMDB_ACTIONS},
        "samples": samples, "kinds": kinds,
        "videos": [_video_meta(s) for s in specs],
    }
    _commit(out, staging, "jhmdb", meta)
    summary = SynthSummary("jhmdb", str(out), videos, samples, 0, kinds, H, W,
                           round(time.perf_counter() - t0, 2))
    log.debug("%s", summary.line())
    return summary
