"""Training engine: resume after a kill gives the same weights; checkpoints are safe."""

from __future__ import annotations

import json

import pytest
import torch

from acga.checkpoint import load_checkpoint, load_model_weights, save_checkpoint
from acga.config import config_to_dict, load_config
from acga.engine import batch_order, fit, lr_at
from acga.errors import CheckpointError
from acga.models import build_model
from engine_fixtures import TINY, TensorDataset

def _weights(path):
    return load_checkpoint(path).model


@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_resume_after_interruption_gives_the_same_weights(tmp_path, schedule):
    cfg = load_config("demo", TINY + [f"train.lr_schedule={schedule}"])
    data = TensorDataset(6, cfg)  # 3 steps per epoch, 6 steps in all
    fit(cfg, data, tmp_path / "full", progress=False)
    fit(cfg, data, tmp_path / "cut", progress=False, stop_after_steps=4)  # killed mid-epoch 2
    ckpt = load_checkpoint(tmp_path / "cut" / "last.safetensors")
    assert (ckpt.state["epoch"], ckpt.state["step"]) == (1, 1)
    fit(cfg, data, tmp_path / "cut", progress=False, resume=True)
    full, resumed = _weights(tmp_path / "full" / "last.safetensors"), _weights(tmp_path / "cut" / "last.safetensors")
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    # the log of the resumed run holds each step exactly once, like the uninterrupted one
    steps = lambda p: [json.loads(x)["global_step"] for x in (p / "log.jsonl").read_text().splitlines()  # noqa: E731
                       if json.loads(x)["kind"] == "step"]
    assert steps(tmp_path / "cut") == steps(tmp_path / "full") == [1, 2, 3, 4, 5, 6]


def test_schedule_and_batch_order_are_pure_functions():
    cfg = load_config("acga_a2d")
    assert [lr_at(cfg, e) for e in (0, 7, 8, 11)] == pytest.approx([5e-4, 5e-4, 5e-5, 5e-5])
    released = load_config("released_code")
    assert [lr_at(released, e) for e in (7, 8)] == pytest.approx([5e-4, 5e-5])
    # cosine: lr (1 + cos(pi * done)) / 2 with done = updates so far / all updates (4 x 10)
    cosine = load_config("acga_a2d", ["train.lr_schedule=cosine", "train.epochs=4", "train.lr=1e-3"])
    got = [lr_at(cosine, e, s, 10) for e, s in ((0, 0), (1, 0), (2, 0), (3, 0), (3, 9))]
    assert got == pytest.approx([1e-3, 0.853553e-3, 0.5e-3, 0.146447e-3, 1.54133e-6], rel=1e-4)
    a, b = batch_order(cfg, 10, 0), batch_order(cfg, 10, 0)
    assert a == b and len(a) == 2 and sorted(sum(a, [])) != [] and len(set(sum(a, []))) == 8
    assert batch_order(cfg, 10, 1) != a
    rb = batch_order(released, 10, 0)  # fresh random batches: no repeat inside a batch
    assert all(len(set(batch)) == 4 for batch in rb)


def test_the_sampler_gives_each_process_its_slice_of_the_batch_order():
    from acga.engine import BatchOrderSampler, DistInfo

    cfg = load_config("demo", TINY + ["train.batch_size=4"])
    order = batch_order(cfg, 10, 3)  # 2 global batches of 4 (10 // 4 steps)
    ranks = [BatchOrderSampler(cfg, 10, DistInfo(rank, 2)) for rank in (0, 1)]
    for sampler in ranks:
        sampler.set_epoch(3)
    assert len(ranks[0]) == 2
    for step, (a, b) in enumerate(zip(*ranks)):  # rank 0 takes items 0, 2; rank 1 items 1, 3
        assert a == order[step][0::2] and b == order[step][1::2] and len(a) == 2
    ranks[0].set_epoch(3, first=1)  # a run resumed at step 1 of the epoch
    assert list(ranks[0]) == [order[1][0::2]] and len(ranks[0]) == 1


def _step_losses(out):
    return [r["loss"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())
            if r["kind"] == "step"]


