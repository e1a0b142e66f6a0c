"""A2D-Sentences read from the files its publishers release (docs/data.md).

Expected tree under ``root``::

    Release/videoset.csv                       no header; 9 columns, the 9th = 0 train / 1 test
    Release/clips320H/<video>.mp4              (or Release/CLIPS320/, or Release/pngs320H/<video>/)
    text_annotations/a2d_annotation.txt        header video_id,instance_id,query
    text_annotations/a2d_missed_videos.txt     videos dropped from both splits
    text_annotations/a2d_annotation_with_instances/<video>/<frame:05d>.h5

The canonical enumeration (what ``acga data samples a2d`` prints, and what training and
evaluation use): videos in ``videoset.csv`` order, missed videos dropped first; within a video,
its text rows in file order, and for each row the h5 frames (ascending) that list the row's
instance. Quirks of the real files, each handled here:

- ``videoset.csv`` has no header; reading it with one silently loses the first video.
- The instance id ``1 (copy)`` (video T6bNPuKV-wY) is an annotation mistake: no sample.
- h5 ``instance`` ids are floats; ``reMask`` is stored transposed, (W, H) for a single instance
  and (N, W, H) for several; a frame may list an instance twice (the first is used) or hold more
  masks than instances (the trailing masks belong to none); all-zero masks are kept.

MTTR (``datasets/a2d_sentences``) enumerates the same pairs, with text rows in file order.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .records import A2D_COPY_ID, DataReport, Sample, missing_frames_message, normalize_query
from .release import csv_rows, read_text_table, release_entry, release_root

__all__ = ["index_a2d", "load_a2d_mask", "read_a2d_h5", "write_a2d_h5"]

log = logging.getLogger(__name__)

_SUBSETS = {0: "train", 1: "test"}
_H5_NAME = re.compile(r"^(\d+)\.h5$")
_HOLDING = "Release/ and text_annotations/"


# --------------------------------------------------------------------------- release files


def _read_videoset(path: Path) -> list[tuple[str, str, int | None]]:
    """(video, split, annotated frames stated) in file order. The file has no header and 9
    columns; the 8th counts the video's annotated frames (None when it is not a number)."""
    videos: list[tuple[str, str, int | None]] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 9:
                raise DataError(f"{path} line {line_no} has {len(row)} columns, expected 9 "
                                "(video id, label, start, end, height, width, frames, "
                                "annotated frames, subset)")
            subset_text = row[8].strip()
            try:
                subset = int(float(subset_text))
            except ValueError:
                subset = None
            if subset not in _SUBSETS:
                if line_no == 1 and not any(_is_number(x) for x in row[4:]):
                    # the release has no header; someone's copy may have gained one
                    log.warning("%s line 1 looks like a header (%s); skipping it", path,
                                ",".join(row))
                    continue
                raise DataError(f"{path} line {line_no}: subset {subset_text!r} is not 0 "
                                "(train) or 1 (test)")
            try:
                stated = int(float(row[7]))
            except ValueError:
                stated = None
            videos.append((row[0].strip(), _SUBSETS[subset], stated))
    if not videos:
        raise DataError(f"{path} lists no videos (the file is empty); it should hold one row "
                        "per video: restore it from the A2D release")
    return videos


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_missed(path: Path) -> set[str]:
    with open(path, encoding="utf-8-sig") as handle:
        return {line.strip() for line in handle if line.strip()}


def _read_annotations(path: Path, report: DataReport) -> dict[str, list[tuple[int, str]]]:
    """video -> [(instance id, query)] in file order; ``1 (copy)`` rows are dropped."""
    rows: dict[str, list[tuple[int, str]]] = {}
    columns = ("video_id", "instance_id", "query")
    for line_no, row in csv_rows(path, columns, "a2d_annotation.txt"):
        video, inst_text = row[0].strip(), row[1].strip()
        query = normalize_query(",".join(row[2:]))  # an unquoted comma splits the query
        if inst_text == A2D_COPY_ID:
            report.copy_rows_skipped += 1
            continue
        try:
            inst_float = float(inst_text)
        except ValueError:
            raise DataError(f"{path} line {line_no}: instance id {inst_text!r} is not a "
                            "number") from None
        if inst_float != int(inst_float):
            raise DataError(f"{path} line {line_no}: instance id {inst_text!r} is not an "
                            "integer")
        rows.setdefault(video, []).append((int(inst_float), query))
    return rows


