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
        assert (m.backbone, m.input_size, m.resolutions, m.visual_dim) == ("small3d", 192, (12, 48, 192), 64)
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


# ------------------------------------------------------------------------------ --seeds N

def test_aggregate_runs_is_mean_and_sample_std():
    import numpy as np

    from acga.ablate import aggregate_runs

    ious = [0.40, 0.46, 0.55]
    maps = [0.20, 0.25, 0.21]
    runs = [{"acga": {"mean_iou": i, "mAP": m, "P@0.9": None}, "coco": {"mean_iou": i - 0.01}}
            for i, m in zip(ious, maps)]
    agg = aggregate_runs(runs)
    # by hand: mean 0.47, deviations -0.07, -0.01, 0.08 -> sum of squares 0.0114 / 2 = 0.0057
    assert agg["acga"]["mean_iou"] == pytest.approx(0.47)
    assert agg["acga_std"]["mean_iou"] == pytest.approx(0.0057 ** 0.5)
    assert agg["acga_std"]["mean_iou"] == pytest.approx(np.std(ious, ddof=1))
    assert agg["acga"]["mAP"] == pytest.approx(np.mean(maps))
    assert agg["acga_std"]["mAP"] == pytest.approx(np.std(maps, ddof=1))
    assert agg["coco"]["mean_iou"] == pytest.approx(0.46)
    assert agg["acga"]["P@0.9"] is None and agg["acga_std"]["P@0.9"] is None  # missing stays missing
    one = aggregate_runs(runs[:1])
    assert one["acga"]["mean_iou"] == pytest.approx(0.40) and one["acga_std"]["mean_iou"] is None


def test_format_table_prints_mean_plus_minus_std():
    from acga.results_table import format_table

    rows = [("a", {"mean_iou": 0.527, "mAP": 0.25}), ("b", {"mean_iou": 0.4})]
    md = format_table(rows, "acga", markdown=True, std=[{"mean_iou": 0.013, "mAP": None}, None])
    line_a, line_b = [ln for ln in md.splitlines() if ln.startswith(("| a ", "| b "))]
    assert line_a.endswith("| 25.0 | - | 52.7 ± 1.3 |"), line_a  # no std: just the value
    assert line_b.endswith("| - | - | 40.0 |"), line_b
    assert "±" not in format_table(rows, "acga", markdown=True)  # N = 1: values only
    with pytest.raises(ValueError, match="std has 1 entries for 2 rows"):
        format_table(rows, std=[None])


def _fake_runs(monkeypatch, fail_at=None):
    """run_suite without training: each run writes config.json as ``fit`` does and gets metrics
    made from its train.seed. ``fail_at=(config, seed)`` stops the suite there (an interrupted
    run). Returns the list of (config, train.seed) trained, in order."""
    import json

    import acga.ablate as ablate
    import acga.data.word_vectors as word_vectors
    from acga.config import config_to_dict

    trained = []

    def fake(name, paper_row, cfg, root, run_dir, vectors, progress):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg)))
        if fail_at == (name, cfg.train.seed):
            raise KeyboardInterrupt
        trained.append((name, cfg.train.seed))
        iou = 0.3 + 0.01 * cfg.train.seed + 0.1 * len(trained) / 100
        return {"config": name, "paper_row": paper_row, "acga": {"mean_iou": iou, "mAP": iou / 2},
                "coco": {"mean_iou": iou}, "seconds": 1.0, "config_resolved": config_to_dict(cfg)}

    monkeypatch.setattr(ablate, "_train_and_evaluate", fake)
    monkeypatch.setattr(ablate, "_ensure_synthetic_a2d", lambda root, demo, seed: None)
    monkeypatch.setattr(word_vectors, "load_word_vectors", lambda path: None)
    return trained


