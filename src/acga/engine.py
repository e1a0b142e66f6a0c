"""Training and evaluation: ``train_one_epoch``, ``evaluate``, ``fit``.

Reproducibility: the order of samples is a function of (seed, epoch) only, and the batch drawn
at a step of ``random_batches`` sampling a function of (seed, epoch, step); so a run resumed from
a mid-epoch checkpoint visits exactly the batches the uninterrupted run would have, and on CPU
ends with the same weights.

Distributed: under ``torchrun`` every process takes its slice of each global batch (``batch_size``
is the global batch); DDP averages gradients, which equals the gradient of the global batch's
mean loss.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import (FEATURES_BN_EPS, load_checkpoint, load_model_weights,
                         load_optimizer_state, restore_rng, save_checkpoint)
from .config import Config, config_to_dict
from .errors import AcgaError
from .losses import segmentation_loss
from .models import build_model
from .runsafety import (launching_process, remove_stale_temporaries, run_folder_lock,
                        sigterm_as_exception)
from .utils import progress_bar, resolve_device, seed_everything

__all__ = ["DistInfo", "fit", "fit_local", "local_processes", "evaluate", "predict_masks",
           "batch_order", "lr_at", "run_outputs", "prepare_run_folder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
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


def lr_at(cfg: Config, epoch: int, step: int = 0, steps: int = 1) -> float:
    """Learning rate for ``step`` (0-based) of ``steps`` in ``epoch`` (0-based).

    ``step`` schedule (the paper's): lr divided by 1/gamma every lr_step epochs, constant within
    an epoch. ``cosine``: half a cosine from lr to 0 over ``epochs * steps`` updates.
    """
    t = cfg.train
    if t.lr_schedule == "cosine":
        done = (epoch * steps + step) / max(1, t.epochs * steps)
        return t.lr * 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0)))
    return t.lr * (t.lr_gamma ** (epoch // t.lr_step))


def steps_per_epoch(cfg: Config, n: int) -> int:
    steps = max(1, n // cfg.train.batch_size)
    return min(steps, cfg.train.steps_per_epoch) if cfg.train.steps_per_epoch else steps


def batch_order(cfg: Config, n: int, epoch: int) -> list[list[int]]:
    """Global batches of sample indices for an epoch, a pure function of (seed, epoch)."""
    t = cfg.train
    steps = steps_per_epoch(cfg, n)
    if t.sampling == "shuffle":
        g = torch.Generator().manual_seed(t.seed * 1000 + epoch)
        perm = torch.randperm(n, generator=g).tolist()
        return [perm[s * t.batch_size:(s + 1) * t.batch_size] for s in range(steps)]
    # random_batches: the release draws a fresh random batch at every step (repeats allowed
    # across steps, none within a batch)
    batches = []
    for s in range(steps):
        g = torch.Generator().manual_seed((t.seed * 1000 + epoch) * 100_003 + s)
        batches.append(torch.randperm(n, generator=g)[: t.batch_size].tolist())
    return batches


def _collate(dataset, indices: Sequence[int]) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in indices]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _autocast(cfg: Config, device: torch.device):
    if cfg.train.amp == "none":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if cfg.train.amp == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


class JsonlLog:
    """Append-only JSON Lines log (one record per step or epoch)."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = path, enabled

    def write(self, record: dict) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, epoch: int, global_step: int) -> None:
    """On resume, drop log records past the checkpoint so the log matches the weights."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if (rec["kind"] == "step" and rec["global_step"] <= global_step) or \
                (rec["kind"] == "epoch" and rec["epoch"] < epoch):
            keep.append(line)
    path.write_text("".join(line + "\n" for line in keep))


def features_state(train_set) -> dict:
    """Checkpoint state entries that describe ``train_set``'s cached features: the I3D BatchNorm
    eps of its feature cache (so ``acga eval`` can warn on a cache of the other convention);
    empty for a dataset that reads pixels."""
    caches = getattr(train_set, "cache", None) or []
    return {FEATURES_BN_EPS: caches[0].settings.bn_eps} if caches else {}


def run_outputs(out_dir: str | Path) -> list[Path]:
    """The files ``fit`` writes that exist in ``out_dir``: config.json, log.jsonl,
    last.safetensors, epoch_<k>.safetensors (nothing else: a user's or ``acga eval``'s files are
    not among them)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    named = [out_dir / n for n in ("config.json", "log.jsonl", "last.safetensors")]
    epochs = sorted(p for p in out_dir.glob("epoch_*.safetensors")
                    if p.name[len("epoch_"):-len(".safetensors")].isdigit())
    return [p for p in named if p.is_file()] + [p for p in epochs if p.is_file()]


