"""`acga train` hazards through the real main(): non-finite loss or weights, epochs < 1, a
second run into a busy folder, training over a finished run, SIGTERM/SIGKILL leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from acga.cli.main import main
from acga.config import load_config
from acga.engine import fit
from acga.errors import AcgaError
from acga.runsafety import launching_process, run_folder_lock, sigterm_as_exception
from engine_fixtures import TINY, TensorDataset
from fixtures_release import make_a2d_release

WORDS = ["a", "man", "dog", "the", "running", "cat", "eating", "jumping", "ball", "rolling"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = make_a2d_release(tmp_path_factory.mktemp("a2d_train"), with_videos=True)
    rng = np.random.default_rng(0)
    (root / "glove.txt").write_text("".join(
        w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=6)) + "\n" for w in WORDS))
    return root


def overrides(root: Path, *extra: str) -> list[str]:
    """5 train samples, batches of 2: 2 steps an epoch, a fraction of a second each."""
    return [f"data.root={root}", f"data.word_vectors={root / 'glove.txt'}", "model.word_dim=6",
            "model.small3d_widths=[4,8]", "model.visual_dim=8", "model.clip_len=2",
            "model.input_size=32", "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]",
            "model.deconv_dims=[4,4]", "train.batch_size=2", "train.epochs=1", *extra]


def train(root: Path, out: Path, *extra: str) -> int:
    flags = [a for a in extra if a.startswith("--")]
    sets = [a for a in extra if not a.startswith("--")]
    return main(["train", "demo", *overrides(root, *sets), "--out", str(out), "--no-progress",
                 *flags])


def dead_pid() -> int:
    """The pid of a process that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()
            and p.name != ".acga.lock"}


def step_records(out: Path) -> list[dict]:
    return [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())
            if r["kind"] == "step"]


# --------------------------------------------------------------------- config refusals


@pytest.mark.parametrize("value, needle", [
    ("train.lr=.inf", "train.lr = inf must be finite and > 0"),
    ("train.lr=.nan", "train.lr = nan must be finite and > 0"),
    ("train.epochs=0", "train.epochs = 0: nothing would be trained"),
])
def test_impossible_schedules_are_refused_before_anything_is_written(release, tmp_path, capsys,
                                                                     value, needle):
    out = tmp_path / "run"
    assert train(release, out, value) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and "checkpoint:" not in captured.out
    assert not out.exists()


# ---------------------------------------------------------------------- non-finite values


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(release, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(release, out) == 0
    good = snapshot(out)
    capsys.readouterr()
    # 1e30 is a valid learning rate; the second step of epoch 2 meets a NaN loss
    assert train(release, out, "train.epochs=2", "train.lr=1e30", "--resume") == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith("acga train: error: training stopped: the loss is nan at epoch 2, step")
    assert f"the last good checkpoint {out / 'last.safetensors'} (end of epoch 1) is untouched" in err
    assert "checkpoint:" not in captured.out
    now = snapshot(out)
    for name in ("last.safetensors", "epoch_1.safetensors"):
        assert now[name] == good[name], name  # nothing with NaN was saved
    assert "epoch_2.safetensors" not in now and temporaries(out) == []
    assert all(np.isfinite(r["loss"]) for r in step_records(out))  # no NaN record in the log


def test_non_finite_weights_are_never_saved(tmp_path, monkeypatch):
    cfg = load_config("demo", TINY + ["train.epochs=1"])
    real_step = torch.optim.Adam.step

    def poisoned_step(self, *args, **kwargs):  # the update that makes a weight infinite
        result = real_step(self, *args, **kwargs)
        with torch.no_grad():
            self.param_groups[0]["params"][0].view(-1)[0] = float("inf")
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", poisoned_step)
    data = TensorDataset(2, cfg)  # one step an epoch: the loss is still finite at the save
    with pytest.raises(AcgaError, match=r"the weights are not finite \(.*\) at epoch 1, step 1 "
                                        r".*no checkpoint was written"):
        fit(cfg, data, tmp_path / "run", progress=False)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "log.jsonl"]


# ------------------------------------------------------------------ an earlier run folder


