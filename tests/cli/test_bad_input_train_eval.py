"""`acga train` and `acga eval` on bad input: run folders the file system refuses, config values
that cannot train (NaN learning rate, unknown device), annotation files of random bytes, damaged
masks (no advice to pass --skip-bad, which these commands lack), and a CONFIG that feeds a
checkpoint other inputs than it was trained with (a warning)."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import torch

from acga.checkpoint import save_checkpoint
from acga.cli.main import main
from acga.config import config_to_dict, load_config
from acga.models import build_model
from bad_input import CAUSES, error_line, inject, needs_non_root, places, tree  # noqa: F401
from fixtures_release import make_a2d_release

WORDS = ["a", "man", "dog", "the", "left", "running", "woman", "walking", "on", "ball"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = make_a2d_release(tmp_path_factory.mktemp("a2d_bad"))
    rng = np.random.default_rng(0)
    glove = root / "glove.txt"
    glove.write_text("".join(w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=6)) + "\n"
                             for w in WORDS))
    return root, glove


def _tiny(release, clip_len=4):
    root, glove = release
    return [f"data.root={root}", f"data.word_vectors={glove}", "model.word_dim=6",
            "model.small3d_widths=[4,8]", "model.visual_dim=8", f"model.clip_len={clip_len}",
            "model.input_size=32", "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]",
            "model.deconv_dims=[4,4]", "train.batch_size=2", "train.epochs=1",
            "train.steps_per_epoch=1", "data.source=video"]


def _train(release, out, *extra):
    return ["train", "demo", *_tiny(release), *extra, "--out", str(out), "--no-progress", "-q"]


@pytest.fixture(scope="module")
def checkpoint(release, tmp_path_factory):
    torch.manual_seed(0)
    cfg = load_config("demo", _tiny(release))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, build_model(cfg), config=config_to_dict(cfg))


# ---------------------------------------------------------------- train --out (5 cases)

def test_train_out_under_a_file(release, places, capsys):
    error_line(capsys, _train(release, places.under_file), str(places.file), "not a directory")
    assert places.untouched()


def test_train_out_is_a_file(release, places, capsys):
    error_line(capsys, _train(release, places.file), str(places.file), "not a directory")
    assert places.untouched()


@needs_non_root
def test_train_out_in_a_readonly_folder(release, places, capsys):
    error_line(capsys, _train(release, places.readonly / "run"), "permission denied")
    assert places.untouched()


def test_train_out_on_a_readonly_file_system(release, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.EROFS, "mkstemp")
    error_line(capsys, _train(release, tmp_path / "run"), str(tmp_path / "run"),
               "read-only file system")
    assert not (tmp_path / "run").exists()


def test_train_disk_full_leaves_no_partial_file(release, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.ENOSPC)  # every atomic write: config.json, checkpoints
    error_line(capsys, _train(release, tmp_path / "run"), "no space left on device")
    left = tree(tmp_path)
    assert not [p for p in left if p.endswith(".tmp") or p.endswith((".json", ".safetensors"))]


# ------------------------------------------------------------ train: config (7 cases)

@pytest.mark.parametrize("override, expect", [
    ("train.lr=nan", "train.lr = nan must be finite and > 0"),
    ("train.lr=inf", "train.lr = inf must be finite and > 0"),
    ("train.lr=0", "train.lr = 0.0 must be finite and > 0"),
    ("loss.pos_weight=nan", "loss.pos_weight = nan must be a finite number"),
    ("loss.weights=[1,.nan,1]", "loss.weights[1] = nan must be a finite number"),
    ("train.device=tpu", "train.device = 'tpu' is not a device"),
    ("model.name=unet", "model.name = 'unet' is not a model; use one of: acga, cmsa, gavrilyuk, hu, li"),
])
def test_train_refuses_config_values_at_load(release, tmp_path, capsys, override, expect):
    error_line(capsys, _train(release, tmp_path / "run", override), expect)
    assert not (tmp_path / "run").exists()


def test_train_cuda_without_a_gpu(release, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    error_line(capsys, _train(release, tmp_path / "run", "train.device=cuda"),
               "train.device cuda", "sees no CUDA GPU")


# --------------------------------------------------- train: damaged release (3 cases)

@pytest.mark.parametrize("name", ["text_annotations/a2d_annotation.txt", "Release/videoset.csv",
                                  "text_annotations/a2d_missed_videos.txt"])
def test_random_bytes_annotation_file_is_named(release, tmp_path, capsys, name):
    root = make_a2d_release(tmp_path / "rel", with_videos=False)
    (root / name).write_bytes(bytes(np.random.default_rng(3).integers(0, 256, 4000, np.uint8)))
    line = error_line(capsys, _train(release, tmp_path / "run", f"data.root={root}"),
                      str(root / name))
    assert "UTF-8 text" in line or "CSV text" in line


def test_damaged_h5_does_not_advise_skip_bad_to_train(release, tmp_path, capsys):
    root = make_a2d_release(tmp_path / "rel")
    for h5 in (root / "text_annotations").rglob("*.h5"):  # train and test frames alike
        h5.write_bytes(b"this is not an HDF5 file" * 10)
    line = error_line(capsys, _train(release, tmp_path / "run", f"data.root={root}"),
                      ".h5", "re-download the file", f"acga data samples a2d {root} --skip-bad")
    assert "or pass --skip-bad" not in line


# ---------------------------------------------------------------- eval --out (5 cases)

def _eval(checkpoint, out, *extra):
    return ["eval", "--checkpoint", str(checkpoint), "--out", str(out), "--no-progress", "-q",
            *extra]


@pytest.mark.parametrize("where, cause", [("under_file", "not a directory"),
                                          ("file", "not a directory")])
def test_eval_out_refused_before_evaluating(checkpoint, places, capsys, where, cause):
    error_line(capsys, _eval(checkpoint, getattr(places, where)), cause)
    assert places.untouched()


@needs_non_root
def test_eval_out_in_a_readonly_folder(checkpoint, places, capsys):
    error_line(capsys, _eval(checkpoint, places.readonly), "permission denied")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_eval_refused_writes_leave_nothing(checkpoint, tmp_path, monkeypatch, capsys, code):
    out = tmp_path / "eval"
    out.mkdir()
    inject(monkeypatch, code, "fsync" if code == errno.ENOSPC else "mkstemp")
    error_line(capsys, _eval(checkpoint, out), CAUSES[code])
    assert tree(out) == set()  # neither metrics nor per-sample file, no temporary file


# -------------------------------------------------------- eval: bad files (4 cases)

def _random_pth(path):
    path.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4000, np.uint8)))


@pytest.mark.parametrize("content, expect", [
    (_random_pth, "is not a checkpoint: it is unrecognised binary data"),
    (lambda p: torch.save({"w": torch.zeros(1)}, p), "is a PyTorch torch.save file, not an acga checkpoint"),
    (lambda p: p.write_text("hello\n"), "is not a checkpoint: it is a text file"),
])
def test_eval_says_what_a_bad_checkpoint_is(tmp_path, capsys, content, expect):
    bad = tmp_path / "model.pth"
    content(bad)
    line = error_line(capsys, _eval(bad, tmp_path / "e"), str(bad), expect)
    assert "weights_only" not in line


def test_eval_damaged_h5_does_not_advise_skip_bad(release, checkpoint, tmp_path, capsys):
    root = make_a2d_release(tmp_path / "rel", corrupt=True, with_videos=False)
    line = error_line(capsys, _eval(checkpoint, tmp_path / "e", f"data.root={root}"), "00004.h5")
    assert "or pass --skip-bad" not in line


# --------------------------------------- eval: a CONFIG unlike the checkpoint's (2 cases)

def test_eval_warns_when_config_changes_the_inputs(release, checkpoint, tmp_path, capsys):
    out = tmp_path / "e"
    argv = ["eval", "demo", *_tiny(release, clip_len=2), "--checkpoint", str(checkpoint),
            "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")
              and "other inputs" in line]
    assert len(warned) == 1
    assert "model.clip_len = 2 here, 4 in the checkpoint" in warned[0]
    assert "model.input_size" not in warned[0]  # only the fields that differ
    assert json.loads((out / "metrics_a2d.json").read_text())["acga"]["mean_iou"] >= 0.0


def test_eval_with_the_checkpoints_config_is_silent(release, checkpoint, tmp_path, capsys):
    argv = ["eval", "demo", *_tiny(release), "--checkpoint", str(checkpoint),
            "--out", str(tmp_path / "e"), "--no-progress"]
    assert main(argv) == 0
    assert "other inputs" not in capsys.readouterr().err
