"""What every release reader returns: the sample record (one annotated frame and instance with a
query) and its JSON Lines form, the :class:`DataReport` of what a reader found, and the one
normalisation of released text.

``acga data samples`` prints these records; training and evaluation enumerate exactly the same
list, so what it prints is what they use (docs/data.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import IO, Iterable, Iterator

__all__ = ["Sample", "SAMPLE_KEYS", "write_jsonl", "read_jsonl", "DataReport",
           "missing_frames_message", "normalize_query", "A2D_COPY_ID"]

# The instance id of an annotation mistake in A2D's text rows (video T6bNPuKV-wY): no sample;
# DataReport.copy_rows_skipped counts those rows.
A2D_COPY_ID = "1 (copy)"

SAMPLE_KEYS = ("dataset", "split", "video", "frame", "instance", "query", "height", "width", "mask_sum")


@dataclass(frozen=True)
class Sample:
    dataset: str
    """``a2d`` or ``jhmdb``."""
    split: str | None
    """``train`` / ``test`` for A2D; ``None`` for JHMDB (evaluation only)."""
    video: str
    frame: int
    """The 1-based frame number in the file name (``00025.png`` -> 25)."""
    instance: int | None
    """The A2D instance id as an int; ``None`` for JHMDB."""
    query: str
    """The released text with whitespace normalised (runs collapsed, ends stripped)."""
    height: int
    width: int
    """Size of the mask at original resolution."""
    mask_sum: int
    """Foreground pixel count of the mask."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> "Sample":
        return cls(**{k: data[k] for k in SAMPLE_KEYS})

    @property
    def key(self) -> str:
        """A unique, file-name-safe identifier of the sample."""
        inst = "" if self.instance is None else f"_i{self.instance}"
        return f"{self.video}_f{self.frame:05d}{inst}"


def write_jsonl(samples: Iterable[Sample], handle: IO[str]) -> int:
    n = 0
    for sample in samples:
        handle.write(sample.to_json() + "\n")
        n += 1
    return n


def read_jsonl(handle: IO[str]) -> Iterator[Sample]:
    for line in handle:
        if line.strip():
            yield Sample.from_dict(json.loads(line))


@dataclass
class DataReport:
    """What a release reader found: counts, and everything it had to skip.

    ``videos`` and ``samples`` are keyed by split (``train``/``test``; ``all`` for JHMDB).
    """

    dataset: str
    root: str
    videos: dict[str, int] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    videos_listed: int = 0
    """Videos in the release's list (A2D: rows of videoset.csv; JHMDB: annotation rows)."""
    missed_videos_dropped: int = 0
    copy_rows_skipped: int = 0
    rows_without_video: int = 0
    """Text rows whose video is not in the release's video list."""
    ids_without_mask: list[tuple[str, int]] = field(default_factory=list)
    """(video, instance): text rows whose instance is listed in no h5 frame of its video."""
    masks_without_query: list[tuple[str, int, int]] = field(default_factory=list)
    """(video, frame, instance): instances listed in an h5 frame that no text row refers to."""
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of files skipped with ``skip_bad``."""
    missing_frames: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(mask folder, h5 files found, annotated frames videoset.csv states, samples lost at
    most) of videos with text rows whose folder holds fewer h5 files than stated."""
    notes: list[str] = field(default_factory=list)

    @property
    def total_samples(self) -> int:
        return sum(self.samples.values())

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A few lines for humans (``acga data samples`` prints it to stderr)."""
        def per_split(counts: dict[str, int]) -> str:
            if list(counts) == ["all"]:
                return f"{counts['all']:,}"
            parts = [f"{k} {v:,}" for k, v in counts.items()]
            return ", ".join(parts) if parts else "none"

        lines = [f"{self.dataset} at {self.root}"]
        if self.dataset == "a2d":
            lines.append(f"videos: {self.videos_listed:,} in videoset.csv, "
                         f"{self.missed_videos_dropped:,} missed dropped; used: "
                         f"{per_split(self.videos)}")
        else:
            lines.append(f"videos: {per_split(self.videos)}")
        total = f" (total {self.total_samples:,})" if len(self.samples) > 1 else ""
        lines.append(f"samples: {per_split(self.samples)}{total}")
        if self.copy_rows_skipped:
            lines.append(f"text rows with instance id '{A2D_COPY_ID}' skipped: "
                         f"{self.copy_rows_skipped}")
        if self.rows_without_video:
            lines.append(f"text rows of videos not in the video list: {self.rows_without_video}")
        if self.dataset == "a2d":
            lines.append(f"instance ids in the CSV with no mask in any frame: "
                         f"{len(self.ids_without_mask)}"
                         + _examples(f"{v}#{i}" for v, i in self.ids_without_mask))
            lines.append(f"masks (instances in h5 frames) with no query: "
                         f"{len(self.masks_without_query)}"
                         + _examples(f"{v}/{f:05d}#{i}" for v, f, i in self.masks_without_query))
        lines.extend(self.notes)
        if self.missing_frames:
            lines.append(missing_frames_message(self.missing_frames))
        lines.append(f"bad files skipped: {len(self.bad_files)}")
        # reasons usually name the file already
        lines.extend(f"  {reason}" if path in reason else f"  {path}: {reason}"
                     for path, reason in self.bad_files)
        return "\n".join(lines)


def missing_frames_message(missing: list[tuple[str, int, int, int]]) -> str:
    """One line on annotated frames whose h5 file is missing (see DataReport.missing_frames)."""
    frames = sum(stated - found for _, found, stated, _ in missing)
    lost = sum(n for *_, n in missing)
    return (f"annotated frames missing: {frames} h5 file{'s' if frames != 1 else ''} in "
            f"{len(missing)} video{'s' if len(missing) != 1 else ''}"
            + _examples(f"{folder} has {found} of {stated}" for folder, found, stated, _ in missing)
            + f"; up to {lost} sample{'s' if lost != 1 else ''} lost (videoset.csv column 8 "
            "counts each video's annotated frames; re-download the missing files)")


def _examples(items: Iterable[str], n: int = 3) -> str:
    items = list(items)
    if not items:
        return ""
    more = f", ... ({len(items) - n} more)" if len(items) > n else ""
    return " (" + ", ".join(items[:n]) + more + ")"


def normalize_query(text: str) -> str:
    """The released text with whitespace runs collapsed and the ends stripped."""
    return " ".join(text.split())
