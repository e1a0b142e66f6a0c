"""Segment your own video from one or more sentences: masks, an overlay video, attention maps.

What :func:`segment_video` does, frame by frame, without ever holding the whole video:

1. Decode with PyAV in the decoder's output order (= display order); frame ``i`` (0-based) is
   the i-th frame out of the decoder, whatever the container's timestamps say, so variable frame
   rate and broken timestamps cannot reorder or drop frames. Each frame's presentation time is
   kept (``frames.csv``) and reused for the overlay video, so a variable-frame-rate video stays
   in sync. Phone videos store their orientation as a display matrix (side data): frames are
   rotated upright (``VideoFrame.rotation``) before anything else, so masks have the size the
   video is *shown* at.
2. Every ``every``-th frame (0, K, 2K, ...) is a window centre c: the model runs on the
   ``clip_len`` frames c - N//2 ... c + (N+1)//2 - 1, clamped to the video (edge frames repeat,
   as in training, :func:`acga.data.video.clip_indices`), letterboxed to the model's input.
   Every other frame takes the mask of its nearest centre (ties go to the earlier centre; frames
   after the last centre take the last one).
3. Streaming: letterboxed frames live in a ring buffer of ``clip_len`` frames; original frames
   wait in a queue only until the mask of their nearest centre is known (at most about
   ``every/2 + clip_len/2`` frames). Outputs are written as frames are finalised.
4. A frame's mask is ``sigmoid(response) > 0.5 max`` (:func:`acga.postprocess.response_to_mask`)
   mapped back to the frame by the exact inverse of the letterbox.

Outputs (in a temporary folder beside ``out_dir``, moved to ``out_dir`` at the end, so an
error, Ctrl-C or SIGTERM leaves nothing behind; into an earlier output, only the files that
output's ``segment.json`` lists are replaced)::

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

import collections
import contextlib
import csv
import json
import logging
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .errors import CheckpointError, DataError

__all__ = ["SegmentResult", "segment_video", "load_segment_model", "default_checkpoint",
           "prepare_queries", "nearest_centre", "DecodedFrame", "iter_video_frames"]

log = logging.getLogger(__name__)

DEMO_DIR_ENV = "ACGA_DEMO_DIR"
"""Environment variable naming the `acga demo` output folder (default ``./acga-demo``)."""

_THUMB_WIDTH = 320
_SHEET_FRAMES = 8
_MARKER = "segment.json"


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


# ------------------------------------------------------------------------------------- video


@dataclass
class DecodedFrame:
    index: int
    """0-based, in decoder output order."""
    rgb: np.ndarray
    """(H, W, 3) uint8, upright (display rotation applied)."""
    time: float | None
    """Presentation time in seconds (None when the stream has no timestamps)."""
    pts: int | None
    rotation: int


def _open_video(path: Path):
    import av

    if not path.exists():
        raise DataError(f"video {path} does not exist")
    if path.is_dir():
        raise DataError(f"video {path} is a folder; pass a video file (mp4, mov, avi, webm, ...)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DataError(f"cannot open {path} as a video ({exc}); pass a video file PyAV/FFmpeg "
                        "can read (mp4, mov, avi, mkv, webm, ...)") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{path} has no video stream (no frames were ever written to it, or it "
                        "is an audio or subtitle file); pass a video with at least one frame")
    return container


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame counter-clockwise by ``rotation`` degrees (multiple of 90)."""
    k = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def iter_video_frames(container, path: Path) -> Iterator[DecodedFrame]:
    """Decode every frame of the first video stream, upright, in decoder output order."""
    import av

    stream = container.streams.video[0]
    with contextlib.suppress(Exception):
        stream.thread_type = "AUTO"
    index = 0
    try:
        for frame in container.decode(stream):
            rotation = int(getattr(frame, "rotation", 0) or 0)
            rgb = _upright(frame.to_ndarray(format="rgb24"), rotation)
            t = frame.time
            yield DecodedFrame(index, rgb, None if t is None else float(t), frame.pts, rotation)
            index += 1
    except av.FFmpegError as exc:
        raise DataError(f"cannot decode {path} after {index} frames ({exc}); the file is "
                        "corrupt or truncated") from None


