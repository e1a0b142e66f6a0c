"""The words of the synthetic benchmark and its query grammar: the actor classes, the actions
and the A2D actor-action pairs that occur, colours, sizes, positions, the query templates, and
composing one query from them (docs/synthetic.md)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["ACTORS", "ACTIONS", "VALID_ACTIONS", "ACTOR_WORDS", "ACTION_WORDS", "COLOURS",
           "SIZES", "SIZE_WORDS", "POSITION_WORDS", "TEMPLATES", "LONG_TEMPLATES",
           "JHMDB_ACTIONS", "PLURAL_WORDS", "RELATIONS", "RELATION_FAMILIES", "RELATION_WORDS",
           "COMPARISON_WORDS", "COMPARISON_TEMPLATES", "LONG_COMPARISON_TEMPLATES", "pick",
           "compose_query", "draw_query_style", "draw_adverb", "vocabulary_meta"]

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

# The plural of each noun of ACTOR_WORDS, in the same order (comparison queries).
PLURAL_WORDS: dict[str, tuple[str, ...]] = {
    "adult": ("adults", "men", "women", "people"),
    "baby": ("babies", "toddlers"),
    "ball": ("balls",),
    "bird": ("birds",),
    "car": ("cars",),
    "cat": ("cats", "kittens"),
    "dog": ("dogs", "puppies"),
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
# their entry in _CLASS_SHAPE (render.py).
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

# Generator version 2 (docs/synthetic.md, "Query types"). Relations of an actor to a reference
# actor, as the two twins of a ``relation`` video use them (one of a pair each), in families
# drawn with equal chances: opposite sides along x, along y, one side along x and one along y
# ("crossed": then the twins need not flank the reference, so the half of the frame a twin is
# in tells less), and the nearer and the farther one.
RELATION_FAMILIES: tuple[tuple[tuple[str, str], ...], ...] = (
    (("left_of", "right_of"),),
    (("above", "below"),),
    (("left_of", "above"), ("left_of", "below"), ("right_of", "above"), ("right_of", "below")),
    (("nearest", "farthest"),),
)
RELATIONS: tuple[str, ...] = ("left_of", "right_of", "above", "below", "nearest", "farthest")
# The phrase before the reference's noun phrase ("to the left of" + "the red ball").
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    "left_of": ("to the left of", "left of", "on the left of"),
    "right_of": ("to the right of", "right of", "on the right of"),
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
    "nearest": ("next to", "near", "closest to", "nearest to"),
    "farthest": ("far from", "farthest from", "away from"),
}
# Comparatives of a ``comparison`` video: the big actor is the bigger one.
COMPARISON_WORDS: dict[str, tuple[str, ...]] = {
    "big": ("bigger", "larger"), "small": ("smaller",)}
# {cmp} a comparative, {plural} the plural noun, other slots as in TEMPLATES (always "the").
COMPARISON_TEMPLATES: tuple[str, ...] = (
    "the {cmp} {adj} {actor}",
    "the {cmp} {adj} {actor} {ing} {adv}",
    "the {cmp} {adj} {actor} that {s3} {adv}",
    "the {cmp} of the two {adj} {plural}",
    "the {cmp} of the two {adj} {plural} that are {ing} {adv}",
    "of the two {adj} {plural} {ing} {adv} the {cmp} one",
)
LONG_COMPARISON_TEMPLATES: tuple[str, ...] = (
    "in this short video there are two {adj} {plural} {ing} {adv} and the one to find is the "
    "{cmp} of them from the beginning of the clip until the very end",
)

# JHMDB action folder of each synthetic action the JHMDB twin uses (the A2D actions with a
# JHMDB counterpart, so that zero-shot transfer is meaningful).
JHMDB_ACTIONS: dict[str, str] = {
    "climbing": "climb_stairs", "jumping": "jump", "running": "run", "walking": "walk",
}


def pick(rng: np.random.Generator, items: Sequence) -> Any:
    return items[int(rng.integers(len(items)))]


def compose_query(action: str, *, template: str, noun: str, det: str, adj: Sequence[str] = (),
           pos: str = "", adv: str = "", **slots: str) -> str:
    """The query of ``template`` filled in; ``slots``: further slots of version 2's templates
    ({cmp}, {plural})."""
    ing, s3, _ = ACTION_WORDS[action]
    text = template.format(det=det, adj=" ".join(adj), actor=noun, ing=ing, s3=s3,
                           adv=adv, pos=pos, **slots)
    words = text.split()
    # "a" before a vowel is "an" ("an orange ball", "an adult")
    for i in range(len(words) - 1):
        if words[i] == "a" and words[i + 1][0] in "aeiou":
            words[i] = "an"
    return " ".join(words)


def draw_query_style(rng: np.random.Generator, actor: str, *,
                     templates: Sequence[str] = TEMPLATES,
                     long_templates: Sequence[str] = LONG_TEMPLATES) -> tuple[str, str, str]:
    """(template, noun, determiner) drawn for one query (or one distractor pair)."""
    template = pick(rng, long_templates) if rng.random() < _LONG_PROB else pick(rng, templates)
    return template, pick(rng, ACTOR_WORDS[actor]), pick(rng, ("the", "a"))


def draw_adverb(rng: np.random.Generator, action: str) -> str:
    return pick(rng, ACTION_WORDS[action][2]) if rng.random() < 0.5 else ""


def vocabulary_meta(generator: int = 1) -> dict[str, Any]:
    d = {"actors": list(ACTORS), "actions": list(ACTIONS),
         "valid_actions": {k: list(v) for k, v in VALID_ACTIONS.items()},
         "colours": list(COLOURS), "sizes": list(SIZES), "positions": POSITION_WORDS}
    if generator >= 2:
        d.update(relations={k: list(v) for k, v in RELATION_WORDS.items()},
                 comparatives={k: list(v) for k, v in COMPARISON_WORDS.items()})
    return d