def test_loader_workers_train_as_the_training_process_does(tmp_path):
    """train.num_workers=2, killed mid-epoch 2 and resumed, ends as one uninterrupted run
    without workers: same losses step by step, same weights; no worker outlives fit."""
    import multiprocessing

    cfg = load_config("demo", TINY)
    workers = load_config("demo", TINY + ["train.num_workers=2"])
    data = TensorDataset(6, cfg)  # 3 steps per epoch
    fit(cfg, data, tmp_path / "plain", progress=False)
    fit(workers, data, tmp_path / "workers", progress=False, stop_after_steps=4)
    assert multiprocessing.active_children() == []  # the stop mid-epoch ended the workers
    fit(workers, data, tmp_path / "workers", progress=False, resume=True)
    assert multiprocessing.active_children() == []
    plain, loaded = _step_losses(tmp_path / "plain"), _step_losses(tmp_path / "workers")
    assert len(plain) == 6 and loaded == pytest.approx(plain, rel=1e-6, abs=1e-6)
    a = _weights(tmp_path / "plain" / "last.safetensors")
    b = _weights(tmp_path / "workers" / "last.safetensors")
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=0, atol=1e-6), key


def test_a_sample_draws_no_random_numbers(tmp_path):
    """Why workers may load samples: dataset[i] depends on i alone (no augmentation), so a
    worker, with random states of its own, returns what the training process would."""
    import random

    import numpy as np

    from acga.data.dataset import build_dataset
    from fixtures_release import make_a2d_release

    root = make_a2d_release(tmp_path, with_videos=True)
    (root / "vectors.txt").write_text("".join(f"{w} {' '.join(['0.5'] * 6)}\n" for w in
                                              ("a", "man", "dog", "the", "running", "cat")))
    cfg = load_config("demo", TINY + [f"data.word_vectors={root / 'vectors.txt'}"])
    dataset = build_dataset(cfg, "train", root=root)
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    first = [dataset[i] for i in range(len(dataset))]
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]
    torch.manual_seed(99), np.random.seed(99), random.seed(99)  # another worker's seeds
    for i, item in enumerate(first):
        again = dataset[i]
        assert item.keys() == again.keys() and all(torch.equal(item[k], again[k]) for k in item)


def test_checkpoint_round_trip_and_refusals(tmp_path):
    cfg = load_config("demo", TINY)
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "m.safetensors", model, config=config_to_dict(cfg))
    other = build_model(cfg)
    load_model_weights(other, load_checkpoint(path))
    for (k, v), (_, w) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(v, w), k
    # truncated file
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors.*truncated"):
        load_checkpoint(tmp_path / "cut.safetensors")
    # foreign file (a pickle) is refused, never unpickled
    torch.save({"a": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt"):
        load_checkpoint(tmp_path / "foreign.pt")
    # config mismatch lists the keys and shapes
    bigger = build_model(load_config("demo", TINY + ["model.head_widths=[6,4,4]"]))
    with pytest.raises(CheckpointError, match=r"decoder\.head\.S\.0\.weight: checkpoint \(4, 30, 3, 3\) vs model \(6, 30, 3, 3\)"):
        load_model_weights(bigger, load_checkpoint(path))


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    cfg = load_config("demo", TINY)
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "last.safetensors", model, config=config_to_dict(cfg))
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    import acga.utils

    monkeypatch.setattr(acga.utils.os, "fsync", disk_full)  # the disk fills at the flush
    with pytest.raises(OSError) as err:
        save_checkpoint(path, model, config=config_to_dict(cfg))
    assert err.value.errno == 28 and err.value.filename == str(path)  # named for the CLI's line
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_bf16_mixed_precision_trains_on_cpu(tmp_path):
    cfg = load_config("demo", TINY + ["train.amp=bf16", "train.epochs=1"])
    fit(cfg, TensorDataset(4, cfg), tmp_path, progress=False)
    losses = [json.loads(x)["loss"] for x in (tmp_path / "log.jsonl").read_text().splitlines()
              if json.loads(x)["kind"] == "step"]
    assert len(losses) == 2 and all(0 < v < 100 for v in losses)
    # weights stay float32 (autocast only lowers the precision of the computation)
    assert all(t.dtype == torch.float32 for t in _weights(tmp_path / "last.safetensors").values()
               if t.is_floating_point())


def test_local_processes_caps_at_the_cpus_and_steps_aside_for_torchrun(monkeypatch):
    from acga.engine import local_processes
    from acga.errors import ConfigError

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    cfg = load_config("demo", TINY + ["train.batch_size=6", "train.processes=6", "train.device=cpu"])
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert local_processes(cfg) == 6
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert local_processes(cfg) == 3  # 4 cores, but 4 does not divide the batch of 6
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert local_processes(cfg) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun started the processes already
    assert local_processes(cfg) == 1
    with pytest.raises(ConfigError, match=r"train.processes = 4 must be >= 1 and divide train.batch_size = 6"):
        load_config("demo", TINY + ["train.batch_size=6", "train.processes=4"])


def test_fit_local_with_one_process_is_fit(tmp_path):
    from functools import partial

    from acga.engine import fit_local

    cfg = load_config("demo", TINY + ["train.epochs=1", "train.processes=1"])
    a = fit(cfg, TensorDataset(4, cfg), tmp_path / "a", progress=False)
    b = fit_local(cfg, partial(TensorDataset, 4, cfg), tmp_path / "b", progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in handle)
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
def test_a_worker_ends_when_its_parent_is_killed(tmp_path):
    """A killed `acga train` must not leave its spawned workers training on."""
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "worker.pid"
    parent = (
        "import multiprocessing as mp, os, sys, time\n"
        "from engine_fixtures import sleep_until_orphaned\n"
        "if __name__ == '__main__':\n"
        f"    p = mp.get_context('spawn').Process(target=sleep_until_orphaned, args=({str(pid_file)!r},))\n"
        "    p.start()\n"
        f"    while not os.path.exists({str(pid_file)!r}): time.sleep(0.02)\n"
        "    time.sleep(0.2)\n"
        "    os._exit(9)  # dies the way a SIGKILL would: no cleanup, no join\n"
    )
    tests_dir = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", parent], cwd=tests_dir, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": tests_dir})
    assert done.returncode == 9
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


