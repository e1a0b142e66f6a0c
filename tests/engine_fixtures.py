"""Tiny in-memory training data and config shared by the engine tests."""

from __future__ import annotations

from acga.data.dataset import RandomSamples

TINY = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
        "model.word_dim=6", "model.num_words=5", "model.clip_len=2", "model.input_size=32",
        "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
        "train.batch_size=2", "train.epochs=2", "train.lr_step=1", "train.seed=7",
        "data.source=video"]


class TensorDataset(RandomSamples):
    """Random clips, words and masks (30% foreground): what SegmentationDataset returns."""

    def __init__(self, n: int, cfg):
        super().__init__(n, cfg, seed=123, foreground=0.3)


def sleep_until_orphaned(pid_file: str) -> None:
    """A worker body for the orphan test: watch the parent as fit_local's workers do, then
    wait far longer than the test does."""
    import os
    import time

    from acga.engine.distributed import _exit_with_parent

    _exit_with_parent(poll_s=0.05)
    with open(pid_file, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(60)


def missing_dataset():
    """A build_train_set for fit_local that fails the way a wrong dataset root does."""
    from acga.errors import DataError

    raise DataError("a2d root /nowhere: no Release/videoset.csv")
