"""Shared pieces of the Ref-YouTube-VOS / Ref-DAVIS17 CLI tests: tiny synthetic sets in both
layouts and a tiny model config (heads of 4 channels, 32-pixel input, 2 training steps)."""

from __future__ import annotations

from pathlib import Path

from acga.cli.main import main

SMALL_HEADS = ["model.word_dim=50", "model.num_words=5", "model.input_size=32",
               "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]",
               "model.deconv_dims=[4,4]", "train.batch_size=2", "train.epochs=1",
               "train.steps_per_epoch=2"]
"""Overrides of ``acga_a2d`` for a model that trains and evaluates in seconds."""
SMALL3D = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
           "model.clip_len=2", "data.source=video", *SMALL_HEADS]
"""The same with the small 3-D CNN on decoded frames (no feature cache)."""


def synth_roots(base: Path) -> dict[str, Path]:
    """``acga synth ytvos`` (5 videos) and ``acga synth davis`` (3) at 32 pixels under ``base``."""
    out = {}
    for layout, videos in (("ytvos", "5"), ("davis", "3")):
        out[layout] = base / layout
        assert main(["synth", layout, "--out", str(out[layout]), "--videos", videos,
                     "--size", "32", "-q"]) == 0
    return out


def train_small3d(root: Path, run: Path) -> Path:
    """``acga train`` of :data:`SMALL3D` on the Ref-YouTube-VOS set ``root``: its checkpoint."""
    assert main(["train", "acga_a2d", *SMALL3D, "--dataset", "ytvos", "--root", str(root),
                 "--out", str(run), "--no-progress", "-q"]) == 0
    return run / "last.safetensors"
