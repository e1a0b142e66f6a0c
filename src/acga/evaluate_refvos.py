"""Evaluate a model on Ref-YouTube-VOS / Ref-DAVIS17: a mask for every frame of every video, per
expression (docs/data.md, "Training and evaluating on Ref-YouTube-VOS / Ref-DAVIS17").

ACGA predicts one frame from the clip centred on it. Here each video's frames (those the reader
lists: every frame for Ref-DAVIS17, the listed frames for Ref-YouTube-VOS) run through
:class:`acga.sliding_window.SlidingWindows` exactly as in ``acga segment``: a ``clip_len``-frame
window centred on every ``every``-th frame (default 1: every frame is a centre), edge frames
repeated, letterboxed to the model's input; the other frames take the mask of their nearest
centre. All expressions of a video share each window (one I3D pass, Q queries). The window model
is the :class:`acga.segment.Segmenter`'s (:meth:`~acga.segment.Segmenter.forward_window`; I3D
runs on the fly for a model on I3D features, the frames feed ``small3d`` directly).

Then, for a split with annotations, J, F and J&F with the protocol of
``acga score --protocol davis`` (:func:`acga.metrics_davis.davis_record` per frame,
:func:`acga.metrics_davis.davis_protocol`), the predicted masks in the layout that command reads
(``OUT/masks_<dataset>/``, :func:`acga.data.refvos.expression_mask_path`) and one JSON line per
expression; for Ref-YouTube-VOS valid (no annotations) the challenge's submission zip
(:func:`acga.refvos_submission.write_ytvos_submission`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from .data.refvos import RefSample, expression_mask_path, write_mask_png
from .metrics_davis import DavisResult

__all__ = ["predict_refvos", "evaluate_refvos", "RefvosEvaluation", "masks_dir_name",
           "submission_name_for"]

log = logging.getLogger(__name__)

_MARKER = "masks.json"


def masks_dir_name(dataset: str) -> str:
    """The folder (under OUT) of the predicted masks: ``masks_<dataset>``."""
    return f"masks_{dataset}"


def submission_name_for(dataset: str, split: str) -> str:
    """The submission zip's file name under OUT: ``submission_<dataset>_<split>.zip``."""
    return f"submission_{dataset}_{split}.zip"


