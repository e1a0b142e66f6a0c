"""Ref-YouTube-VOS (Seo et al., ECCV 2020) read from the files its publishers release.

Expected tree under ``root``::

    train/JPEGImages/<video>/<frame>.jpg          frames named by their number: 00000, 00005, ...
    train/Annotations/<video>/<frame>.png         palette PNGs, pixel value = object id
    train/meta.json                               {"videos": {vid: {"objects": {"1": {"category",
                                                   "frames": [...]}}}}} (optional, cross-check)
    valid/JPEGImages/<video>/<frame>.jpg          no annotations
    meta_expressions/train/meta_expressions.json  {"videos": {vid: {"expressions": {"0": {"exp",
                                                   "obj_id"}}, "frames": [...]}}}
    meta_expressions/valid/meta_expressions.json  expressions without obj_id
    meta_expressions/test/meta_expressions.json   (optional) the test videos

The canonical enumeration (``acga data samples ytvos``): videos in meta_expressions.json order;
within a video, expressions in file order; for each expression, the video's listed frames in
ascending number. One sample per (expression, frame); ``instance`` is the object id, ``mask_sum``
the object's pixel count in that frame (0 where it is absent), ``None`` in valid.

Quirks of the real files, each handled here (docs/data.md lists them):

- meta_expressions/valid lists the valid *and* the test videos; when meta_expressions/test is
  present its videos are removed from valid (202 videos remain in the release).
- Object ids are palette indices and need not be contiguous (1, 3); an object may be absent
  (no pixels) from some frames: those samples have ``mask_sum`` 0 and are kept.
- A listed frame without an annotation PNG (train) is not a sample; it is counted in the report.
- Expressions are whitespace-normalised; an empty one is skipped and counted; the same text for
  the same object twice is kept (two samples per frame) and counted.
- An expression whose object has no pixels in any annotation of its video is a bad file
  (``skip_bad``: the expression is skipped).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..errors import DataError
from .records import DataReport, normalize_query
from .refvos import (BadFiles, RefSample, frame_number, jpeg_problem, object_mask, palette_counts,
                     read_palette_png)

__all__ = ["index_ytvos", "load_ytvos_mask", "ytvos_frame_path", "read_meta_expressions",
           "YTVOS_SPLITS"]

log = logging.getLogger(__name__)

YTVOS_SPLITS = ("train", "valid")
_HINT = ("pass the folder holding train/, valid/ and meta_expressions/ (unzip train.zip, "
         "valid.zip and meta_expressions.zip into it)")


def _root(root: str | Path) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"Ref-YouTube-VOS root {root} does not exist or is not a folder; {_HINT}")
    return root


def read_meta_expressions(path: Path) -> dict[str, dict]:
    """``{video: {"expressions": {...}, "frames": [...]}}`` of a meta_expressions.json.

    Raises:
        DataError: the file is missing, not JSON, or not in this layout.
    """
    if not path.is_file():
        raise DataError(f"{path} does not exist (the expressions of the split); download "
                        "meta_expressions.zip of Ref-YouTube-VOS and unzip it into the root")
    videos = _videos_object(path, "Ref-YouTube-VOS meta_expressions.json")
    for vid, entry in videos.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("expressions"), dict)
                or not isinstance(entry.get("frames"), list)):
            raise DataError(f"{path}: video {vid!r} lacks an \"expressions\" object or a "
                            "\"frames\" list; is this a Ref-YouTube-VOS meta_expressions.json?")
    return videos


def _read_meta(path: Path) -> dict[str, dict] | None:
    return _videos_object(path, "YouTube-VOS meta.json") if path.is_file() else None


def _videos_object(path: Path, what: str) -> dict[str, dict]:
    """The top-level ``"videos"`` object of a JSON file of ``what`` (both files have one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON: {exc}; re-download it") from None
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, dict):
        raise DataError(f"{path} has no top-level \"videos\" object; is this a {what}?")
    return videos


