"""The generators of the A2D-Sentences layout (:func:`generate_a2d`) and its JHMDB-Sentences
twin (:func:`generate_jhmdb`): argument checks, one random stream per video, the release's
files, the per-video meta, and the :class:`SynthSummary` of what was written."""

from __future__ import annotations

import logging
import math
import string
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ...visualize_video import Mp4Writer
from ..a2d import write_a2d_h5
from ..jhmdb import uniform_frames, write_puppet_mask
from .output import (FPS, META_FORMAT, MP4_OPTIONS, csv_text, publish_output, staged_output,
                     write_pngs)
from .relations import V2_KINDS, sample_v2_video
from .render import render_video
from .scene import Video, sample_a2d_video, sample_jhmdb_video, video_id
from .vocabulary import ACTIONS, ACTORS, JHMDB_ACTIONS, pick, vocabulary_meta

__all__ = ["generate_a2d", "generate_jhmdb", "SynthSummary", "frame_size", "check_count",
           "GENERATORS", "check_generator", "V2_MIX"]

log = logging.getLogger(__name__)

# A2D's numeric ids: label = 10 * actor + action (videoset.csv's second column).
_A2D_ACTOR_ID = {a: i + 1 for i, a in enumerate(ACTORS)}
_A2D_ACTION_ID = {a: i + 1 for i, a in enumerate(ACTIONS)}

GENERATORS = (1, 2)
"""Versions of the A2D-layout generator (docs/synthetic.md): 1, the default, and 2, which adds
the ``relation`` and ``comparison`` kinds. A version's output never changes."""
# version 2: fractions of relation and comparison videos; the rest is mixed as version 1
V2_MIX = {"relation": 0.25, "comparison": 0.15}


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


