"""The synthetic benchmark: the release layouts read back with h5py / scipy / PyAV / csv
directly, determinism, and the design claim that distractor queries need both language and
motion."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from acga.data import synth
from acga.data.synth.motion import trajectory
from acga.data.synth.scene import sample_a2d_video
from acga.data.a2d import index_a2d
from acga.data.jhmdb import index_jhmdb
from acga.errors import DataError

SIZE = 48  # frames of 48 x 64: small enough for fast tests, big enough for every sprite


@pytest.fixture(scope="module")
def a2d(tmp_path_factory) -> tuple[Path, synth.SynthSummary, dict]:
    root = tmp_path_factory.mktemp("synth") / "a2d"
    summary = synth.generate_a2d(root, videos=16, seed=3, size=SIZE, distractors=0.5)
    return root, summary, json.loads((root / synth.META_NAME).read_text())


@pytest.fixture(scope="module")
def distractors(tmp_path_factory) -> tuple[Path, dict]:
    """Only distractor videos, PNG frames only (the test reads pixels, not the MP4)."""
    root = tmp_path_factory.mktemp("synth") / "distractors"
    synth.generate_a2d(root, videos=40, seed=11, size=SIZE, distractors=1.0, mp4=False)
    return root, json.loads((root / synth.META_NAME).read_text())


def _videos(meta: dict) -> dict[str, dict]:
    return {v["video"]: v for v in meta["videos"]}


def _h5(root: Path, video: str, frame: int) -> tuple[list[int], np.ndarray]:
    """(ids, masks (N, H, W)) read with h5py as the release stores them."""
    path = root / "text_annotations" / "a2d_annotation_with_instances" / video / f"{frame:05d}.h5"
    with h5py.File(path, "r") as f:
        ids = f["instance"][()]
        stored = f["reMask"][()]
        boxes = f["reBBox"][()]
    assert ids.dtype.kind == "f"  # ids stored as floats
    assert stored.dtype == np.uint8 and set(np.unique(stored)) <= {0, 1}
    if len(ids) == 1:
        assert stored.ndim == 2  # (W, H) for a single instance
        stored = stored[None]
    masks = stored.transpose(0, 2, 1)  # stored (N, W, H) -> (N, H, W)
    assert boxes.shape == (4, len(ids))
    for k, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        assert boxes[:, k].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]  # x1 y1 x2 y2
    return [int(i) for i in ids], masks


def _png(root: Path, video: str, frame: int) -> np.ndarray:
    return np.asarray(Image.open(root / "Release" / "pngs320H" / video / f"{frame:05d}.png"))


# ----------------------------------------------------------------------------- A2D layout


def test_videoset_csv_has_no_header_and_nine_columns(a2d):
    root, summary, meta = a2d
    rows = list(csv.reader(open(root / "Release" / "videoset.csv", newline="")))
    assert len(rows) == 16 and all(len(r) == 9 for r in rows)
    by_video = _videos(meta)
    assert [r[0] for r in rows] == list(by_video)  # the first row is a video, not a header
    for video, label, start, end, h, w, frames, annotated, subset in rows:
        v = by_video[video]
        assert len(video) == 11 and not video.startswith("-")
        assert (int(h), int(w)) == (48, 64)
        assert 24 <= int(frames) <= 48 and int(frames) == v["frames"]
        assert 3 <= int(annotated) <= 5 and int(annotated) == len(v["annotated_frames"])
        assert subset == ("1" if v["split"] == "test" else "0")
        first = v["actors"][0]  # instance 0
        assert int(label) == 10 * (synth.ACTORS.index(first["class"]) + 1) \
            + synth.ACTIONS.index(first["action"]) + 1
        h5s = sorted(p.name for p in (root / "text_annotations" / "a2d_annotation_with_instances"
                                      / video).iterdir())
        assert h5s == [f"{f:05d}.h5" for f in v["annotated_frames"]]
    assert {r[8] for r in rows} == {"0", "1"}
    assert sum(r[8] == "1" for r in rows) == 3  # round(16 * 0.2)


def test_frames_as_pngs_and_h264_mp4(a2d):
    import av

    root, _, meta = a2d
    v = meta["videos"][0]
    video, n = v["video"], v["frames"]
    pngs = sorted(p.name for p in (root / "Release" / "pngs320H" / video).iterdir())
    assert pngs == [f"{i:05d}.png" for i in range(1, n + 1)]  # 1-based
    first = _png(root, video, 1)
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8
    with av.open(str(root / "Release" / "clips320H" / f"{video}.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert stream.codec_context.pix_fmt == "yuv420p"
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == n
    # near-lossless: the MP4 shows the same pixels as the PNGs (yuv420p blurs colour edges)
    for i in (0, n // 2, n - 1):
        diff = np.abs(decoded[i].astype(int) - _png(root, video, i + 1).astype(int))
        assert diff.mean() < 6, (i, diff.mean())


def test_annotation_rows_and_masks_match_the_rendered_sprites(a2d):
    root, _, meta = a2d
    with open(root / "text_annotations" / "a2d_annotation.txt", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["video_id", "instance_id", "query"]
        rows = list(reader)
    by_video = _videos(meta)
    seen: dict[str, list[str]] = {}
    for video, inst, query in rows:
        seen.setdefault(video, []).append(inst)
        actor = by_video[video]["actors"][int(inst)]
        assert actor["query"] == query
        words = query.split()
        assert set(words) & set(synth.ACTOR_WORDS[actor["class"]])
        assert set(words) & set(synth.ACTION_WORDS[actor["action"]][:2])
    assert list(seen) == list(by_video)
    for video, ids in seen.items():
        assert ids == sorted(ids)  # string order of instance id
        assert len(ids) == len(by_video[video]["actors"])

    for v in meta["videos"][:6]:
        for frame in v["annotated_frames"]:
            ids, masks = _h5(root, v["video"], frame)
            assert ids == list(range(len(v["actors"])))
            img = _png(root, v["video"], frame)
            for inst, mask in zip(ids, masks):
                a = v["actors"][inst]
                rgb, alpha = synth.render_sprite(a["class"], a["colour"], *a["box_hw"],
                                                 flip=a["flip"])
                x, y = a["xy"][frame - 1]
                expected = np.zeros_like(mask)
                expected[y:y + alpha.shape[0], x:x + alpha.shape[1]] = alpha
                assert np.array_equal(mask, expected)  # the whole sprite, no occlusion
                crop = img[y:y + alpha.shape[0], x:x + alpha.shape[1]]
                assert np.array_equal(crop[alpha], rgb[alpha])


def test_missed_videos_are_written_and_dropped_by_the_reader(a2d):
    root, summary, meta = a2d
    missed = (root / "text_annotations" / "a2d_missed_videos.txt").read_text().split()
    assert len(missed) == 2 == summary.missed
    videoset = [r[0] for r in csv.reader(open(root / "Release" / "videoset.csv"))]
    for video in missed:
        assert video in videoset and _videos(meta)[video]["missed"]
        assert (root / "Release" / "clips320H" / f"{video}.mp4").is_file()
    samples, report = index_a2d(root)
    assert report.missed_videos_dropped == 2
    assert not {s.video for s in samples} & set(missed)
    assert report.samples == summary.samples == meta["samples"]
    assert all(s.mask_sum > 0 for s in samples)
    assert not report.ids_without_mask and not report.masks_without_query


def test_queries_vary_in_length_and_some_exceed_20_words():
    rng = np.random.default_rng(0)
    lengths = []
    for k in range(300):
        kind = ("same_appearance", "same_action", "random")[k % 3]
        v = sample_a2d_video(rng, (48, 64), kind)
        lengths += [len(a.query.split()) for a in v.actors]
    lengths = np.asarray(lengths)
    assert lengths.min() <= 3
    assert 0.02 < np.mean(lengths > 20) < 0.2
    assert len(np.unique(lengths)) >= 10


def test_same_seed_gives_the_same_bytes(tmp_path):
    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".mp4"}

    synth.generate_a2d(tmp_path / "a", videos=4, seed=5, size=32)
    synth.generate_a2d(tmp_path / "b", videos=4, seed=5, size=32)
    synth.generate_a2d(tmp_path / "c", videos=4, seed=6, size=32, mp4=False)
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a == b
    assert any(k.endswith(".h5") for k in a) and "Release/videoset.csv" in a
    ann = "text_annotations/a2d_annotation.txt"
    assert (tmp_path / "a" / ann).read_bytes() != (tmp_path / "c" / ann).read_bytes()
    synth.generate_jhmdb(tmp_path / "ja", videos=2, seed=5, size=32)
    synth.generate_jhmdb(tmp_path / "jb", videos=2, seed=5, size=32)
    ja, jb = digest(tmp_path / "ja"), digest(tmp_path / "jb")
    assert ja == jb and any(k.endswith(".mat") for k in ja)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(DataError, match="--size"):
        synth.generate_a2d(tmp_path / "x", videos=2, size=20)
    with pytest.raises(DataError, match="videos"):
        synth.generate_a2d(tmp_path / "x", videos=0)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty"):
        synth.generate_jhmdb(tmp_path / "mine", videos=1, size=32)
    assert not (tmp_path / "mine" / ".acga-synth-staging").exists()


def test_a_failed_run_leaves_the_previous_output_and_no_temporary(tmp_path, monkeypatch):
    from acga.data.synth import generators

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    out = tmp_path / "j"
    synth.generate_jhmdb(out, videos=2, seed=1, size=32)
    before = tree(out)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generators, "write_puppet_mask", full_disk)
    with pytest.raises(OSError, match="No space"):
        synth.generate_jhmdb(out, videos=3, seed=2, size=32)
    assert tree(out) == before and [p.name for p in tmp_path.iterdir()] == ["j"]
    with pytest.raises(OSError, match="No space"):
        synth.generate_jhmdb(tmp_path / "new", videos=1, size=32)
    assert [p.name for p in tmp_path.iterdir()] == ["j"]  # not even an empty folder


# ----------------------------------------------------------------------------- the design


def _action_words() -> set[str]:
    words = set()
    for ing, s3, adverbs in synth.ACTION_WORDS.values():
        words |= {ing, s3}
        for phrase in adverbs:
            words |= set(phrase.split())
    return words


def test_same_appearance_pairs_need_the_motion(distractors):
    """(a) A predictor that knows the queried class and sees the annotated frame, but not the
    motion, is right for exactly half of the samples (chance); (b) the two instances look
    identical in the annotated frame, while their trajectories over the clip differ."""
    root, meta = distractors
    pairs = [v for v in meta["videos"] if v["kind"] == "same_appearance"]
    assert len(pairs) >= 10
    strip = _action_words()
    predictors = {
        "lowest id": lambda ids, masks: ids[0],
        "leftmost": lambda ids, masks: ids[int(np.argmin([np.nonzero(m)[1].min() for m in masks]))],
        "topmost": lambda ids, masks: ids[int(np.argmin([np.nonzero(m)[0].min() for m in masks]))],
        "largest": lambda ids, masks: ids[int(np.argmax([m.sum() for m in masks]))],
    }
    right = {name: 0 for name in predictors}
    total = 0
    for v in pairs:
        a, b = (v["actors"][i] for i in v["pair"])
        assert (a["class"], a["colour"], a["size"], a["flip"]) == \
               (b["class"], b["colour"], b["size"], b["flip"])
        assert a["action"] != b["action"]
        # the queries differ only in the action's words: no colour, size or position
        qa = [w for w in a["query"].split() if w not in strip]
        qb = [w for w in b["query"].split() if w not in strip]
        assert qa == qb
        assert not set(qa) & (set(synth.COLOURS) | {"small", "little", "big", "large",
                                                    "left", "right", "top", "bottom"})
        (h, w) = a["box_hw"]
        for frame in v["annotated_frames"]:
            ids, masks = _h5(root, v["video"], frame)
            candidates = [i for i in ids if v["actors"][i]["class"] == a["class"]]
            assert sorted(candidates) == sorted(v["pair"])
            cand_masks = [masks[ids.index(i)] for i in candidates]
            img = _png(root, v["video"], frame)
            # (b) same mask shape and same pixels inside it, up to translation
            crops = []
            for m in cand_masks:
                ys, xs = np.nonzero(m)
                y0, x0 = ys.min(), xs.min()
                crops.append((m[y0:y0 + h, x0:x0 + w], img[y0:y0 + h, x0:x0 + w] * m[
                    y0:y0 + h, x0:x0 + w, None]))
            assert np.array_equal(crops[0][0], crops[1][0])
            assert np.array_equal(crops[0][1], crops[1][1])
            # (a) the class-only predictors answer both queries of the pair the same way
            for query_target in v["pair"]:
                total += 1
                for name, predict in predictors.items():
                    right[name] += predict(candidates, cand_masks) == query_target
            # ... while the clip tells them apart: 8 frames around the annotated one
            clip = np.clip(np.arange(frame - 1 - 4, frame - 1 + 4), 0, v["frames"] - 1)
            da = np.diff(np.asarray(a["xy"])[clip], axis=0)
            db = np.diff(np.asarray(b["xy"])[clip], axis=0)
            assert np.abs(da - db).max() >= 1
    for name, count in right.items():
        assert count / total == 0.5, name


def test_same_action_pairs_need_the_class(distractors):
    """A predictor that knows the queried action but not the class is at chance on the pairs;
    the class word of the query is the only difference between the two queries' actors."""
    root, meta = distractors
    pairs = [v for v in meta["videos"] if v["kind"] == "same_action"]
    assert len(pairs) >= 10
    right = total = 0
    for v in pairs:
        a, b = (v["actors"][i] for i in v["pair"])
        assert a["action"] == b["action"] and a["class"] != b["class"]
        assert (a["colour"], a["size"]) == (b["colour"], b["size"])
        nouns_a = set(a["query"].split()) & set(synth.ACTOR_WORDS[a["class"]])
        nouns_b = set(b["query"].split()) & set(synth.ACTOR_WORDS[b["class"]])
        assert nouns_a and nouns_b
        for frame in v["annotated_frames"]:
            ids, _ = _h5(root, v["video"], frame)
            candidates = [i for i in ids if v["actors"][i]["action"] == a["action"]]
            for target in v["pair"]:
                total += 1
                right += candidates[0] == target  # any choice ignoring the class
    assert right / total <= 0.5


