"""What a video holds, drawn from its random stream: the actors (class, action, colour, size,
facing), their trajectories placed without overlap, instance ids and drawing order, queries,
background parameters and annotated frames; one sampler for the A2D layout and one for its
JHMDB twin."""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .motion import boxes_overlap, trajectory
from .render import sprite_size
from .vocabulary import (ACTIONS, ACTOR_WORDS, ACTORS, COLOURS, JHMDB_ACTIONS, POSITION_WORDS,
                         SIZE_WORDS, SIZES, VALID_ACTIONS, compose_query, draw_adverb,
                         draw_query_style, pick)

__all__ = ["Actor", "Video", "video_id", "sample_a2d_video", "sample_jhmdb_video",
           "annotated_frames", "place", "place_or_drop", "write_queries", "number_actors",
           "background", "shared_adjectives"]


@dataclass
class Actor:
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
    query_type: str = ""
    """What the query names to tell the actor apart: ``plain`` (class and action), ``attribute``
    (colour/size words), ``position``, ``attribute+position``, ``action`` (a same-appearance
    pair), ``class`` (a same-action pair), ``relation:<relation>``, ``comparison``."""
    reference: int = -1  # relation: the reference actor's instance
    other: int = -1  # relation, comparison: the instance of the actor this one is told from
    comparative: str = ""  # comparison: "bigger" or "smaller"

    def meta(self, generator: int = 1) -> dict[str, Any]:
        """The actor in ``synth_meta.json``; version 1's entries unchanged (no query type)."""
        d = {"instance": self.instance, "class": self.actor, "action": self.action,
             "colour": self.colour, "size": self.size, "flip": self.flip, "z": self.z,
             "query": self.query if self.described else None,
             "box_hw": list(self.hw), "xy": self.xy.tolist()}
        if generator >= 2:
            d["query_type"] = self.query_type if self.described else None
            if self.reference >= 0:
                d["reference"] = self.reference
            if self.other >= 0:
                d["other"] = self.other
            if self.comparative:
                d["comparative"] = self.comparative
        return d


@dataclass
class Video:
    video: str
    num_frames: int
    annotated: list[int]  # 0-based, ascending
    actors: list[Actor]
    kind: str
    background: dict[str, Any]
    pair: list[int] = field(default_factory=list)  # instance ids of the distractor pair
    split: str = "train"
    missed: bool = False
    action_folder: str = ""  # JHMDB only
    mask_frames: int = 0  # JHMDB only: masks written (a few videos have fewer than frames)


def annotated_frames(rng: np.random.Generator, num_frames: int, count: int) -> list[int]:
    """``count`` 0-based frames spread evenly (with jitter) away from both ends, so that a clip
    around each holds mostly real frames rather than repeated edge frames."""
    margin = 4
    lo, hi = margin, num_frames - 1 - margin
    centres = np.linspace(lo, hi, count + 2)[1:-1]
    jitter = rng.integers(-1, 2, size=count)
    frames = np.clip(np.rint(centres) + jitter, lo, hi).astype(int)
    return sorted(set(int(f) for f in frames))


def video_id(rng: np.random.Generator) -> str:
    """11 characters like a YouTube id (A2D's video ids); never starting with '-'."""
    first = string.ascii_letters + string.digits
    rest = first + "-_"
    return pick(rng, first) + "".join(pick(rng, rest) for _ in range(10))


def place(actors: list[Actor], num_frames: int, frame: tuple[int, int], check: Sequence[int],
          rng: np.random.Generator, tries: int = 40,
          accept: Callable[[Actor, list[Actor]], bool] | None = None) -> bool:
    """Draw trajectories so that no two actors' boxes overlap in the frames ``check``.

    Actors are placed one after another, each redrawn until it clears those already placed
    (and ``accept(actor, placed)`` holds, if given); one that cannot be placed in ``tries``
    draws restarts the whole video (a few times).
    """
    H, _ = frame
    for a in actors:
        a.hw = sprite_size(a.actor, a.size, H)
    idx = np.asarray(list(check), dtype=int)
    for _ in range(5):
        placed: list[Actor] = []
        for a in actors:
            for _ in range(tries):
                a.xy = trajectory(a.action, num_frames, a.hw, frame, rng)
                if not any(boxes_overlap(a.xy[idx], *a.hw, b.xy[idx], *b.hw).any()
                           for b in placed) and (accept is None or accept(a, placed)):
                    placed.append(a)
                    break
            else:
                break
        if len(placed) == len(actors):
            return True
    return False