def test_seeds_train_each_row_in_its_own_seed_folders(tmp_path, monkeypatch):
    import json

    import numpy as np

    from acga.ablate import run_suite

    trained = _fake_runs(monkeypatch)
    rows = run_suite("paper", tmp_path, quick=True, progress=False, seeds=3,
                     extra=["train.seed=5"], only=["ablations/baseline", "ablations/full"])
    assert trained == [("ablations/baseline", s) for s in (5, 6, 7)] + \
        [("ablations/full", s) for s in (5, 6, 7)]
    for name in ("ablations_baseline", "ablations_full"):
        folders = sorted(p.name for p in (tmp_path / name).iterdir())
        assert folders == ["seed_5", "seed_6", "seed_7"]
        for s in (5, 6, 7):
            assert json.loads((tmp_path / name / f"seed_{s}" / "config.json").read_text())["train"]["seed"] == s
            assert (tmp_path / name / f"seed_{s}" / "metrics.json").exists()
    base = rows[0]
    assert base["seeds"] == [5, 6, 7] and [r["seed"] for r in base["runs"]] == [5, 6, 7]
    ious = [r["acga"]["mean_iou"] for r in base["runs"]]
    assert base["acga"]["mean_iou"] == pytest.approx(np.mean(ious))
    assert base["acga_std"]["mean_iou"] == pytest.approx(np.std(ious, ddof=1))
    assert base["runs"][1]["folder"] == "ablations_baseline/seed_6"
    saved = json.loads((tmp_path / "ablation_paper.json").read_text())
    assert saved == json.loads(json.dumps(rows))  # every run's figures plus mean and std
    md = (tmp_path / "ablation_paper.md").read_text()
    cell = f"{100 * np.mean(ious):.1f} ± {100 * np.std(ious, ddof=1):.1f}"
    assert "| ablations/baseline (synthetic) |" in md and cell in md
    assert "--seeds 3" in md and "mean ± sample standard deviation" in md
    assert "Not finished yet: ablations/baseline_mrf (0 of 3 seeds)" in md


def test_one_seed_keeps_the_row_folder_layout(tmp_path, monkeypatch):
    from acga.ablate import run_suite

    trained = _fake_runs(monkeypatch)
    rows = run_suite("paper", tmp_path, quick=True, progress=False, only=["ablations/baseline"])
    assert trained == [("ablations/baseline", 0)]
    assert sorted(p.name for p in (tmp_path / "ablations_baseline").iterdir()) == \
        ["config.json", "metrics.json"]
    assert "runs" not in rows[0] and "acga_std" not in rows[0]
    assert "±" not in (tmp_path / "ablation_paper.md").read_text()


def test_an_interrupted_seed_suite_resumes_with_the_unfinished_runs(tmp_path, monkeypatch):
    import json

    from acga.ablate import run_suite

    args = dict(quick=True, progress=False, seeds=2, only=["ablations/baseline", "ablations/full"])
    trained = _fake_runs(monkeypatch, fail_at=("ablations/full", 1))
    with pytest.raises(KeyboardInterrupt):
        run_suite("paper", tmp_path, **args)
    assert trained == [("ablations/baseline", 0), ("ablations/baseline", 1), ("ablations/full", 0)]
    before = {s: (tmp_path / "ablations_baseline" / f"seed_{s}" / "metrics.json").read_text()
              for s in (0, 1)}
    assert not (tmp_path / "ablations_full" / "seed_1" / "metrics.json").exists()

    trained = _fake_runs(monkeypatch)
    rows = run_suite("paper", tmp_path, **args)
    assert trained == [("ablations/full", 1)]  # only the unfinished run
    for s in (0, 1):  # the finished ones are reused as they were
        assert (tmp_path / "ablations_baseline" / f"seed_{s}" / "metrics.json").read_text() == before[s]
    assert [r["config"] for r in rows] == ["ablations/baseline", "ablations/full"]
    assert rows[0]["runs"][0]["acga"] == json.loads(before[0])["acga"]
    assert rows[1]["seeds"] == [0, 1]


