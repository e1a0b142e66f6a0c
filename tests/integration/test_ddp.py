"""Distributed training: 2 processes (gloo, CPU) follow the 1-process loss curve."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from acga.config import load_config
from acga.engine import fit

from engine_fixtures import TINY, TensorDataset

# Same global batch (4) for both runs: 2 per process under DDP.
DDP_CFG = TINY + ["train.batch_size=4", "train.epochs=2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    cfg = load_config("demo", DDP_CFG)
    try:
        fit(cfg, TensorDataset(8, cfg), out, progress=False)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _losses(path) -> list[float]:
    return [json.loads(line)["loss"] for line in (path / "log.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == "step"]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    cfg = load_config("demo", DDP_CFG)
    fit(cfg, TensorDataset(8, cfg), tmp_path / "single", progress=False)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    single, ddp = _losses(tmp_path / "single"), _losses(tmp_path / "ddp")
    assert len(single) == len(ddp) == 4
    # BatchNorm statistics are per process on CPU (2 samples instead of 4), hence a tolerance.
    for a, b in zip(single, ddp):
        assert b == pytest.approx(a, rel=0.05)


@pytest.mark.slow
def test_fit_local_spawns_processes_and_returns_the_trained_weights(tmp_path):
    """`train.processes=2`: two gloo workers spawned by fit_local follow the 1-process curve,
    and the model it returns holds the weights of the last checkpoint."""
    from functools import partial

    from acga.checkpoint import load_checkpoint
    from acga.engine import fit_local

    cfg1 = load_config("demo", DDP_CFG + ["train.processes=1"])
    single = fit(cfg1, TensorDataset(8, cfg1), tmp_path / "single", progress=False)
    cfg2 = load_config("demo", DDP_CFG + ["train.processes=2"])
    model = fit_local(cfg2, partial(TensorDataset, 8, cfg2), tmp_path / "local", progress=False)
    a, b = _losses(tmp_path / "single"), _losses(tmp_path / "local")
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):
        assert y == pytest.approx(x, rel=0.05)
    saved = load_checkpoint(tmp_path / "local" / "last.safetensors").model
    state = model.state_dict()
    assert set(saved) <= set(state) and len(saved) > 10
    for name, tensor in saved.items():
        assert torch.equal(state[name], tensor), name
    # the two runs start from the same weights (DDP broadcasts rank 0's), so they stay close
    drift = max((p - q).abs().max().item() for p, q in zip(single.parameters(), model.parameters()))
    assert drift < 0.05


@pytest.mark.slow
def test_fit_local_reports_a_workers_error_without_a_traceback(tmp_path, capfd):
    from acga.engine import fit_local
    from acga.errors import AcgaError
    from engine_fixtures import missing_dataset

    cfg = load_config("demo", DDP_CFG + ["train.processes=2"])
    with pytest.raises(AcgaError, match=r"training process [01] stopped: see its error above"):
        fit_local(cfg, missing_dataset, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "last.safetensors").exists()
    err = capfd.readouterr().err  # the workers' stderr: the message, once per process
    assert "no Release/videoset.csv" in err and "Traceback" not in err
