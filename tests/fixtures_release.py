"""Tiny fake A2D-Sentences and JHMDB-Sentences releases, with every quirk of the real files.

The contents are fixed tables so tests can state the expected samples by hand; the comments
next to each table give the numbers the tests rely on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------- pixels


def frame_pixels(t: int, height: int, width: int) -> np.ndarray:
    """Frame t (0-based) of every fake video: (H, W, 3) uint8, smooth so H.264 keeps it close.
    Red is 20 + 10 t (it tells frames apart), green a horizontal ramp, blue a vertical ramp."""
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 0] = 20 + 10 * t
    img[..., 1] = np.linspace(30, 220, width, dtype=np.float64).round().astype(np.uint8)[None, :]
    img[..., 2] = np.linspace(60, 180, height, dtype=np.float64).round().astype(np.uint8)[:, None]
    return img


def video_frames(num_frames: int, height: int, width: int) -> np.ndarray:
    """(T, H, W, 3) uint8."""
    return np.stack([frame_pixels(t, height, width) for t in range(num_frames)])


def write_mp4(path: Path, frames: np.ndarray, *, gop: int = 4) -> None:
    """H.264 MP4 with a keyframe every ``gop`` frames (so seeking is really exercised)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames.shape
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "8", "g": str(gop), "keyint_min": str(gop), "preset": "ultrafast"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_pngs(folder: Path, frames: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, img in enumerate(frames):
        Image.fromarray(img).save(folder / f"{t + 1:05d}.png")


def rect(height: int, width: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    m = np.zeros((height, width), dtype=np.uint8)
    m[rows[0]:rows[1], cols[0]:cols[1]] = 1
    return m


# ----------------------------------------------------------------------------- A2D

A2D_SIZES = {"vidA": (24, 40), "vidB": (16, 24), "vidC": (24, 40), "vidE": (24, 40)}
A2D_NUM_FRAMES = {"vidA": 12, "vidB": 8}

# videoset.csv, no header, 9 columns; vidC is in the missed list, vidE has no masks or rows.
A2D_VIDEOSET = [
    ("vidA", 11, 0, 0, 240, 400, 12, 3, 0),
    ("vidC", 21, 0, 0, 240, 400, 10, 1, 0),
    ("vidB", 34, 0, 0, 160, 240, 8, 2, 1),
    ("vidE", 45, 0, 0, 240, 400, 9, 0, 1),
]

# a2d_annotation.txt rows in file order: vidB before vidA (the enumeration follows videoset.csv),
# ids of a video in string order (0, 1, 10, 2), a "1 (copy)" row, stray spaces and capitals,
# a quoted query with a comma, and a row of a video not in videoset.csv.
A2D_ROWS = [
    ("vidB", "1 (copy)", "a cat eating"),
    ("vidB", "1", "  a Cat   eating "),
    ("vidC", "0", "dropped video"),
    ("vidA", "0", "a man  running"),
    ("vidA", "1", "The dog jumping "),
    ("vidA", "10", "ghost instance"),
    ("vidA", "2", "a Ball, rolling"),
    ("vidZ", "0", "video not in videoset"),
]

# h5 frames: (video, frame) -> (instance ids as floats, [mask rectangles (rows, cols)], 2-D?)
# sums: vidA/3 id0 = 2*3 = 6, id1 = 4*10 = 40; vidA/7 id1 = 1*5 = 5 (single instance, 2-D);
# vidA/10 ids [0, 2, 0]: id0 = 3*3 = 9 (the duplicate's 100 is ignored), id2 = 4*10 = 40;
# vidB/2 id1 = 4*2 = 8 plus two trailing masks; vidB/5 id1 all zero, id0 = 2*2 = 4 (no query).
A2D_H5 = {
    ("vidA", 3): ([0.0, 1.0], [((0, 2), (0, 3)), ((5, 9), (10, 20))], False),
    ("vidA", 7): ([1.0], [((0, 1), (0, 5))], True),
    ("vidA", 10): ([0.0, 2.0, 0.0], [((0, 3), (0, 3)), ((20, 24), (30, 40)),
                                     ((0, 10), (0, 10))], False),
    ("vidC", 1): ([0.0], [((0, 5), (0, 5))], True),
    ("vidB", 2): ([1.0], [((0, 4), (0, 2)), ((0, 16), (0, 24)), ((0, 8), (0, 8))], False),
    ("vidB", 5): ([1.0, 0.0], [None, ((0, 2), (0, 2))], False),
}

A2D_MISSED = ["vidC"]


def a2d_mask(video: str, frame: int, slot: int) -> np.ndarray:
    """The (H, W) mask stored in slot ``slot`` of an h5 frame (before transposition)."""
    h, w = A2D_SIZES[video]
    spec = A2D_H5[(video, frame)][1][slot]
    return np.zeros((h, w), np.uint8) if spec is None else rect(h, w, *spec)


def write_a2d_h5(path: Path, ids: list[float], masks: list[np.ndarray], two_d: bool) -> None:
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    stored = np.stack([m.T for m in masks])  # (N, W, H): the release stores masks transposed
    if two_d:
        stored = stored[0]  # (W, H) for a single instance
    boxes = np.zeros((4, len(ids)), dtype=np.float64)
    with h5py.File(path, "w") as f:
        f.create_dataset("instance", data=np.asarray(ids, dtype=np.float64))
        f.create_dataset("reMask", data=stored.astype(np.uint8))
        f.create_dataset("reBBox", data=boxes)


def make_a2d_release(root: Path, *, clips_folder: str = "clips320H", corrupt: bool = False,
                     with_videos: bool = True) -> Path:
    """Write the fake A2D release under ``root`` and return ``root``.

    vidA: MP4 only; vidB: MP4 and PNG folder. With ``corrupt``, vidE gets an h5 frame 00004.h5
    of garbage bytes and vidA's MP4 is replaced by garbage in a copy named vidX.mp4.
    """
    import csv

    release = root / "Release"
    release.mkdir(parents=True, exist_ok=True)
    with open(release / "videoset.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(A2D_VIDEOSET)
    ann = root / "text_annotations"
    ann.mkdir(parents=True, exist_ok=True)
    with open(ann / "a2d_annotation.txt", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "instance_id", "query"])
        writer.writerows(A2D_ROWS)
    (ann / "a2d_missed_videos.txt").write_text("\n".join(A2D_MISSED) + "\n")
    masks_dir = ann / "a2d_annotation_with_instances"
    for (video, frame), (ids, specs, two_d) in A2D_H5.items():
        masks = [a2d_mask(video, frame, j) for j in range(len(specs))]
        write_a2d_h5(masks_dir / video / f"{frame:05d}.h5", ids, masks, two_d)
    (masks_dir / "vidE").mkdir(parents=True, exist_ok=True)
    if corrupt:
        (masks_dir / "vidE" / "00004.h5").write_bytes(b"this is not an HDF5 file" * 10)
    if with_videos:
        for video, n in A2D_NUM_FRAMES.items():
            h, w = A2D_SIZES[video]
            frames = video_frames(n, h, w)
            write_mp4(release / clips_folder / f"{video}.mp4", frames)
            if video == "vidB":
                write_pngs(release / "pngs320H" / video, frames)
        if corrupt:
            garbage = b"\x00\x00\x00\x18ftypmp42" + b"x" * 200  # an MP4 header, then junk
            (release / clips_folder / "vidX.mp4").write_bytes(garbage)
    return root


# ----------------------------------------------------------------------------- JHMDB

JHMDB_SIZE = (12, 20)
# video -> (action, number of PNGs, number of masks, mask rows); frame t (0-based) mask =
# rows 0:r, cols 0:t+1, so its sum is r * (t + 1).
JHMDB_VIDEOS = {
    "v_wave1": ("wave", 6, 6, 3),
    "v_run1": ("run", 10, 8, 2),
}
JHMDB_ROWS = [("v_wave1", "a woman  waving "), ("v_run1", "Man running on the Left")]


def jhmdb_mask(video: str, t: int) -> np.ndarray:
    h, w = JHMDB_SIZE
    return rect(h, w, (0, JHMDB_VIDEOS[video][3]), (0, t + 1))


def make_jhmdb_release(root: Path, *, corrupt: bool = False) -> Path:
    """Write the fake JHMDB release under ``root``; ``corrupt`` makes v_run1's MAT garbage."""
    import csv

    import scipy.io

    root.mkdir(parents=True, exist_ok=True)
    with open(root / "jhmdb_annotation.txt", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "query"])
        writer.writerows(JHMDB_ROWS)
    h, w = JHMDB_SIZE
    for video, (action, n_png, n_mask, _) in JHMDB_VIDEOS.items():
        write_pngs(root / "Rename_Images" / action / video, video_frames(n_png, h, w))
        masks = np.stack([jhmdb_mask(video, t) for t in range(n_mask)], axis=-1)  # (H, W, T)
        mat = root / "puppet_mask" / action / video / "puppet_mask.mat"
        mat.parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(str(mat), {"part_mask": masks}, format="5")
    if corrupt:
        (root / "puppet_mask" / "run" / "v_run1" / "puppet_mask.mat").write_bytes(
            b"MATLAB 5.0 MAT-file" + b"\x00" * 40)
    return root


def write_mttr_frame_list(path: Path, entries: list[tuple[str, int]]) -> Path:
    """A frame list in the format of MTTR's jhmdb_sentences_samples_metadata.json."""
    queries = dict(JHMDB_ROWS)
    data = []
    for video, frame in entries:
        action, _, n_mask, _ = JHMDB_VIDEOS[video]
        data.append([video, f"./jhmdb_sentences/Rename_Images/{action}/{video}/{frame:05d}.png",
                     f"./jhmdb_sentences/puppet_mask/{action}/{video}/puppet_mask.mat", n_mask,
                     queries[video]])
    path.write_text(json.dumps(data))
    return path
