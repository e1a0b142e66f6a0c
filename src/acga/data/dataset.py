"""Samples -> tensors: the Dataset used by training and evaluation.

A dataset is a list of plain :class:`~acga.data.records.Sample` records (from the release
readers); this module maps each to tensors:

- ``visual``: the letterboxed clip (3, T, S, S) in [-1, 1] (``source: video``), or the cached
  Mixed_4e features (S*528, T', r1, r1) of every stream (``source: cache``);
- ``words`` (L, D) word vectors of the query (zero-padded), ``word_mask`` (L,) bool;
- ``mask`` (1, S, S) float: the letterboxed ground truth at Res3;
- ``index``: the sample's position, to find its record (and original-size mask) again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import Config
from ..errors import DataError
from .records import Sample

__all__ = ["SegmentationDataset", "RandomSamples", "index_samples", "load_mask",
           "REFVOS_DEFAULT_SPLIT"]

log = logging.getLogger(__name__)


REFVOS_DEFAULT_SPLIT = {"ytvos": "train", "davis": "train"}
"""The split ``index_samples`` reads for Ref-YouTube-VOS / Ref-DAVIS17 when none is given (the
annotated training frames: what ``acga extract`` and ``acga train`` use)."""


def index_samples(dataset: str, root: str | Path, split: str | None = None,
                  frames: str = "uniform", skip_bad: bool = False) -> list[Sample]:
    """The canonical sample list of a release (what ``acga data samples`` prints)."""
    if dataset == "a2d":
        from .a2d import index_a2d

        samples, report = index_a2d(root, split, skip_bad=skip_bad)
    elif dataset == "jhmdb":
        from .jhmdb import index_jhmdb

        samples, report = index_jhmdb(root, frames, skip_bad=skip_bad)
    elif dataset == "ytvos":
        from .ytvos import index_ytvos

        samples, report = index_ytvos(root, split or REFVOS_DEFAULT_SPLIT[dataset],
                                      skip_bad=skip_bad)
    elif dataset == "davis":
        from .davis import index_davis

        samples, report = index_davis(root, split or REFVOS_DEFAULT_SPLIT[dataset],
                                      skip_bad=skip_bad)
    else:
        raise DataError(f"unknown dataset {dataset!r}; use a2d, jhmdb, ytvos or davis")
    log.info("%s", report.summary())
    return samples


def load_mask(root: str | Path, sample: Sample) -> np.ndarray:
    """The ground-truth mask (H, W) uint8 at original resolution."""
    if sample.dataset == "a2d":
        from .a2d import load_a2d_mask

        return load_a2d_mask(root, sample)
    if sample.dataset == "ytvos":
        from .ytvos import load_ytvos_mask

        return load_ytvos_mask(root, sample)
    if sample.dataset == "davis":
        from .davis import load_davis_mask

        return load_davis_mask(root, sample)
    from .jhmdb import load_jhmdb_mask

    return load_jhmdb_mask(root, sample)


def _embed_queries(queries: Sequence[str], vectors, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(N, L, D) word vectors and (N, L) masks of the distinct queries; one warning line counts
    the truncated queries and the words without a vector."""
    from .text import embed_queries

    embedded = embed_queries(queries, vectors, cfg.model.num_words, word_dim=cfg.model.word_dim)
    if embedded.summary():
        log.warning("%s", embedded.summary())
    return embedded.words, embedded.mask


class RandomSamples(Dataset):
    """``n`` seeded random samples with the keys and shapes SegmentationDataset gives ``cfg``
    (a clip in [-1, 1], unit-normal word vectors, all words real, a mask with about
    ``foreground`` of its pixels set): for timing the trainer and for tests, held in memory."""

    def __init__(self, n: int, cfg: Config, *, seed: int = 0, foreground: float = 0.1):
        g = torch.Generator().manual_seed(seed)
        m = cfg.model
        self.items = [{
            "visual": torch.rand(3, m.clip_len, m.input_size, m.input_size, generator=g) * 2 - 1,
            "words": torch.randn(m.num_words, m.word_dim, generator=g),
            "word_mask": torch.ones(m.num_words, dtype=torch.bool),
            "mask": (torch.rand(1, m.input_size, m.input_size, generator=g) > 1 - foreground).float(),
            "index": torch.tensor(i),
        } for i in range(n)]
        self.size = m.input_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