def read_a2d_h5(path: str | Path, *, transpose: bool = True) -> tuple[list[int], np.ndarray]:
    """The instance ids and masks of one annotated frame.

    Args:
        path: the ``<frame:05d>.h5`` file.
        transpose: return (N, H, W) 0/1 masks; ``False`` returns the stored (N, W, H) array
            as is (enough for counting pixels, and cheaper).

    Returns:
        ids: the ``instance`` list as ints, in file order (may hold a duplicate);
        masks: (N, H, W) uint8 0/1, un-transposed, N >= len(set(ids)); the mask of id k is
        ``masks[ids.index(k)]`` (first occurrence); masks past the listed ids belong to none.

    Raises:
        DataError: the file cannot be read or is inconsistent.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "instance" not in f or "reMask" not in f:
                raise DataError(f"{path} lacks the 'instance' or 'reMask' dataset "
                                f"(has {sorted(f.keys())})")
            raw_ids = np.asarray(f["instance"][()], dtype=np.float64).ravel()
            raw_masks = np.asarray(f["reMask"][()])
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read HDF5 file {path}: {exc}") from exc
    if not np.all(np.isfinite(raw_ids)) or np.any(raw_ids != np.round(raw_ids)):
        raise DataError(f"{path}: instance ids {raw_ids.tolist()} are not integers")
    ids = [int(round(x)) for x in raw_ids]
    # stored transposed: (W, H) for one instance, (N, W, H) for several
    if raw_masks.ndim == 2:
        raw_masks = raw_masks[None]
    if raw_masks.ndim != 3:
        raise DataError(f"{path}: reMask has shape {raw_masks.shape}, expected (W, H) or "
                        "(N, W, H)")
    needed = max(ids.index(k) for k in set(ids)) + 1 if ids else 0
    if raw_masks.shape[0] < needed:
        raise DataError(f"{path}: lists instances {ids} but holds only {raw_masks.shape[0]} "
                        "masks")
    if transpose:
        return ids, np.ascontiguousarray((raw_masks != 0).transpose(0, 2, 1), dtype=np.uint8)
    return ids, raw_masks


def write_a2d_h5(path: str | Path, instances: list[int], masks: np.ndarray) -> None:
    """Write one annotated frame as the release stores it (what :func:`read_a2d_h5` reads):
    ``masks`` (N, H, W) 0/1 of ``instances``, ids as floats, masks transposed (a single
    instance's as (W, H)), boxes ``reBBox`` (4, N) x1 y1 x2 y2.

    The bytes are a pure function of the arguments (no HDF5 timestamps); the synthetic
    benchmark (``acga.data.synth``) writes its masks with it.
    """
    import h5py

    path = Path(path)
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


def _h5_frames(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _H5_NAME.match(p.name)))


def index_a2d(root: str | Path, split: str | None = None, *,
              skip_bad: bool = False) -> tuple[list[Sample], DataReport]:
    """The canonical A2D-Sentences sample list of ``split`` (None: train then test, interleaved
    in videoset.csv order), and a report of what was found.

    Args:
        root: the folder holding ``Release/`` and ``text_annotations/``.
        split: ``"train"``, ``"test"`` or ``None`` (both).
        skip_bad: skip (and report) frames whose h5 file cannot be read, instead of raising.
    """
    if split not in (None, "train", "test"):
        raise DataError(f"A2D split {split!r} is not train or test")
    root = release_root(root, "A2D", _HOLDING)
    videoset_path = release_entry(root, "Release/videoset.csv",
                                  "the video list: 9 columns, no header",
                                  dataset="A2D", holding=_HOLDING)
    ann_path = release_entry(root, "text_annotations/a2d_annotation.txt",
                             "the queries: video_id,instance_id,query",
                             dataset="A2D", holding=_HOLDING)
    missed_path = release_entry(root, "text_annotations/a2d_missed_videos.txt",
                                "the videos to drop; an empty file drops none",
                                dataset="A2D", holding=_HOLDING)
    masks_dir = release_entry(root, "text_annotations/a2d_annotation_with_instances",
                              "the <video>/<frame:05d>.h5 masks", dataset="A2D",
                              holding=_HOLDING, folder=True)

    report = DataReport(dataset="a2d", root=str(root))
    videoset = read_text_table(videoset_path, _read_videoset)
    missed = read_text_table(missed_path, _read_missed)
    rows = read_text_table(ann_path, _read_annotations, report)
    report.videos_listed = len(videoset)
    listed = {v for v, _, _ in videoset}
    report.rows_without_video = sum(len(r) for v, r in rows.items() if v not in listed)
    for name in (["train", "test"] if split is None else [split]):
        report.videos[name] = 0
        report.samples[name] = 0

    samples: list[Sample] = []
    for video, video_split, stated in videoset:
        if video in missed:
            report.missed_videos_dropped += 1
            continue
        if split is not None and video_split != split:
            continue
        report.videos[video_split] += 1
        video_rows = rows.get(video, [])
        # frame -> (ids in file order, {id: (mask_sum, H, W)})
        frames: list[tuple[int, list[int], dict[int, tuple[int, int, int]]]] = []
        h5_frames = _h5_frames(masks_dir / video)
        for frame in h5_frames:
            path = masks_dir / video / f"{frame:05d}.h5"
            try:
                ids, stored = read_a2d_h5(path, transpose=False)  # (N, W, H)
            except DataError as exc:
                if not skip_bad:
                    # train and eval have no --skip-bad; `acga data samples` lists them all
                    raise DataError(f"{exc}; re-download the file (`acga data samples a2d "
                                    f"{root} --skip-bad` lists every damaged file)") from exc
                log.warning("skipping %s: %s", path, exc)
                report.bad_files.append((str(path), str(exc)))
                continue
            stats = {}
            for k in dict.fromkeys(ids):  # unique, first occurrence wins
                m = stored[ids.index(k)]  # (W, H): a pixel count needs no transposition
                stats[k] = (int(np.count_nonzero(m)), int(m.shape[1]), int(m.shape[0]))
            if stored.shape[0] > len(set(ids)):
                log.debug("%s holds %d masks for %d instances; the trailing ones are unused",
                          path, stored.shape[0], len(set(ids)))
            frames.append((frame, ids, stats))

        queried = {inst for inst, _ in video_rows}
        if len(queried) < len(video_rows):
            # each repeated row still yields its own samples (with the same Sample.key)
            report.notes.append(f"{video}: {len(video_rows) - len(queried)} text rows repeat an "
                                "instance id")
        listed_ids = {k for _, _, stats in frames for k in stats}
        for inst, query in video_rows:
            if inst not in listed_ids:
                report.ids_without_mask.append((video, inst))
            for frame, _, stats in frames:
                if inst in stats:
                    mask_sum, height, width = stats[inst]
                    samples.append(Sample("a2d", video_split, video, frame, inst, query,
                                          height, width, mask_sum))
                    report.samples[video_split] += 1
        for frame, _, stats in frames:
            report.masks_without_query.extend((video, frame, k) for k in stats
                                              if k not in queried)
        if video_rows and stated is not None and len(h5_frames) < stated:
            # a missing h5 file takes its samples with it: at most one per text row
            absent = stated - len(h5_frames)
            report.missing_frames.append((str(masks_dir / video), len(h5_frames), stated,
                                          absent * len(video_rows)))
    if report.missing_frames:
        log.warning("%s", missing_frames_message(report.missing_frames))
    return samples, report


def load_a2d_mask(root: str | Path, sample: Sample) -> np.ndarray:
    """The ground-truth mask of ``sample``: (H, W) uint8 0/1 at original resolution."""
    path = (Path(root) / "text_annotations" / "a2d_annotation_with_instances" / sample.video
            / f"{sample.frame:05d}.h5")
    if not path.is_file():
        raise DataError(f"mask file {path} of sample {sample.key} does not exist; pass the A2D "
                        "root the samples were indexed from")
    ids, masks = read_a2d_h5(path)
    if sample.instance not in ids:
        raise DataError(f"{path} does not list instance {sample.instance} (it lists {ids})")
    return masks[ids.index(sample.instance)]