def _stated_length(container, stream, fps: float | None) -> tuple[int, str] | None:
    """(fewest frames the container's header implies, how it says so) or None if it is silent.

    An MP4's sample table counts its frames exactly. Otherwise the stated duration times the
    frame rate estimates the count; one frame, or 2%, of slack absorbs rounding and a variable
    frame rate.
    """
    if stream.frames:
        return int(stream.frames), f"{int(stream.frames)} frames"
    seconds = None
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / 1_000_000  # av.time_base: microseconds
    if not seconds or not fps:
        return None
    estimate = seconds * fps
    least = int(math.floor(estimate - max(1.0, 0.02 * estimate)))
    if least < 1:
        return None
    return least, f"a duration of {seconds:.2f} s (about {round(estimate)} frames at {fps:g} fps)"


# ------------------------------------------------------------------------------ output video


class _Mp4Writer:
    """H.264 in MP4 via PyAV, keeping the source's timestamps (variable frame rate survives).

    yuv420p needs even sides: an odd width or height is padded by one black pixel.
    """

    def __init__(self, path: Path, width: int, height: int, rate: Fraction | None,
                 time_base: Fraction | None):
        import av

        self.width, self.height = width + width % 2, height + height % 2
        self.rate = rate if rate and rate > 0 else Fraction(25)
        self.time_base = time_base or 1 / self.rate
        self.step = max(1, round(1 / (self.rate * self.time_base)))
        self.container = av.open(str(path), mode="w")
        codec = next((c for c in ("libx264", "h264", "libopenh264") if c in av.codecs_available),
                     None)
        if codec is None:
            log.warning("no H.264 encoder in this PyAV build: the overlay video is MPEG-4 part 2")
            codec = "mpeg4"
        options = {"crf": "20", "preset": "veryfast"} if codec == "libx264" else {}
        self.stream = self.container.add_stream(codec, rate=self.rate, options=options)
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = self.time_base
        self.stream.time_base = self.time_base
        self.first_pts: int | None = None
        self.last_pts: int | None = None
        self.frames = 0

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        import av

        if rgb.shape[0] != self.height or rgb.shape[1] != self.width:
            padded = np.zeros((self.height, self.width, 3), np.uint8)
            padded[:rgb.shape[0], :rgb.shape[1]] = rgb
            rgb = padded
        if pts is not None and self.first_pts is None:
            self.first_pts = pts
        out_pts = None if pts is None else pts - self.first_pts
        if out_pts is None or (self.last_pts is not None and out_pts <= self.last_pts):
            out_pts = 0 if self.last_pts is None else self.last_pts + self.step
        self.last_pts = out_pts
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = out_pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self, flush: bool = True) -> None:
        try:
            if flush:
                for packet in self.stream.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()


# ------------------------------------------------------------------------------------ helpers


def nearest_centre(frame: int, every: int, num_frames: int | None = None) -> int:
    """The window centre (a multiple of ``every``) nearest to 0-based ``frame``; ties go to the
    earlier centre; with ``num_frames`` known, a centre past the end falls back to the one before."""
    q, r = divmod(frame, every)
    centre = q * every if r <= every // 2 else (q + 1) * every
    if num_frames is not None and centre > num_frames - 1:
        centre = q * every
    return centre


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _wrap(text: str, width_px: int, draw: ImageDraw.ImageDraw, font) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width_px:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def draw_legend(rgb: np.ndarray, queries: Sequence[str], colors: Sequence[Sequence[int]]) -> np.ndarray:
    """Write each query (wrapped to the frame width) in a black box at the top-left, after a
    swatch of its mask colour."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    font = _font()
    y = 2
    swatch = 9
    for i, query in enumerate(queries):
        color = tuple(int(c) for c in colors[i % len(colors)][:3])
        lines = _wrap(query, max(20, rgb.shape[1] - swatch - 14), draw, font) or [""]
        for j, line in enumerate(lines):
            x = 4 + (swatch + 4)
            left, top, right, bottom = draw.textbbox((x, y), line, font=font)
            draw.rectangle((2, top - 2, right + 2, bottom + 2), fill=(0, 0, 0))
            if j == 0:
                draw.rectangle((4, top, 4 + swatch, top + swatch), fill=color)
            draw.text((x, y), line, fill=(255, 255, 255), font=font)
            y = bottom + 4
    return np.asarray(image, dtype=np.uint8).copy()


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    if w <= _THUMB_WIDTH:
        return rgb.copy()
    nh = max(1, round(h * _THUMB_WIDTH / w))
    return np.asarray(Image.fromarray(rgb).resize((_THUMB_WIDTH, nh), Image.BILINEAR))


def _prepare_out_dir(out_dir: Path) -> Path:
    """Refuse an existing folder that is not ours; return the temporary folder to write into.

    Temporary folders of earlier runs that were killed (their pid no longer runs) are removed.
    """
    from .runsafety import remove_stale_temporaries

    if out_dir.exists():
        if not out_dir.is_dir():
            raise DataError(f"output {out_dir} is a file; pass a folder with --out")
        contents = list(out_dir.iterdir())
        if contents and not (out_dir / _MARKER).is_file():
            raise DataError(f"output folder {out_dir} exists and is not an `acga segment` "
                            "output (no segment.json); choose another --out or empty it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir.parent, beside=out_dir.name)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


_OWN_NAME = re.compile(r"^(?:overlay\.mp4|contact_sheet\.png|frames\.csv|segment\.json|"
                       r"masks/\d+/\d{5,}\.png|attention/q\d+_(?:words|pixels)\.png)$")


def _files_under(folder: Path) -> list[str]:
    """Relative POSIX paths of the files under ``folder``, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() or p.is_symlink())