@dataclass
class RefvosEvaluation:
    """What :func:`evaluate_refvos` ran, measured and wrote: ``frames`` are the video frames run
    through the windows (each gets a mask per expression), ``masks`` the (expression, frame)
    masks predicted (one per sample), ``davis`` the J, F, J&F of an annotated split and
    ``outputs`` the files written under OUT (the metrics JSON aside)."""

    dataset: str
    split: str
    every: int
    videos: int = 0
    frames: int = 0
    outputs: list[str] = field(default_factory=list)
    masks: int = 0
    windows: int = 0
    seconds: float = 0.0
    davis: DavisResult | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("davis")
        out.update(seconds=round(self.seconds, 3),
                   frames_per_second=round(self.frames_per_second, 3))
        if self.davis is not None:
            out["davis"] = self.davis.to_dict()
        return out

    @property
    def frames_per_second(self) -> float:
        """Throughput: video frames (decode, windows, masks and their scoring) per second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _by_video(samples: Sequence[RefSample]) -> dict[tuple[str | None, str], list[RefSample]]:
    groups: dict[tuple[str | None, str], list[RefSample]] = {}
    for s in samples:
        groups.setdefault((s.split, s.video), []).append(s)
    return groups


def predict_refvos(segmenter, samples: Sequence[RefSample], root: str | Path, *, every: int = 1,
                   progress: bool = True, stats: RefvosEvaluation | None = None
                   ) -> Iterator[tuple[RefSample, np.ndarray]]:
    """``(sample, predicted (H, W) bool mask)`` for every sample, video by video.

    Args:
        segmenter: an :class:`acga.segment.Segmenter` (model, config, word vectors, I3D).
        samples: the samples of one split (``index_ytvos`` / ``index_davis``).
        root: the release root.
        every: K, frames between window centres (1: a window centred on every frame).
        stats: filled with the counts and the wall time as the iteration goes.
    """
    from .data.text import embed_queries
    from .data.transforms import letterbox
    from .data.video import JpegFrames, find_video_file
    from .segment import window_masks
    from .sliding_window import SlidingWindows
    from .utils import progress_bar

    m = segmenter.cfg.model
    stats = stats if stats is not None else RefvosEvaluation("", "", every)
    segmenter.ensure_i3d(lambda msg: log.warning("%s", msg))
    queries = sorted({s.query for s in samples})
    embedded = embed_queries(queries, segmenter.vectors, m.num_words, word_dim=m.word_dim)
    if embedded.summary():
        log.warning("%s", embedded.summary())
    row = {q: i for i, q in enumerate(queries)}
    words_all = torch.from_numpy(embedded.words).to(segmenter.device)  # (N, L, D)
    mask_all = torch.from_numpy(embedded.mask).to(segmenter.device)  # (N, L)
    groups = _by_video(samples)
    total = sum(len({s.frame for s in g}) for g in groups.values())
    bar = progress_bar(total=total, unit="frame", desc="eval", enabled=progress, leave=False)
    start = time.perf_counter()
    try:
        for (split, video), group in groups.items():
            # one query row per expression of the video, in first-seen order
            expressions = list(dict.fromkeys((s.expression, s.query) for s in group))
            slot = {e: q for q, (e, _) in enumerate(expressions)}
            pick = torch.tensor([row[q] for _, q in expressions], device=segmenter.device)
            words, word_mask = words_all[pick], mask_all[pick]  # (Q, L, D), (Q, L)
            by_frame: dict[int, list[RefSample]] = {}
            for s in group:
                by_frame.setdefault(s.frame, []).append(s)
            source = JpegFrames(find_video_file(root, group[0].dataset, video, split),
                                numbers=list(by_frame))
            with source:
                frames = (source.read([i])[0] for i in range(source.num_frames))  # (H, W, 3)

                def predict(centre, clip, frame, _words=words, _mask=word_mask,
                            _size=(group[0].height, group[0].width)):
                    out = segmenter.forward_window(clip, _words, _mask)
                    return window_masks(out["final"].float(), *_size)  # (Q, H, W)

                windows = SlidingWindows(frames, m.clip_len, every, predict=predict,
                                         prepare=lambda f: letterbox(f[None], m.input_size)[0])
                for index, _, masks in windows:  # masks (Q, H, W) bool
                    for s in by_frame[source.numbers[index]]:
                        stats.masks += 1
                        yield s, masks[slot[s.expression]]
                    stats.frames += 1
                    bar.update(1)
            stats.windows += windows.windows
            stats.videos += 1
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - start


def evaluate_refvos(segmenter, samples: Sequence[RefSample], root: str | Path, out: str | Path,
                    *, every: int = 1, progress: bool = True) -> RefvosEvaluation:
    """Predict every sample (:func:`predict_refvos`) and write the outputs (module docstring)
    under ``out``; the metrics JSON ``OUT/metrics_<dataset>.json`` is written last.

    Raises:
        DataError: a frame or annotation cannot be read (nothing is left half-written: the
            masks folder and the zip appear only when complete).
    """
    from .utils import atomic_write_json

    out = Path(out)
    first = samples[0]
    stats = RefvosEvaluation(first.dataset, str(first.split), every)
    annotated = all(s.mask_sum is not None for s in samples)
    predictions = predict_refvos(segmenter, samples, root, every=every, progress=progress,
                                 stats=stats)
    if annotated:
        _score_and_write(predictions, root, out, stats)
    else:
        from .refvos_submission import write_ytvos_submission

        zip_path = out / submission_name_for(stats.dataset, stats.split)
        write_ytvos_submission(predictions, zip_path, expected=samples)
        stats.outputs.append(zip_path.name)
    log.info("evaluated %d frames of %d videos (%d masks, %d windows, every %d) in %.1f s: "
             "%.2f frames/s", stats.frames, stats.videos, stats.masks, stats.windows, every,
             stats.seconds, stats.frames_per_second)
    atomic_write_json(out / f"metrics_{stats.dataset}.json", stats.to_dict())
    return stats


def _score_and_write(predictions, root: str | Path, out: Path, stats: RefvosEvaluation) -> None:
    """J/F of every prediction against its ground truth; the masks (staged folder) and the
    per-expression JSON lines."""
    from .data.dataset import load_mask
    from .metrics_davis import davis_protocol, davis_record, expression_means
    from .staging import StagedFolder
    from .utils import atomic_write

    with_sets = stats.dataset == "davis"  # paths <set>/<video>/<line>/<frame>.png
    records = []
    info: dict[tuple[str, str], dict] = {}
    name = masks_dir_name(stats.dataset)
    with StagedFolder(out / name, marker=_MARKER, what="`acga eval`", option="--out",
                      own_names=re.compile(r".+\.png$")) as staged:
        for sample, pred in predictions:
            rel = expression_mask_path(sample)
            write_mask_png(staged.tmp / rel, pred)
            record = davis_record(rel, pred, load_mask(root, sample), with_sets)
            records.append(record)
            info.setdefault(record[:2], {"video": sample.video, "expression": sample.expression,
                                         "object": sample.instance, "query": sample.query})
        files = staged.files()
        (staged.tmp / _MARKER).write_text(json.dumps({"files": files, "masks": len(files)}))
        staged.publish()
    stats.outputs.append(name)
    stats.davis = davis_protocol(records)
    rows_name = f"per_expression_{stats.dataset}.jsonl"
    with atomic_write(out / rows_name, "w") as handle:
        for key, (j, f, n) in expression_means(records).items():
            handle.write(json.dumps({**info[key], "set": key[0], "J": j, "F": f,
                                     "J&F": (j + f) / 2, "frames": n}) + "\n")
    stats.outputs.append(rows_name)
