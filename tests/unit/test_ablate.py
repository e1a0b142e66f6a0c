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


def test_only_rejects_a_config_outside_the_suite(tmp_path):
    from acga.ablate import run_suite
    from acga.errors import ConfigError

    with pytest.raises(ConfigError, match="ablations/kwa.*not in suite 'paper'"):
        run_suite("paper", tmp_path, only=["ablations/kwa"])
    assert not (tmp_path / "data").exists()  # refused before any work


@pytest.mark.slow
def test_only_runs_one_row_and_the_next_run_reuses_it(tmp_path, monkeypatch):
    """Two ``--only`` runs sharing OUT: the second table holds both rows, the first is reused."""
    import json

    import acga.ablate as ablate

    def tiny_demo(name, overrides=()):
        cfg = load_config(name, list(overrides))
        if name == "demo_quick":  # a tiny benchmark so the test trains in seconds
            cfg = load_config(name, ["synth.videos=6", "synth.size=32"])
        return cfg

    monkeypatch.setattr(ablate, "load_config", tiny_demo)
    extra = ["train.epochs=1", "train.steps_per_epoch=2"]
    rows = ablate.run_suite("paper", tmp_path, quick=True, progress=False, extra=extra,
                            only=["ablations/baseline"])
    assert [r["config"] for r in rows] == ["ablations/baseline"]
    md = (tmp_path / "ablation_paper.md").read_text()
    assert "Not finished yet: ablations/baseline_mrf, ablations/baseline_mrf_wbce, ablations/full" in md
    first = json.loads((tmp_path / "ablations_baseline" / "metrics.json").read_text())

    rows = ablate.run_suite("paper", tmp_path, quick=True, progress=False, extra=extra,
                            only=["ablations/full"])
    assert [r["config"] for r in rows] == ["ablations/baseline", "ablations/full"]
    assert rows[0] == first  # reused, not retrained
    assert not (tmp_path / "ablations_baseline_mrf").exists()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["a2d"]  # no temporary folder left
