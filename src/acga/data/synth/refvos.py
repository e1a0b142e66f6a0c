"""The synthetic benchmark in the Ref-YouTube-VOS and Ref-DAVIS17 release layouts, read back by
``ytvos.py`` and ``davis.py`` with no special case. The videos are those of the A2D twin
(``generators.py``: sprites whose motion is their action, with sentences); what differs is the
layout, and the quirks of these releases, which every synthetic set holds on purpose:

- non-contiguous object ids (every fourth video numbers its objects 1, 3, 4, ...);
- objects absent from frames (every third video with two or more objects loses its last one
  for the last quarter of the frames: it is neither drawn nor annotated there);
- expressions with odd whitespace (doubled spaces, trailing blanks) and duplicates (every fifth
  video repeats its first expression);
- Ref-YouTube-VOS: frames named every 5th number (00000, 00005, ...), no annotations in valid,
  valid expressions without ``obj_id``, and meta_expressions/valid listing the test videos too;
- Ref-DAVIS17: four expression files, the annotator-2 ones in Latin-1, quoted expressions, and
  one video written as ``clasic-car`` in ``Davis17_annot1.txt`` (the release's misspelling of
  ``classic-car``).

Layouts written (under ``out``)::

    ytvos: train/{JPEGImages,Annotations}/<video>/<frame>.{jpg,png}, train/meta.json,
           valid/JPEGImages/..., valid/meta.json, test/JPEGImages/...,
           meta_expressions/{train,valid,test}/meta_expressions.json, synth_meta.json
    davis: DAVIS/JPEGImages/480p/<video>/<frame>.jpg, DAVIS/Annotations/480p/...,
           DAVIS/ImageSets/2017/{train,val}.txt, davis_text_annotations/Davis17_*.txt,
           synth_meta.json

("480p" is the release's folder name; frames are ``size`` pixels tall.) Everything is a pure
function of the arguments.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ...staging import StagedFolder
from .generators import SynthSummary, check_count, frame_size
from .output import META_FORMAT, publish_output, staged_output
from .render import render_video
from .scene import Video, sample_a2d_video, video_id
from .vocabulary import vocabulary_meta

__all__ = ["generate_ytvos", "generate_davis", "davis_palette"]

log = logging.getLogger(__name__)

_YTVOS_STEP = 5  # Ref-YouTube-VOS frames are every 5th frame of the video, named by number
_DAVIS_SETS = ("annot1", "annot1_full_video", "annot2", "annot2_full_video")


def davis_palette() -> list[int]:
    """The 256-colour palette of the DAVIS / PASCAL annotation PNGs: the bits of the index,
    spread over the high bits of red, green and blue (1 -> dark red, 2 -> dark green, ...)."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= (c & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.extend((r, g, b))
    return palette


_PALETTE = davis_palette()


def _write_jpeg(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="JPEG", quality=92)


