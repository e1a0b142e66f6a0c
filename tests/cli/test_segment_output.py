"""`acga segment` and its output folder through the real main(): a truncated video is warned
about, a re-run replaces only segment's own files, SIGTERM/SIGKILL leave nothing behind for long."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from acga.checkpoint import save_checkpoint
from acga.cli.main import main
from acga.config import config_to_dict, load_config
from acga.models import build_model

TINY = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
        "model.word_dim=6", "model.num_words=5", "model.clip_len=4", "model.input_size=32",
        "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
        "data.source=video"]


def write_video(path: Path, n: int, *, faststart: bool = False) -> Path:
    """``n`` frames of 48x64 noise at 10 fps (noise: the bytes grow with the frame count)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"preset": "ultrafast", "g": "5"}
        for _ in range(n):
            frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("segout")
    torch.manual_seed(0)
    cfg = load_config("demo", TINY)
    ckpt = save_checkpoint(root / "tiny.safetensors", build_model(cfg), config=config_to_dict(cfg))
    rng = np.random.default_rng(0)
    (root / "vectors.txt").write_text("".join(
        w + " " + " ".join(f"{v:.4f}" for v in rng.standard_normal(6)) + "\n"
        for w in ("the", "dog", "running", "ball")))
    # the moov atom first (as phone and web videos have it): a cut file still opens
    full = write_video(root / "full.mp4", 30, faststart=True)
    data = full.read_bytes()
    (root / "cut.mp4").write_bytes(data[: int(len(data) * 0.8)])
    return {"ckpt": ckpt, "vectors": root / "vectors.txt", "short": write_video(root / "s.mp4", 6),
            "full": full, "cut": root / "cut.mp4", "long": write_video(root / "long.mp4", 400)}


def args(files, video: str, out: Path, *extra: str) -> list[str]:
    return ["segment", str(files[video]), "the dog running", "--checkpoint", str(files["ckpt"]),
            "--word-vectors", str(files["vectors"]), "--out", str(out), "--no-progress", *extra]


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_truncated_video_is_segmented_with_a_warning(files, tmp_path, capsys):
    assert main(args(files, "full", tmp_path / "full")) == 0
    assert "30 frames" in capsys.readouterr().out
    out = tmp_path / "cut"
    assert main(args(files, "cut", out)) == 0
    captured = capsys.readouterr()
    decoded = len(list((out / "masks" / "0").glob("*.png")))
    assert 0 < decoded < 30 and f"{decoded} frames (64x48)" in captured.out
    warning = (f"{files['cut']} is truncated or damaged: decoded {decoded} frames but its "
               "container states 30 frames")
    assert warning in captured.err
    assert any(w.startswith(warning) for w in json.loads((out / "segment.json").read_text())["warnings"])


def test_a_file_that_is_not_a_video_is_an_error(files, tmp_path, capsys):
    (tmp_path / "head.mp4").write_bytes(files["cut"].read_bytes()[:200])
    files = dict(files, head=tmp_path / "head.mp4")
    assert main(args(files, "head", tmp_path / "out")) == 2
    assert "head.mp4" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and hidden(tmp_path) == []


def test_a_rerun_replaces_only_what_segment_wrote(files, tmp_path, capsys):
    out = tmp_path / "seg"
    assert main(args(files, "short", out, "--query", "the ball", "--attention")) == 0
    listed = json.loads((out / "segment.json").read_text())["files"]
    assert "masks/1/00006.png" in listed and "attention/q1_words.png" in listed
    assert "segment.json" in listed and "overlay.mp4" in listed
    (out / "notes.txt").write_text("the dog is mine")
    (out / "masks" / "1" / "checked.txt").write_text("frames 2-4 look right")
    (out / "masks" / "0" / "00001-edited.png").write_bytes(b"my fix")
    overlay_before = (out / "overlay.mp4").stat().st_mtime_ns
    time.sleep(0.01)
    assert main(args(files, "short", out)) == 0  # one query, no attention this time
    assert (out / "notes.txt").read_text() == "the dog is mine"
    assert (out / "masks" / "1" / "checked.txt").read_text() == "frames 2-4 look right"
    assert (out / "masks" / "0" / "00001-edited.png").read_bytes() == b"my fix"
    assert sorted(p.name for p in (out / "masks" / "1").iterdir()) == ["checked.txt"]
    assert not (out / "attention").exists()  # emptied, so removed
    assert len(list((out / "masks" / "0").glob("0000?.png"))) == 6
    assert (out / "overlay.mp4").stat().st_mtime_ns != overlay_before
    summary = json.loads((out / "segment.json").read_text())
    assert [q["text"] for q in summary["queries"]] == ["the dog running"]
    assert "notes.txt" not in summary["files"]
    assert hidden(tmp_path) == []


def test_a_users_file_where_segment_writes_is_refused_and_nothing_changes(files, tmp_path,
                                                                          capsys):
    out = tmp_path / "seg"
    assert main(args(files, "short", out)) == 0
    (out / "frames.csv").unlink()
    (out / "frames.csv").mkdir()  # someone's folder where segment writes its frame times
    (out / "frames.csv" / "mine.txt").write_text("keep")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    capsys.readouterr()
    assert main(args(files, "short", out)) == 2
    err = capsys.readouterr().err
    assert f"output folder {out}: frames.csv is not a file `acga segment` wrote" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert hidden(tmp_path) == []


def test_temporaries_of_dead_runs_are_removed_live_ones_kept(files, tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".seg.tmp-{int(done.stdout)}-0a1b2c3d"
    (stale / "masks" / "0").mkdir(parents=True)
    (stale / "masks" / "0" / "00001.png").write_bytes(b"x")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".seg.tmp-{sleeper.pid}-deadbeef"
        live.mkdir()
        other = tmp_path / f".other.tmp-{int(done.stdout)}-0a1b2c3d"  # another output's
        other.mkdir()
        assert main(args(files, "short", tmp_path / "seg")) == 0
        assert hidden(tmp_path) == sorted([live.name, other.name])
    finally:
        sleeper.kill()
        sleeper.wait()


def _start(files, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "acga", *args(files, "long", out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_temporary(folder: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(p.name.startswith(".seg.tmp-") for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "segment did not start"
        time.sleep(0.02)


def test_sigterm_removes_the_temporary_folder(files, tmp_path):
    proc = _start(files, tmp_path / "seg")
    try:
        _wait_for_temporary(tmp_path, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "acga segment: terminated (SIGTERM)" in err
    assert "Traceback" not in err
    assert hidden(tmp_path) == [] and not (tmp_path / "seg").exists()


def test_after_sigkill_the_next_run_removes_the_leftover(files, tmp_path):
    proc = _start(files, tmp_path / "seg")
    try:
        _wait_for_temporary(tmp_path, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    (leftover,) = hidden(tmp_path)
    assert leftover.startswith(f".seg.tmp-{proc.pid}-")
    assert main(args(files, "short", tmp_path / "seg")) == 0
    assert hidden(tmp_path) == [] and (tmp_path / "seg" / "segment.json").is_file()
