"""The synthetic benchmark: A2D-Sentences and JHMDB-Sentences layouts, procedurally generated.

It is the embedded default (``acga demo``) and the test bed of every ablation. Videos, masks
and queries are written in exactly the released layouts (SPEC section 2), so the real readers
read them with no special case.

Content. The 7 A2D actor classes are distinct sprites (shape); the 8 actions are distinct
motions (trajectories over time). A sprite's appearance never depends on its action, and
positions are random, so a single frame does not reveal an action: only the clip does. Videos
hold 1 to 3 actors over a smooth texture that may drift. Three kinds of video:

- ``motion``: two actors of the same class, colour and size doing different actions; the query
  names class and action only, so only motion resolves it;
- ``class``: two actors of different classes doing the same action; only the class resolves it;
- ``free``: 1 to 3 random actors; queries use colour, size and position attributes.

Queries come from templates, of varied length; a few exceed 20 words. Everything is a function
of the seed: the same seed gives the same annotation bytes (CSV, text, HDF5 contents, MAT).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..utils import atomic_write_bytes, atomic_write_json

__all__ = ["ACTORS", "ACTIONS", "COLOURS", "SynthSummary", "generate_a2d", "generate_jhmdb",
           "render_video", "sprite_mask", "trajectory"]

log = logging.getLogger(__name__)

ACTORS = ("adult", "baby", "ball", "bird", "car", "cat", "dog")
ACTIONS = ("climbing", "crawling", "eating", "flying", "jumping", "rolling", "running", "walking")
COLOURS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (40, 80, 230),
           "yellow": (235, 210, 40), "white": (240, 240, 240), "purple": (150, 50, 190)}
SIZES = {"small": 0.16, "big": 0.24}  # sprite height as a fraction of the frame height
MARKER = "synth_meta.json"
NUM_FRAMES = 32


# ------------------------------------------------------------------------------------------
# sprites and motions


def sprite_mask(actor: str, height: int) -> np.ndarray:
    """The (h, w) bool silhouette of an actor class, ``height`` pixels tall."""
    h = max(6, int(height))
    w = {"adult": 0.5, "baby": 0.8, "ball": 1.0, "bird": 1.3, "car": 1.8, "cat": 1.2,
         "dog": 1.6}[actor]
    w = max(6, int(round(h * w)))
    y, x = np.mgrid[0:h, 0:w]
    yn, xn = (y + 0.5) / h, (x + 0.5) / w  # (0, 1) coordinates

    def ellipse(cx, cy, rx, ry):
        return ((xn - cx) / rx) ** 2 + ((yn - cy) / ry) ** 2 <= 1

    def box(x0, y0, x1, y1):
        return (xn >= x0) & (xn <= x1) & (yn >= y0) & (yn <= y1)

    if actor == "adult":  # head on a tall body with legs
        m = ellipse(0.5, 0.12, 0.3, 0.12) | box(0.2, 0.22, 0.8, 0.62) | box(0.2, 0.62, 0.42, 1) \
            | box(0.58, 0.62, 0.8, 1)
    elif actor == "baby":  # big head, small round body
        m = ellipse(0.5, 0.3, 0.32, 0.3) | ellipse(0.5, 0.75, 0.45, 0.25)
    elif actor == "ball":
        m = ellipse(0.5, 0.5, 0.5, 0.5)
    elif actor == "bird":  # body and two wings (a V)
        m = ellipse(0.5, 0.55, 0.22, 0.25) | ((np.abs(yn - (0.2 + 0.6 * np.abs(xn - 0.5))) < 0.12)
                                             & (yn < 0.7))
    elif actor == "car":  # body, cabin, wheels
        m = box(0, 0.4, 1, 0.8) | box(0.25, 0.1, 0.75, 0.4) | ellipse(0.22, 0.85, 0.12, 0.15) \
            | ellipse(0.78, 0.85, 0.12, 0.15)
    elif actor == "cat":  # round body, head with two ears
        ears = ((yn < 0.3) & (np.abs(xn - 0.2) < 0.3 * (0.3 - yn) / 0.3 * 0.5 + 0.02)) | \
               ((yn < 0.3) & (np.abs(xn - 0.45) < 0.3 * (0.3 - yn) / 0.3 * 0.5 + 0.02))
        m = ellipse(0.33, 0.4, 0.3, 0.25) | ellipse(0.6, 0.72, 0.4, 0.28) | ears
    elif actor == "dog":  # long body, head, four legs, tail
        m = box(0.15, 0.3, 0.8, 0.65) | ellipse(0.85, 0.28, 0.15, 0.2) | box(0.18, 0.65, 0.28, 1) \
            | box(0.35, 0.65, 0.45, 1) | box(0.55, 0.65, 0.65, 1) | box(0.7, 0.65, 0.8, 1) \
            | box(0, 0.2, 0.15, 0.32)
    else:
        raise DataError(f"unknown actor class {actor!r}; use one of {', '.join(ACTORS)}")
    return m


def trajectory(action: str, n: int, frame_h: int, frame_w: int, rng: np.random.Generator
               ) -> np.ndarray:
    """(n, 2) float offsets (dy, dx) of an action's motion, starting at (0, 0).

    Speeds scale with the frame height so the motions look alike at every size."""
    s = frame_h / 96.0
    t = np.arange(n, dtype=np.float64)
    direction = rng.choice([-1.0, 1.0])
    phase = rng.uniform(0, 2 * np.pi)
    dy = np.zeros(n)
    dx = np.zeros(n)
    if action == "walking":  # steady horizontal, slow
        dx = direction * 0.9 * s * t
    elif action == "running":  # steady horizontal, fast
        dx = direction * 2.4 * s * t
    elif action == "crawling":  # very slow horizontal with a small wobble
        dx = direction * 0.35 * s * t
        dy = 0.8 * s * np.sin(t * 0.9 + phase)
    elif action == "climbing":  # steady upward
        dy = -1.0 * s * t
    elif action == "jumping":  # vertical bounces
        dy = -9.0 * s * np.abs(np.sin(t * np.pi / 8 + phase))
    elif action == "flying":  # horizontal drift with large up-down waves
        dx = direction * 1.2 * s * t
        dy = 7.0 * s * np.sin(t * np.pi / 6 + phase)
    elif action == "rolling":  # horizontal, medium speed, small fast bumps
        dx = direction * 1.6 * s * t
        dy = 1.2 * s * np.abs(np.sin(t * np.pi / 2 + phase))
    elif action == "eating":  # stays in place, small quick shakes
        dx = 1.2 * s * np.sin(t * 1.7 + phase)
    else:
        raise DataError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    return np.stack([dy - dy[0], dx - dx[0]], axis=1)


@dataclass
class Actor:
    instance: int
    actor: str
    action: str
    colour: str
    size: str
    y0: float = 0.0
    x0: float = 0.0
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def position(self, t: int) -> tuple[int, int]:
        dy, dx = self.path[t]
        return int(round(self.y0 + dy)), int(round(self.x0 + dx))


def _place(actor: Actor, sprite: np.ndarray, frame_h: int, frame_w: int, n: int,
           rng: np.random.Generator) -> None:
    """Pick a start so the whole trajectory keeps the sprite inside the frame."""
    sh, sw = sprite.shape
    ys, xs = actor.path[:, 0], actor.path[:, 1]
    lo_y, hi_y = -ys.min(), frame_h - sh - ys.max()
    lo_x, hi_x = -xs.min(), frame_w - sw - xs.max()
    if hi_x < lo_x:  # too fast for the frame: reverse half-way (still the same motion speed)
        half = n // 2
        actor.path[half:, 1] = 2 * actor.path[half, 1] - actor.path[half:, 1]
        xs = actor.path[:, 1]
        lo_x, hi_x = -xs.min(), frame_w - sw - xs.max()
    if hi_y < lo_y:
        actor.path[:, 0] *= max(0.0, (frame_h - sh) / max(1e-6, ys.max() - ys.min()))
        ys = actor.path[:, 0]
        lo_y, hi_y = -ys.min(), frame_h - sh - ys.max()
    actor.y0 = rng.uniform(lo_y, max(lo_y, hi_y))
    actor.x0 = rng.uniform(lo_x, max(lo_x, hi_x))


def _background(h: int, w: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, h, w, 3) uint8 smooth texture, drifting slowly in some videos."""
    from PIL import Image

    pad = n
    base = rng.uniform(60, 170, size=(6, 8, 3)).astype(np.uint8)
    big = np.asarray(Image.fromarray(base).resize((w + 2 * pad, h + 2 * pad), Image.BILINEAR),
                     dtype=np.float32)
    noise = rng.normal(0, 6, size=big.shape[:2])[..., None]
    big = np.clip(big + noise, 0, 255).astype(np.uint8)
    vy, vx = (rng.uniform(-0.4, 0.4, size=2) if rng.random() < 0.5 else (0.0, 0.0))
    frames = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        oy, ox = int(round(pad + vy * t)), int(round(pad + vx * t))
        frames[t] = big[oy:oy + h, ox:ox + w]
    return frames


