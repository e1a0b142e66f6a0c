"""Ref-DAVIS17 (Khoreva et al., ACCV 2018): DAVIS-2017 trainval at 480p with the published
referring expressions, read as released.

Expected tree under ``root`` (``root`` may also be the ``DAVIS`` folder itself, with
``davis_text_annotations/`` inside it or next to it)::

    DAVIS/JPEGImages/480p/<video>/00000.jpg           every frame, numbered from 0
    DAVIS/Annotations/480p/<video>/00000.png          palette PNGs, pixel value = object id
    DAVIS/ImageSets/2017/train.txt, val.txt           one video per line (60 / 30)
    davis_text_annotations/Davis17_annot1.txt             annotator 1, from the first frame
    davis_text_annotations/Davis17_annot1_full_video.txt  annotator 1, from the whole video
    davis_text_annotations/Davis17_annot2.txt             annotator 2, from the first frame
    davis_text_annotations/Davis17_annot2_full_video.txt  annotator 2, from the whole video

Each expression line is ``<video> <object id> "<expression>"``. Where ``Annotations/480p`` is
absent, ``Annotations_unsupervised/480p`` (the DAVIS-2017 unsupervised release, which
ReferFormer and its successors use) is read instead, and the report says so.

The canonical enumeration (``acga data samples davis``): videos in ImageSets order; within a
video, the expression sets in the order above, each set's lines in file order, and for each
expression every frame of the video ascending. The expression id is ``<set>-<line>``
(``annot2_full_video-57``). Quirks of the real files, each handled here (docs/data.md):

- The annotator-2 files are Latin-1, the annotator-1 files UTF-8: each file is decoded as UTF-8,
  falling back to Latin-1.
- Three video names are misspelt in the text files (``clasic-car``, ``dog-scale``,
  ``motor-bike`` for ``classic-car``, ``dogs-scale``, ``motorbike``): renamed, and counted.
- Expressions are quoted; the quotes are removed (an unmatched leading quote too), inner quotes
  kept, whitespace runs collapsed; an empty expression is skipped and counted; the same text
  twice for one object in one set is kept and counted.
- Object ids need not be contiguous and an object may be absent from some frames (those samples
  have ``mask_sum`` 0 and are kept); an expression whose object has no pixels in any frame of
  the video is a bad file (``skip_bad``: the expression is skipped).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import DataError
from .records import DataReport, normalize_query
from .refvos import (BadFiles, RefSample, frame_number, jpeg_problem, object_mask, palette_counts,
                     read_palette_png)

__all__ = ["index_davis", "load_davis_mask", "davis_frame_path", "read_davis_expressions",
           "DAVIS_SETS", "DAVIS_SPLITS", "DavisExpression"]

log = logging.getLogger(__name__)

DAVIS_SETS = ("annot1", "annot1_full_video", "annot2", "annot2_full_video")
DAVIS_SPLITS = ("train", "val")
VIDEO_RENAMES = {"clasic-car": "classic-car", "dog-scale": "dogs-scale", "motor-bike": "motorbike"}
_HINT = ("pass the folder holding DAVIS/ (JPEGImages/480p, Annotations/480p, ImageSets/2017) "
         "and davis_text_annotations/")

DavisExpression = tuple[int, str, int, str]
"""(line number, video, object id, expression)."""


def _decode(path: Path, report: DataReport | None) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        if report is not None:
            report.notes.append(f"{path.name}: not UTF-8, read as Latin-1")
        return raw.decode("latin-1")


def read_davis_expressions(path: str | Path, report: DataReport | None = None,
                           counts: dict[str, int] | None = None) -> list[DavisExpression]:
    """The expressions of one ``Davis17_*.txt`` file, in file order, with misspelt video names
    corrected; blank lines and empty expressions are skipped (counted in ``counts``).

    Raises:
        DataError: the file is missing, or a line is not ``<video> <object id> "<expression>"``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"expression file {path} does not exist; download "
                        "davis_text_annotations.zip (Khoreva et al.) and unzip it into the root, "
                        "or choose the sets to read with --sets")
    counts = {} if counts is None else counts
    out: list[DavisExpression] = []
    for line_no, line in enumerate(_decode(path, report).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise DataError(f"{path} line {line_no} is {line.strip()!r}; expected "
                            "<video> <object id> \"<expression>\"")
        video, obj_text = parts[0], parts[1]
        try:
            obj = int(obj_text)
        except ValueError:
            raise DataError(f"{path} line {line_no}: object id {obj_text!r} is not an integer; "
                            "expected <video> <object id> \"<expression>\"") from None
        raw = parts[2].strip() if len(parts) > 2 else ""
        if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
            text = raw[1:-1]
        else:
            text = raw[1:] if raw.startswith('"') else raw
            if raw:
                key = "expressions without a matching pair of quotes"
                counts[key] = counts.get(key, 0) + 1
        text = normalize_query(text)
        if not text:
            counts["empty expressions skipped"] = counts.get("empty expressions skipped", 0) + 1
            continue
        if video in VIDEO_RENAMES:
            video = VIDEO_RENAMES[video]
            counts["misspelt video names corrected"] = (
                counts.get("misspelt video names corrected", 0) + 1)
        out.append((line_no, video, obj, text))
    return out


def _locate(root: Path, text_dir: str | Path | None) -> tuple[Path, Path]:
    davis = root / "DAVIS" if (root / "DAVIS").is_dir() else root
    if not (davis / "JPEGImages" / "480p").is_dir():
        raise DataError(f"Ref-DAVIS17 root {root} has no DAVIS/JPEGImages/480p/ (the frames); "
                        f"{_HINT}")
    if text_dir is not None:
        text = Path(text_dir).expanduser()
        if not text.is_dir():
            raise DataError(f"expression folder {text} does not exist; pass the folder holding "
                            "Davis17_annot1.txt and the other three files")
        return davis, text
    for text in (root / "davis_text_annotations", davis / "davis_text_annotations",
                 davis.parent / "davis_text_annotations"):
        if text.is_dir():
            return davis, text
    raise DataError(f"Ref-DAVIS17 root {root} has no davis_text_annotations/ (the expressions: "
                    "download davis_text_annotations.zip of Khoreva et al.); " + _HINT)


def _split_videos(davis: Path, split: str) -> list[str]:
    path = davis / "ImageSets" / "2017" / f"{split}.txt"
    if not path.is_file():
        raise DataError(f"{path} does not exist (the {split} video list); {_HINT}")
    names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    return list(dict.fromkeys(n for n in names if n))


def index_davis(root: str | Path, split: str = "val", *, sets: tuple[str, ...] = DAVIS_SETS,
                text_dir: str | Path | None = None,
                skip_bad: bool = False) -> tuple[list[RefSample], DataReport]:
    """The canonical Ref-DAVIS17 sample list of ``split`` and a report of what was found.

    Args:
        root: the folder holding ``DAVIS/`` and ``davis_text_annotations/``.
        split: ``"val"`` (30 videos, the benchmark) or ``"train"`` (60).
        sets: which expression files to read (names in :data:`DAVIS_SETS`).
        text_dir: the folder of the ``Davis17_*.txt`` files, if not found next to ``DAVIS/``.
        skip_bad: skip (and report) missing or truncated frames, missing, unreadable or
            non-palette annotations and expressions naming an object that is never annotated.
    """
    if split not in DAVIS_SPLITS:
        raise DataError(f"Ref-DAVIS17 split {split!r} is not one of {', '.join(DAVIS_SPLITS)}")
    unknown = [s for s in sets if s not in DAVIS_SETS]
    if unknown or not sets:
        raise DataError(f"expression set {unknown[0] if unknown else '(none)'!r} is not one of "
                        f"{', '.join(DAVIS_SETS)}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"Ref-DAVIS17 root {root} does not exist or is not a folder; {_HINT}")
    davis, text = _locate(root, text_dir)
    ann_dir = davis / "Annotations" / "480p"
    report = DataReport(dataset="davis", root=str(root))
    if not ann_dir.is_dir():
        alt = davis / "Annotations_unsupervised" / "480p"
        if not alt.is_dir():
            raise DataError(f"Ref-DAVIS17 root {root} has neither DAVIS/Annotations/480p/ nor "
                            f"DAVIS/Annotations_unsupervised/480p/ (the palette PNG masks); {_HINT}")
        ann_dir = alt
        report.notes.append("masks read from Annotations_unsupervised/480p (no Annotations/480p)")
    bad = BadFiles(report, skip_bad)
    counts: dict[str, int] = {}
    expressions: dict[str, dict[str, list[DavisExpression]]] = {}
    for name in sets:
        for item in read_davis_expressions(text / f"Davis17_{name}.txt", report, counts):
            expressions.setdefault(item[1], {}).setdefault(name, []).append(item)
    videos = _split_videos(davis, split)
    report.videos_listed = len(videos)
    known = set(videos)
    for other in DAVIS_SPLITS:
        if other != split and (davis / "ImageSets" / "2017" / f"{other}.txt").is_file():
            known.update(_split_videos(davis, other))
    stray = sorted(v for v in expressions if v not in known)
    if stray:
        report.rows_without_video = sum(len(x) for v in stray for x in expressions[v].values())
        report.notes.append(f"videos with expressions but not in ImageSets/2017: {len(stray)} "
                            f"(first: {stray[0]})")

    samples: list[RefSample] = []
    n_videos = 0
    for key in ("samples where the object is absent (mask_sum 0)",
                "duplicate expressions (same set, object and text) kept",
                "videos without expressions", "videos with non-contiguous object ids"):
        counts.setdefault(key, 0)
    for vid in videos:
        frame_dir = davis / "JPEGImages" / "480p" / vid
        if not frame_dir.is_dir():
            bad(frame_dir, f"video {vid} of ImageSets/2017/{split}.txt has no frame folder "
                           f"{frame_dir}")
            continue
        if vid not in expressions:
            counts["videos without expressions"] += 1
            continue
        frames: list[tuple[int, int, int, np.ndarray]] = []
        stems = sorted((n, p.stem) for p in frame_dir.glob("*.jpg")
                       if (n := frame_number(p.stem)) is not None)
        for number, stem in stems:
            jpg = frame_dir / f"{stem}.jpg"
            problem = jpeg_problem(jpg)
            if problem:
                bad(jpg, problem)
                continue
            png = ann_dir / vid / f"{stem}.png"
            if not png.is_file():
                bad(png, f"frame {jpg} has no annotation {png} (DAVIS-2017 annotates every frame)")
                continue
            counted = palette_counts(png, bad)
            if counted is not None:
                frames.append((number, *counted))
        if not frames:
            bad(frame_dir, f"video {vid} has no usable frame")
            continue
        present = {int(k) for *_, c in frames for k in np.nonzero(c)[0] if 0 < k < 255}
        if present and sorted(present) != list(range(1, max(present) + 1)):
            counts["videos with non-contiguous object ids"] += 1
        n_before = len(samples)
        for name in sets:
            seen: set[tuple[int, str]] = set()
            for line_no, _, obj, query in expressions[vid].get(name, []):
                if obj not in present:
                    path = text / f"Davis17_{name}.txt"
                    bad(path, f"{path} line {line_no} names object {obj} of video {vid}, "
                        f"which has no pixels in any annotation of {ann_dir / vid} (objects "
                        f"there: {sorted(present)})")
                    continue
                if (obj, query) in seen:
                    counts["duplicate expressions (same set, object and text) kept"] += 1
                seen.add((obj, query))
                for number, height, width, c in frames:
                    mask_sum = int(c[obj])
                    if mask_sum == 0:
                        counts["samples where the object is absent (mask_sum 0)"] += 1
                    samples.append(RefSample("davis", split, vid, number, obj, query, height,
                                             width, mask_sum, expression=f"{name}-{line_no}"))
        if len(samples) > n_before:
            n_videos += 1
    report.videos[split] = n_videos
    report.samples[split] = len(samples)
    report.notes.append(f"expression sets: {', '.join(sets)}")
    report.notes.extend(f"{k}: {v}" for k, v in counts.items() if v or k.startswith("samples"))
    return samples, report


def _davis_dir(root: str | Path) -> Path:
    root = Path(root)
    return root / "DAVIS" if (root / "DAVIS").is_dir() else root


def davis_frame_path(root: str | Path, sample: RefSample) -> Path:
    """The JPEG of ``sample``."""
    return _davis_dir(root) / "JPEGImages" / "480p" / sample.video / f"{sample.frame:05d}.jpg"


def load_davis_mask(root: str | Path, sample: RefSample) -> np.ndarray:
    """The ground-truth mask of ``sample``: (H, W) uint8 0/1 at 480p."""
    davis = _davis_dir(root)
    ann = davis / "Annotations" / "480p"
    if not ann.is_dir():
        ann = davis / "Annotations_unsupervised" / "480p"
    if sample.instance is None:
        raise DataError(f"sample {sample.key} names no object")
    return object_mask(read_palette_png(ann / sample.video / f"{sample.frame:05d}.png"),
                       sample.instance)
