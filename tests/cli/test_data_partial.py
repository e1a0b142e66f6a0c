"""Partial data is never silent: missing annotation files (`acga data samples`, `acga eval`),
an empty video list, zero samples, a truncated MP4 read for training, through the real main()."""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from acga.checkpoint import save_checkpoint
from acga.cli.main import main
from acga.config import config_to_dict, load_config
from acga.models import build_model

SMALL = ["model.input_size=32", "model.resolutions=[2,8,32]", "model.small3d_widths=[4,8]",
         "model.visual_dim=8", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
         "model.clip_len=2"]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partial") / "a2d"
    assert main(["synth", "a2d", "--out", str(root), "--videos", "8", "--size", "32",
                 "--seed", "2", "--no-mp4", "-q"]) == 0
    return root


@pytest.fixture
def root(synth_root, tmp_path) -> Path:
    copy = tmp_path / "a2d"
    shutil.copytree(synth_root, copy)
    return copy


def masks_of(root: Path, video: str) -> Path:
    return root / "text_annotations" / "a2d_annotation_with_instances" / video


def videos(root: Path, split: str) -> list[str]:
    missed = set((root / "text_annotations" / "a2d_missed_videos.txt").read_text().split())
    rows = list(csv.reader(open(root / "Release" / "videoset.csv")))
    return [r[0] for r in rows if r[8] == {"train": "0", "test": "1"}[split] and r[0] not in missed]


def samples(capsys, *argv: str) -> tuple[int, list[str], str]:
    rc = main(["data", "samples", "a2d", *argv])
    captured = capsys.readouterr()
    return rc, captured.out.splitlines(), captured.err


def test_a_missing_annotation_file_is_warned_about_with_the_samples_lost(root, capsys):
    rc, before, _ = samples(capsys, str(root))
    assert rc == 0
    video = videos(root, "train")[0]
    frames = sorted(masks_of(root, video).glob("*.h5"))
    frames[1].unlink()
    lost_here = sum(f'"video": "{video}", "frame": {int(frames[1].stem)},' in line
                    for line in before)
    assert lost_here >= 1
    for extra in ([], ["--skip-bad"]):
        rc, after, err = samples(capsys, str(root), *extra)
        assert rc == 0 and len(after) == len(before) - lost_here
        rows = len([r for r in csv.reader(open(root / "text_annotations" / "a2d_annotation.txt"))
                    if r[0] == video])
        warning = [line for line in err.splitlines() if line.startswith("WARNING")]
        assert len(warning) == 1
        assert (f"annotated frames missing: 1 h5 file in 1 video ({masks_of(root, video)} has "
                f"{len(frames) - 1} of {len(frames)}); up to {rows} sample") in warning[0]
        assert "annotated frames missing: 1 h5 file" in err.split("bad files skipped")[0]


def test_many_missing_files_name_the_first_few_and_count(root, capsys):
    train = videos(root, "train")
    for video in train[:4]:
        next(iter(sorted(masks_of(root, video).glob("*.h5")))).unlink()
    shutil.rmtree(masks_of(root, train[4]))  # a whole video's masks
    rc, _, err = samples(capsys, str(root), "--split", "train")
    assert rc == 0
    (warning,) = [line for line in err.splitlines() if line.startswith("WARNING")]
    stated = {r[0]: int(r[7]) for r in csv.reader(open(root / "Release" / "videoset.csv"))}
    assert f"annotated frames missing: {4 + stated[train[4]]} h5 files in 5 videos (" in warning
    assert ", ... (2 more)); up to" in warning and str(masks_of(root, train[0])) in warning


def test_eval_warns_about_the_missing_file_and_scores_the_rest(root, tmp_path, capsys):
    cfg = load_config("demo", SMALL + [f"data.root={root}"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "model.safetensors", build_model(cfg),
                           config=config_to_dict(cfg))
    argv = ["eval", "--checkpoint", str(ckpt), "--no-progress", "--out", str(tmp_path / "m")]
    assert main(argv) == 0
    full = capsys.readouterr().out
    test = videos(root, "test")[0]
    h5 = sorted(masks_of(root, test).glob("*.h5"))[0]
    h5.unlink()
    assert main(argv) == 0
    captured = capsys.readouterr()
    n_full = int(full.split("acga protocol, ")[1].split(" samples")[0])
    n_now = int(captured.out.split("acga protocol, ")[1].split(" samples")[0])
    assert n_now < n_full
    assert f"WARNING acga.data.a2d: annotated frames missing: 1 h5 file in 1 video " \
           f"({masks_of(root, test)} has" in captured.err


def test_an_empty_video_list_is_an_error_naming_it(root, capsys):
    videoset = root / "Release" / "videoset.csv"
    videoset.write_text("")
    rc, out, err = samples(capsys, str(root))
    assert rc == 2 and out == []
    assert err.startswith(f"acga data: error: {videoset} lists no videos") and err.count("\n") == 1
    # training and evaluation read the same list
    assert main(["train", "demo", *SMALL, f"data.root={root}", "--out",
                 str(root.parent / "run"), "--no-progress"]) == 2
    assert f"{videoset} lists no videos" in capsys.readouterr().err
    assert not (root.parent / "run" / "log.jsonl").exists()


def test_no_samples_at_all_is_an_error(root, capsys):
    shutil.rmtree(root / "text_annotations" / "a2d_annotation_with_instances")
    (root / "text_annotations" / "a2d_annotation_with_instances").mkdir()
    rc, out, err = samples(capsys, str(root), "--split", "test")
    assert rc == 2 and out == []
    assert f"acga data: error: a2d root {root} gives no samples for split 'test'" in err
    assert "annotated frames missing" in err  # the summary says why


def test_an_empty_jhmdb_annotation_file_is_an_error(tmp_path, capsys):
    root = tmp_path / "j"
    assert main(["synth", "jhmdb", "--out", str(root), "--videos", "1", "--size", "32",
                 "-q"]) == 0
    (root / "jhmdb_annotation.txt").write_text("video_id,query\n")
    assert main(["data", "samples", "jhmdb", str(root)]) == 2
    err = capsys.readouterr().err
    assert "jhmdb_annotation.txt has a header but no rows" in err


def test_a_truncated_mp4_read_for_training_is_warned_about(tmp_path, caplog):
    import av

    from acga.data.video import Mp4Frames

    path = tmp_path / "v.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.options = {"preset": "ultrafast"}
        for _ in range(20):
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])
    with caplog.at_level(logging.WARNING, logger="acga.data.video"):
        with Mp4Frames(path) as frames:
            n = frames.num_frames
    assert 0 < n < 20
    assert f"video file {path} is truncated or damaged: {n} of the 20 frames its container " \
           "states can be read" in caplog.text
