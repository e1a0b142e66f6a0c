"""What the Ref-YouTube-VOS and Ref-DAVIS17 readers (``ytvos.py``, ``davis.py``) share: the
sample record with an expression id, palette-PNG and JPEG checks, and the bad-file policy.

A referring-VOS sample is one (expression, frame) pair: the expression names one object of the
video, and the frame's mask is that object's pixels in the frame's palette PNG (pixel value =
object id). Unlike A2D, several expressions may name the same object, so the record carries the
expression's id besides the object id (``instance``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
import numpy as np

from ..errors import DataError
from .records import DataReport, Sample

__all__ = ["RefSample", "read_palette_png", "palette_counts", "jpeg_problem", "object_mask",
           "BadFiles",
           "frame_number", "expression_mask_path", "write_mask_png", "write_expression_masks"]

log = logging.getLogger(__name__)

# the bytes a JPEG starts with (SOI) and the marker it ends with (EOI)
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"
_TAIL = 1024


@dataclass(frozen=True)
class RefSample(Sample):
    """A :class:`~acga.data.records.Sample` of a referring-VOS benchmark.

    ``frame`` is the number in the file name as released (``00035.jpg`` -> 35; these releases
    number frames from 0). ``instance`` is the object id (the palette index in the annotation
    PNGs), ``None`` where the expression file gives none (Ref-YouTube-VOS valid). ``mask_sum``
    is ``None`` where the split has no annotations (Ref-YouTube-VOS valid).
    """

    expression: str = ""
    """The expression's id: Ref-YouTube-VOS its key in meta_expressions.json ("0", "1", ...);
    Ref-DAVIS17 ``<set>-<line>``, the file's name without ``Davis17_`` and the 1-based line
    number (``annot1_full_video-57``)."""

    @property
    def key(self) -> str:
        inst = "" if self.instance is None else f"_i{self.instance}"
        return f"{self.video}_e{self.expression}_f{self.frame:05d}{inst}"

    @classmethod
    def from_dict(cls, data: dict) -> "RefSample":
        base = Sample.from_dict(data)
        return cls(**{**base.__dict__, "expression": str(data.get("expression", ""))})


def frame_number(stem: str) -> int | None:
    """``"00035"`` -> 35; None for a name that is not all digits."""
    return int(stem) if stem.isdigit() else None


def read_palette_png(path: str | Path) -> np.ndarray:
    """The palette indices of an annotation PNG: (H, W) uint8, pixel value = object id.

    Raises:
        DataError: the file is missing, unreadable, or not a palette ('P' mode) image (the object
        ids of these releases are palette indices; an RGB or greyscale re-save loses them).
    """
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode != "P":
                raise DataError(f"annotation {path} is a {mode!r} image, not a palette ('P') "
                                "PNG whose pixel values are object ids; use the released file "
                                "(a converted copy loses the ids)")
            arr = np.asarray(im)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"annotation {path} does not exist") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read annotation {path}: {exc}") from None
    return np.ascontiguousarray(arr, dtype=np.uint8)


def palette_counts(path: Path, bad: "BadFiles") -> tuple[int, int, np.ndarray] | None:
    """(height, width, pixel count of each palette index (256,)) of an annotation PNG, or None
    once ``bad`` has been told why it cannot be read."""
    try:
        labels = read_palette_png(path)
    except DataError as exc:
        bad(path, str(exc))
        return None
    return labels.shape[0], labels.shape[1], np.bincount(labels.ravel(), minlength=256)


def object_mask(labels: np.ndarray, obj_id: int) -> np.ndarray:
    """(H, W) uint8 0/1 mask of ``obj_id`` in a palette-index map."""
    return (labels == obj_id).astype(np.uint8)


def jpeg_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete JPEG, or None. Cheap: reads the first 2 and the last
    1,024 bytes; a JPEG starts with the SOI marker and a truncated one has lost its EOI
    marker (FF D9, which cannot occur inside the entropy-coded data)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(max(0, size - _TAIL))
            tail = handle.read()
    except FileNotFoundError:
        return f"frame {path} does not exist"
    except OSError as exc:
        return f"cannot read frame {path}: {exc}"
    if head != _SOI:
        return f"frame {path} is not a JPEG file (it does not start with FF D8)"
    if _EOI not in tail:
        return f"frame {path} is truncated (no JPEG end marker FF D9 in its last bytes)"
    return None


class BadFiles:
    """The ``skip_bad`` policy: raise a :class:`DataError` telling what to do, or log, record in
    the report and go on."""

    def __init__(self, report: DataReport, skip_bad: bool):
        self.report, self.skip_bad = report, skip_bad

    def __call__(self, path: Path | str, reason: str) -> None:
        if not self.skip_bad:
            raise DataError(f"{reason}; fix or re-download it, or pass --skip-bad to skip it")
        log.warning("skipping %s: %s", path, reason)
        self.report.bad_files.append((str(path), reason))



def expression_mask_path(sample: RefSample) -> str:
    """Where the mask of ``sample`` goes in a per-expression folder tree, the layout
    ``acga score --protocol davis`` reads: Ref-DAVIS17 ``<set>/<video>/<line>/<frame>.png``
    (the set first, so that sets are averaged), Ref-YouTube-VOS ``<video>/<expression>/<frame>.png``
    (the challenge's submission layout under ``Annotations/``)."""
    if sample.dataset == "davis":
        set_name, _, line = sample.expression.rpartition("-")
        return f"{set_name}/{sample.video}/{line}/{sample.frame:05d}.png"
    return f"{sample.video}/{sample.expression}/{sample.frame:05d}.png"


def write_mask_png(path: Path, mask: np.ndarray) -> None:
    """A 0/255 greyscale PNG of a mask (non-zero = foreground)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)).save(path)


def write_expression_masks(samples, load_mask, out: str | Path) -> int:
    """Write ``load_mask(sample)`` of every sample under ``out`` at
    :func:`expression_mask_path`; returns the number written."""
    out = Path(out)
    n = 0
    for sample in samples:
        write_mask_png(out / expression_mask_path(sample), load_mask(sample))
        n += 1
    return n
