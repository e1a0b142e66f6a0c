"""Run ACGA over your own video: one or more sentences -> masks, an overlay video, attention.

:meth:`Segmenter.segment` streams the video, never holding it whole:

1. :class:`acga.data.video_decode.VideoStream` decodes every frame upright, in display order,
   with its presentation time (``frames.csv``, reused for the overlay video, so a variable
   frame rate stays in sync).
2. :class:`acga.sliding_window.SlidingWindows` runs the model on a ``clip_len``-frame window
   centred on every ``every``-th frame, letterboxed to the model's input; every other frame
   takes the mask of its nearest centre; at most ``clip_len + every + 1`` frames are held.
3. A frame's mask is ``sigmoid(response) > 0.5 max`` (:func:`acga.postprocess.response_to_mask`)
   mapped back to the frame by the exact inverse of the letterbox. Outputs are written as
   frames are finalised.

Outputs (through :class:`acga.staging.StagedFolder`: in a temporary folder beside ``out_dir``,
moved to ``out_dir`` at the end, so an error, Ctrl-C or SIGTERM leaves nothing behind; into an
earlier output, only the files that output's ``segment.json`` lists are replaced)::

    out_dir/masks/<query index>/<frame:05d>.png   0/255 masks at the displayed frame size;
                                                  query index 0-based (order of the queries),
                                                  frame number 1-based (as in A2D's pngs320H)
    out_dir/overlay.mp4                           H.264, masks in one colour per query + text
    out_dir/contact_sheet.png                     a few frames with their overlays
    out_dir/attention/q<i>_words.png              (attention=True) VGLA word weights of regions
    out_dir/attention/q<i>_pixels.png             (attention=True) LGVA map of a query point
    out_dir/frames.csv                            frame number, presentation time (s)
    out_dir/segment.json                          what was run, sizes, counts, warnings
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .data.video_decode import DecodedFrame, VideoStream
from .errors import CheckpointError, DataError
from .segment_output import SegmentOutput, staged_output
from .sliding_window import SlidingWindows, nearest_centre
from .visualize import PALETTE
from .visualize_attention import AttentionPicker

__all__ = ["Segmenter", "SegmentResult", "QueryInfo", "load_segment_model", "default_checkpoint",
           "prepare_queries", "window_masks"]

log = logging.getLogger(__name__)

DEMO_DIR_ENV = "ACGA_DEMO_DIR"
"""Environment variable naming the `acga demo` output folder (default ``./acga-demo``)."""


# ------------------------------------------------------------------------------------ results


@dataclass
class QueryInfo:
    """One query as the model sees it."""

    text: str
    tokens: list[str]
    """The tokens embedded (after truncation to ``num_words``)."""
    n_tokens: int
    """Tokens before truncation."""
    oov: list[str]
    """Embedded tokens without a word vector."""


@dataclass
class SegmentResult:
    """What :func:`segment_video` wrote and measured."""

    out_dir: Path
    video: Path
    num_frames: int
    height: int
    """Displayed frame size (after the rotation of the display matrix)."""
    width: int
    rotation: int
    """Degrees counter-clockwise the decoded frames were turned to display them upright."""
    fps: float | None
    queries: list[QueryInfo]
    every: int
    clip_len: int
    windows: int
    """Model runs (window centres)."""
    mask_dirs: list[Path]
    overlay_video: Path
    contact_sheet: Path
    attention: list[Path] = field(default_factory=list)
    peak_frames_held: int = 0
    """Most frames held at once (ring buffer of letterboxed frames + originals waiting)."""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("out_dir", "video", "overlay_video", "contact_sheet"):
            d[key] = str(d[key])
        d["mask_dirs"] = [str(p) for p in self.mask_dirs]
        d["attention"] = [str(p) for p in self.attention]
        return d


# ------------------------------------------------------------------------------- the model


def default_checkpoint() -> Path:
    """The most recent `acga demo` model: ``$ACGA_DEMO_DIR/run/last.safetensors`` (default
    ``./acga-demo/run/last.safetensors``)."""
    root = os.environ.get(DEMO_DIR_ENV) or "acga-demo"
    return Path(root).expanduser() / "run" / "last.safetensors"


def load_segment_model(checkpoint: str | os.PathLike | None = None, device: str = "cpu"):
    """Build the model a checkpoint was trained with and load its weights.

    Args:
        checkpoint: a ``.safetensors`` checkpoint of ``acga train`` / ``acga demo``; ``None``:
            :func:`default_checkpoint` (said on the log).

    Returns:
        ``(model in eval mode, Config, checkpoint path)``.

    Raises:
        CheckpointError: no checkpoint (says to run ``acga demo`` or pass one), a damaged file,
            a stored config that does not describe the stored tensors, or a model ``segment``
            cannot feed (optical-flow inputs).
    """
    from .checkpoint import load_checkpoint, load_model_weights
    from .config import config_from_dict
    from .errors import ConfigError
    from .models import build_model

    if checkpoint is None:
        path = default_checkpoint()
        if not path.is_file():
            raise CheckpointError(
                f"no --checkpoint given and no demo model at {path}: run `acga demo` first "
                f"(or `acga demo --quick`; set {DEMO_DIR_ENV} if it wrote elsewhere), or pass "
                "--checkpoint FILE")
        log.warning("no --checkpoint given: using the `acga demo` model %s", path)
    else:
        path = Path(checkpoint).expanduser()
    ckpt = load_checkpoint(path)
    try:
        cfg = config_from_dict(ckpt.config, source=f"{path} (stored config)")
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path} stores a config this version cannot read: {exc}; "
                              "use a checkpoint written by this acga version") from None
    # the decoder's implementations compute the same function; inference takes the fast one
    # whichever the checkpoint was trained with (acga.models.decoder)
    cfg = replace(cfg, model=replace(cfg.model, decoder_impl="fast"))
    if cfg.model.modality != "rgb":
        raise CheckpointError(f"checkpoint {path} is a model.modality = {cfg.model.modality!r} "
                              "model; acga segment feeds RGB only: use an RGB checkpoint")
    try:
        model = build_model(cfg)
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path}: cannot build its model: {exc}") from None
    load_model_weights(model, ckpt)
    return model.eval().to(device), cfg, path


def _random_i3d():
    """The weight-less fallback I3D: the same network ``acga extract`` uses without weights."""
    from .models.i3d import build_random_i3d

    return build_random_i3d("rgb", final_endpoint="Mixed_4e")


# ----------------------------------------------------------------------------------- queries


def prepare_queries(queries: Sequence[str], vectors, num_words: int, word_dim: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, list[QueryInfo], list[str]]:
    """Embed the queries (:func:`acga.data.text.embed_queries`); refuse empty ones and word
    vectors of another dimension than ``word_dim``; warn on truncation and unknown words.

    Returns:
        ``(words (Q, L, D) float32, word_mask (Q, L) bool, infos, warnings)``.

    Raises:
        DataError: no query, an empty query, a query without a single word, or a dimension that
            is not ``word_dim``.
    """
    from .data.text import embed_queries

    embedded = embed_queries(queries, vectors, num_words, word_dim=word_dim, require_words=True)
    infos = [QueryInfo(r.text, r.tokens, r.n_tokens, r.oov) for r in embedded.reports]
    return embedded.words, embedded.mask, infos, embedded.warnings


# ---------------------------------------------------------------------------------- the run


class Segmenter:
    """A model ready to segment videos: the network, its config, the word vectors and, for
    models on I3D features, the I3D up to Mixed_4e.

    Args:
        model: a model built from ``cfg`` with its weights loaded (:func:`load_segment_model`).
        cfg: the :class:`acga.config.Config` the model was built from.
        vectors: word vectors (:func:`acga.data.word_vectors.load_word_vectors`) of
            ``cfg.model.word_dim``.
        i3d: for ``backbone: i3d_cached`` models, the I3D up to Mixed_4e (``None``: random
            weights, warned at each run: the masks are then meaningless).
        checkpoint: where the weights came from (said by the CLI).
    """

    def __init__(self, model: torch.nn.Module, cfg, vectors, i3d: torch.nn.Module | None = None,
                 *, checkpoint: Path | None = None):
        self.model, self.cfg, self.vectors, self.checkpoint = model, cfg, vectors, checkpoint
        self.device = next(model.parameters()).device
        self.i3d = None if i3d is None else i3d.eval().to(self.device)
        # no weights for a model on I3D features: a random I3D, warned at every run
        self.random_i3d = i3d is None and cfg.model.backbone == "i3d_cached"

    @classmethod
    def load(cls, checkpoint: str | os.PathLike | None = None,
             word_vectors: str | os.PathLike | None = None,
             i3d_weights: str | os.PathLike | None = None, device: str = "cpu", *,
             queries: Sequence[str] | None = None) -> "Segmenter":
        """Build the model of ``checkpoint`` (:func:`load_segment_model`), its word vectors
        (``None``: those it was trained with) and the I3D from ``i3d_weights`` (models on I3D
        features; ignored, warned, for the others). ``queries``: read only the words these
        need (a 3 GB word2vec file then loads in seconds); other queries' words are unknown."""
        from .data.text import candidate_words
        from .data.word_vectors import load_word_vectors

        model, cfg, path = load_segment_model(checkpoint, device=device)
        source = word_vectors or cfg.data.word_vectors or "builtin"
        vocab = None if queries is None else candidate_words(queries)
        vectors = load_word_vectors(source, vocab=vocab)
        i3d = None
        if cfg.model.backbone == "i3d_cached" and i3d_weights:
            from .models.i3d import build_i3d

            i3d = build_i3d("rgb", final_endpoint="Mixed_4e", weights=i3d_weights)
        elif i3d_weights:
            log.warning("--i3d-weights ignored: the model (backbone %s) reads pixels directly",
                        cfg.model.backbone)
        return cls(model, cfg, vectors, i3d, checkpoint=path)

    def ensure_i3d(self, warn) -> None:
        """For a model on I3D features loaded without I3D weights: ``warn`` that the masks are
        meaningless and build the random I3D (once)."""
        if self.random_i3d:
            warn("no I3D weights given: the model's Mixed_4e input comes from a RANDOMLY "
                 "initialised I3D, so the masks are meaningless; pass --i3d-weights rgb_imagenet.pt")
            if self.i3d is None:
                self.i3d = _random_i3d().to(self.device)

    def forward_window(self, clip: np.ndarray, words: torch.Tensor, word_mask: torch.Tensor, *,
                       attention: bool = False) -> dict:
        """The model's outputs on one window for Q queries.

        Args:
            clip: (N, S, S, 3) uint8, the letterboxed frames of the window.
            words, word_mask: (Q, L, D) and (Q, L) on the model's device.
            attention: also return the attention maps.
        """
        with torch.inference_mode():
            from .models.i3d import preprocess_rgb

            x = preprocess_rgb(clip)[None].to(self.device)  # (1, 3, N, S, S) in [-1, 1]
            if self.cfg.model.backbone == "i3d_cached":
                x = self.i3d(x)  # (1, 528, N/4, S/16, S/16)
            return self.model(x.expand(len(words), *x.shape[1:]), words, word_mask,
                              return_attention=attention)

    def segment(self, video_path: str | os.PathLike, queries: Sequence[str],
                out_dir: str | os.PathLike, *, every: int = 1, attention: bool = False,
                progress: bool = True, attention_frame: int | None = None) -> SegmentResult:
        """Segment ``queries`` in a video and write masks, an overlay video and a contact sheet.

        Args:
            video_path: any video PyAV can read.
            queries: one or more sentences (one mask folder and one overlay colour each).
            out_dir: output folder (created; in an earlier ``acga segment`` output, the files it
                wrote are replaced and other files are kept).
            every: run the model on every ``every``-th frame; other frames take the nearest mask.
            attention: also draw the VGLA word weights and the LGVA map (supplement Figure 1).
            progress: show a tqdm bar on a terminal's stderr, else log a line a minute.
            attention_frame: 1-based frame to draw the attention of (its nearest window);
                default: the window with the highest response peak, per query.

        Returns:
            A :class:`SegmentResult`. Nothing is left in ``out_dir`` when an error is raised.
        """
        t0 = time.perf_counter()
        video_path, out_dir = Path(video_path), Path(out_dir)
        m = self.cfg.model
        if every < 1:
            raise DataError(f"--every {every} must be at least 1")
        if attention_frame is not None and attention_frame < 1:
            raise DataError(f"--attention-frame {attention_frame} must be a 1-based frame number >= 1")
        words, word_mask, infos, warnings = prepare_queries(list(queries), self.vectors, m.num_words,
                                                            m.word_dim)
        for w in warnings:
            log.warning("%s", w)

        def warn(msg: str) -> None:  # every warning reaches the log and segment.json
            log.warning("%s", msg)
            warnings.append(msg)

        self.ensure_i3d(warn)
        wanted = None if attention_frame is None else nearest_centre(attention_frame - 1, every)
        picker = AttentionPicker(len(infos), wanted) if attention else None
        with VideoStream(video_path) as video, staged_output(out_dir) as staged:
            output = SegmentOutput(staged.tmp, [i.text for i in infos],
                                   [PALETTE[i % len(PALETTE)] for i in range(len(infos))],
                                   video.rate, video.time_base)
            try:
                windows = self._run(video, warn, words, word_mask, every, picker, progress, output)
                _check_length(video, warn)
            except BaseException:
                output.abort()
                raise
            output.close()
            attention_files: list[Path] = []
            if picker is not None:
                names, missing = picker.write(
                    staged.tmp / "attention", [i.text for i in infos], [i.tokens for i in infos],
                    num_words=m.num_words, r1=m.resolutions[0], input_size=m.input_size,
                    height=video.height, width=video.width,
                    model=f"model {m.name!r} ({self.cfg.name})")
                attention_files = [out_dir / "attention" / n for n in names]
                for msg in missing:
                    warn(msg)
                used = picker.frame(0)
                if attention_frame is not None and used is not None and used + 1 != attention_frame:
                    why = (f"the video has {video.count} frames" if attention_frame > video.count
                           else f"the model ran on every {every}-th frame (--every {every})")
                    warn(f"--attention-frame {attention_frame}: {why}; the attention is drawn at "
                         f"frame {used + 1}, the nearest the model ran on")
            result = SegmentResult(
                out_dir=out_dir, video=video_path, num_frames=video.count, height=video.height,
                width=video.width, rotation=video.rotation or 0, fps=video.fps, queries=infos,
                every=every, clip_len=m.clip_len, windows=windows.windows,
                mask_dirs=[out_dir / "masks" / str(q) for q in range(len(infos))],
                overlay_video=out_dir / "overlay.mp4", contact_sheet=out_dir / "contact_sheet.png",
                attention=attention_files, peak_frames_held=windows.peak,
                seconds=time.perf_counter() - t0, warnings=warnings)
            summary = result.to_json()
            summary["model"] = {"name": m.name, "backbone": m.backbone, "input_size": m.input_size,
                                "config": self.cfg.name}
            output.write_marker(staged, summary)
            video.close()
            staged.publish()
        return result

    def _run(self, video: VideoStream, warn, words: np.ndarray, word_mask: np.ndarray,
             every: int, picker, progress: bool, output: SegmentOutput) -> SlidingWindows:
        """The model over windows of ``video``; each frame handed to ``output`` once final."""
        from .data.transforms import letterbox
        from .utils import progress_bar

        m = self.cfg.model
        words_t = torch.from_numpy(words).to(self.device)
        mask_t = torch.from_numpy(word_mask).to(self.device)

        def predict(centre: int, clip: np.ndarray, frame: DecodedFrame | None) -> np.ndarray:
            out = self.forward_window(clip, words_t, mask_t, attention=picker is not None)
            response = out["final"].float()  # (Q, 1, S, S)
            if picker is not None and frame is not None:
                picker.consider(centre, frame.rgb, out, response)
            return window_masks(response, video.height, video.width)  # (Q, H, W)

        windows = SlidingWindows(video.frames(warn), m.clip_len, every, predict=predict,
                                 prepare=lambda f: letterbox(f.rgb[None], m.input_size)[0])
        bar = progress_bar(total=video.total, unit="frame", desc="segment", enabled=progress,
                           leave=False)
        try:
            for _, frame, masks in windows:
                output.add(frame, masks)
                bar.update(1)
        finally:
            bar.close()
        return windows


def window_masks(response: torch.Tensor, height: int, width: int) -> np.ndarray:
    """(Q, H, W) bool masks of a window's (Q, 1, S, S) response at the frame's size:
    :func:`acga.postprocess.response_to_mask`, then the inverse of the letterbox."""
    from .postprocess import response_to_mask, undo_letterbox

    square = response_to_mask(response)[:, 0].cpu().numpy()  # (Q, S, S) bool
    return undo_letterbox(square, height, width)  # (Q, H, W)


def _check_length(video: VideoStream, warn) -> None:
    """Refuse a video without frames; warn when it has fewer than its container states."""
    stated = video.stated_length()
    if video.count == 0:
        raise DataError(f"video {video.path} has no frames (an empty or broken file"
                        f"{f'; its container states {stated[1]}' if stated else ''}); "
                        "pass a video with at least one frame")
    if stated and video.count < stated[0]:
        warn(f"{video.path} is truncated or damaged: decoded {video.count} frames but its "
             f"container states {stated[1]}; the masks and the overlay cover only the first "
             f"{video.count} frames")