def test_progress_into_a_file_is_a_line_per_epoch(tmp_path, capfd, caplog):
    # stderr is captured (not a terminal): no carriage-return redraws, one log line per epoch
    import logging

    cfg = load_config("demo", TINY + ["train.epochs=2"])
    with caplog.at_level(logging.INFO, logger="acga.progress"):
        fit(cfg, TensorDataset(6, cfg), tmp_path, progress=True)  # 3 steps per epoch
    err = capfd.readouterr().err
    assert "\r" not in err and len(err) < 500
    lines = [r.getMessage() for r in caplog.records if r.name == "acga.progress"]
    assert [m.split(" in ")[0] for m in lines] == ["epoch 1/2: 3/3 steps", "epoch 2/2: 3/3 steps"]
    assert all("loss=" in m for m in lines)


def test_init_visual_starts_from_another_runs_encoder_and_refuses_a_mismatch(tmp_path):
    """train.init_visual: the visual encoder starts from a checkpoint's ``visual.*`` weights
    (of a run of another config: the Baseline), everything else from this model's own init."""
    source_cfg = load_config("ablations/baseline", [*TINY, "model.small3d_stem_kernel=[1,5,5]"])
    torch.manual_seed(3)
    source = build_model(source_cfg)
    src = save_checkpoint(tmp_path / "baseline.safetensors", source, config=config_to_dict(source_cfg))
    # lr 1e-12: an Adam step moves a parameter by about lr, so after two steps the parameters
    # are their initial values to well within the 1e-7 compared below
    frozen = TINY + ["train.lr=1e-12", "train.epochs=1"]
    cfg = load_config("demo", frozen + [f"train.init_visual={src}"])
    data = TensorDataset(4, cfg)
    model = fit(cfg, data, tmp_path / "init", progress=False)
    plain = fit(load_config("demo", frozen), data, tmp_path / "plain", progress=False)
    params = dict(model.named_parameters())
    own_init = dict(plain.named_parameters())
    visual = [k for k in params if k.startswith("visual.")]
    assert visual and len(visual) == len(list(source.visual.parameters()))
    for k in visual:
        expected = source.state_dict()[k]
        assert torch.allclose(params[k], expected, atol=1e-7), k
        if expected.dim() > 1:  # random kernels (BatchNorm starts at 1 and 0 in both)
            assert not torch.allclose(own_init[k], expected, atol=1e-3), k
    for k in [k for k in params if k.startswith("decoder.")]:  # the rest: this model's own init
        assert torch.allclose(params[k], own_init[k], atol=1e-7), k
    assert json.loads((tmp_path / "init" / "config.json").read_text())["train"]["init_visual"] == str(src)

    wider = load_config("demo", frozen + ["model.small3d_widths=[4,6]", f"train.init_visual={src}"])
    with pytest.raises(CheckpointError, match=r"baseline.safetensors does not match the model's 'visual' part: .*shape mismatch"):
        fit(wider, TensorDataset(4, wider), tmp_path / "wider", progress=False)
    gone = load_config("demo", frozen + [f"train.init_visual={tmp_path / 'nope.safetensors'}"])
    with pytest.raises(CheckpointError, match=r"nope.safetensors does not exist"):
        fit(gone, TensorDataset(4, gone), tmp_path / "gone", progress=False)
