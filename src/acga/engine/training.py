"""Training: the learning-rate schedule, the batch order and its sampler, ``train_one_epoch``
and ``fit``.

Reproducibility: the order of samples is a function of (seed, epoch) only, and the batch drawn
at a step of ``random_batches`` sampling a function of (seed, epoch, step); so a run resumed from
a mid-epoch checkpoint visits exactly the batches the uninterrupted run would have, and on CPU
ends with the same weights. A ``DataLoader`` over :class:`BatchOrderSampler` loads the batches,
in ``train.num_workers`` worker processes ahead of the step (none at 0). ``dataset[i]`` depends on
``i`` alone (training has no augmentation that draws random numbers; docs/reliability.md), so
the workers change how fast a batch arrives, not what it holds.

Distributed: under ``torchrun`` every process takes its slice of each global batch (``batch_size``
is the global batch); DDP averages gradients, which equals the gradient of the global batch's
mean loss.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler

from ..checkpoint import (FEATURES_BN_EPS, load_checkpoint, load_model_weights,
                          load_optimizer_state, restore_rng, save_checkpoint)
from ..config import Config, config_to_dict
from ..errors import AcgaError
from ..losses import segmentation_loss
from ..models import build_model
from ..runsafety import remove_stale_temporaries
from ..utils import atomic_write_json, progress_bar, resolve_device, seed_everything
from .distributed import DistInfo, init_distributed
from .run_folder import JsonlLog, _truncate_log

__all__ = ["lr_at", "steps_per_epoch", "batch_order", "BatchOrderSampler", "collate",
           "train_loader", "Checkpointer", "train_one_epoch", "fit"]

log = logging.getLogger(__name__)


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


class BatchOrderSampler(Sampler[list[int]]):
    """This process's share of :func:`batch_order`, a batch sampler for ``DataLoader``.

    Yields ``batch[rank::world]`` of each global batch from step ``first`` on. Call
    :meth:`set_epoch` before each pass over the loader (as with ``DistributedSampler``): a
    resumed run starts its first epoch at the saved step.
    """

    def __init__(self, cfg: Config, n: int, info: DistInfo = DistInfo()):
        self.cfg, self.n, self.info = cfg, n, info
        self.set_epoch(0)

    def set_epoch(self, epoch: int, first: int = 0) -> None:
        self.batches = batch_order(self.cfg, self.n, epoch)  # global batches
        self.first = first

    def __iter__(self):
        for batch in self.batches[self.first:]:
            yield batch[self.info.rank::self.info.world]

    def __len__(self) -> int:
        return len(self.batches) - self.first


def collate(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack the samples' tensors key by key: ``visual`` (B, C, T, H, W), ``words`` (B, L, D),
    ``word_mask`` (B, L), ``mask`` (B, 1, S, S), ``index`` (B,)."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def train_loader(cfg: Config, train_set, sampler: BatchOrderSampler,
                 device: torch.device) -> DataLoader:
    """The loader of ``fit``: ``sampler``'s batches, loaded by ``train.num_workers`` worker
    processes (kept for the whole run) or, at 0, in this process when the step asks."""
    workers = cfg.train.num_workers
    return DataLoader(
        train_set, batch_sampler=sampler, collate_fn=collate, num_workers=workers,
        persistent_workers=workers > 0,
        # pinned pages let the copy to the GPU overlap the step; the workers' thread pins them
        pin_memory=workers > 0 and device.type == "cuda",
        # every pass draws the workers' seeds from this generator, not from torch's global one,
        # whose state the checkpoints save: so workers leave the run's random numbers untouched
        generator=torch.Generator().manual_seed(cfg.train.seed))


def _close_workers(loader: DataLoader) -> None:
    """End a loader's persistent workers now rather than when the loader is collected (an
    exception's traceback can keep it alive)."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()


def _autocast(cfg: Config, device: torch.device):
    if cfg.train.amp == "none":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if cfg.train.amp == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def features_state(train_set) -> dict:
    """Checkpoint state entries that describe ``train_set``'s cached features: the I3D BatchNorm
    eps of its feature cache (so ``acga eval`` can warn on a cache of the other convention);
    empty for a dataset that reads pixels."""
    caches = getattr(train_set, "cache", None) or []
    return {FEATURES_BN_EPS: caches[0].settings.bn_eps} if caches else {}