class SegmentationDataset(Dataset):
    """Tensors for training and evaluation (see the module docstring).

    Args:
        samples: the records, in the canonical order.
        root: the dataset release root.
        cfg: the experiment config (model sizes, data source).
        vectors: word vectors (:func:`acga.data.word_vectors.load_word_vectors`).
        cache: a :class:`acga.data.features.FeatureCache` per stream (``source: cache``).
        preload: decode every clip once and keep it in memory (the small synthetic demo).
    """

    def __init__(self, samples: Sequence[Sample], root: str | Path, cfg: Config, vectors,
                 cache: Sequence | None = None, preload: bool = False):
        self.samples = list(samples)
        self.root = Path(root)
        self.cfg = cfg
        self.size = cfg.model.input_size
        self.source = cfg.data.source
        self.cache = list(cache) if cache is not None else None
        if self.source == "cache" and not self.cache:
            raise DataError("data.source is 'cache' but no feature cache was given; "
                            "run `acga extract` and set data.cache")
        queries = sorted({s.query for s in self.samples})
        self._query_index = {q: i for i, q in enumerate(queries)}
        self._words, self._word_masks = _embed_queries(queries, vectors, cfg)
        self._preloaded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if preload:
            self._preload()

    def __len__(self) -> int:
        return len(self.samples)

    def _load_visual_and_mask(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        from .transforms import letterbox, letterbox_mask

        sample = self.samples[i]
        mask = letterbox_mask(load_mask(self.root, sample), self.size)  # (S, S)
        if self.source == "cache":
            visual = np.concatenate([np.asarray(c.read(sample.key), dtype=np.float32)
                                     for c in self.cache], axis=0)
        else:
            from .video import read_clip

            clip = read_clip(self.root, sample.dataset, sample, self.cfg.model.clip_len)
            visual = letterbox(clip, self.size)  # (T, S, S, 3) uint8
        return visual, mask

    def _preload(self) -> None:
        """Decode and letterbox each video once, then cut every sample's clip from it."""
        if self.source != "video":
            for i in range(len(self.samples)):
                self._preloaded[i] = self._load_visual_and_mask(i)
            return
        from .transforms import letterbox, letterbox_mask
        from .video import open_frames, sample_clip_indices

        by_video: dict[tuple[str, str | None, str], list[int]] = {}
        for i, s in enumerate(self.samples):
            by_video.setdefault((s.dataset, s.split, s.video), []).append(i)
        n = self.cfg.model.clip_len
        for (dataset, split, video), indices in by_video.items():
            with open_frames(self.root, dataset, video, split) as frames:
                clips = {i: sample_clip_indices(frames, self.samples[i].frame, n) for i in indices}
                needed = sorted({t for c in clips.values() for t in c})
                boxed = dict(zip(needed, letterbox(frames.read(needed), self.size)))
            for i in indices:
                clip = np.stack([boxed[t] for t in clips[i]])
                self._preloaded[i] = (clip, letterbox_mask(load_mask(self.root, self.samples[i]),
                                                           self.size))

    def words(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        q = self._query_index[self.samples[i].query]
        return torch.from_numpy(self._words[q]), torch.from_numpy(self._word_masks[q])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        visual, mask = self._preloaded.get(i) or self._load_visual_and_mask(i)
        if self.source == "video":
            # (T, S, S, 3) uint8 -> (3, T, S, S) in [-1, 1] (I3D's RGB range)
            visual_t = torch.from_numpy(np.ascontiguousarray(visual)).permute(3, 0, 1, 2).float()
            visual_t = visual_t / 127.5 - 1.0
        else:
            visual_t = torch.from_numpy(visual)
        words, word_mask = self.words(i)
        return {
            "visual": visual_t,
            "words": words,
            "word_mask": word_mask,
            "mask": torch.from_numpy(np.asarray(mask, dtype=np.float32))[None],
            "index": torch.tensor(i),
        }

    def with_queries(self, queries: Sequence[str], vectors) -> "SegmentationDataset":
        """A copy whose sample i uses ``queries[i]`` (e.g. shuffled queries, to show that the
        model uses the language). Clips and masks are shared, not reloaded."""
        import copy
        import dataclasses

        other = copy.copy(self)
        other.samples = [dataclasses.replace(s, query=q) for s, q in zip(self.samples, queries)]
        qs = sorted(set(queries))
        other._query_index = {q: i for i, q in enumerate(qs)}
        other._words, other._word_masks = _embed_queries(qs, vectors, self.cfg)
        return other


def resolve_root(cfg: Config, root: str | Path | None = None, dataset: str | None = None) -> Path:
    """The dataset root: the argument, else ``data.root``, else env ACGA_A2D_ROOT/ACGA_JHMDB_ROOT."""
    import os

    dataset = dataset or cfg.data.dataset
    env = f"ACGA_{dataset.upper()}_ROOT"
    chosen = root or (cfg.data.root if dataset == cfg.data.dataset else "") or os.environ.get(env, "")
    if not chosen:
        raise DataError(f"no {dataset} root given: pass --root DIR, set data.root=DIR, or set {env}")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"{dataset} root {path} is not a folder; pass the folder holding the release")
    return path


def open_caches(cfg: Config, dataset: str | None = None) -> list:
    """The feature cache of each stream; ``data.cache`` may hold ``{modality}`` and ``{dataset}``."""
    from .features import FeatureCache

    if not cfg.data.cache:
        raise DataError("data.source is 'cache' but data.cache is empty; run `acga extract` and "
                        "pass data.cache=DIR (use {modality} in the path for rgb+flow)")
    modalities = ["rgb", "flow"] if cfg.model.modality == "rgb+flow" else [cfg.model.modality]
    if cfg.model.modality == "rgb+flow" and "{modality}" not in cfg.data.cache:
        raise DataError("model.modality is rgb+flow: data.cache must contain {modality}, e.g. "
                        "cache/a2d_{modality}")
    return [FeatureCache.open(cfg.data.cache.format(modality=m, dataset=dataset or cfg.data.dataset))
            for m in modalities]


def build_dataset(cfg: Config, split: str | None, *, root: str | Path | None = None,
                  dataset: str | None = None, vectors=None, preload: bool = False,
                  samples: Sequence[Sample] | None = None,
                  skip_bad: bool = False) -> SegmentationDataset:
    """The dataset of a config's split (``split`` None for JHMDB); ``skip_bad``: skip (and
    count) the bad files the reader finds instead of stopping."""
    from .text import candidate_words
    from .word_vectors import load_word_vectors

    dataset = dataset or cfg.data.dataset
    root = resolve_root(cfg, root, dataset)
    if samples is None:
        samples = index_samples(dataset, root, split, frames=cfg.data.jhmdb_frames,
                                skip_bad=skip_bad)
    if not samples:
        raise DataError(f"{dataset} root {root} has no samples for split {split!r}")
    if vectors is None:  # keep only the words these queries can ask for (GoogleNews is 3.6 GB)
        vectors = load_word_vectors(cfg.data.word_vectors,
                                    vocab=candidate_words(s.query for s in samples))
    cache = open_caches(cfg, dataset) if cfg.data.source == "cache" else None
    return SegmentationDataset(samples, root, cfg, vectors, cache=cache, preload=preload)