def place_or_drop(actors: list[Actor], keep: int, num_frames: int, frame: tuple[int, int],
                  check: Sequence[int], rng: np.random.Generator, shrink: bool = True) -> None:
    """:func:`place`, dropping trailing actors (never the first ``keep``) while too crowded,
    then making big actors small (all at once, so that a distractor pair stays identical);
    ``shrink=False`` keeps the sizes (a comparison pair) and only tries again."""
    for _ in range(50):
        if place(actors, num_frames, frame, check, rng):
            return
        if len(actors) > keep:
            actors.pop()
        elif shrink and any(a.size == "big" for a in actors):
            for a in actors:
                a.size = "small"
    raise RuntimeError(f"cannot place {len(actors)} actors without overlap in a "
                       f"{frame[0]}x{frame[1]} frame")  # not reached for heights >= 32


def _positions(a: Actor, frame: tuple[int, int]) -> list[str]:
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


def shared_adjectives(rng: np.random.Generator, a: Actor) -> list[str]:
    """Size and colour words a pair of look-alikes may share (30 % and 40 % of the time)."""
    adj: list[str] = []
    if rng.random() < 0.3:
        adj.append(pick(rng, SIZE_WORDS[a.size]))
    if rng.random() < 0.4:
        adj.append(a.colour)
    return adj


def write_queries(rng: np.random.Generator, actors: list[Actor], kind: str,
                  frame: tuple[int, int]) -> None:
    """The queries of version 1's kinds (and of the actors of version 2's kinds that are
    described the ordinary way: pass them as ``random``)."""
    if kind == "same_appearance":
        # one template, noun and determiner for the pair: the two queries differ only in the
        # action's words; no colour, size or position (they would not, or must not, tell)
        template, noun, det = draw_query_style(rng, actors[0].actor)
        for a in actors[:2]:
            a.query = compose_query(a.action, template=template, noun=noun, det=det,
                             adv=draw_adverb(rng, a.action))
            a.query_type = "action"
        rest = actors[2:]
    elif kind == "same_action":
        # the shared colour/size may be named (they do not tell the two apart); no position
        adj = shared_adjectives(rng, actors[0])
        template, _, det = draw_query_style(rng, actors[0].actor)
        adv = draw_adverb(rng, actors[0].action)
        for a in actors[:2]:
            a.query = compose_query(a.action, template=template, noun=pick(rng, ACTOR_WORDS[a.actor]),
                             det=det, adj=adj, adv=adv)
            a.query_type = "class"
        rest = actors[2:]
    else:
        rest = actors
    for a in rest:
        adj = []
        if rng.random() < 0.3:
            adj.append(pick(rng, SIZE_WORDS[a.size]))
        if rng.random() < 0.5:
            adj.append(a.colour)
        positions = _positions(a, frame)
        pos = POSITION_WORDS[pick(rng, positions)] if positions and rng.random() < 0.6 else ""
        template, noun, det = draw_query_style(rng, a.actor)
        a.query = compose_query(a.action, template=template, noun=noun, det=det, adj=adj, pos=pos,
                         adv=draw_adverb(rng, a.action))
        a.query_type = "+".join((["attribute"] if adj else []) + (["position"] if pos else [])) \
            or "plain"


def number_actors(actors: list[Actor], rng: np.random.Generator) -> None:
    """Random instance ids and drawing order: neither may tell which actor a query means."""
    for inst, k in enumerate(rng.permutation(len(actors))):
        actors[int(k)].instance = inst
    for z, k in enumerate(rng.permutation(len(actors))):
        actors[int(k)].z = z


def background(rng: np.random.Generator, H: int) -> dict[str, Any]:
    """Parameters of a video's background: hue, pan (pixels per frame) and a texture seed."""
    hue = rng.uniform(0, 1)
    pan = [0.0, 0.0]
    if rng.random() < 0.5:  # half the videos have a slowly panning background
        angle = rng.uniform(0, 2 * math.pi)
        speed = rng.uniform(0.002, 0.005) * H
        pan = [speed * math.cos(angle), speed * math.sin(angle)]
    return {"hue": round(float(hue), 4), "pan": [round(float(p), 4) for p in pan],
            "seed": int(rng.integers(2**31))}


