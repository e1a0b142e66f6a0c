"""Distributed launching: joining torchrun's process group, and ``fit_local``, which runs ``fit``
in several DDP (gloo) processes on this machine's CPU and ends them with its own process."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn

from ..checkpoint import load_checkpoint, load_model_weights
from ..config import Config
from ..errors import AcgaError
from ..models import build_model
from ..runsafety import launching_process, run_folder_lock, sigterm_as_exception
from ..utils import resolve_device

__all__ = ["DistInfo", "init_distributed", "local_processes", "fit_local"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place among the training processes (rank 0 of 1 without DDP)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (env RANK/WORLD_SIZE); single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size())



def local_processes(cfg: Config) -> int:
    """How many training processes ``fit_local`` starts: ``train.processes``, capped at the CPU
    count; 1 under torchrun (it starts the processes) or when training runs on a GPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    if resolve_device(cfg.train.device, "train.device", per_rank=True).type != "cpu":
        return 1
    n = min(cfg.train.processes, os.cpu_count() or 1)
    while cfg.train.batch_size % n:  # a CPU count below train.processes may not divide the batch
        n -= 1
    return n


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """End this worker when the process that spawned it dies (killed, not just interrupted), so
    no orphan goes on training and writing checkpoints into the run folder."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="acga-parent-watch", daemon=True).start()


_WORKER_USER_ERROR = 3  # exit status of a worker stopped by an AcgaError it has logged


def _fit_worker(rank: int, world: int, port: int, threads: int, cfg: Config,
                build_train_set: Callable[[], object], out_dir: str, resume: bool,
                progress: bool, log_level: int) -> None:
    """One of ``fit_local``'s processes: join the local gloo group and run ``fit``."""
    _exit_with_parent()
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    logging.basicConfig(level=log_level if rank == 0 else max(log_level, logging.ERROR),
                        format="%(levelname)s %(name)s: %(message)s")
    from ..utils import retain_freed_memory
    from .training import fit  # here: training imports this module (DistInfo)

    retain_freed_memory()  # as the `acga` command does (ACGA_MALLOC is inherited)
    torch.set_num_threads(threads)

    try:
        # the parent ends its workers with SIGTERM (when it is stopped itself): let ``fit``'s
        # clean-ups (a checkpoint's temporary file) run; Terminated ends the worker quietly
        with sigterm_as_exception():
            fit(cfg, build_train_set(), out_dir, resume=resume, progress=progress)
    except AcgaError as exc:  # a user's mistake (bad data, config): its message, no traceback
        log.error("training process %d: %s", rank, exc)
        raise SystemExit(_WORKER_USER_ERROR) from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def fit_local(cfg: Config, build_train_set: Callable[[], object], out_dir: str | Path, *,
              resume: bool = False, progress: bool = True) -> nn.Module:
    """``fit`` in ``local_processes(cfg)`` processes on this machine (DDP over gloo).

    ``build_train_set`` is called in each process (a picklable callable, e.g. a
    ``functools.partial`` of ``build_dataset``), so no process pickles a preloaded dataset to
    another. Each process gets ``torch.get_num_threads() // processes`` threads. With one
    process this is ``fit(cfg, build_train_set(), ...)``. Returns the trained model (the weights
    of ``out_dir/last.safetensors``) on the CPU.

    The launching process (not torchrun's ranks other than 0) holds ``out_dir``'s lock
    (:func:`acga.runsafety.run_folder_lock`) while training: a second run into the same folder
    fails at once with an :class:`AcgaError` naming the pid that holds it.
    """
    if not cfg.train.epochs >= 1:  # config validation refuses it too; fit_local may get a Config
        raise AcgaError(f"train.epochs = {cfg.train.epochs}: nothing to train; set train.epochs >= 1")
    from .training import fit  # here: training imports this module (DistInfo)

    lock = run_folder_lock(out_dir) if launching_process() else contextlib.nullcontext()
    with lock:
        n = local_processes(cfg)
        if n <= 1:
            return fit(cfg, build_train_set(), out_dir, resume=resume, progress=progress)
        _spawn_workers(n, cfg, build_train_set, out_dir, resume, progress)
        model = build_model(cfg)
        load_model_weights(model, load_checkpoint(Path(out_dir) / "last.safetensors"))
        return model


def _spawn_workers(n: int, cfg: Config, build_train_set: Callable[[], object],
                   out_dir: str | Path, resume: bool, progress: bool) -> None:
    """Run ``_fit_worker`` in ``n`` processes and wait for them. If this process is stopped
    while waiting (Ctrl-C, SIGTERM turned into an exception), the workers are ended too
    (SIGTERM, then SIGKILL after 10 s) before the exception goes on: none is left training."""
    import torch.multiprocessing as mp

    threads = max(1, torch.get_num_threads() // n)
    log.info("training in %d local processes (gloo), %d thread(s) each", n, threads)
    context = mp.spawn(_fit_worker, nprocs=n, join=False,
                       args=(n, _free_port(), threads, cfg, build_train_set, str(out_dir), resume,
                             progress, logging.getLogger("acga").getEffectiveLevel()))
    try:
        while not context.join():
            pass
    except mp.ProcessExitedException as exc:
        if exc.exit_code != _WORKER_USER_ERROR:
            raise
        raise AcgaError(f"training process {exc.error_index} stopped: see its error above") from None
    except BaseException:
        _end_processes(context.processes)
        raise


def _end_processes(processes, grace_s: float = 10.0) -> None:
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()

