"""`acga eval` runs the fast decoder whichever implementation a checkpoint was trained with, and
scores it the same as the reference would."""

from __future__ import annotations

import json

import torch

import acga.engine
from acga.checkpoint import save_checkpoint
from acga.cli.main import main
from acga.config import config_to_dict, load_config
from acga.models import build_model

SMALL = ["model.input_size=32", "model.resolutions=[2,8,32]", "model.small3d_widths=[4,8]",
         "model.visual_dim=8", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
         "model.clip_len=2"]


def test_eval_uses_the_fast_decoder_and_scores_as_the_reference(tmp_path, monkeypatch):
    root = tmp_path / "a2d"
    assert main(["synth", "a2d", "--out", str(root), "--videos", "6", "--size", "32",
                 "--seed", "4", "--no-mp4", "-q"]) == 0
    cfg = load_config("demo", SMALL + [f"data.root={root}", "model.decoder_impl=reference"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "model.safetensors", build_model(cfg),
                           config=config_to_dict(cfg))
    used = []
    real_evaluate = acga.engine.evaluate

    def spy(model, *args, **kwargs):
        used.append(model.decoder.implementation)
        return real_evaluate(model, *args, **kwargs)

    monkeypatch.setattr(acga.engine, "evaluate", spy)
    base = ["eval", "--checkpoint", str(ckpt), "--no-progress", "-q", "--protocol", "acga"]
    assert main(base + ["--out", str(tmp_path / "fast")]) == 0
    # the command line still chooses: the reference on request
    assert main(base + ["--out", str(tmp_path / "ref"), "model.decoder_impl=reference"]) == 0
    assert used == ["fast", "reference"]
    fast, ref = ([json.loads(p.read_text()) for p in sorted((tmp_path / d).glob("metrics*.json"))]
                 for d in ("fast", "ref"))
    assert len(fast) == len(ref) == 1
    a, b = fast[0]["acga"], ref[0]["acga"]
    assert a.keys() == b.keys() and a["mean_iou"] > 0
    for key in a:
        if isinstance(a[key], (int, float)):
            assert abs(a[key] - b[key]) < 1e-3, key
