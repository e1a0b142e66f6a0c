"""Generator version 2's video kinds (docs/synthetic.md, "Query types"): ``relation``, two
identical twins told apart only by their spatial relation to a reference actor of another class,
and ``comparison``, two actors alike but for their size, told apart by a comparative; and the
geometry of the relations, which both draws the videos and checks them."""

from __future__ import annotations

import numpy as np

from .scene import (Actor, Video, annotated_frames, background, number_actors, place,
                    place_or_drop, shared_adjectives, write_queries)
from .vocabulary import (ACTOR_WORDS, ACTORS, COLOURS, COMPARISON_TEMPLATES, COMPARISON_WORDS,
                         LONG_COMPARISON_TEMPLATES, PLURAL_WORDS, RELATION_FAMILIES,
                         RELATION_WORDS, SIZES, VALID_ACTIONS, compose_query, draw_adverb,
                         draw_query_style, pick)

__all__ = ["V2_KINDS", "RELATION_MARGIN", "DISTANCE_MARGIN", "relation_holds",
           "relation_excluded", "sample_v2_video"]

V2_KINDS = ("relation", "comparison")
# How clearly a relation holds, in frame heights, at every annotated frame: the box centres of
# "left of" differ by this much along x (y for above/below); those of "nearest"/"farthest" are
# this much nearer to (farther from) the reference's centre than the other twin's.
RELATION_MARGIN = 0.1
DISTANCE_MARGIN = 0.2
_TRIES = 4  # placements (each of 5 x 20 draws per actor) before the twins get another action


def _centres(a: Actor, frames: np.ndarray) -> np.ndarray:
    """Box centres (x, y) of ``a`` at ``frames``: (F, 2) float."""
    h, w = a.hw
    return a.xy[frames] + np.array([w / 2, h / 2])


def relation_holds(relation: str, subject: np.ndarray, reference: np.ndarray,
                   other: np.ndarray, H: int) -> bool:
    """Is ``relation`` of the subject to the reference true, and clearly so, in every frame?

    Args:
        subject, reference, other: box centres (F, 2) of the subject, the reference and the
            subject's twin (``nearest`` and ``farthest`` compare the two distances).
        H: frame height (the margins are in frame heights).
    """
    m = RELATION_MARGIN * H
    dx, dy = subject[:, 0] - reference[:, 0], subject[:, 1] - reference[:, 1]
    if relation == "left_of":
        return bool(np.all(dx <= -m))
    if relation == "right_of":
        return bool(np.all(dx >= m))
    if relation == "above":  # image y grows downwards
        return bool(np.all(dy <= -m))
    if relation == "below":
        return bool(np.all(dy >= m))
    own = np.hypot(dx, dy)
    theirs = np.hypot(*(other - reference).T)
    if relation == "nearest":
        return bool(np.all(theirs - own >= DISTANCE_MARGIN * H))
    if relation == "farthest":
        return bool(np.all(own - theirs >= DISTANCE_MARGIN * H))
    raise ValueError(f"unknown relation {relation!r}; expected one of {RELATION_WORDS}")


def relation_excluded(relation: str, subject: np.ndarray, reference: np.ndarray) -> bool:
    """Is the subject clearly not in ``relation`` to the reference in every frame (level with
    it or on the other side)? Distances: always (the other twin's relation says it)."""
    dx, dy = subject[:, 0] - reference[:, 0], subject[:, 1] - reference[:, 1]
    side = {"left_of": dx >= 0, "right_of": dx <= 0, "above": dy >= 0, "below": dy <= 0}
    return bool(np.all(side[relation])) if relation in side else True


def _twins_told_apart(pair: tuple[str, str], a: np.ndarray, b: np.ndarray, r: np.ndarray,
                      H: int) -> bool:
    """Twin ``a`` (centres (F, 2)) is in ``pair[0]`` to the reference ``r`` and ``b`` in
    ``pair[1]``, and neither in the other's relation: each query fits one twin only."""
    first, second = pair
    return (relation_holds(first, a, r, b, H) and relation_holds(second, b, r, a, H)
            and relation_excluded(second, a, r) and relation_excluded(first, b, r))


