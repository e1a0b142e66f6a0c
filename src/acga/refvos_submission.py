"""The Ref-YouTube-VOS challenge submission: ``Annotations/<video>/<expression id>/<frame>.png``
(0/255 greyscale masks at the frame's size) in one zip file, written atomically (a temporary
file renamed into place, so an interrupted run leaves no half-written zip)."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .data.refvos import RefSample
from .errors import DataError
from .utils import atomic_write

__all__ = ["write_ytvos_submission", "submission_name"]

log = logging.getLogger(__name__)


def submission_name(sample: RefSample) -> str:
    """The path of ``sample``'s mask inside the zip."""
    return f"Annotations/{sample.video}/{sample.expression}/{sample.frame:05d}.png"


def _png(mask: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def write_ytvos_submission(masks: Iterable[tuple[RefSample, np.ndarray]], out: str | Path, *,
                           expected: Sequence[RefSample] | None = None) -> int:
    """Write ``(sample, mask)`` pairs into the zip ``out``; returns the number of masks.

    Args:
        masks: each sample's predicted (H, W) mask (non-zero = foreground) at the sample's
            ``height`` x ``width``.
        out: the zip file (replaced only once it is complete).
        expected: the samples the server expects (``index_ytvos(root, "valid")``); when given,
            a missing or unexpected mask is an error and nothing is written.

    Raises:
        DataError: a mask of the wrong size, a sample twice, or (with ``expected``) missing or
            unexpected samples.
    """
    out = Path(out)
    wanted = None if expected is None else {submission_name(s) for s in expected}
    seen: set[str] = set()
    with atomic_write(out, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for sample, mask in masks:
                name = submission_name(sample)
                if name in seen:
                    raise DataError(f"{name} given twice; each (video, expression, frame) once")
                mask = np.asarray(mask)
                if mask.shape != (sample.height, sample.width):
                    raise DataError(f"mask for {name} is {mask.shape[0]}x{mask.shape[1]} but the "
                                    f"frame is {sample.height}x{sample.width}; resize it to the "
                                    "frame's size")
                if wanted is not None and name not in wanted:
                    raise DataError(f"{name} is not a sample of the split given as expected")
                seen.add(name)
                zf.writestr(name, _png(mask))
            if wanted is not None and wanted - seen:
                missing = sorted(wanted - seen)
                raise DataError(f"{len(missing)} masks missing from the submission (first: "
                                f"{missing[0]}); predict every listed frame of every expression")
    log.info("wrote %d masks to %s", len(seen), out)
    return len(seen)
