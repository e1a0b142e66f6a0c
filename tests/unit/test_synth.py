"""The synthetic benchmark: release layout, determinism, and that it needs motion and language."""

from __future__ import annotations

import csv
import hashlib
import json

import h5py
import numpy as np
import pytest
import scipy.io

from acga.data.a2d import index_a2d, load_a2d_mask
from acga.data.jhmdb import index_jhmdb
from acga.data.synth import ACTIONS, ACTORS, generate_a2d, generate_jhmdb, sprite_mask, trajectory
from acga.data.video import open_frames
from acga.errors import DataError


@pytest.fixture(scope="module")
def a2d(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "a2d"
    generate_a2d(root, videos=12, seed=3, size=48)
    return root


def _digest(root, names):
    return {n: hashlib.sha256((root / n).read_bytes()).hexdigest() for n in names}


def test_release_layout_as_published(a2d):
    rows = list(csv.reader(open(a2d / "Release" / "videoset.csv")))
    assert len(rows) == 14 and all(len(r) == 9 for r in rows)  # no header, 9 columns
    assert rows[0][0] != "video_id" and {r[8] for r in rows} <= {"0", "1"}
    header = next(csv.reader(open(a2d / "text_annotations" / "a2d_annotation.txt")))
    assert header == ["video_id", "instance_id", "query"]
    missed = (a2d / "text_annotations" / "a2d_missed_videos.txt").read_text().split()
    assert len(missed) == 2
    meta = json.loads((a2d / "synth_meta.json").read_text())
    video = meta["videos"][0]
    h5 = a2d / "text_annotations" / "a2d_annotation_with_instances" / video["video"] / f"{video['annotated'][0]:05d}.h5"
    with h5py.File(h5, "r") as f:
        ids, masks = f["instance"][()], f["reMask"][()]
    n = len(video["actors"])
    assert ids.dtype == np.float64 and len(ids) == n
    # stored transposed: (W, H) for one instance, (N, W, H) for several
    assert masks.shape == ((64, 48) if n == 1 else (n, 64, 48))
    with open_frames(a2d, "a2d", video["video"]) as frames:
        assert frames.num_frames == 32
        assert frames.read([0]).shape == (1, 48, 64, 3)
    assert (a2d / "Release" / "clips320H" / f"{video['video']}.mp4").stat().st_size > 0


def test_readers_read_it_with_no_special_case(a2d):
    train, report = index_a2d(a2d, "train")
    test, _ = index_a2d(a2d, "test")
    meta = json.loads((a2d / "synth_meta.json").read_text())
    expected = sum(len(v["annotated"]) * len(v["actors"]) for v in meta["videos"] if not v["missed"])
    assert len(train) + len(test) == expected
    assert report.missed_videos_dropped == 2 and not report.ids_without_mask
    for s in train[:5]:
        assert load_a2d_mask(a2d, s).sum() == s.mask_sum


def test_deterministic_annotation_bytes(tmp_path):
    names = ["Release/videoset.csv", "text_annotations/a2d_annotation.txt",
             "text_annotations/a2d_missed_videos.txt", "synth_meta.json"]
    generate_a2d(tmp_path / "a", videos=4, seed=11, size=32, write_pngs=False)
    generate_a2d(tmp_path / "b", videos=4, seed=11, size=32, write_pngs=False)
    generate_a2d(tmp_path / "c", videos=4, seed=12, size=32, write_pngs=False)
    assert _digest(tmp_path / "a", names) == _digest(tmp_path / "b", names)
    assert _digest(tmp_path / "a", names) != _digest(tmp_path / "c", names)
    h5a = sorted((tmp_path / "a" / "text_annotations").rglob("*.h5"))
    h5b = sorted((tmp_path / "b" / "text_annotations").rglob("*.h5"))
    for x, y in zip(h5a, h5b):
        with h5py.File(x, "r") as f, h5py.File(y, "r") as g:
            assert np.array_equal(f["reMask"][()], g["reMask"][()])


def test_motion_distractors_need_the_clip_and_class_alone_is_chance(tmp_path):
    root = tmp_path / "a2d"
    generate_a2d(root, videos=16, seed=5, size=48, write_pngs=True)
    meta = json.loads((root / "synth_meta.json").read_text())
    motion = [v for v in meta["videos"] if v["kind"] == "motion" and not v["missed"]]
    assert motion, "the generator must produce motion distractors"
    compared = 0
    for v in motion:
        a, b = v["actors"]
        # same class and appearance: an actor-class predictor has two equal candidates (chance)
        assert (a["actor"], a["colour"], a["size"]) == (b["actor"], b["colour"], b["size"])
        assert a["action"] != b["action"]
        # queries name class and action only: no attribute tells them apart
        for actor in (a, b):
            assert actor["action"] in actor["query"] and "left" not in actor["query"]
        # one frame: the visible pixels of both instances are the same sprite, colour for colour
        frame_no = v["annotated"][0]
        with open_frames(root, "a2d", v["video"]) as frames:
            frame = frames.read([frame_no - 1])[0]
        h5 = root / "text_annotations" / "a2d_annotation_with_instances" / v["video"] / f"{frame_no:05d}.h5"
        with h5py.File(h5, "r") as f:
            masks = f["reMask"][()].transpose(0, 2, 1).astype(bool)
        if masks[0].sum() == masks[1].sum() and masks[0].sum() > 0:  # neither occluded
            def crop(m):
                ys, xs = np.nonzero(m)
                return m[ys.min():ys.max() + 1, xs.min():xs.max() + 1], \
                    frame[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            (ma, pa), (mb, pb) = crop(masks[0]), crop(masks[1])
            assert np.array_equal(ma, mb)  # identical silhouettes, up to translation
            assert np.abs(pa[ma].astype(int) - pb[mb].astype(int)).max() <= 2  # same colours
            compared += 1
        # the clip tells them apart: their trajectories differ
        assert not np.allclose(np.asarray(a["path"]), np.asarray(b["path"]))
    assert compared >= 1


def test_each_action_has_its_own_motion_and_each_class_its_own_shape():
    rng = np.random.default_rng(0)
    speeds = {}
    for action in ACTIONS:
        path = trajectory(action, 16, 96, 128, np.random.default_rng(1))
        steps = np.abs(np.diff(path, axis=0))
        speeds[action] = (round(float(steps[:, 0].mean()), 2), round(float(steps[:, 1].mean()), 2))
    assert len(set(speeds.values())) == len(ACTIONS)
    shapes = {a: sprite_mask(a, 24) for a in ACTORS}
    keys = {(m.shape, int(m.sum())) for m in shapes.values()}
    assert len(keys) == len(ACTORS)
    del rng


def test_jhmdb_layout(tmp_path):
    root = tmp_path / "jhmdb"
    generate_jhmdb(root, videos=5, seed=0, size=32)
    header = (root / "jhmdb_annotation.txt").read_text().splitlines()[0]
    assert header == "video_id,query"
    mats = sorted(root.glob("puppet_mask/*/*/puppet_mask.mat"))
    assert len(mats) == 5
    part = scipy.io.loadmat(mats[0])["part_mask"]
    assert part.ndim == 3 and part.shape[:2] == (32, 42) and part.dtype == np.uint8
    samples, _ = index_jhmdb(root)
    assert len(samples) == 15 and all(s.split is None and s.instance is None for s in samples)


def test_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty and not a previous synth output"):
        generate_a2d(tmp_path, videos=1, seed=0, size=32)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