@pytest.mark.parametrize("seeds", [0, -1, 1.5, True])
def test_run_suite_refuses_a_seed_count_below_one(tmp_path, seeds):
    from acga.ablate import run_suite
    from acga.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"--seeds {seeds}: .*1 or more"):
        run_suite("paper", tmp_path / "out", seeds=seeds)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_seeds_really_train_with_each_seed(tmp_path, monkeypatch):
    """Real (tiny) training with --seeds 2: fit's own config.json holds each run's seed."""
    import json

    import acga.ablate as ablate

    def tiny_demo(name, overrides=()):
        cfg = load_config(name, list(overrides))
        if name == "demo_quick":
            cfg = load_config(name, ["synth.videos=6", "synth.size=32"])
        return cfg

    monkeypatch.setattr(ablate, "load_config", tiny_demo)
    rows = ablate.run_suite("paper", tmp_path, quick=True, progress=False, seeds=2,
                            extra=["train.epochs=1", "train.steps_per_epoch=2"],
                            only=["ablations/baseline"])
    for s in (0, 1):
        run = tmp_path / "ablations_baseline" / f"seed_{s}"
        assert json.loads((run / "config.json").read_text())["train"]["seed"] == s
        assert (run / "last.safetensors").exists()
    assert rows[0]["seeds"] == [0, 1]
    assert not (tmp_path / "ablations_baseline" / "metrics.json").exists()


# ------------------------------------------------------------------------------ --size NAME

def test_sizes_change_only_size_or_budget_and_keep_the_row_switches():
    from acga.ablate import SIZES

    demo = small_variant("ablations/full", load_config("demo"))
    map8 = small_variant("ablations/full", load_config(SIZES["map8"][0]))
    long = small_variant("ablations/full", load_config(SIZES["long"][0]))
    map16 = small_variant("ablations/full", load_config(SIZES["map16"][0]))
    assert (demo.model.input_size, demo.model.resolutions, demo.train.epochs) == (192, (12, 48, 192), 7)
    assert (map8.model.input_size, map8.model.resolutions, map8.train.epochs) == (128, (8, 32, 128), 8)
    assert (long.train.epochs, long.train.lr_step) == (2 * map8.train.epochs, 2 * map8.train.epochs - 1)
    assert long.model == map8.model and long.data == map8.data
    assert (map16.model.input_size, map16.model.resolutions) == (256, (16, 64, 256))
    assert map16.train == map8.train
    # every size: the small 3-D CNN strides by 16 (192 -> 12, 128 -> 8, 256 -> 16)
    for cfg in (demo, map8, long, map16):
        assert cfg.model.input_size // cfg.model.resolutions[0] == 16
    for cfg in (map8, long, map16):
        assert (cfg.model.attention, cfg.model.mrf, cfg.loss) == (demo.model.attention, demo.model.mrf, demo.loss)


def test_size_names_the_table_and_a_finished_run_of_another_size_is_refused(tmp_path, monkeypatch):
    from acga.ablate import run_suite
    from acga.errors import ConfigError

    trained = _fake_runs(monkeypatch)
    run_suite("paper", tmp_path, size="long", progress=False, only=["ablations/full"])
    assert trained == [("ablations/full", 0)]
    assert "--size long" in (tmp_path / "ablation_paper.md").read_text()
    run_suite("paper", tmp_path, size="long", progress=False, only=["ablations/full"])
    assert trained == [("ablations/full", 0)]  # same size: reused, not retrained
    with pytest.raises(ConfigError, match=r"metrics.json: .*train.epochs = 16.* 8 .*another --out"):
        run_suite("paper", tmp_path, size="map8", progress=False, only=["ablations/full"])
    with pytest.raises(ConfigError, match=r"metrics.json: .*model.input_size = 128.* 192 .*another --out"):
        run_suite("paper", tmp_path, progress=False, only=["ablations/full"])
    with pytest.raises(ConfigError, match=r"train.lr = 0.003.* 0.001"):
        run_suite("paper", tmp_path, size="long", progress=False, extra=["train.lr=0.001"])
    assert trained == [("ablations/full", 0)]


@pytest.mark.parametrize("kwargs, message", [
    (dict(size="huge"), r"--size huge: unknown size; choose one of demo, quick, map8, long, map16"),
    (dict(size="long", quick=True), r"--quick and --size long"),
])
def test_run_suite_refuses_an_unknown_or_conflicting_size(tmp_path, kwargs, message):
    from acga.ablate import run_suite
    from acga.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        run_suite("paper", tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
