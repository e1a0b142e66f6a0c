"""A run folder's files: which of them ``fit`` writes, the guard against training over an
earlier run, and the JSON Lines log (cut back to the checkpoint on resume)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import AcgaError

__all__ = ["JsonlLog", "run_outputs", "prepare_run_folder"]

log = logging.getLogger(__name__)


class JsonlLog:
    """Append-only JSON Lines log (one record per step or epoch)."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = path, enabled

    def write(self, record: dict) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, epoch: int, global_step: int) -> None:
    """On resume, drop log records past the checkpoint so the log matches the weights."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if (rec["kind"] == "step" and rec["global_step"] <= global_step) or \
                (rec["kind"] == "epoch" and rec["epoch"] < epoch):
            keep.append(line)
    path.write_text("".join(line + "\n" for line in keep))


def run_outputs(out_dir: str | Path) -> list[Path]:
    """The files ``fit`` writes that exist in ``out_dir``: config.json, log.jsonl,
    last.safetensors, epoch_<k>.safetensors (nothing else: a user's or ``acga eval``'s files are
    not among them)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    named = [out_dir / n for n in ("config.json", "log.jsonl", "last.safetensors")]
    epochs = sorted(p for p in out_dir.glob("epoch_*.safetensors")
                    if p.name[len("epoch_"):-len(".safetensors")].isdigit())
    return [p for p in named if p.is_file()] + [p for p in epochs if p.is_file()]


def prepare_run_folder(out_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to train over an earlier run, or clear it (``overwrite``).

    An earlier run (a log or a checkpoint in ``out_dir``) is continued with ``resume``, or
    replaced with ``overwrite``, which deletes only :func:`run_outputs`; with neither, an
    :class:`AcgaError` names the folder and both flags. Call it holding the folder's lock.
    """
    out_dir = Path(out_dir)
    if resume and overwrite:
        raise AcgaError("--resume and --overwrite contradict each other: --resume continues the "
                        f"run in {out_dir}, --overwrite deletes it; pass one")
    if out_dir.exists() and not out_dir.is_dir():
        raise AcgaError(f"run folder {out_dir} is a file; pass a folder with --out")
    found = run_outputs(out_dir)
    earlier = [p for p in found if p.name != "config.json"]  # config.json alone: nothing trained
    last = out_dir / "last.safetensors"
    epochs = [p for p in earlier if p.name.startswith("epoch_")]
    if resume and not last.exists() and epochs:  # starting over would replace them
        raise AcgaError(f"--resume: {last} does not exist, but {out_dir} holds checkpoints of an "
                        f"earlier run ({', '.join(p.name for p in epochs[:3])}); pass --overwrite "
                        "to start it again from scratch")
    if resume or not earlier:
        return
    if not overwrite:
        raise AcgaError(f"run folder {out_dir} already holds a run ("
                        f"{', '.join(p.name for p in earlier[:3])}"
                        f"{f' and {len(earlier) - 3} more' if len(earlier) > 3 else ''}); pass "
                        "--resume to continue it, --overwrite to replace it, or another --out")
    for p in found:
        p.unlink()
    log.warning("--overwrite: deleted %d file(s) of the earlier run in %s", len(found), out_dir)