def _frames(listed: list, path: Path, vid: str) -> list[str]:
    """The listed frame names, unique, in ascending number."""
    stems = {}
    for name in listed:
        stem = str(name)
        number = frame_number(stem)
        if number is None:
            raise DataError(f"{path}: video {vid} lists frame {name!r}, not a frame number "
                            "like \"00005\"")
        stems.setdefault(number, stem)
    return [stems[n] for n in sorted(stems)]


def _obj_id(value, path: Path, vid: str, exp_id: str) -> int:
    try:
        obj = int(str(value).strip())
    except ValueError:
        raise DataError(f"{path}: expression {exp_id} of video {vid} has obj_id {value!r}, not "
                        "an integer") from None
    if not 1 <= obj <= 255:
        raise DataError(f"{path}: expression {exp_id} of video {vid} has obj_id {obj}, outside "
                        "the palette indices 1..255")
    return obj


def index_ytvos(root: str | Path, split: str = "train", *,
                skip_bad: bool = False) -> tuple[list[RefSample], DataReport]:
    """The canonical Ref-YouTube-VOS sample list of ``split`` and a report of what was found.

    Args:
        root: the folder holding ``train/``, ``valid/`` and ``meta_expressions/``.
        split: ``"train"`` (annotated) or ``"valid"`` (no annotations: ``mask_sum`` None).
        skip_bad: skip (and report) missing or truncated frames, unreadable or non-palette
            annotations and expressions naming an object that is never annotated, instead of
            raising.
    """
    if split not in YTVOS_SPLITS:
        raise DataError(f"Ref-YouTube-VOS split {split!r} is not one of {', '.join(YTVOS_SPLITS)}")
    root = _root(root)
    split_dir = root / split
    jpeg_dir = split_dir / "JPEGImages"
    if not jpeg_dir.is_dir():
        raise DataError(f"Ref-YouTube-VOS root {root} has no {split}/JPEGImages/; {_HINT}")
    exp_path = root / "meta_expressions" / split / "meta_expressions.json"
    videos = read_meta_expressions(exp_path)
    annotated = split == "train"
    ann_dir = split_dir / "Annotations"
    if annotated and not ann_dir.is_dir():
        raise DataError(f"Ref-YouTube-VOS root {root} has no train/Annotations/ (the palette "
                        f"PNG masks); {_HINT}")
    report = DataReport(dataset="ytvos", root=str(root), videos_listed=len(videos))
    bad = BadFiles(report, skip_bad)

    names = list(videos)
    if split == "valid":
        test_path = root / "meta_expressions" / "test" / "meta_expressions.json"
        if test_path.is_file():
            test = set(read_meta_expressions(test_path))
            names = [v for v in names if v not in test]
            report.notes.append(f"test videos removed from valid (listed in {test_path.name} of "
                                f"meta_expressions/test): {len(videos) - len(names)}")
        else:
            report.notes.append("no meta_expressions/test/meta_expressions.json: valid keeps "
                                "every video listed (the release's valid list includes test)")
    meta = _read_meta(split_dir / "meta.json")
    if meta is None:
        report.notes.append(f"no {split}/meta.json: object ids not cross-checked")

    samples: list[RefSample] = []
    n_videos = 0
    counts = {"frames without annotation PNG": 0, "empty expressions skipped": 0,
              "duplicate expressions (same object and text) kept": 0,
              "expressions naming an object absent from meta.json": 0,
              "samples where the object is absent (mask_sum 0)": 0,
              "videos with non-contiguous object ids": 0}
    for vid in names:
        entry = videos[vid]
        frame_dir = jpeg_dir / vid
        if not frame_dir.is_dir():
            bad(frame_dir, f"video {vid} of {exp_path} has no frame folder {frame_dir}")
            continue
        # frame -> (height, width, pixel counts per id or None)
        frames: list[tuple[int, int, int, np.ndarray | None]] = []
        size: tuple[int, int] | None = None
        for stem in _frames(entry["frames"], exp_path, vid):
            jpg = frame_dir / f"{stem}.jpg"
            problem = jpeg_problem(jpg)
            if problem:
                bad(jpg, problem + f" (listed for video {vid} in {exp_path.name})")
                continue
            if not annotated:
                if size is None:
                    size = _jpeg_size(jpg, bad)
                    if size is None:
                        continue
                frames.append((int(stem), size[0], size[1], None))
                continue
            png = ann_dir / vid / f"{stem}.png"
            if not png.is_file():
                counts["frames without annotation PNG"] += 1
                continue
            counted = palette_counts(png, bad)
            if counted is not None:
                frames.append((int(stem), *counted))
        if not frames:
            bad(frame_dir, f"video {vid} has no usable frame")
            continue
        present = set()
        for *_, c in frames:
            if c is not None:
                present.update(int(k) for k in np.nonzero(c)[0] if k != 0)
        if present and sorted(present) != list(range(1, max(present) + 1)):
            counts["videos with non-contiguous object ids"] += 1
        meta_objects = set((meta or {}).get(vid, {}).get("objects", {}) or {})
        seen: set[tuple[int | None, str]] = set()
        n_before = len(samples)
        for exp_id, exp in entry["expressions"].items():
            if not isinstance(exp, dict):
                raise DataError(f"{exp_path}: expression {exp_id} of video {vid} is "
                                f"{exp!r}, not an object with \"exp\"")
            text = normalize_query(str(exp.get("exp") or ""))
            if not text:
                counts["empty expressions skipped"] += 1
                continue
            obj = exp.get("obj_id")
            if obj is None and annotated:
                raise DataError(f"{exp_path}: expression {exp_id} of video {vid} has no obj_id; "
                                "train expressions must name their object")
            obj = None if obj is None else _obj_id(obj, exp_path, vid, exp_id)
            if annotated and obj not in present:
                bad(exp_path, f"expression {exp_id} of video {vid} in {exp_path} names object "
                              f"{obj}, which has no pixels in any annotation of "
                              f"{ann_dir / vid} (objects there: {sorted(present)})")
                continue
            if meta is not None and obj is not None and str(obj) not in meta_objects:
                counts["expressions naming an object absent from meta.json"] += 1
            if (obj, text) in seen:
                counts["duplicate expressions (same object and text) kept"] += 1
            seen.add((obj, text))
            for number, height, width, c in frames:
                mask_sum = None if c is None or obj is None else int(c[obj])
                if mask_sum == 0:
                    counts["samples where the object is absent (mask_sum 0)"] += 1
                samples.append(RefSample("ytvos", split, vid, number, obj, text, height, width,
                                         mask_sum, expression=str(exp_id)))
        if len(samples) > n_before:
            n_videos += 1
    report.videos[split] = n_videos
    report.samples[split] = len(samples)
    report.notes.extend(f"{k}: {v}" for k, v in counts.items()
                        if v or k.startswith(("frames", "samples")))
    return samples, report


def _jpeg_size(path: Path, bad) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            width, height = im.size
    except (OSError, ValueError, SyntaxError) as exc:
        bad(path, f"cannot read frame {path}: {exc}")
        return None
    return height, width


def ytvos_frame_path(root: str | Path, sample: RefSample) -> Path:
    """The JPEG of ``sample``."""
    return Path(root) / str(sample.split) / "JPEGImages" / sample.video / f"{sample.frame:05d}.jpg"


def load_ytvos_mask(root: str | Path, sample: RefSample) -> np.ndarray:
    """The ground-truth mask of ``sample``: (H, W) uint8 0/1 at original resolution.

    Raises:
        DataError: the split has no annotations, or the PNG is missing or not a palette image.
    """
    if sample.instance is None or sample.split != "train":
        raise DataError(f"sample {sample.key} of Ref-YouTube-VOS {sample.split} has no ground "
                        "truth; only train is annotated (score valid on the challenge server)")
    path = Path(root) / "train" / "Annotations" / sample.video / f"{sample.frame:05d}.png"
    return object_mask(read_palette_png(path), sample.instance)