def _segment_files(out_dir: Path) -> set[str]:
    """The files of an earlier ``acga segment`` output in ``out_dir``: those its segment.json
    lists, and any with a name only segment writes (an interrupted replacement, or an output of
    a version without the list). Everything else in the folder is someone else's."""
    try:
        listed = json.loads((out_dir / _MARKER).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        listed = []
    owned = {rel for rel in listed if isinstance(rel, str) and not rel.startswith("/")
             and ".." not in rel.split("/") and ((out_dir / rel).is_file() or
                                                 (out_dir / rel).is_symlink())}
    owned.update(rel for rel in _files_under(out_dir) if _OWN_NAME.match(rel))
    return owned


def _publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished temporary folder's files to ``out_dir``.

    A new ``out_dir`` is the renamed temporary folder. In an earlier ``acga segment`` output,
    only that output's files are replaced (:func:`_segment_files`); a user's own files stay.
    A user's file where this run writes one is refused before anything changes.
    """
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    new = _files_under(tmp)
    owned = _segment_files(out_dir)
    clash = []
    for rel in new:
        target = out_dir / rel
        if (target.exists() or target.is_symlink()) and rel not in owned:
            clash.append(rel)
        clash.extend(parent.relative_to(out_dir).as_posix() for parent in target.parents
                     if parent != out_dir and out_dir in parent.parents and parent.exists()
                     and not parent.is_dir())
    if clash:
        raise DataError(f"output folder {out_dir}: {clash[0]} is not a file `acga segment` wrote "
                        "and this run would replace it; move it away or choose another --out")
    kept = [rel for rel in _files_under(out_dir) if rel not in owned]
    for rel in sorted(owned - {_MARKER}):
        with contextlib.suppress(FileNotFoundError):
            (out_dir / rel).unlink()
    folders = {parent for rel in owned for parent in (out_dir / rel).parents
               if out_dir in parent.parents}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty: a user's file is in it
            folder.rmdir()
    for rel in new:  # segment.json last: until it is replaced, the old list stays valid
        if rel != _MARKER:
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, out_dir / rel)
    os.replace(tmp / _MARKER, out_dir / _MARKER)
    shutil.rmtree(tmp, ignore_errors=True)
    if kept:
        log.info("kept %d file(s) in %s that `acga segment` did not write: %s", len(kept),
                 out_dir, ", ".join(kept[:3]) + (f" (+{len(kept) - 3} more)" if len(kept) > 3 else ""))


# ---------------------------------------------------------------------------------- the run


class _AttentionPick:
    """The window whose response is most confident for one query, with what the figures need."""

    def __init__(self):
        self.score = -math.inf
        self.data: dict[str, Any] | None = None


def segment_video(video_path: str | os.PathLike, queries: Sequence[str], model: torch.nn.Module,
                  cfg, vectors, out_dir: str | os.PathLike, *, every: int = 1,
                  attention: bool = False, progress: bool = True, i3d: torch.nn.Module | None = None,
                  attention_frame: int | None = None) -> SegmentResult:
    """Segment ``queries`` in a video and write masks, an overlay video and a contact sheet.

    Args:
        video_path: any video PyAV can read.
        queries: one or more sentences (one mask folder and one overlay colour each).
        model: a model built from ``cfg`` with its weights loaded (:func:`load_segment_model`).
        cfg: the :class:`acga.config.Config` the model was built from.
        vectors: word vectors (:func:`acga.data.word_vectors.load_word_vectors`) of ``cfg.model.word_dim``.
        out_dir: output folder (created; in an earlier ``acga segment`` output, the files it
            wrote are replaced and other files are kept).
        every: run the model on every ``every``-th frame; other frames take the nearest mask.
        attention: also draw the VGLA word weights and the LGVA map (supplement Figure 1).
        progress: show a tqdm bar on a terminal's stderr, else log a line a minute.
        i3d: for ``backbone: i3d_cached`` models, the I3D up to Mixed_4e (``None``: random
            weights, warned: the masks are then meaningless).
        attention_frame: 1-based frame to draw the attention of (its nearest window); default:
            the window with the highest response peak, per query.

    Returns:
        A :class:`SegmentResult`. Nothing is left in ``out_dir`` when an error is raised.
    """
    from .data.transforms import letterbox
    from .postprocess import response_to_mask, undo_letterbox
    from .utils import progress_bar
    from .visualize import PALETTE, contact_sheet, overlay

    t0 = time.perf_counter()
    video_path, out_dir = Path(video_path), Path(out_dir)
    m = cfg.model
    if every < 1:
        raise DataError(f"--every {every} must be at least 1")
    if attention_frame is not None and attention_frame < 1:
        raise DataError(f"--attention-frame {attention_frame} must be a 1-based frame number >= 1")
    words_np, mask_np, infos, warnings = prepare_queries(list(queries), vectors, m.num_words,
                                                         m.word_dim)
    for w in warnings:
        log.warning("%s", w)
    device = next(model.parameters()).device
    words = torch.from_numpy(words_np).to(device)
    word_mask = torch.from_numpy(mask_np).to(device)
    nq = len(infos)
    colors = [PALETTE[i % len(PALETTE)] for i in range(nq)]

    if m.backbone == "i3d_cached" and i3d is None:
        msg = ("no I3D weights given: the model's Mixed_4e input comes from a RANDOMLY "
               "initialised I3D, so the masks are meaningless; pass --i3d-weights rgb_imagenet.pt")
        log.warning("%s", msg)
        warnings.append(msg)
        i3d = _random_i3d()
    if i3d is not None:
        i3d = i3d.eval().to(device)

    def visual_input(clip: np.ndarray) -> torch.Tensor:
        from .models.i3d import preprocess_rgb

        x = preprocess_rgb(clip)[None].to(device)  # (1, 3, T, S, S) in [-1, 1]
        if m.backbone == "i3d_cached":
            x = i3d(x)  # (1, 528, T/4, S/16, S/16)
        return x.expand(nq, *x.shape[1:])

    container = _open_video(video_path)
    tmp: Path | None = None
    writer: _Mp4Writer | None = None
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else None
        total = stream.frames or None
        if not total and stream.duration and stream.time_base and fps:
            total = int(round(float(stream.duration * stream.time_base) * fps)) or None
        tmp = _prepare_out_dir(out_dir)
        mask_dirs = []
        for q in range(nq):
            (tmp / "masks" / str(q)).mkdir(parents=True)
            mask_dirs.append(out_dir / "masks" / str(q))
        frames_csv = open(tmp / "frames.csv", "w", newline="", encoding="utf-8")
        csv_writer = csv.writer(frames_csv)
        csv_writer.writerow(["frame", "time_s"])

        size, clip_len = m.input_size, m.clip_len
        before, after = clip_len // 2, (clip_len + 1) // 2 - 1
        ring: collections.deque = collections.deque(maxlen=clip_len)  # (index, (S, S, 3) uint8)
        pending: collections.deque = collections.deque()  # DecodedFrame waiting for its mask
        masks_at: dict[int, np.ndarray] = {}  # centre -> (Q, H, W) bool
        picks = [_AttentionPick() for _ in range(nq)]
        thumbs: list[tuple[int, np.ndarray]] = []
        thumb_stride = 1
        state = {"peak": 0, "windows": 0, "finalised": 0}
        height = width = rotation = None

        def run_window(centre: int, last_index: int) -> None:
            held = dict(ring)
            idx = [min(max(j, 0), last_index) for j in range(centre - before, centre - before + clip_len)]
            clip = np.stack([held[j] for j in idx])  # (T, S, S, 3)
            with torch.inference_mode():
                out = model(visual_input(clip), words, word_mask, return_attention=attention)
            response = out["final"].float()  # (Q, 1, S, S)
            square = response_to_mask(response)[:, 0].cpu().numpy()  # (Q, S, S) bool
            masks_at[centre] = undo_letterbox(square, height, width)  # (Q, H, W)
            state["windows"] += 1
            if attention:
                _consider_attention(centre, out, response)

        def _consider_attention(centre: int, out: dict, response: torch.Tensor) -> None:
            frame = next((f for f in pending if f.index == centre), None)
            if frame is None:
                return
            prob = torch.sigmoid(response[:, 0])  # (Q, S, S)
            for q in range(nq):
                if attention_frame is not None:
                    wanted = nearest_centre(attention_frame - 1, every)
                    score = -abs(centre - wanted)
                else:
                    score = float(prob[q].max())
                if score <= picks[q].score:
                    continue
                picks[q].score = score
                picks[q].data = {
                    "frame": centre, "rgb": frame.rgb.copy(), "prob": prob[q].cpu().numpy(),
                    "att_words": (out["att_words"][q].float().cpu().numpy()
                                  if "att_words" in out else None),
                    "att_pixels": (out["att_pixels"][q].float().cpu().numpy()
                                   if "att_pixels" in out else None)}

        def finalise(frame: DecodedFrame, masks: np.ndarray) -> None:
            nonlocal thumb_stride
            number = frame.index + 1
            for q in range(nq):
                Image.fromarray(masks[q].astype(np.uint8) * 255).save(
                    tmp / "masks" / str(q) / f"{number:05d}.png")
            shown = overlay(frame.rgb, list(masks), colors, alpha=0.5)
            shown = draw_legend(shown, [i.text for i in infos], colors)
            writer.write(shown, frame.pts)
            csv_writer.writerow([number, "" if frame.time is None else f"{frame.time:.6f}"])
            if frame.index % thumb_stride == 0:
                thumbs.append((number, _thumbnail(shown)))
                if len(thumbs) > 2 * _SHEET_FRAMES:  # keep the sheet's memory bounded
                    thumb_stride *= 2
                    thumbs[:] = [(n, t) for n, t in thumbs if (n - 1) % thumb_stride == 0]
            state["finalised"] += 1

        def flush(num_frames: int | None) -> None:
            while pending:
                target = nearest_centre(pending[0].index, every, num_frames)
                if target not in masks_at:
                    break
                finalise(pending.popleft(), masks_at[target])
            if pending:
                # the centre before the target too: once the length is known, a target past
                # the end falls back to it
                first = nearest_centre(pending[0].index, every, num_frames) - every
                for c in [c for c in masks_at if c < first]:
                    del masks_at[c]

        next_centre = 0
        last_index = -1
        bar = progress_bar(total=total, unit="frame", desc="segment", enabled=progress, leave=False)
        try:
            for frame in iter_video_frames(container, video_path):
                if height is None:
                    height, width = frame.rgb.shape[:2]
                    rotation = frame.rotation
                    if rotation:
                        log.info("%s is shown rotated by %d degrees: frames are turned upright "
                                 "(%dx%d)", video_path, rotation, width, height)
                    writer = _Mp4Writer(tmp / "overlay.mp4", width, height, rate,
                                        stream.time_base)
                elif frame.rgb.shape[:2] != (height, width):
                    if not any("changes size" in w for w in warnings):
                        msg = (f"{video_path} changes size at frame {frame.index + 1} "
                               f"({frame.rgb.shape[1]}x{frame.rgb.shape[0]} after {width}x"
                               f"{height}); later frames are resized to the first size")
                        log.warning("%s", msg)
                        warnings.append(msg)
                    frame.rgb = np.asarray(Image.fromarray(frame.rgb).resize((width, height),
                                                                             Image.BILINEAR))
                last_index = frame.index
                ring.append((frame.index, letterbox(frame.rgb[None], size)[0]))
                pending.append(frame)
                state["peak"] = max(state["peak"], len(ring) + len(pending))
                while next_centre + after <= last_index:
                    run_window(next_centre, last_index)
                    next_centre += every
                flush(None)
                bar.update(1)
            num_frames = last_index + 1
            stated = _stated_length(container, stream, fps)
            if num_frames == 0:
                raise DataError(f"video {video_path} has no frames (an empty or broken file"
                                f"{f'; its container states {stated[1]}' if stated else ''}); "
                                "pass a video with at least one frame")
            if stated and num_frames < stated[0]:
                msg = (f"{video_path} is truncated or damaged: decoded {num_frames} frames but "
                       f"its container states {stated[1]}; the masks and the overlay cover only "
                       f"the first {num_frames} frames")
                log.warning("%s", msg)
                warnings.append(msg)
            while next_centre <= num_frames - 1:
                run_window(next_centre, num_frames - 1)
                next_centre += every
            flush(num_frames)
        finally:
            bar.close()
        if pending:  # cannot happen: every frame has a centre once the length is known
            raise RuntimeError(f"{len(pending)} frames left without a mask")
        frames_csv.close()
        writer.close()
        writer = None

        # contact sheet: up to _SHEET_FRAMES frames spread over the video
        if len(thumbs) > _SHEET_FRAMES:
            pick = np.linspace(0, len(thumbs) - 1, _SHEET_FRAMES).round().astype(int)
            chosen = [thumbs[i] for i in pick]
        else:
            chosen = thumbs
        sheet = contact_sheet([t for _, t in chosen], ncols=4,
                              captions=[f"frame {n}" for n, _ in chosen])
        sheet.save(tmp / "contact_sheet.png")

        attention_files: list[Path] = []
        if attention:
            attention_files = _write_attention(tmp, out_dir, picks, infos, cfg, height, width,
                                               warnings)
        # after _write_attention, which logs each of its warnings
        if attention and attention_frame is not None and picks and picks[0].data is not None:
            used = picks[0].data["frame"] + 1
            if used != attention_frame:
                why = (f"the video has {num_frames} frames" if attention_frame > num_frames
                       else f"the model ran on every {every}-th frame (--every {every})")
                msg = (f"--attention-frame {attention_frame}: {why}; the attention is drawn at "
                       f"frame {used}, the nearest the model ran on")
                log.warning("%s", msg)
                warnings.append(msg)

        result = SegmentResult(
            out_dir=out_dir, video=video_path, num_frames=num_frames, height=height, width=width,
            rotation=rotation or 0, fps=fps, queries=infos, every=every, clip_len=clip_len,
            windows=state["windows"], mask_dirs=mask_dirs, overlay_video=out_dir / "overlay.mp4",
            contact_sheet=out_dir / "contact_sheet.png", attention=attention_files,
            peak_frames_held=state["peak"], seconds=time.perf_counter() - t0, warnings=warnings)
        summary = result.to_json()
        summary["model"] = {"name": m.name, "backbone": m.backbone, "input_size": size,
                            "config": cfg.name}
        # what this run wrote: a later run into out_dir replaces these and nothing else
        summary["files"] = sorted(set(_files_under(tmp)) | {_MARKER})
        (tmp / _MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        container.close()
        _publish(tmp, out_dir)
        tmp = None
        return result
    finally:
        container.close()
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close(flush=False)
        if tmp is not None:
            with contextlib.suppress(Exception):
                frames_csv.close()  # noqa: F821 - defined once tmp exists
            shutil.rmtree(tmp, ignore_errors=True)


def _write_attention(tmp: Path, out_dir: Path, picks: list[_AttentionPick], infos: list[QueryInfo],
                     cfg, height: int, width: int, warnings: list[str]) -> list[Path]:
    from .visualize_attention import draw_pixel_attention, draw_word_attention, pick_regions

    def warn(msg: str) -> None:  # every warning reaches the log, one line each
        log.warning("%s", msg)
        warnings.append(msg)

    m = cfg.model
    r1 = m.resolutions[0]
    (tmp / "attention").mkdir()
    files: list[Path] = []
    for q, (pick, info) in enumerate(zip(picks, infos)):
        d = pick.data
        if d is None:
            continue
        tokens = info.tokens + ["<0s>"] * (m.num_words - len(info.tokens))
        regions = pick_regions(d["prob"], r1, height, width)
        title = f"{info.text}  (frame {d['frame'] + 1})"
        if d["att_words"] is not None:
            image = draw_word_attention(d["rgb"], regions, d["att_words"], tokens, title,
                                        m.input_size)
            name = f"q{q}_words.png"
            image.save(tmp / "attention" / name)
            files.append(out_dir / "attention" / name)
        else:
            warn(f"model {m.name!r} ({cfg.name}) has no VGLA word attention: "
                 f"q{q}_words.png not drawn")
        if d["att_pixels"] is not None:
            point = regions[0]
            image = draw_pixel_attention(d["rgb"], d["att_pixels"][point.cell], point, title,
                                         r1, m.input_size)
            name = f"q{q}_pixels.png"
            image.save(tmp / "attention" / name)
            files.append(out_dir / "attention" / name)
        else:
            warn(f"model {m.name!r} ({cfg.name}) has no LGVA pixel attention: "
                 f"q{q}_pixels.png not drawn")
    return files
