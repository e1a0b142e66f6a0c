"""Merging the shard caches of ``acga extract --shard i/n`` into one cache (docs/extract.md):
their settings must agree; the entries are hard-linked (or copied) into one cache with one
manifest, resumably. Which clips each shard computes and when merging starts:
:mod:`acga.extract_shards`."""

from __future__ import annotations

import logging
import os
from typing import Sequence

from ..errors import DataError
from .features import FeatureCache

__all__ = ["merge_shards"]

log = logging.getLogger(__name__)


def merge_shards(out: str | os.PathLike, shard_paths: Sequence[str | os.PathLike], *,
                 copy: bool = False) -> FeatureCache:
    """Merge shard caches (same settings) into the cache ``out`` with one manifest.

    Files are hard-linked when possible (no extra disk), else copied (``copy=True`` forces
    copies). A key present in ``out`` or in an earlier shard is kept from there. ``out`` may
    already hold samples (merging is resumable). Returns ``out`` opened read-only.

    Raises:
        DataError: a shard is not a cache, or its settings differ from the first shard's (the
            message names the shard and the fields).
    """
    if not shard_paths:
        raise DataError("merge_shards needs at least one shard cache")
    shards = [FeatureCache.open(p) for p in shard_paths]
    settings = shards[0].settings
    for shard in shards[1:]:
        diff = shard.settings.differences(settings)
        if diff:
            raise DataError(f"shard {shard.path} has other settings than {shards[0].path} "
                            f"(shard != first): {'; '.join(diff)}")
    with FeatureCache.create(out, settings) as merged:
        for shard in shards:
            added = 0
            for key in shard.keys():
                if merged.has(key):
                    continue
                merged.adopt(key, shard, copy=copy)
                added += 1
            log.info("merged %d samples from %s", added, shard.path)
    return FeatureCache.open(out)
