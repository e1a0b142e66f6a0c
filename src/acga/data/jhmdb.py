"""JHMDB-Sentences read from the files its publishers release (docs/data.md).

Expected tree under ``root``::

    jhmdb_annotation.txt                                   header video_id,query
    Rename_Images/<action>/<video>/<frame:05d>.png         1-based
    puppet_mask/<action>/<video>/puppet_mask.mat           MAT v5, part_mask (H, W, T) 0/1

The mask of ``NNNNN.png`` is ``part_mask[:, :, NNNNN - 1]``; a video may have more PNGs than
masks, so only its first T = min(#PNGs, #masks) frames are usable. JHMDB-Sentences is used for
zero-shot evaluation only: samples have split ``None`` and instance ``None``.

Which frames are samples (``frames``):

- ``"uniform"`` (default; the paper "uniformly samples 3 frames"): the centres of three equal
  thirds of the usable frames, 0-based floor((2i + 1) T / 6) for i = 0, 1, 2;
- ``"all"``: every usable frame;
- a path to a JSON file in the format of MTTR's ``jhmdb_sentences_samples_metadata.json``
  (used by MTTR, ReferFormer, SgMg): a list of ``[video_id, frame_png_path, mask_mat_path,
  usable_frames, query]``; only the video id and the frame number (the PNG's file name) are
  taken from it, masks are read from ``root``.

Samples come in annotation-file order (JSON: videos in order of first appearance), frames
ascending within a video.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .records import DataReport, Sample, normalize_query
from .release import csv_rows, read_text_table, release_entry, release_root

__all__ = ["index_jhmdb", "load_jhmdb_mask", "read_puppet_mask", "write_puppet_mask",
           "uniform_frames"]

log = logging.getLogger(__name__)

_PNG_NAME = re.compile(r"^(\d+)\.png$")
_HOLDING = "jhmdb_annotation.txt, Rename_Images/ and puppet_mask/"


def uniform_frames(num_usable: int) -> list[int]:
    """1-based frame numbers of the three "uniform" samples of a video with T usable frames:
    0-based floor((2i + 1) T / 6), i = 0, 1, 2 (duplicates removed when T < 3)."""
    return sorted({(2 * i + 1) * num_usable // 6 + 1 for i in range(3)})


def _video_folders(top: Path) -> dict[str, Path]:
    """video -> <top>/<action>/<video> (video names are unique across actions)."""
    found: dict[str, Path] = {}
    for action in sorted(p for p in top.iterdir() if p.is_dir()):
        for video in action.iterdir():
            if video.is_dir():
                if video.name in found:
                    log.warning("video %s is in both %s and %s; using the first", video.name,
                                found[video.name], video)
                    continue
                found[video.name] = video
    return found


def _read_annotations(path: Path) -> list[tuple[str, str]]:
    rows = [(row[0].strip(), normalize_query(",".join(row[1:])))
            for _, row in csv_rows(path, ("video_id", "query"), "jhmdb_annotation.txt")]
    if not rows:
        raise DataError(f"{path} has a header but no rows (no video has a query); restore it "
                        "from the JHMDB-Sentences release")
    return rows


def read_puppet_mask(path: str | Path) -> np.ndarray:
    """``part_mask`` of a ``puppet_mask.mat``: (H, W, T) uint8 0/1.

    Raises:
        DataError: the file is missing, unreadable or has no (H, W, T) ``part_mask``.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"mask file {path} does not exist; expected "
                        "puppet_mask/<action>/<video>/puppet_mask.mat")
    try:
        data = scipy.io.loadmat(str(path), variable_names=["part_mask"])
        masks = data.get("part_mask")
    except NotImplementedError:
        # MATLAB v7.3 files are HDF5 and store arrays transposed: (T, W, H)
        masks = _read_mat73(path)
    except Exception as exc:  # scipy raises many types (ValueError, OSError, struct.error...)
        raise DataError(f"cannot read MAT file {path}: {exc}") from exc
    if masks is None:
        raise DataError(f"MAT file {path} has no 'part_mask' variable")
    masks = np.asarray(masks)
    if masks.ndim == 2:  # a one-frame video: MATLAB drops the trailing singleton axis
        masks = masks[:, :, None]
    if masks.ndim != 3:
        raise DataError(f"MAT file {path}: part_mask has shape {masks.shape}, expected (H, W, T)")
    return (masks != 0).astype(np.uint8)


