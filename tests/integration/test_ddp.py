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
