"""The ablation runner's configs: each suite row keeps its switches at the demo's size."""

from __future__ import annotations

import pytest

from acga.ablate import SUITES, small_variant
from acga.config import load_config
from acga.paper_results import PAPER_RESULTS


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suite_rows_keep_their_switches_at_demo_size(suite):
    demo = load_config("demo")
    for name, paper_row in SUITES[suite]:
        paper = load_config(name)
        small = small_variant(name, demo)
        m, p = small.model, paper.model
        assert (m.backbone, m.input_size, m.resolutions, m.visual_dim) == ("small3d", 128, (8, 32, 128), 64)
        assert (m.name, m.attention, m.mrf, m.heads, m.text_encoder, m.text_kernel_size) == \
            (p.name, p.attention, p.mrf, p.heads, p.text_encoder, p.text_kernel_size)
        assert small.loss == paper.loss
        assert m.clip_len == p.clip_len * demo.model.clip_len // 16
        assert (small.train.epochs, small.train.lr) == (demo.train.epochs, demo.train.lr)
        assert paper_row in PAPER_RESULTS["a2d"], paper_row