def write_puppet_mask(path: str | Path, part_mask: np.ndarray) -> None:
    """Write ``{'part_mask': (H, W, T) uint8}`` as a MAT v5 file (what :func:`read_puppet_mask`
    reads), with a fixed header text: scipy writes the creation time there, which would make
    the bytes differ between runs. The synthetic benchmark (``acga.data.synth``) uses it."""
    import scipy.io

    path = Path(path)
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"part_mask": part_mask}, format="5", do_compression=True)
    data = bytearray(buf.getvalue())
    data[:116] = b"MATLAB 5.0 MAT-file, written by acga synth".ljust(116, b" ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def _read_mat73(path: Path) -> np.ndarray | None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "part_mask" not in f:
                return None
            return np.asarray(f["part_mask"][()]).transpose()  # (T, W, H) -> (H, W, T)
    except OSError as exc:
        raise DataError(f"cannot read MAT v7.3 file {path}: {exc}") from exc


def _count_pngs(folder: Path) -> int:
    numbers = sorted(int(m.group(1)) for p in folder.iterdir() if (m := _PNG_NAME.match(p.name)))
    # usable frames are 1..n without gaps: a gap would misalign frames and masks
    n = 0
    for n_expected, number in enumerate(numbers, start=1):
        if number != n_expected:
            log.warning("%s: frames are numbered with a gap at %05d.png; only %d frames used",
                        folder, n_expected, n)
            break
        n = n_expected
    return n


def _load_frame_list(path: Path) -> list[tuple[str, int, str]]:
    """(video, 1-based frame, query) from an MTTR-format samples-metadata JSON."""
    if not path.is_file():
        raise DataError(f"frame list {path} does not exist; pass --frames uniform, all, or a "
                        "JSON file like MTTR's jhmdb_sentences_samples_metadata.json")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"frame list {path} is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise DataError(f"frame list {path} must hold a JSON list of [video_id, frame_path, "
                        "mask_path, num_frames, query]")
    out = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, (list, tuple)) or len(entry) != 5:
            raise DataError(f"frame list {path} entry {n} is {entry!r}; expected [video_id, "
                            "frame_path, mask_path, num_frames, query]")
        video, frame_path, _, _, query = entry
        m = _PNG_NAME.match(Path(str(frame_path).replace("\\", "/")).name)
        if not m:
            raise DataError(f"frame list {path} entry {n}: frame path {frame_path!r} does not "
                            "end in <frame:05d>.png")
        out.append((str(video), int(m.group(1)), normalize_query(str(query))))
    return out