def render_video(actors: list[Actor], h: int, w: int, n: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Frames (n, h, w, 3) uint8 and visible masks (n, len(actors), h, w) bool.

    Later actors occlude earlier ones; masks hold the visible pixels only."""
    frames = _background(h, w, n, rng)
    masks = np.zeros((n, len(actors), h, w), bool)
    sprites = [sprite_mask(a.actor, SIZES[a.size] * h) for a in actors]
    shade = [np.clip(np.array(COLOURS[a.colour], np.float32)[None, None] *
                     (0.8 + 0.2 * np.linspace(1, 0, s.shape[0])[:, None, None]), 0, 255).astype(np.uint8)
             for a, s in zip(actors, sprites)]
    for t in range(n):
        for k, (a, s) in enumerate(zip(actors, sprites)):
            y, x = a.position(t)
            sh, sw = s.shape
            y0, x0, y1, x1 = max(0, y), max(0, x), min(h, y + sh), min(w, x + sw)
            if y1 <= y0 or x1 <= x0:
                continue
            part = s[y0 - y:y1 - y, x0 - x:x1 - x]
            region = frames[t, y0:y1, x0:x1]
            region[part] = np.broadcast_to(shade[k][y0 - y:y1 - y], region.shape)[part]
            masks[t, :k, y0:y1, x0:x1] &= ~part  # occludes the earlier actors
            masks[t, k, y0:y1, x0:x1] |= part
    return frames, masks


# ------------------------------------------------------------------------------------------
# queries


_FILLER = ("in this short video clip that was filmed on a sunny afternoon with a camera that "
           "never stops moving")


def _query(a: Actor, others: list[Actor], kind: str, w: int, rng: np.random.Generator,
           annotated_t: int) -> str:
    article = rng.choice(["the", "a"])
    action = a.action
    if kind in ("motion", "class"):
        words = [article, a.actor, "is" if rng.random() < 0.3 else "", action]
    else:
        parts = [article]
        if rng.random() < 0.5:
            parts.append(a.size)
        if rng.random() < 0.7:
            parts.append(a.colour)
        parts.append(a.actor)
        parts.append(action)
        if others and rng.random() < 0.5:
            _, x = a.position(annotated_t)
            centre = x + sprite_mask(a.actor, SIZES[a.size] * 10).shape[1] / 2
            parts += ["on", "the", "left" if centre < w / 2 else "right"]
        words = parts
    text = " ".join(x for x in words if x)
    if rng.random() < 0.08:
        text += " " + _FILLER  # a few queries over 20 words: truncation is exercised
    return text


# ------------------------------------------------------------------------------------------
# writers


@dataclass
class SynthSummary:
    out: Path
    videos: int
    samples: dict
    seconds: float

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.samples.items())
        return f"{self.videos} videos, samples: {counts}; {self.seconds:.1f} s -> {self.out}"


def _video_id(rng: np.random.Generator) -> str:
    chars = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    return "".join(rng.choice(chars, size=11))


def _write_mp4(path: Path, frames: np.ndarray, fps: int = 24) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "g": "8"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)


def _write_pngs(folder: Path, frames: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{t + 1:05d}.png", compress_level=1)


def _h5_bytes(ids: list[int], masks: list[np.ndarray]) -> bytes:
    """An HDF5 file in the release's layout, as bytes (written atomically by the caller)."""
    import h5py

    stored = np.stack([m.T for m in masks]).astype(np.uint8)  # (N, W, H): stored transposed
    if len(masks) == 1:
        stored = stored[0]  # a single instance is stored 2-D, (W, H)
    boxes = np.zeros((4, len(ids)), np.float64)
    for j, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        if len(ys):
            boxes[:, j] = [xs.min(), ys.min(), xs.max(), ys.max()]
    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=True) as f:
        f.create_dataset("instance", data=np.asarray(ids, np.float64))
        f.create_dataset("reMask", data=stored)
        f.create_dataset("reBBox", data=boxes)
    return buf.getvalue()


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if (out / MARKER).exists() or force:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            raise DataError(f"{out} is not empty and not a previous synth output; choose another "
                            "--out or pass --force to overwrite it")
    out.mkdir(parents=True, exist_ok=True)