def test_a_finished_run_is_not_replaced_without_resume_or_overwrite(release, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(release, out) == 0
    (out / "notes.txt").write_text("what I tried")
    (out / "metrics_a2d.json").write_text("{}")  # what `acga eval` writes beside a checkpoint
    before = snapshot(out)
    capsys.readouterr()
    assert train(release, out, "train.seed=3") == 2
    (err,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert err.startswith(f"acga train: error: run folder {out} already holds a run (log.jsonl, "
                          "last.safetensors, epoch_1.safetensors)")
    assert "--resume" in err and "--overwrite" in err
    assert snapshot(out) == before  # no checkpoint replaced, nothing appended to the log

    assert train(release, out, "--resume", "--overwrite") == 2
    assert "contradict" in capsys.readouterr().err

    assert train(release, out, "train.seed=3", "--overwrite") == 0
    after = snapshot(out)
    assert after["notes.txt"] == b"what I tried" and after["metrics_a2d.json"] == b"{}"
    assert after["last.safetensors"] != before["last.safetensors"]
    assert len(step_records(out)) == 2  # a fresh log: this run's 2 steps only
    assert json.loads(after["config.json"])["train"]["seed"] == 3


def test_an_out_that_is_a_file_is_refused(release, tmp_path, capsys):
    (tmp_path / "run").write_text("not a folder")
    assert train(release, tmp_path / "run") == 2
    # refused before anything runs, by the command's check of its output paths
    assert f"{tmp_path / 'run'}: not a directory (it is a file)" in capsys.readouterr().err
    assert (tmp_path / "run").read_text() == "not a folder"


def test_resume_without_a_last_checkpoint_is_refused_when_a_run_is_there(release, tmp_path,
                                                                         capsys):
    out = tmp_path / "run"
    assert train(release, out) == 0
    (out / "last.safetensors").unlink()
    capsys.readouterr()
    assert train(release, out, "--resume") == 2
    err = capsys.readouterr().err
    assert "last.safetensors does not exist" in err and "--overwrite" in err
    assert (out / "epoch_1.safetensors").is_file()


def test_a_finished_resume_trains_nothing_and_prints_an_existing_checkpoint(release, tmp_path,
                                                                            capsys):
    out = tmp_path / "run"
    assert train(release, out) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert train(release, out, "--resume") == 0
    captured = capsys.readouterr()
    assert "nothing to train" in captured.err
    assert f"checkpoint: {out / 'last.safetensors'}" in captured.out
    assert snapshot(out)["last.safetensors"] == before["last.safetensors"]


# -------------------------------------------------------------------------------- the lock


HOLD_LOCK = """
import sys, time
from acga.runsafety import run_folder_lock
with run_folder_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_second_run_into_a_busy_folder_is_refused_naming_the_pid(release, tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert train(release, out) == 2
        err = capsys.readouterr().err
        assert f"run folder {out} is in use by another acga train (pid {holder.pid})" in err
        assert not (out / "log.jsonl").exists() and not (out / "config.json").exists()
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock with the process
        holder.wait()
    assert train(release, out) == 0
    with run_folder_lock(out):  # released when train returned
        pass


def test_the_lock_is_reentrant_and_only_the_launching_process_takes_it(tmp_path, monkeypatch):
    with run_folder_lock(tmp_path / "run"):
        with run_folder_lock(tmp_path / "run"):  # train's CLI, then fit_local
            pass
        assert (tmp_path / "run" / ".acga.lock").read_text().strip() == str(os.getpid())
    assert (tmp_path / "run" / ".acga.lock").read_text() == ""
    monkeypatch.setenv("RANK", "1")
    assert not launching_process()  # torchrun's other ranks neither lock nor clear
    monkeypatch.setenv("RANK", "0")
    assert launching_process()


# ------------------------------------------------------------------------------ leftovers


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(release, tmp_path):
    out = tmp_path / "run"
    assert train(release, out) == 0
    stale = out / f".last.safetensors.{dead_pid()}.tmp"  # the older checkpoint name
    stale.write_bytes(b"half a checkpoint")
    stale_config = out / f".config.json.{dead_pid()}-k2x_9q.tmp"  # acga.utils.atomic_write's
    stale_config.write_text("{")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = out / f".epoch_2.safetensors.{sleeper.pid}.tmp"
        live.write_bytes(b"being written")
        assert train(release, out, "train.epochs=2", "--resume") == 0
        assert temporaries(out) == [live.name]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigterm_while_a_checkpoint_is_written_removes_its_temporary(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync_then_sigterm(fd):
        real_fsync(fd)
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".last.safetensors." in name:
            assert Path(name).is_file()  # the temporary exists when the signal arrives
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here

    monkeypatch.setattr(os, "fsync", fsync_then_sigterm)
    cfg = load_config("demo", TINY + ["train.epochs=1"])
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as info:
        with sigterm_as_exception("train"):
            fit(cfg, TensorDataset(2, cfg), tmp_path / "run", progress=False)
    assert info.value.code == 143
    assert temporaries(tmp_path / "run") == [] and not (tmp_path / "run" / "last.safetensors").exists()
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the handler is put back


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _train_process(release: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "acga", "train", "demo",
                             *overrides(release, "train.epochs=500", *extra), "--out", str(out),
                             "--no-progress", "-q"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigterm_stops_train_cleanly_and_frees_the_folder(release, tmp_path):
    out = tmp_path / "run"
    proc = _train_process(release, out)
    try:
        _wait_for(lambda: (out / "log.jsonl").is_file() and (out / "log.jsonl").stat().st_size > 0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert "acga train: terminated (SIGTERM)" in err and "Traceback" not in err
    assert temporaries(out) == []
    with run_folder_lock(out):
        pass
    # stopped before its first checkpoint: --resume starts again (the log is truncated)
    assert train(release, out, "--resume") == 0
    assert len(step_records(out)) == 2


@pytest.mark.slow
def test_sigterm_ends_the_spawned_training_processes(release, tmp_path):
    out = tmp_path / "run"
    proc = _train_process(release, out, "train.processes=2")
    try:
        _wait_for(lambda: (out / "log.jsonl").is_file() and (out / "log.jsonl").stat().st_size > 0,
                  timeout=120)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)  # does not wait for the workers to finish
    finally:
        proc.kill()
    assert proc.returncode == 143 and "terminated" in err
    size = (out / "log.jsonl").stat().st_size
    time.sleep(1.0)
    assert (out / "log.jsonl").stat().st_size == size  # no worker goes on training
    assert temporaries(out) == []
