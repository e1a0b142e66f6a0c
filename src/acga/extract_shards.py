"""Sharded extraction: which clips each shard of ``acga extract --shard i/n`` computes, where
its cache goes, and when the shards are merged (docs/extract.md).

The distinct (video, frame) clips of the canonical sample list, in order of first appearance
(:func:`group_clips`), are dealt round-robin: clip j goes to shard j % n, so the samples of one
clip never land in two shards. Shard i writes ``OUT.shard-i-of-n`` (:func:`shard_path`); the
shard that finds every shard complete merges them into ``OUT`` (:func:`auto_merge`), or
``acga extract --merge`` does (:func:`find_shards`, :func:`check_shards_complete`).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

from .data.feature_manifest import CacheSettings
from .data.feature_merge import merge_shards
from .data.features import FeatureCache
from .data.records import Sample
from .errors import DataError

__all__ = ["group_clips", "shard_path", "find_shards", "check_shards_complete", "auto_merge"]

log = logging.getLogger(__name__)

_SHARD_DIR = re.compile(r"^(?P<name>.+)\.shard-(?P<i>\d+)-of-(?P<n>\d+)$")


def group_clips(samples: Sequence[Sample]) -> list[list[Sample]]:
    """Samples grouped by (video, frame), groups in order of first appearance."""
    groups: dict[tuple[str, int], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.video, s.frame), []).append(s)
    return list(groups.values())


def shard_path(out: str | os.PathLike, index: int, count: int) -> Path:
    """The cache folder of shard ``index`` of ``count``: ``OUT.shard-i-of-n`` next to ``OUT``."""
    out = Path(out)
    return out.with_name(f"{out.name}.shard-{index}-of-{count}")


def auto_merge(out: Path, all_groups: list[list[Sample]], n: int,
               settings: CacheSettings) -> list[Path] | None:
    """Merge the n shards into ``out`` when every one is complete (returns the shard folders
    merged); else say what is left (returns None)."""
    paths = [shard_path(out, j, n) for j in range(n)]
    waiting = []
    for j, p in enumerate(paths):
        expected = [s.key for g in all_groups[j::n] for s in g]
        if not (p / "manifest.json").is_file():
            waiting.append(f"shard {j} (no cache yet)")
            continue
        cache = FeatureCache.open(p, expect=settings)
        left = sum(1 for k in expected if not cache.has(k))
        if left:
            waiting.append(f"shard {j} ({left} samples left)")
    if waiting:
        log.info("not merging yet: %s; the last shard to finish merges, or run `acga extract "
                 "--merge --out %s`", ", ".join(waiting), out)
        return None
    try:
        merge_shards(out, paths)
    except DataError as exc:  # e.g. another shard is merging right now
        log.warning("merging the shards into %s failed: %s; run `acga extract --merge --out %s`",
                    out, exc, out)
        return None
    log.info("merged %d shards into %s", n, out)
    return paths


def find_shards(out: str | os.PathLike) -> list[Path]:
    """The shard folders ``OUT.shard-i-of-n`` of ``out``, checked to be one complete set."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    found: dict[int, dict[int, Path]] = {}
    if parent.is_dir():
        for p in parent.iterdir():
            m = _SHARD_DIR.match(p.name)
            if m and m.group("name") == out.name and p.is_dir():
                found.setdefault(int(m.group("n")), {})[int(m.group("i"))] = p
    if not found:
        raise DataError(f"no shard folders {out.name}.shard-I-of-N next to {out}; run "
                        f"`acga extract --shard I/N --out {out}` first (same --out on every "
                        f"machine, then copy the folders together)")
    if len(found) > 1:
        raise DataError(f"shard folders of {out} come from different shard counts "
                        f"({', '.join(str(k) for k in sorted(found))}); keep one set and delete "
                        f"the others")
    (n, shards), = found.items()
    missing = [j for j in range(n) if j not in shards]
    if missing:
        raise DataError(f"shard {missing[0]} of {n} is missing: {shard_path(out, missing[0], n)} "
                        f"does not exist; run `acga extract --shard {missing[0]}/{n}` or copy "
                        f"it here")
    return [shards[j] for j in range(n)]




def check_shards_complete(paths: Sequence[Path], groups: list[list[Sample]]) -> None:
    """Raise a :class:`DataError` naming the first shard of ``paths`` that lacks samples of its
    clip groups (``groups[j::n]``)."""
    n = len(paths)
    for j, p in enumerate(paths):
        cache = FeatureCache.open(p)
        keys = [s.key for g in groups[j::n] for s in g]
        left = [k for k in keys if not cache.has(k)]
        if left:
            raise DataError(f"shard {p} lacks {len(left)} of its {len(keys)} samples (first: "
                            f"{left[0]}); finish it with `acga extract --shard {j}/{n}` "
                            f"before merging")