def _make_actors(kind: str, rng: np.random.Generator) -> list[Actor]:
    colours, sizes = list(COLOURS), list(SIZES)
    if kind == "motion":  # identical appearance, different actions
        cls, col, size = rng.choice(ACTORS), rng.choice(colours), rng.choice(sizes)
        acts = rng.choice(ACTIONS, size=2, replace=False)
        return [Actor(i, str(cls), str(a), str(col), str(size)) for i, a in enumerate(acts)]
    if kind == "class":  # different classes, same action
        classes = rng.choice(ACTORS, size=2, replace=False)
        act = rng.choice(ACTIONS)
        return [Actor(i, str(c), str(act), str(rng.choice(colours)), str(rng.choice(sizes)))
                for i, c in enumerate(classes)]
    n = int(rng.integers(1, 4))
    return [Actor(i, str(rng.choice(ACTORS)), str(rng.choice(ACTIONS)), str(rng.choice(colours)),
                  str(rng.choice(sizes))) for i in range(n)]


def generate_a2d(out: str | Path, *, videos: int = 100, seed: int = 0, size: int = 96,
                 frames: int = NUM_FRAMES, test_fraction: float = 0.2, force: bool = False,
                 write_pngs: bool = True) -> SynthSummary:
    """Write the synthetic A2D-Sentences release under ``out`` (see the module docstring).

    Two more videos than ``videos`` are generated and listed in ``a2d_missed_videos.txt``, so
    readers must drop them.
    """
    t0 = time.perf_counter()
    out = Path(out)
    _prepare_out(out, force)
    rng = np.random.default_rng(seed)
    h = int(size) // 2 * 2
    w = int(round(h * 4 / 3)) // 2 * 2
    rows: list[tuple[str, int, str]] = []
    videoset: list[list] = []
    meta_videos = []
    missed = []
    counts = {"train": 0, "test": 0}
    ann_dir = out / "text_annotations" / "a2d_annotation_with_instances"
    for v in range(videos + 2):
        vid = _video_id(rng)
        kind = str(rng.choice(["motion", "class", "free"], p=[0.4, 0.3, 0.3]))
        actors = _make_actors(kind, rng)
        for a in actors:
            a.path = trajectory(a.action, frames, h, w, rng)
            _place(a, sprite_mask(a.actor, SIZES[a.size] * h), h, w, frames, rng)
        clip, masks = render_video(actors, h, w, frames, rng)
        n_ann = int(rng.integers(3, 6))
        annotated = sorted({int(x) for x in np.linspace(4, frames - 5, n_ann).round()})
        subset = int(rng.random() < test_fraction)
        split = "test" if subset else "train"
        mid = annotated[len(annotated) // 2] - 1
        queries = {a.instance: _query(a, [o for o in actors if o is not a], kind, w, rng, mid)
                   for a in actors}
        is_missed = v >= videos
        if is_missed:
            missed.append(vid)
        label = 10 * (ACTORS.index(actors[0].actor) + 1) + ACTIONS.index(actors[0].action) + 1
        videoset.append([vid, label, 0, round(frames / 24, 3), h, w, frames, len(annotated), subset])
        _write_mp4(out / "Release" / "clips320H" / f"{vid}.mp4", clip)
        if write_pngs:
            _write_pngs(out / "Release" / "pngs320H" / vid, clip)
        for f in annotated:
            ids = [a.instance for a in actors]
            atomic_write_bytes(ann_dir / vid / f"{f:05d}.h5",
                               _h5_bytes(ids, [masks[f - 1, k] for k in range(len(actors))]))
        # rows of a video in string order of instance id, as the release
        for inst in sorted(queries, key=str):
            rows.append((vid, inst, queries[inst]))
        if not is_missed:
            counts[split] += len(annotated) * len(actors)
        meta_videos.append({
            "video": vid, "kind": kind, "split": split, "missed": is_missed, "annotated": annotated,
            "actors": [{"instance": a.instance, "actor": a.actor, "action": a.action,
                        "colour": a.colour, "size": a.size, "query": queries[a.instance],
                        "start": [round(a.y0, 3), round(a.x0, 3)],
                        "path": np.round(a.path, 3).tolist()} for a in actors],
        })
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(videoset)
    atomic_write_bytes(out / "Release" / "videoset.csv", buf.getvalue().encode())
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video_id", "instance_id", "query"])
    writer.writerows(rows)
    atomic_write_bytes(out / "text_annotations" / "a2d_annotation.txt", buf.getvalue().encode())
    atomic_write_bytes(out / "text_annotations" / "a2d_missed_videos.txt",
                       ("\n".join(missed) + "\n").encode())
    atomic_write_json(out / MARKER, {"layout": "a2d", "seed": seed, "size": [h, w],
                                     "frames": frames, "videos": meta_videos})
    summary = SynthSummary(out, videos, counts, time.perf_counter() - t0)
    log.info("synthetic A2D: %s", summary.line())
    return summary


def generate_jhmdb(out: str | Path, *, videos: int = 40, seed: int = 0, size: int = 96,
                   frames: int = NUM_FRAMES, force: bool = False) -> SynthSummary:
    """Write the synthetic JHMDB-Sentences release under ``out``: one described 'adult' per
    video (its puppet mask), sometimes with an unannotated distractor of another class."""
    import scipy.io

    t0 = time.perf_counter()
    out = Path(out)
    _prepare_out(out, force)
    rng = np.random.default_rng(seed)
    h = int(size) // 2 * 2
    w = int(round(h * 4 / 3)) // 2 * 2
    rows = []
    meta_videos = []
    for v in range(videos):
        action = str(ACTIONS[v % len(ACTIONS)])
        person = Actor(0, "adult", action, str(rng.choice(list(COLOURS))), str(rng.choice(list(SIZES))))
        actors = [person]
        if rng.random() < 0.5:
            other = str(rng.choice([a for a in ACTORS if a != "adult"]))
            actors.insert(0, Actor(1, other, str(rng.choice(ACTIONS)), str(rng.choice(list(COLOURS))),
                                   str(rng.choice(list(SIZES)))))
        for a in actors:
            a.path = trajectory(a.action, frames, h, w, rng)
            _place(a, sprite_mask(a.actor, SIZES[a.size] * h), h, w, frames, rng)
        clip, masks = render_video(actors, h, w, frames, rng)
        vid = f"{action}_{v:03d}_{_video_id(rng)[:5]}"
        k = actors.index(person)
        n_masks = frames - int(rng.integers(0, 3))  # some videos have more PNGs than masks
        part_mask = np.ascontiguousarray(masks[:n_masks, k].transpose(1, 2, 0).astype(np.uint8))
        _write_pngs(out / "Rename_Images" / action / vid, clip)
        mat = io.BytesIO()
        scipy.io.savemat(mat, {"part_mask": part_mask}, format="5", do_compression=True)
        atomic_write_bytes(out / "puppet_mask" / action / vid / "puppet_mask.mat", mat.getvalue())
        query = " ".join(x for x in [rng.choice(["a", "the"]), "man", action] if x)
        rows.append((vid, query))
        meta_videos.append({"video": vid, "action": action, "query": query, "masks": n_masks,
                            "actors": [{"actor": a.actor, "action": a.action} for a in actors]})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video_id", "query"])
    writer.writerows(rows)
    atomic_write_bytes(out / "jhmdb_annotation.txt", buf.getvalue().encode())
    atomic_write_json(out / MARKER, {"layout": "jhmdb", "seed": seed, "size": [h, w],
                                     "frames": frames, "videos": meta_videos})
    summary = SynthSummary(out, videos, {"all": 3 * videos}, time.perf_counter() - t0)
    log.info("synthetic JHMDB: %s", summary.line())
    return summary