class Checkpointer:
    """A run's checkpoints: ``last.safetensors`` (weights, optimizer, RNG states) and the
    weights of each epoch's end; remembers the newest ``last``, for the message of a run whose
    loss or weights stop being finite."""

    def __init__(self, cfg: Config, model: nn.Module, optimizer, steps: int, last: Path,
                 main: bool, features: dict, saved: tuple[int, int] | None):
        self.cfg, self.model, self.optimizer, self.steps = cfg, model, optimizer, steps
        self.last, self.main, self.features = last, main, features
        self.cfg_dict = config_to_dict(cfg)
        self.saved = saved  # (epoch, step) of the checkpoint in last.safetensors

    def save(self, epoch: int, step: int, global_step: int) -> None:
        """Checkpoint the start of ``step`` of ``epoch`` (0-based) in ``last.safetensors``."""
        # every process checks (the weights are the same in all), so all stop together
        bad = [name for name, p in self.model.named_parameters()
               if not bool(torch.isfinite(p).all())]
        if bad:
            done_epoch, done_step = (epoch, step - 1) if step else (epoch - 1, self.steps - 1)
            raise self.non_finite(f"the weights are not finite ({', '.join(bad[:3])}"
                                  f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''})",
                                  done_epoch, done_step, global_step,
                                  lr_at(self.cfg, done_epoch, done_step, self.steps))
        if self.main:
            save_checkpoint(self.last, self.model, config=self.cfg_dict, optimizer=self.optimizer,
                            state=self._state(epoch, step, global_step))
            self.saved = (epoch, step)

    def save_epoch(self, epoch: int, global_step: int, path: Path) -> None:
        """The weights at the end of ``epoch`` (0-based) in ``path`` (no optimizer, no RNG)."""
        if self.main:
            save_checkpoint(path, self.model, config=self.cfg_dict,
                            state=self._state(epoch + 1, 0, global_step), include_rng=False)

    def _state(self, epoch: int, step: int, global_step: int) -> dict:
        return {"epoch": epoch, "step": step, "global_step": global_step, **self.features}

    def non_finite(self, what: str, epoch: int, step: int, global_step: int,
                   lr: float) -> AcgaError:
        """The error that stops a run whose loss or weights became NaN or infinite."""
        last, saved = self.last, self.saved
        if saved is None:
            kept = f"no checkpoint was written ({last} does not exist)" if not last.exists() else \
                f"{last} was not changed by this run"
        else:
            where = (f"epoch {saved[0] + 1}, step {saved[1]}" if saved[1]
                     else f"end of epoch {saved[0]}")
            kept = f"the last good checkpoint {last} ({where}) is untouched"
        return AcgaError(f"training stopped: {what} at epoch {epoch + 1}, step {step + 1} (global "
                         f"step {global_step}, lr {lr:g}); nothing was saved at this step and "
                         f"{kept}. Lower train.lr (or look for NaN/inf in the data) and train again")


@dataclass(frozen=True)
class EpochEnd:
    """What :func:`train_one_epoch` reports: the global step reached, and whether the epoch ran
    to its end (False: ``stop_after_steps`` stopped it after a checkpoint)."""

    global_step: int
    finished: bool


