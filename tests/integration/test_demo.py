"""`acga demo` end to end at a tiny size: synthesis, 2-process training, both protocols, the
query-swap check, zero-shot JHMDB and the report; a second call resumes (trains nothing)."""

from __future__ import annotations

import json

import pytest

from acga.cli.main import main

TINY_DEMO = ["synth.videos=12", "synth.jhmdb_videos=4", "train.epochs=1", "train.processes=2",
             "model.small3d_widths=[8,16]", "model.visual_dim=16"]


@pytest.mark.slow
def test_demo_quick_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", *TINY_DEMO]) == 0
    printed = capsys.readouterr().out
    assert "ACGA demo, synthetic A2D test" in printed and "zero-shot synthetic JHMDB" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    m = metrics["metrics"]
    n_train = metrics["metrics"]["samples"]["train"]
    steps = [json.loads(line) for line in (out / "run" / "log.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "step"]
    assert len(steps) == n_train // 4  # one epoch of global batches of 4, logged once (rank 0)
    assert metrics["config"]["train"]["processes"] == 2
    for key in ("a2d_test", "jhmdb_zero_shot"):
        for protocol in ("acga", "coco"):
            assert 0.0 <= m[key][protocol]["mean_iou"] <= 1.0
    assert 0.0 <= m["a2d_test_swapped_queries"]["acga"]["mean_iou"] <= 1.0
    davis = m["davis_zero_shot"]
    assert 0.0 <= davis["J"] <= 1.0 and 0.0 <= davis["F"] <= 1.0
    assert davis["J&F"] == pytest.approx((davis["J"] + davis["F"]) / 2)
    assert davis["masks"] == m["samples"]["davis"] > 0 and davis["frames_per_second"] > 0
    assert "zero-shot synthetic Ref-DAVIS" in printed
    assert "zero-shot synthetic Ref-DAVIS" in (out / "report.md").read_text()
    assert (out / "data" / "davis" / "synth_meta.json").is_file()
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # curves and overlays, self-contained
    assert (out / "report.md").exists() and (out / "overlays.png").exists()
    # Re-running finds the finished training and does not train again.
    before = (out / "run" / "last.safetensors").stat().st_mtime_ns
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", *TINY_DEMO]) == 0
    assert (out / "run" / "last.safetensors").stat().st_mtime_ns == before