def prepare_run_folder(out_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to train over an earlier run, or clear it (``overwrite``).

    An earlier run (a log or a checkpoint in ``out_dir``) is continued with ``resume``, or
    replaced with ``overwrite``, which deletes only :func:`run_outputs`; with neither, an
    :class:`AcgaError` names the folder and both flags. Call it holding the folder's lock.
    """
    out_dir = Path(out_dir)
    if resume and overwrite:
        raise AcgaError("--resume and --overwrite contradict each other: --resume continues the "
                        f"run in {out_dir}, --overwrite deletes it; pass one")
    if out_dir.exists() and not out_dir.is_dir():
        raise AcgaError(f"run folder {out_dir} is a file; pass a folder with --out")
    found = run_outputs(out_dir)
    earlier = [p for p in found if p.name != "config.json"]  # config.json alone: nothing trained
    last = out_dir / "last.safetensors"
    epochs = [p for p in earlier if p.name.startswith("epoch_")]
    if resume and not last.exists() and epochs:  # starting over would replace them
        raise AcgaError(f"--resume: {last} does not exist, but {out_dir} holds checkpoints of an "
                        f"earlier run ({', '.join(p.name for p in epochs[:3])}); pass --overwrite "
                        "to start it again from scratch")
    if resume or not earlier:
        return
    if not overwrite:
        raise AcgaError(f"run folder {out_dir} already holds a run ("
                        f"{', '.join(p.name for p in earlier[:3])}"
                        f"{f' and {len(earlier) - 3} more' if len(earlier) > 3 else ''}); pass "
                        "--resume to continue it, --overwrite to replace it, or another --out")
    for p in found:
        p.unlink()
    log.warning("--overwrite: deleted %d file(s) of the earlier run in %s", len(found), out_dir)


def fit(cfg: Config, train_set, out_dir: str | Path, *, resume: bool = False,
        progress: bool = True, stop_after_steps: int | None = None,
        on_epoch_end: Callable[[int, nn.Module], None] | None = None) -> nn.Module:
    """Train ``cfg`` on ``train_set``; checkpoints and logs go to ``out_dir``.

    Writes ``out_dir/last.safetensors`` (after every epoch and every ``checkpoint_every``
    steps), ``out_dir/epoch_<k>.safetensors`` at epoch ends, ``out_dir/log.jsonl`` and
    ``out_dir/config.json``. ``resume`` continues from ``last.safetensors``.
    ``stop_after_steps`` stops (after checkpointing) at that global step: for tests of resuming.
    """
    out_dir = Path(out_dir)
    device = resolve_device(cfg.train.device, "train.device", per_rank=True)
    info = init_distributed(device)
    seed_everything(cfg.train.seed + info.rank)
    model = build_model(cfg).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    start_epoch, start_step = 0, 0
    last = out_dir / "last.safetensors"
    if resume:
        if not last.exists():
            log.warning("--resume: %s does not exist; starting from scratch", last)
        else:
            ckpt = load_checkpoint(last)
            load_model_weights(model, ckpt)
            load_optimizer_state(optimizer, ckpt)
            restore_rng(ckpt)
            start_epoch, start_step = ckpt.state["epoch"], ckpt.state["step"]
            log.info("resumed from %s at epoch %d step %d", last, start_epoch + 1, start_step)
    if info.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir)  # of a run killed while writing a checkpoint
        from .utils import atomic_write_json

        atomic_write_json(out_dir / "config.json", config_to_dict(cfg))
    train_model: nn.Module = model
    if info.world > 1:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    logger = JsonlLog(out_dir / "log.jsonl", enabled=info.main)
    n = len(train_set)
    steps = steps_per_epoch(cfg, n)
    global_step = start_epoch * steps + start_step
    if resume and info.main:
        _truncate_log(out_dir / "log.jsonl", start_epoch, global_step)
    cfg_dict = config_to_dict(cfg)
    features = features_state(train_set)

    # (epoch, step) of the newest checkpoint in last.safetensors, for the non-finite message
    saved: tuple[int, int] | None = (start_epoch, start_step) if resume and last.exists() else None

    def checkpoint(epoch: int, step: int, path: Path) -> None:
        nonlocal saved
        # every process checks (the weights are the same in all), so all stop together
        bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:
            raise _non_finite(f"the weights are not finite ({', '.join(bad[:3])}"
                              f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''})",
                              epoch if step else epoch - 1, (step or steps) - 1, global_step,
                              lr_at(cfg, epoch if step else epoch - 1, (step or steps) - 1, steps),
                              last, saved)
        if info.main:
            save_checkpoint(path, model, config=cfg_dict, optimizer=optimizer,
                            state={"epoch": epoch, "step": step, "global_step": global_step,
                                   **features})
            if path == last:
                saved = (epoch, step)

    if start_epoch >= cfg.train.epochs and info.main:
        log.info("nothing to train: %s is at the end of epoch %d of %d", last, start_epoch,
                 cfg.train.epochs)

    for epoch in range(start_epoch, cfg.train.epochs):
        train_model.train()
        batches = batch_order(cfg, n, epoch)
        first = start_step if epoch == start_epoch else 0
        bar = _progress(range(first, steps), progress and info.main, f"epoch {epoch + 1}/{cfg.train.epochs}")
        epoch_loss, seen, t0 = 0.0, 0, time.perf_counter()
        for step in bar:
            # A pure function of the step, so --resume picks up the schedule where it was.
            lr = lr_at(cfg, epoch, step, steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch_idx = batches[step][info.rank::info.world]
            batch = {k: v.to(device) for k, v in _collate(train_set, batch_idx).items()}
            with _autocast(cfg, device):
                out = train_model(batch["visual"], batch["words"], batch["word_mask"])
            out = {k: v.float() for k, v in out.items()}
            loss, terms = segmentation_loss(out, batch["mask"], cfg.model, cfg.loss)
            loss_value = float(loss.detach())
            if info.world > 1:  # before the step, so every process sees the same value
                t = torch.tensor([loss_value], device=device)
                dist.all_reduce(t)
                loss_value = float(t) / info.world
            if not math.isfinite(loss_value):
                raise _non_finite(f"the loss is {loss_value}", epoch, step, global_step + 1, lr,
                                  last, saved)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            global_step += 1
            epoch_loss += loss_value
            seen += len(batches[step])
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            logger.write({"kind": "step", "epoch": epoch, "step": step + 1, "global_step": global_step,
                          "lr": lr, "loss": loss_value, **terms, "samples_per_s": rate})
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss_value:.4f}", sps=f"{rate:.1f}")
            done_epoch = step + 1 == steps
            if cfg.train.checkpoint_every and (step + 1) % cfg.train.checkpoint_every == 0 and not done_epoch:
                checkpoint(epoch, step + 1, last)
            if stop_after_steps is not None and global_step >= stop_after_steps and not done_epoch:
                checkpoint(epoch, step + 1, last)
                return model
        logger.write({"kind": "epoch", "epoch": epoch, "lr": lr_at(cfg, epoch, 0, steps),
                      "loss": epoch_loss / max(1, steps - first),
                      "seconds": time.perf_counter() - t0})
        checkpoint(epoch + 1, 0, last)
        if info.main:
            save_checkpoint(out_dir / f"epoch_{epoch + 1}.safetensors", model, config=cfg_dict,
                            state={"epoch": epoch + 1, "step": 0, "global_step": global_step,
                                   **features},
                            include_rng=False)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if stop_after_steps is not None and global_step >= stop_after_steps:
            return model
    return model


def _non_finite(what: str, epoch: int, step: int, global_step: int, lr: float, last: Path,
                saved: tuple[int, int] | None) -> AcgaError:
    """The error that stops a run whose loss or weights became NaN or infinite."""
    if saved is None:
        kept = f"no checkpoint was written ({last} does not exist)" if not last.exists() else \
            f"{last} was not changed by this run"
    else:
        where = f"epoch {saved[0] + 1}, step {saved[1]}" if saved[1] else f"end of epoch {saved[0]}"
        kept = f"the last good checkpoint {last} ({where}) is untouched"
    return AcgaError(f"training stopped: {what} at epoch {epoch + 1}, step {step + 1} (global "
                     f"step {global_step}, lr {lr:g}); nothing was saved at this step and {kept}. "
                     "Lower train.lr (or look for NaN/inf in the data) and train again")


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
    from .utils import retain_freed_memory

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


def _progress(iterable, enabled: bool, desc: str, unit: str = "step"):
    """A tqdm bar on a terminal, a log line per epoch (and per minute) otherwise."""
    if not enabled:
        return iterable
    return progress_bar(iterable, desc=desc, unit=unit, leave=False)


@torch.no_grad()
def predict_masks(model: nn.Module, dataset, indices: Sequence[int] | None = None, *,
                  batch_size: int = 4, device: torch.device | None = None,
                  progress: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (sample index, boolean mask (S, S) at the model's input resolution)."""
    from .postprocess import response_to_mask

    device = device or next(model.parameters()).device
    model.eval()
    indices = list(range(len(dataset))) if indices is None else list(indices)
    chunks = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    for chunk in _progress(chunks, progress, "evaluating", unit="batch"):
        batch = _collate(dataset, chunk)
        out = model(batch["visual"].to(device), batch["words"].to(device), batch["word_mask"].to(device))
        masks = response_to_mask(out["final"][:, 0].float().cpu())
        for i, m in zip(chunk, np.asarray(masks)):
            yield i, m


def evaluate(model: nn.Module, dataset, *, eval_mask: str = "original", batch_size: int = 4,
             progress: bool = False):
    """Score the model on every sample of ``dataset`` at original frame size.

    Returns a :class:`acga.metrics.MetricAccumulator` (per-sample IoUs and both protocols).
    """
    from .data.dataset import load_mask
    from .data.transforms import letterbox_mask, unletterbox_mask
    from .metrics import MetricAccumulator

    acc = MetricAccumulator()
    size = dataset.size
    for i, pred_sq in predict_masks(model, dataset, batch_size=batch_size, progress=progress):
        sample = dataset.samples[i]
        pred = unletterbox_mask(pred_sq.astype(np.uint8), sample.height, sample.width)
        gt = load_mask(dataset.root, sample)
        if eval_mask == "training":  # the release: the 512x512 training mask mapped back
            gt = unletterbox_mask(letterbox_mask(gt, size), sample.height, sample.width)
        acc.add(pred.astype(bool), gt.astype(bool), key=sample.key)
    return acc