def test_a_single_frame_does_not_tell_the_action():
    """Sprite pixels depend on class, colour, size and facing only; start positions are uniform
    over the frame whatever the action."""
    rng = np.random.default_rng(1)
    for action in synth.ACTIONS:
        xy = np.stack([trajectory(action, 48, (20, 20), (96, 128), rng)
                       for _ in range(300)])  # (300, T, 2)
        # the mean position over frames is central for every action (no action lives at an edge)
        assert abs(xy[..., 0].mean() - 54) < 6 and abs(xy[..., 1].mean() - 38) < 6, action
        # ... and spread like a uniform position (std of U(0, L) = L / sqrt(12))
        assert abs(xy[..., 0].std() - 108 / 12**0.5) < 4, action
        assert abs(xy[..., 1].std() - 76 / 12**0.5) < 4, action
    a = synth.render_sprite("dog", "red", 20, 30)
    b = synth.render_sprite("dog", "red", 20, 30)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# ----------------------------------------------------------------------------- JHMDB layout


def test_jhmdb_layout(tmp_path):
    root = tmp_path / "jhmdb"
    summary = synth.generate_jhmdb(root, videos=6, seed=2, size=SIZE)
    meta = json.loads((root / synth.META_NAME).read_text())
    with open(root / "jhmdb_annotation.txt", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["video_id", "query"] and len(rows) == 7
    for (video, query), v in zip(rows[1:], meta["videos"]):
        assert video == v["video"]
        action = v["action_folder"]
        assert action in synth.JHMDB_ACTIONS.values()
        pngs = sorted((root / "Rename_Images" / action / video).iterdir())
        assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(1, v["frames"] + 1)]
        mat = scipy.io.loadmat(str(root / "puppet_mask" / action / video / "puppet_mask.mat"))
        part = mat["part_mask"]
        assert part.dtype == np.uint8 and part.shape == (48, 64, v["mask_frames"])
        assert v["mask_frames"] <= v["frames"] and set(np.unique(part)) == {0, 1}
        described = [a for a in v["actors"] if a["query"] is not None]
        assert len(described) == 1 and described[0]["class"] == "adult"
        assert described[0]["query"] == query
        assert synth.JHMDB_ACTIONS[described[0]["action"]] == action
        assert part.sum(axis=(0, 1)).min() > 0  # the adult is visible in every masked frame
    samples, report = index_jhmdb(root)
    assert len(samples) == summary.samples["all"] == 18