def frame_size(size: int) -> tuple[int, int]:
    """(height, width): ``size`` rounded up to even (H.264 in yuv420p), width 4/3 of it, even."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 32 <= size <= 1080:
        raise DataError(f"frame height (--size) {size!r} is outside 32..1080; pass e.g. 96")
    height = int(size) + int(size) % 2
    return height, int(round(height * 4 / 3 / 2)) * 2


def check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} {value!r} must be an integer >= {minimum}")
    return int(value)


def check_generator(generator: object) -> int:
    """``generator`` as a version of :data:`GENERATORS`, or a :class:`DataError` naming it."""
    if isinstance(generator, bool) or generator not in GENERATORS:
        raise DataError(f"generator {generator!r} is not a synthetic generator version; use "
                        f"{' or '.join(map(str, GENERATORS))} (docs/synthetic.md)")
    return int(generator)  # type: ignore[call-overload]


def _kind(u: float, distractors: float, generator: int) -> str:
    """The kind of a video from its first uniform draw ``u`` (one draw in every version, so
    that version 1's stream is what it always was)."""
    if generator >= 2:
        v2 = sum(V2_MIX.values())
        if u < V2_MIX["relation"]:
            return "relation"
        if u < v2:
            return "comparison"
        u = (u - v2) / (1 - v2)
    return ("same_appearance" if u < distractors / 2 else
            "same_action" if u < distractors else "random")


def _video_meta(s: Video, generator: int = 1) -> dict[str, Any]:
    d: dict[str, Any] = {"video": s.video, "kind": s.kind, "pair": s.pair,
                         "frames": s.num_frames}
    if s.action_folder:  # JHMDB
        d.update(action_folder=s.action_folder, mask_frames=s.mask_frames)
    else:
        d.update(split=s.split, missed=s.missed,
                 annotated_frames=[f + 1 for f in s.annotated])  # 1-based, as file names
    d["background"] = s.background
    d["actors"] = [a.meta(generator) for a in sorted(s.actors, key=lambda a: a.instance)]
    return d


def _write_a2d(staging: Path, specs: list[Video], H: int, W: int, *, mp4: bool,
               pngs: bool) -> None:
    """The A2D release's files of ``specs`` (all but the meta file) under ``staging``."""
    release, text = staging / "Release", staging / "text_annotations"
    masks_dir = text / "a2d_annotation_with_instances"
    rows: list[list[Any]] = []
    videoset: list[list[Any]] = []
    for spec in specs:
        frames, labels = render_video(spec, H, W)
        if pngs:
            write_pngs(release / "pngs320H" / spec.video, frames)
        if mp4:
            (release / "clips320H").mkdir(parents=True, exist_ok=True)
            with Mp4Writer(release / "clips320H" / f"{spec.video}.mp4", W, H, Fraction(FPS),
                           None, options=MP4_OPTIONS) as video:
                for img in frames:
                    video.write(img, None)
        ids = sorted(a.instance for a in spec.actors)
        for f in spec.annotated:
            masks = np.stack([labels[f] == i + 1 for i in ids]).astype(np.uint8)  # (N, H, W)
            write_a2d_h5(masks_dir / spec.video / f"{f + 1:05d}.h5", ids, masks)
        first = next(a for a in spec.actors if a.instance == 0)
        label = 10 * _A2D_ACTOR_ID[first.actor] + _A2D_ACTION_ID[first.action]
        videoset.append([spec.video, label, 0, int(math.ceil(spec.num_frames / FPS)), H, W,
                         spec.num_frames, len(spec.annotated), 1 if spec.split == "test" else 0])
        # rows of a video in string order of instance id, as in the release (0, 1, 10, 2, ...)
        for a in sorted(spec.actors, key=lambda a: str(a.instance)):
            rows.append([spec.video, str(a.instance), a.query])

    release.mkdir(parents=True, exist_ok=True)
    text.mkdir(parents=True, exist_ok=True)
    (release / "videoset.csv").write_text(csv_text(videoset), encoding="utf-8")
    (text / "a2d_annotation.txt").write_text(
        csv_text([["video_id", "instance_id", "query"]] + rows), encoding="utf-8")
    (text / "a2d_missed_videos.txt").write_text(
        "".join(f"{s.video}\n" for s in specs if s.missed), encoding="utf-8")


def generate_a2d(out: str | Path, *, videos: int = 100, seed: int = 0, size: int = 96,
                 distractors: float = 0.4, missed: int = 2, test_fraction: float = 0.2,
                 mp4: bool = True, pngs: bool = True, force: bool = False,
                 generator: int = 1) -> SynthSummary:
    """Write the synthetic benchmark in the A2D-Sentences release layout.

    Args:
        out: output folder: new, empty, or a previous synthetic A2D output (replaced).
        videos: number of videos (each 24-48 frames, 1-3 actors, 3-5 annotated frames).
        seed: everything but the MP4 bytes is a function of the arguments; video k is the
            same for any number of videos (only the split and missed lists depend on it).
        size: frame height in pixels (rounded up to even); the width is 4/3 of it, even.
        distractors: fraction of distractor videos, half ``same_appearance`` (only the motion
            tells the two actors apart) and half ``same_action`` (only the class does); with
            ``generator=2``, a fraction of the videos that are neither relation nor comparison.
        missed: videos listed in ``a2d_missed_videos.txt`` (their files are written all the
            same; readers must drop them): at most a fifth of the videos, taken from train.
        test_fraction: fraction of the videos in the test split (subset 1).
        mp4, pngs: write ``Release/clips320H/<video>.mp4`` and/or ``Release/pngs320H/``.
        force: write into a non-empty folder that holds no synthetic benchmark.
        generator: the generator version (:data:`GENERATORS`): 1 (the default; its output is
            fixed for good) or 2, which adds ``relation`` and ``comparison`` videos
            (:data:`V2_MIX` of them) and records each query's type in ``synth_meta.json``.

    Returns:
        A :class:`SynthSummary` (counts, kinds, seconds).

    Raises:
        DataError: a bad argument, or ``out`` is neither empty nor a previous output.
    """
    t0 = time.perf_counter()
    generator = check_generator(generator)
    videos = check_count("videos", videos, 1)
    if not 0.0 <= distractors <= 1.0 or not 0.0 <= test_fraction < 1.0:
        raise DataError(f"distractors {distractors} and test_fraction {test_fraction} must be "
                        "fractions in [0, 1] (test_fraction below 1)")
    H, W = frame_size(size)
    n_missed = min(check_count("missed", missed, 0), videos // 5)
    out = Path(out)
    staged = staged_output(out, "a2d", force)

    root_ss = np.random.SeedSequence([int(seed), 0xA2D])
    master = np.random.default_rng(root_ss)
    # one stream per video, spawned from the seed: video k is the same whatever the count
    video_rngs = [np.random.default_rng(s) for s in root_ss.spawn(videos)]
    n_test = 0
    if videos > 1 and test_fraction > 0:
        n_test = min(max(int(round(videos * test_fraction)), 1), videos - 1)
    test_ids = {int(i) for i in master.permutation(videos)[:n_test]}

    specs: list[Video] = []
    seen: set[str] = set()
    for k, rng in enumerate(video_rngs):
        kind = _kind(rng.random(), distractors, generator)
        vid = video_id(rng)
        while vid in seen:
            vid = video_id(rng)
        seen.add(vid)
        sample = sample_v2_video if kind in V2_KINDS else sample_a2d_video
        spec = sample(rng, (H, W), kind)
        spec.video, spec.split = vid, "test" if k in test_ids else "train"
        specs.append(spec)
    train_idx = [k for k, s in enumerate(specs) if s.split == "train"]
    n_missed = min(n_missed, len(train_idx))
    for k in (master.choice(train_idx, size=n_missed, replace=False) if n_missed else []):
        specs[int(k)].missed = True

    samples = {"train": 0, "test": 0}
    kinds = {"random": 0, "same_appearance": 0, "same_action": 0}
    if generator >= 2:
        kinds.update({k: 0 for k in V2_KINDS})
    for s in specs:
        kinds[s.kind] += 1
        if not s.missed:
            samples[s.split] += len(s.actors) * len(s.annotated)
    meta: dict[str, Any] = {"format": META_FORMAT, "version": 1, "layout": "a2d"}
    if generator != 1:  # absent: version 1 (whose meta bytes stay as they always were)
        meta["generator"] = generator
    meta.update({
        "seed": int(seed),
        "params": {"videos": videos, "size": int(size), "height": H, "width": W,
                   "distractors": distractors, "missed": n_missed,
                   "test_fraction": test_fraction, "fps": FPS},
        "vocabulary": vocabulary_meta(generator), "samples": samples, "kinds": kinds,
        "videos": [_video_meta(s, generator) for s in specs],
    })
    with staged:
        _write_a2d(staged.tmp, specs, H, W, mp4=mp4, pngs=pngs)
        publish_output(staged, meta)
    summary = SynthSummary("a2d", str(out), videos, samples, n_missed, kinds, H, W,
                           round(time.perf_counter() - t0, 2))
    log.debug("%s", summary.line())
    return summary


def _write_jhmdb(staging: Path, specs: list[Video], H: int, W: int) -> None:
    """The JHMDB release's files of ``specs`` (all but the meta file) under ``staging``."""
    rows: list[list[Any]] = [["video_id", "query"]]
    for spec in specs:
        frames, labels = render_video(spec, H, W)
        write_pngs(staging / "Rename_Images" / spec.action_folder / spec.video, frames)
        target = next(a for a in spec.actors if a.described)
        part = (labels[:spec.mask_frames] == target.instance + 1).astype(np.uint8)  # (T, H, W)
        write_puppet_mask(staging / "puppet_mask" / spec.action_folder / spec.video
                          / "puppet_mask.mat",
                          np.ascontiguousarray(part.transpose(1, 2, 0)))  # (H, W, T)
        rows.append([spec.video, target.query])
    (staging / "jhmdb_annotation.txt").write_text(csv_text(rows), encoding="utf-8")


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
    videos = check_count("videos", videos, 1)
    H, W = frame_size(size)
    out = Path(out)
    staged = staged_output(out, "jhmdb", force)
    root_ss = np.random.SeedSequence([int(seed), 0x7D3B])
    specs: list[Video] = []
    seen: set[str] = set()
    for k, rng in enumerate(np.random.default_rng(s) for s in root_ss.spawn(videos)):
        spec = sample_jhmdb_video(rng, (H, W))
        # JHMDB-like names, unique across action folders
        stem = "".join(pick(rng, string.ascii_lowercase + string.digits) for _ in range(8))
        name = f"synth{stem}_{spec.action_folder}_f_cm_np1_fr_med_{k % 10}"
        while name in seen:
            name += "x"
        seen.add(name)
        spec.video = name
        specs.append(spec)

    kinds = {"random": sum(s.kind == "random" for s in specs),
             "same_appearance": sum(s.kind == "same_appearance" for s in specs)}
    # the reader's "uniform" frames of each video (all its mask frames are usable)
    samples = {"all": sum(len(uniform_frames(s.mask_frames)) for s in specs)}
    meta = {
        "format": META_FORMAT, "version": 1, "layout": "jhmdb", "seed": int(seed),
        "params": {"videos": videos, "size": int(size), "height": H, "width": W, "fps": FPS},
        "vocabulary": {**vocabulary_meta(), "jhmdb_actions": JHMDB_ACTIONS},
        "samples": samples, "kinds": kinds,
        "videos": [_video_meta(s) for s in specs],
    }
    with staged:
        _write_jhmdb(staged.tmp, specs, H, W)
        publish_output(staged, meta)
    summary = SynthSummary("jhmdb", str(out), videos, samples, 0, kinds, H, W,
                           round(time.perf_counter() - t0, 2))
    log.debug("%s", summary.line())
    return summary