def train_one_epoch(cfg: Config, model: nn.Module, optimizer, loader: DataLoader,
                    device: torch.device, epoch: int, *, global_step: int,
                    checkpoints: Checkpointer, logger: JsonlLog, info: DistInfo = DistInfo(),
                    stop_after_steps: int | None = None, progress: bool = False) -> EpochEnd:
    """One pass over ``loader`` (its :class:`BatchOrderSampler` set to ``epoch``).

    Sets the learning rate of each step (:func:`lr_at`), logs a record per step and one for the
    epoch, checkpoints every ``train.checkpoint_every`` steps, and stops after checkpointing
    at ``stop_after_steps`` (mid-epoch only; ``fit`` checkpoints epoch ends).
    """
    sampler: BatchOrderSampler = loader.batch_sampler
    steps, first = len(sampler.batches), sampler.first
    model.train()
    bar = _progress(loader, progress and info.main, f"epoch {epoch + 1}/{cfg.train.epochs}")
    epoch_loss, seen, t0 = 0.0, 0, time.perf_counter()
    for step, batch in enumerate(bar, start=first):
        # A pure function of the step, so --resume picks up the schedule where it was.
        lr = lr_at(cfg, epoch, step, steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = {k: v.to(device, non_blocking=loader.pin_memory) for k, v in batch.items()}
        with _autocast(cfg, device):
            out = model(batch["visual"], batch["words"], batch["word_mask"])
        out = {k: v.float() for k, v in out.items()}
        loss, terms = segmentation_loss(out, batch["mask"], cfg.model, cfg.loss)
        loss_value = float(loss.detach())
        if info.world > 1:  # before the step, so every process sees the same value
            t = torch.tensor([loss_value], device=device)
            dist.all_reduce(t)
            loss_value = float(t) / info.world
        if not math.isfinite(loss_value):
            raise checkpoints.non_finite(f"the loss is {loss_value}", epoch, step,
                                         global_step + 1, lr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        global_step += 1
        epoch_loss += loss_value
        seen += len(sampler.batches[step])  # the global batch, all processes together
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        logger.write({"kind": "step", "epoch": epoch, "step": step + 1, "global_step": global_step,
                      "lr": lr, "loss": loss_value, **terms, "samples_per_s": rate})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{loss_value:.4f}", sps=f"{rate:.1f}")
        done_epoch = step + 1 == steps  # fit checkpoints the epoch's end
        every = cfg.train.checkpoint_every
        if every and (step + 1) % every == 0 and not done_epoch:
            checkpoints.save(epoch, step + 1, global_step)
        if stop_after_steps is not None and global_step >= stop_after_steps and not done_epoch:
            checkpoints.save(epoch, step + 1, global_step)
            return EpochEnd(global_step, finished=False)
    logger.write({"kind": "epoch", "epoch": epoch, "lr": lr_at(cfg, epoch, 0, steps),
                  "loss": epoch_loss / max(1, steps - first),
                  "seconds": time.perf_counter() - t0})
    return EpochEnd(global_step, finished=True)


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
    model = build_model(cfg)
    if cfg.train.init_visual:  # before resuming: a resumed run's own weights win
        load_model_weights(model, load_checkpoint(cfg.train.init_visual), part="visual")
        log.info("visual encoder initialised from %s", cfg.train.init_visual)
    model = model.to(device)
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
    checkpoints = Checkpointer(cfg, model, optimizer, steps, last, info.main,
                               features_state(train_set),
                               saved=(start_epoch, start_step) if resume and last.exists() else None)

    if start_epoch >= cfg.train.epochs and info.main:
        log.info("nothing to train: %s is at the end of epoch %d of %d", last, start_epoch,
                 cfg.train.epochs)

    sampler = BatchOrderSampler(cfg, n, info)
    loader = train_loader(cfg, train_set, sampler, device)
    try:
        for epoch in range(start_epoch, cfg.train.epochs):
            sampler.set_epoch(epoch, start_step if epoch == start_epoch else 0)
            end = train_one_epoch(cfg, train_model, optimizer, loader, device, epoch,
                                  global_step=global_step, checkpoints=checkpoints, logger=logger,
                                  info=info, stop_after_steps=stop_after_steps, progress=progress)
            global_step = end.global_step
            if not end.finished:
                return model
            checkpoints.save(epoch + 1, 0, global_step)
            checkpoints.save_epoch(epoch, global_step, out_dir / f"epoch_{epoch + 1}.safetensors")
            if on_epoch_end is not None:
                on_epoch_end(epoch, model)
            if stop_after_steps is not None and global_step >= stop_after_steps:
                return model
    finally:
        _close_workers(loader)
    return model


def _progress(iterable, enabled: bool, desc: str, unit: str = "step"):
    """A tqdm bar on a terminal, a log line per epoch (and per minute) otherwise."""
    if not enabled:
        return iterable
    return progress_bar(iterable, desc=desc, unit=unit, leave=False)