def _write_palette_png(path: Path, labels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(labels.astype(np.uint8))
    im.putpalette(_PALETTE)  # an 'L' image with a palette becomes a 'P' image
    im.save(path, format="PNG", optimize=False)


@dataclasses.dataclass
class _RefVideo:
    spec: Video
    frames: np.ndarray  # (T, H, W, 3)
    labels: np.ndarray  # (T, H, W) object ids
    obj_ids: dict[int, int]  # instance -> object id
    absent: int | None  # object id absent from the last frames, if any
    expressions: list[tuple[int, str]]  # (object id, text as written)


def _make_video(k: int, rng: np.random.Generator, frame: tuple[int, int],
                num_frames: int, distractors: float) -> _RefVideo:
    u = rng.random()
    kind = ("same_appearance" if u < distractors / 2 else
            "same_action" if u < distractors else "random")
    spec = sample_a2d_video(rng, frame, kind)
    spec.num_frames = min(spec.num_frames, num_frames)
    H, W = frame
    insts = sorted(a.instance for a in spec.actors)
    noncontiguous = k % 4 == 1 and len(insts) > 1
    obj_ids = {i: i + 1 + (1 if noncontiguous and i >= 1 else 0) for i in insts}
    frames, inst_labels = render_video(spec, H, W)
    absent = None
    if k % 3 == 2 and len(insts) > 1:
        gone = insts[-1]
        without = dataclasses.replace(spec, actors=[a for a in spec.actors if a.instance != gone])
        frames2, labels2 = render_video(without, H, W)
        cut = spec.num_frames - max(1, spec.num_frames // 4)
        frames[cut:], inst_labels[cut:] = frames2[cut:], labels2[cut:]
        absent = obj_ids[gone]
    labels = np.zeros(inst_labels.shape, np.uint8)
    for i, obj in obj_ids.items():
        labels[inst_labels == i + 1] = obj
    expressions = []
    for n, a in enumerate(sorted(spec.actors, key=lambda a: a.instance)):
        text = a.query
        if (k + n) % 3 == 0:  # odd whitespace: a doubled space and trailing blanks
            words = text.split(" ")
            text = " ".join(words[:1]) + "  " + " ".join(words[1:]) + "  "
        expressions.append((obj_ids[a.instance], text))
    if k % 5 == 0:
        expressions.append(expressions[0])
    return _RefVideo(spec, frames, labels, obj_ids, absent, expressions)


def _videos(seed: int, salt: int, videos: int, frame: tuple[int, int], num_frames: int,
            distractors: float) -> list[_RefVideo]:
    root_ss = np.random.SeedSequence([int(seed), salt])
    out = []
    for k, rng in enumerate(np.random.default_rng(s) for s in root_ss.spawn(videos)):
        out.append(_make_video(k, rng, frame, num_frames, distractors))
    return out


def _meta(layout: str, seed: int, params: dict, samples: dict, vids: list[_RefVideo],
          names: list[str], splits: list[str]) -> dict[str, Any]:
    return {
        "format": META_FORMAT, "version": 1, "layout": layout, "seed": int(seed),
        "params": params, "vocabulary": vocabulary_meta(), "samples": samples,
        "videos": [{"video": name, "split": split, "kind": v.spec.kind,
                    "frames": v.spec.num_frames,
                    "objects": {str(obj): {"class": a.actor, "action": a.action}
                                for a in v.spec.actors for obj in [v.obj_ids[a.instance]]},
                    "absent_object": v.absent,
                    "expressions": [[obj, text] for obj, text in v.expressions]}
                   for v, name, split in zip(vids, names, splits)],
    }


def _start(layout: str, out: str | Path, salt: int, *, videos: int, seed: int, size: int,
           frames: int, distractors: float,
           force: bool) -> tuple[Path, StagedFolder, list[_RefVideo], dict[str, Any]]:
    """Check the arguments and the output folder and draw the videos: ``(out, its staged
    folder (not yet begun), videos, the params of the meta file)``."""
    check_count("videos", videos, 1)
    check_count("frames", frames, 2)
    if not 0.0 <= distractors <= 1.0:
        raise DataError(f"distractors {distractors} must be a fraction in [0, 1]")
    H, W = frame_size(size)
    out = Path(out)
    staged = staged_output(out, layout, force)
    vids = _videos(seed, salt, videos, (H, W), frames, distractors)
    params = {"videos": videos, "size": int(size), "height": H, "width": W, "frames": frames,
              "distractors": distractors}
    return out, staged, vids, params


def _write_ytvos(staging: Path, vids: list[_RefVideo], names: list[str],
                 splits: list[str]) -> dict[str, int]:
    """The Ref-YouTube-VOS files (all but the meta file) under ``staging``; the samples per
    split."""
    metas: dict[str, dict] = {"train": {}, "valid": {}, "test": {}}
    objects: dict[str, dict] = {"train": {}, "valid": {}, "test": {}}
    samples = {"train": 0, "valid": 0}
    for v, name, split in zip(vids, names, splits):
        stems = [f"{t * _YTVOS_STEP:05d}" for t in range(v.spec.num_frames)]
        for t, stem in enumerate(stems):
            _write_jpeg(staging / split / "JPEGImages" / name / f"{stem}.jpg", v.frames[t])
            if split == "train":
                _write_palette_png(staging / split / "Annotations" / name / f"{stem}.png",
                                   v.labels[t])
        exps: dict[str, dict] = {}
        for n, (obj, text) in enumerate(v.expressions):
            exps[str(n)] = {"exp": text, "obj_id": str(obj)} if split == "train" else {"exp": text}
        entry = {"expressions": exps, "frames": stems}
        metas[split][name] = entry
        if split == "test":
            metas["valid"][name] = entry  # as released: the valid list holds the test videos
        cats = {}
        for a in sorted(v.spec.actors, key=lambda a: a.instance):
            obj = v.obj_ids[a.instance]
            present = [s for t, s in enumerate(stems) if (v.labels[t] == obj).any()]
            cats[str(obj)] = ({"category": a.actor, "frames": present} if split == "train"
                              else {"category": a.actor})
        objects[split][name] = {"objects": cats}
        if split in samples:
            samples[split] += sum(1 for _, text in v.expressions if text.strip()) * len(stems)
    for split in ("train", "valid", "test"):
        path = staging / "meta_expressions" / split / "meta_expressions.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"videos": metas[split]}, indent=1), encoding="utf-8")
        if objects[split]:
            (staging / split).mkdir(parents=True, exist_ok=True)
            (staging / split / "meta.json").write_text(
                json.dumps({"videos": objects[split]}, indent=1), encoding="utf-8")
    return samples


def generate_ytvos(out: str | Path, *, videos: int = 20, seed: int = 0, size: int = 96,
                   frames: int = 12, distractors: float = 0.4,
                   force: bool = False) -> SynthSummary:
    """Write the synthetic benchmark in the Ref-YouTube-VOS layout.

    Args:
        out, seed, size, distractors, force: as for :func:`acga.data.synth.generate_a2d`.
        videos: number of videos: a fifth (at least one when there are 3 or more) in valid, a
            tenth (at least one when there are 5 or more) in test, the rest in train.
        frames: frames per video (at most; A2D-twin videos hold 24 to 48).

    Returns:
        A :class:`~acga.data.synth.SynthSummary`; ``samples`` counts (expression, frame) pairs
        of train and valid as ``index_ytvos`` enumerates them.
    """
    t0 = time.perf_counter()
    out, staged, vids, params = _start("ytvos", out, 0x5A7F, videos=videos, seed=seed,
                                       size=size, frames=frames, distractors=distractors,
                                       force=force)
    n_valid = max(1, round(videos * 0.2)) if videos >= 3 else 0
    n_test = max(1, round(videos * 0.1)) if videos >= 5 else 0
    splits = ["train"] * (videos - n_valid - n_test) + ["valid"] * n_valid + ["test"] * n_test
    names = [f"{k:04d}{video_id(np.random.default_rng([seed, k]))[:6]}" for k in range(videos)]
    with staged:
        samples = _write_ytvos(staged.tmp, vids, names, splits)
        return _publish("ytvos", out, staged, seed, params, samples, vids, names, splits, t0)


def _publish(layout: str, out: Path, staged: StagedFolder, seed: int, params: dict,
             samples: dict[str, int], vids: list, names: list[str], splits: list[str],
             t0: float) -> SynthSummary:
    """Move the staged set into ``out`` with its meta file; the summary of what was written."""
    publish_output(staged, _meta(layout, seed, params, samples, vids, names, splits))
    kinds = {k: sum(v.spec.kind == k for v in vids)
             for k in ("random", "same_appearance", "same_action")}
    summary = SynthSummary(layout, str(out), params["videos"], samples, 0, kinds,
                             params["height"], params["width"], round(time.perf_counter() - t0, 2))
    log.debug("%s", summary.line())
    return summary


def _davis_name(v: _RefVideo, k: int) -> str:
    first = min(v.spec.actors, key=lambda a: a.instance)
    return f"{first.actor}-{first.action}-{k}"


def _write_davis(staging: Path, vids: list[_RefVideo], names: list[str],
                 splits: list[str]) -> dict[str, int]:
    """The Ref-DAVIS17 files (all but the meta file) under ``staging``; the samples per split."""
    davis = staging / "DAVIS"
    lines: dict[str, list[str]] = {s: [] for s in _DAVIS_SETS}
    samples = {"train": 0, "val": 0}
    for k, (v, name, split) in enumerate(zip(vids, names, splits)):
        for t in range(v.spec.num_frames):
            _write_jpeg(davis / "JPEGImages" / "480p" / name / f"{t:05d}.jpg", v.frames[t])
            _write_palette_png(davis / "Annotations" / "480p" / name / f"{t:05d}.png",
                               v.labels[t])
        for s_idx, set_name in enumerate(_DAVIS_SETS):
            written = "clasic-car" if name == "classic-car" and set_name == "annot1" else name
            exps = v.expressions if s_idx == 0 else v.expressions[:len(v.spec.actors)]
            for obj, text in exps:
                if s_idx % 2 == 1:
                    text = " ".join(text.split())  # the full-video files: tidy text
                lines[set_name].append(f'{written} {obj} "{text}"')
            samples[split] += len(exps) * v.spec.num_frames
    sets_dir = davis / "ImageSets" / "2017"
    sets_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        (sets_dir / f"{split}.txt").write_text(
            "".join(f"{n}\n" for n, s in zip(names, splits) if s == split), encoding="utf-8")
    text_dir = staging / "davis_text_annotations"
    text_dir.mkdir(parents=True, exist_ok=True)
    for set_name, rows in lines.items():
        encoding = "latin-1" if set_name.startswith("annot2") else "utf-8"
        (text_dir / f"Davis17_{set_name}.txt").write_bytes(
            ("\n".join(rows) + "\n").encode(encoding))
    return samples


def generate_davis(out: str | Path, *, videos: int = 12, seed: int = 0, size: int = 96,
                   frames: int = 16, distractors: float = 0.4,
                   force: bool = False) -> SynthSummary:
    """Write the synthetic benchmark in the Ref-DAVIS17 layout (DAVIS-2017 trainval folders and
    the four expression files).

    Args:
        out, seed, size, distractors, force: as for :func:`acga.data.synth.generate_a2d`.
        videos: number of videos: a third (at least one when there are 2 or more) in val, the
            rest in train; the first val video is ``classic-car``.
        frames: frames per video (at most).

    Returns:
        A :class:`~acga.data.synth.SynthSummary`; ``samples`` counts (expression, frame) pairs
        over the four sets, per split, as ``index_davis`` enumerates them.
    """
    t0 = time.perf_counter()
    out, staged, vids, params = _start("davis", out, 0xDA17, videos=videos, seed=seed,
                                       size=size, frames=frames, distractors=distractors,
                                       force=force)
    n_val = max(1, round(videos / 3)) if videos >= 2 else 0
    splits = ["train"] * (videos - n_val) + ["val"] * n_val
    names = [_davis_name(v, k) for k, v in enumerate(vids)]
    if n_val:
        names[videos - n_val] = "classic-car"
    with staged:
        samples = _write_davis(staged.tmp, vids, names, splits)
        return _publish("davis", out, staged, seed, params, samples, vids, names, splits, t0)