def _relation_actors(rng: np.random.Generator, frame: tuple[int, int], num_frames: int,
                     annotated: list[int]) -> tuple[list[Actor], tuple[str, str]]:
    """Twins, reference and the twins' relations, placed so that both relations hold.

    The reference is placed first, anywhere, then each twin is redrawn until its relation holds
    (so the reference, and with it the twins, may be anywhere in the frame).
    Every ``_TRIES`` failed placements the twins and the reference get other actions (fast ones
    seldom keep a side through a whole video); after the first such round, big actors become
    small (all at once: the twins stay identical).
    """
    H = frame[0]
    family = RELATION_FAMILIES[int(rng.integers(len(RELATION_FAMILIES)))]
    first, second = pair = family[int(rng.integers(len(family)))]
    cls = pick(rng, ACTORS)
    colour, size, flip = pick(rng, list(COLOURS)), pick(rng, list(SIZES)), bool(rng.random() < 0.5)
    ref_cls = pick(rng, [c for c in ACTORS if c != cls])
    ref = Actor(ref_cls, "", pick(rng, list(COLOURS)), pick(rng, list(SIZES)),
                bool(rng.random() < 0.5))
    idx = np.asarray(annotated)

    def accept(a: Actor, placed: list[Actor]) -> bool:
        if len(placed) == 0:  # the reference
            return True
        r = _centres(ref, idx)
        if len(placed) == 1:  # the first twin; distances are compared once both are placed
            c = _centres(a, idx)
            return relation_excluded(second, c, r) and (
                first == "nearest" or relation_holds(first, c, r, r, H))
        return _twins_told_apart(pair, _centres(placed[1], idx), _centres(a, idx), r, H)

    for attempt in range(100):
        act = pick(rng, VALID_ACTIONS[cls])
        ref.action = pick(rng, VALID_ACTIONS[ref_cls])
        if attempt:
            size = ref.size = "small"
        twins = [Actor(cls, act, colour, size, flip) for _ in range(2)]
        for _ in range(_TRIES):
            if place([ref, *twins], num_frames, frame, annotated, rng, tries=20, accept=accept):
                return [*twins, ref], pair
    raise RuntimeError(f"cannot place a {pair} relation in a {frame[0]}x{frame[1]} "
                       "frame")  # not reached for heights >= 32


def _relation_queries(rng: np.random.Generator, actors: list[Actor], pair: tuple[str, str],
                      frame: tuple[int, int]) -> None:
    """The twins share template, noun, determiner and adjectives (which do not tell them
    apart); only the relation phrase differs. The reference gets an ordinary query."""
    twins, ref = actors[:2], actors[2]
    adj = shared_adjectives(rng, twins[0])
    template, noun, det = draw_query_style(rng, twins[0].actor)
    ref_adj = [ref.colour] if rng.random() < 0.4 else []
    ref_phrase = " ".join(["the", *ref_adj, pick(rng, ACTOR_WORDS[ref.actor])])
    for a, b, relation in ((twins[0], twins[1], pair[0]), (twins[1], twins[0], pair[1])):
        pos = f"{pick(rng, RELATION_WORDS[relation])} {ref_phrase}"
        a.query = compose_query(a.action, template=template, noun=noun, det=det, adj=adj,
                                pos=pos, adv=draw_adverb(rng, a.action))
        a.query_type, a.reference, a.other = f"relation:{relation}", ref.instance, b.instance
    write_queries(rng, [ref], "random", frame)


def _comparison_queries(rng: np.random.Generator, actors: list[Actor],
                        frame: tuple[int, int]) -> None:
    """The pair shares template, noun and colour word; only the comparative differs."""
    pair = actors[:2]
    template, noun, _ = draw_query_style(rng, pair[0].actor, templates=COMPARISON_TEMPLATES,
                                         long_templates=LONG_COMPARISON_TEMPLATES)
    plural = PLURAL_WORDS[pair[0].actor][ACTOR_WORDS[pair[0].actor].index(noun)]
    adj = [pair[0].colour] if rng.random() < 0.4 else []
    for a, b in ((pair[0], pair[1]), (pair[1], pair[0])):
        cmp = pick(rng, COMPARISON_WORDS[a.size])
        a.query = compose_query(a.action, template=template, noun=noun, det="the", adj=adj,
                                adv=draw_adverb(rng, a.action), cmp=cmp, plural=plural)
        a.query_type, a.other = "comparison", b.instance
        a.comparative = "bigger" if a.size == "big" else "smaller"
    write_queries(rng, actors[2:], "random", frame)


def sample_v2_video(rng: np.random.Generator, frame: tuple[int, int], kind: str) -> Video:
    """A ``relation`` or ``comparison`` video (the A2D layout's other kinds:
    :func:`~acga.data.synth.scene.sample_a2d_video`)."""
    num_frames = int(rng.integers(24, 49))
    annotated = annotated_frames(rng, num_frames, int(rng.integers(3, 6)))
    if kind == "relation":
        actors, pair = _relation_actors(rng, frame, num_frames, annotated)
        number_actors(actors, rng)
        _relation_queries(rng, actors, pair, frame)
    elif kind == "comparison":
        cls = pick(rng, ACTORS)
        act, colour = pick(rng, VALID_ACTIONS[cls]), pick(rng, list(COLOURS))
        flip = bool(rng.random() < 0.5)
        big_first = rng.random() < 0.5  # which of the two comes first in the pair
        actors = [Actor(cls, act, colour, s, flip)
                  for s in (("big", "small") if big_first else ("small", "big"))]
        if rng.random() < 0.4:  # an unrelated third actor, of another class
            other = pick(rng, [c for c in ACTORS if c != cls])
            actors.append(Actor(other, pick(rng, VALID_ACTIONS[other]), pick(rng, list(COLOURS)),
                                pick(rng, list(SIZES)), bool(rng.random() < 0.5)))
        place_or_drop(actors, 2, num_frames, frame, annotated, rng, shrink=False)
        number_actors(actors, rng)
        _comparison_queries(rng, actors, frame)
    else:
        raise ValueError(f"unknown version 2 kind {kind!r}; expected one of {V2_KINDS}")
    pair_ids = [a.instance for a in actors[:2]]
    return Video("", num_frames, annotated, actors, kind, background(rng, frame[0]),
                 pair=pair_ids)
