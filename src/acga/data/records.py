"""The sample record: one (annotated frame, instance with a query) pair, and its JSON Lines form.

``acga data samples`` prints these records; training and evaluation enumerate exactly the same
list, so what it prints is what they use (docs/data.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import IO, Iterable, Iterator

__all__ = ["Sample", "SAMPLE_KEYS", "write_jsonl", "read_jsonl"]

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