def index_jhmdb(root: str | Path, frames: str | Path = "uniform", *,
                skip_bad: bool = False) -> tuple[list[Sample], DataReport]:
    """The JHMDB-Sentences sample list and a report of what was found.

    Args:
        root: the folder holding ``jhmdb_annotation.txt``, ``Rename_Images/``, ``puppet_mask/``.
        frames: ``"uniform"``, ``"all"``, or the path of an MTTR-format JSON frame list.
        skip_bad: skip (and report) videos whose MAT file is corrupt or whose files are
            missing, instead of raising.
    """
    root = release_root(root, "JHMDB", _HOLDING)
    ann_path = release_entry(root, "jhmdb_annotation.txt", "the queries: video_id,query",
                             dataset="JHMDB", holding=_HOLDING)
    png_dirs = _video_folders(release_entry(root, "Rename_Images", "the <action>/<video>/ frames",
                                            dataset="JHMDB", holding=_HOLDING, folder=True))
    mask_dirs = _video_folders(release_entry(root, "puppet_mask",
                                             "the <action>/<video>/puppet_mask.mat masks",
                                             dataset="JHMDB", holding=_HOLDING, folder=True))
    rows = read_text_table(ann_path, _read_annotations)
    report = DataReport(dataset="jhmdb", root=str(root), videos_listed=len(rows))

    mode = str(frames)
    if mode in ("uniform", "all"):
        wanted: list[tuple[str, list[int] | None, str]] = [(v, None, q) for v, q in rows]
    else:
        listed: dict[str, tuple[list[int], str]] = {}
        for video, frame, query in _load_frame_list(Path(frames).expanduser()):
            listed.setdefault(video, ([], query))[0].append(frame)
        wanted = [(v, fr, q) for v, (fr, q) in listed.items()]
        known = {v for v, _ in rows}
        unknown = [v for v in listed if v not in known]
        if unknown:
            report.notes.append(f"videos in the frame list but not in jhmdb_annotation.txt: "
                                f"{len(unknown)} (first: {unknown[0]})")

    samples: list[Sample] = []
    n_videos = 0
    short_videos = 0

    def bad(path: Path, reason: str) -> None:
        if not skip_bad:
            raise DataError(f"{reason}; fix or re-download it (`acga data samples jhmdb {root} "
                            "--skip-bad` lists every damaged video)")
        log.warning("skipping %s: %s", path, reason)
        report.bad_files.append((str(path), reason))

    for video, chosen, query in wanted:
        png_dir = png_dirs.get(video)
        mat_dir = mask_dirs.get(video)
        if png_dir is None:
            bad(root / "Rename_Images" / "*" / video,
                f"JHMDB video {video} has no frame folder Rename_Images/<action>/{video}/")
            continue
        mat_path = (mat_dir if mat_dir is not None
                    else root / "puppet_mask" / png_dir.parent.name / video) / "puppet_mask.mat"
        try:
            masks = read_puppet_mask(mat_path)  # (H, W, T)
        except DataError as exc:
            bad(mat_path, str(exc))
            continue
        num_pngs = _count_pngs(png_dir)
        usable = min(num_pngs, masks.shape[2])
        if usable == 0:
            bad(png_dir, f"JHMDB video {video} has no usable frames ({num_pngs} PNGs in "
                         f"{png_dir}, {masks.shape[2]} masks in {mat_path})")
            continue
        if num_pngs > masks.shape[2]:
            short_videos += 1
        if mode == "uniform":
            numbers = uniform_frames(usable)
        elif mode == "all":
            numbers = list(range(1, usable + 1))
        else:
            numbers = sorted(chosen or [])
            past = [f for f in numbers if not 1 <= f <= usable]
            if past:
                raise DataError(f"frame list {frames} asks for frame {past[0]} of video {video}, "
                                f"which has {usable} usable frames (PNGs with a mask)")
        n_videos += 1
        height, width = int(masks.shape[0]), int(masks.shape[1])
        for f in numbers:
            samples.append(Sample("jhmdb", None, video, f, None, query, height, width,
                                  int(masks[:, :, f - 1].sum())))
    report.videos["all"] = n_videos
    report.samples["all"] = len(samples)
    if short_videos:
        report.notes.append(f"videos with more PNGs than masks (only the masked frames are "
                            f"usable): {short_videos}")
    report.notes.append(f"frames: {mode}")
    return samples, report


def _find_mat(root: Path, video: str) -> Path:
    top = root / "puppet_mask"
    if not top.is_dir():
        raise DataError(f"JHMDB root {root} has no puppet_mask/ folder; pass the folder holding "
                        "jhmdb_annotation.txt, Rename_Images/ and puppet_mask/")
    for action in sorted(top.iterdir()):
        path = action / video / "puppet_mask.mat"
        if path.is_file():
            return path
    raise DataError(f"JHMDB video {video} has no mask file {top}/<action>/{video}/puppet_mask.mat")


def load_jhmdb_mask(root: str | Path, sample: Sample) -> np.ndarray:
    """The ground-truth mask of ``sample``: (H, W) uint8 0/1 at original resolution."""
    path = _find_mat(Path(root), sample.video)
    masks = read_puppet_mask(path)  # (H, W, T)
    if not 1 <= sample.frame <= masks.shape[2]:
        raise DataError(f"{path} has {masks.shape[2]} masks; frame {sample.frame} of "
                        f"{sample.video} has none")
    return np.ascontiguousarray(masks[:, :, sample.frame - 1])