def sample_a2d_video(rng: np.random.Generator, frame: tuple[int, int], kind: str) -> Video:
    num_frames = int(rng.integers(24, 49))
    annotated = annotated_frames(rng, num_frames, int(rng.integers(3, 6)))
    actors: list[Actor] = []
    colours, sizes = list(COLOURS), list(SIZES)
    if kind == "same_appearance":
        cls = pick(rng, ACTORS)
        acts = rng.choice(VALID_ACTIONS[cls], size=2, replace=False)
        colour, size, flip = pick(rng, colours), pick(rng, sizes), bool(rng.random() < 0.5)
        actors = [Actor(cls, str(act), colour, size, flip) for act in acts]
    elif kind == "same_action":
        act = pick(rng, ACTIONS)
        pair = rng.choice([c for c in ACTORS if act in VALID_ACTIONS[c]], size=2, replace=False)
        colour, size = pick(rng, colours), pick(rng, sizes)
        actors = [Actor(str(c), act, colour, size, bool(rng.random() < 0.5)) for c in pair]
    if kind != "random":
        if rng.random() < 0.4:  # an unrelated third actor, of another class
            used = {a.actor for a in actors}
            cls = pick(rng, [c for c in ACTORS if c not in used])
            actors.append(Actor(cls, pick(rng, VALID_ACTIONS[cls]), pick(rng, colours),
                                 pick(rng, sizes), bool(rng.random() < 0.5)))
    else:
        n = int(rng.choice([1, 2, 3], p=[0.15, 0.5, 0.35]))
        pairs = [(c, a) for c in ACTORS for a in VALID_ACTIONS[c]]
        for k in rng.choice(len(pairs), size=n, replace=False):
            cls, act = pairs[int(k)]
            actors.append(Actor(cls, act, pick(rng, colours), pick(rng, sizes),
                                 bool(rng.random() < 0.5)))
    place_or_drop(actors, 1 if kind == "random" else 2, num_frames, frame, annotated, rng)
    number_actors(actors, rng)
    write_queries(rng, actors, kind, frame)
    pair = [a.instance for a in actors[:2]] if kind != "random" else []
    return Video("", num_frames, annotated, actors, kind, background(rng, frame[0]), pair=pair)


def sample_jhmdb_video(rng: np.random.Generator, frame: tuple[int, int]) -> Video:
    num_frames = int(rng.integers(24, 41))
    action = pick(rng, list(JHMDB_ACTIONS))
    target = Actor("adult", action, pick(rng, list(COLOURS)), pick(rng, list(SIZES)),
                    bool(rng.random() < 0.5))
    actors = [target]
    for _ in range(int(rng.choice([0, 1, 2], p=[0.3, 0.5, 0.2]))):
        if len(actors) == 1 and rng.random() < 0.4:
            # an adult that looks the same, doing another action: only the motion tells
            other = pick(rng, [a for a in JHMDB_ACTIONS if a != action])
            actors.append(Actor("adult", other, target.colour, target.size, target.flip,
                                 described=False))
        else:
            cls = pick(rng, [c for c in ACTORS if c != "adult"])
            actors.append(Actor(cls, pick(rng, VALID_ACTIONS[cls]), pick(rng, list(COLOURS)),
                                 pick(rng, list(SIZES)), bool(rng.random() < 0.5),
                                 described=False))
    # no overlap in any frame: every frame of a JHMDB video may be evaluated
    place_or_drop(actors, 1, num_frames, frame, range(num_frames), rng)
    kind = "same_appearance" if len(actors) > 1 and actors[1].actor == "adult" else "random"
    number_actors(actors, rng)
    template, noun, det = draw_query_style(rng, "adult")
    adj = [target.colour] if kind == "random" and rng.random() < 0.4 else []
    target.query = compose_query(action, template=template, noun=noun, det=det, adj=adj,
                          adv=draw_adverb(rng, action))
    pair = [a.instance for a in actors[:2]] if kind != "random" else []
    spec = Video("", num_frames, [], actors, kind, background(rng, frame[0]), pair=pair)
    spec.action_folder = JHMDB_ACTIONS[action]
    # as in the release, a few videos have more frames than masks
    spec.mask_frames = num_frames - (int(rng.integers(1, 4)) if rng.random() < 0.1 else 0)
    return spec
