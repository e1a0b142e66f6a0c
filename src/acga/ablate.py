"""Ablation runner: train and evaluate a suite of configs on the synthetic benchmark.

Each config of a suite is taken as written (its attention, MRF, loss, heads, encoder...) and
brought to the demo's CPU size by :func:`small_variant`, which overrides only sizes, the visual
backbone (a small 3-D CNN from pixels instead of cached I3D features) and the schedule. So every
row trains the same way with the same budget, and differs only where the paper's row differs.
The table is written beside the paper's numbers.

With ``seeds`` N > 1 each row is trained N times, with ``train.seed`` = base, base+1, ...,
base+N-1 (base: the row's own ``train.seed``; the synthetic data is the same for all), each run
in ``OUT/<row>/seed_<s>/``; the table reports mean ± sample standard deviation (ddof=1).
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial
from pathlib import Path
from typing import Sequence

from .config import Config, config_to_dict, load_config
from .errors import ConfigError
from .utils import atomic_write, atomic_write_json

__all__ = ["SUITES", "SIZES", "small_variant", "run_suite", "check_seeds", "check_size",
           "seed_list", "aggregate_runs"]

log = logging.getLogger(__name__)

# suite -> [(config, paper row name in acga.paper_results)]
SUITES: dict[str, list[tuple[str, str]]] = {
    "paper": [
        ("ablations/baseline", "Baseline (RGB)"),
        ("ablations/baseline_mrf", "Baseline + MRF (RGB)"),
        ("ablations/baseline_mrf_wbce", "Baseline + MRF + WBCE (RGB)"),
        ("ablations/full", "ACGA (paper)"),
    ],
    # the paper's central claim alone: does adding the attention (the last step of Table 3) help?
    "attention": [
        ("ablations/baseline_mrf_wbce", "Baseline + MRF + WBCE (RGB)"),
        ("ablations/full", "ACGA (paper)"),
    ],
    "supplement": [
        ("ablations/f_ta_only", "F_TA only"),
        ("ablations/f_va_only", "F_VA only"),
        ("ablations/full", "ACGA (paper)"),
        ("ablations/kwa", "Key-Word-Aware"),
        ("ablations/lstm", "LSTM"),
        ("ablations/clip8", "Length=8"),
        ("ablations/clip24", "Length=24"),
        ("ablations/res3", "Res3"),
        ("ablations/res3_res1", "Res3 + Res1"),
        ("ablations/res3_res2", "Res3 + Res2"),
        ("ablations/weight1_0", "Weight=1.0"),
        ("ablations/weight2_0", "Weight=2.0"),
    ],
    "baselines": [  # RGB only: the synthetic benchmark has no optical-flow cache
        ("baselines/hu", "Hu et al. *"),
        ("baselines/li", "Li et al. *"),
        ("baselines/gavrilyuk_rgb", "Gavrilyuk et al. (RGB)"),
        ("baselines/cmsa", "CMSA+CFSA"),
        ("acga_a2d", "ACGA (paper)"),
    ],
}

# --size NAME -> (the config every row is brought to, what it is)
SIZES: dict[str, tuple[str, str]] = {
    "demo": ("demo", "the demo's size: 192x192 input, 12x12 features, 7 epochs"),
    "quick": ("demo_quick", "the quick demo: 64x64 input, 4x4 features, 120 videos, 6 epochs"),
    "map8": ("demo_map8", "the demo's size before 2026-12-03: 128x128 input, 8x8 features, 8 epochs"),
    "long": ("demo_long", "map8 with twice the updates (16 epochs)"),
    "map16": ("demo_map16", "map8's budget with 16x16 features (256x256 input, ~4x compute)"),
}

# Fields that set the size of the network (not what an ablation switches), by section.
_SIZE_FIELDS = {
    "model": ("backbone", "small3d_widths", "small3d_stem_kernel", "visual_dim", "word_dim",
              "input_size", "resolutions", "head_widths", "deconv_dims"),
    "baseline": ("lstm_hidden", "classifier_width", "cmsa_dim", "cmsa_key_dim"),
}


def small_variant(name: str, demo: Config, extra: Sequence[str] = ()) -> Config:
    """``name`` at the demo's size and schedule; clip length scaled like the demo's (16 -> 8)."""
    paper = load_config(name)
    overrides = [f"{section}.{f}={json.dumps(list(v) if isinstance(v, tuple) else v)}"
                 for section, names in _SIZE_FIELDS.items() for f in names
                 for v in [getattr(getattr(demo, section), f)]]
    clip = max(2, paper.model.clip_len * demo.model.clip_len // 16)
    overrides += [f"model.clip_len={clip}"]
    for f in ("lr", "batch_size", "epochs", "lr_step", "lr_gamma", "lr_schedule", "seed", "sampling",
              "steps_per_epoch", "processes"):
        v = getattr(demo.train, f)
        overrides.append(f"train.{f}={'null' if v is None else v}")
    overrides += ["data.source=video", f"data.word_vectors={demo.data.word_vectors}"]
    return load_config(name, overrides + list(extra))


def check_seeds(seeds: object) -> int:
    """``seeds`` as a run count, or a :class:`ConfigError` naming it (before any work)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds {seeds}: the number of training runs per row must be a whole "
                          f"number of 1 or more; give e.g. --seeds 3")
    return seeds


def check_size(size: object) -> str:
    """``size`` if it names an entry of :data:`SIZES`, else a :class:`ConfigError` naming it."""
    if size not in SIZES:
        raise ConfigError(f"--size {size}: unknown size; choose one of {', '.join(SIZES)}")
    return size  # type: ignore[return-value]


def seed_list(base: int, seeds: int) -> list[int]:
    """The training seeds of a row: ``base, base+1, ..., base+seeds-1``."""
    return [base + k for k in range(check_seeds(seeds))]


def _mean_std(values: list) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof=1; None with one value); None if any value is."""
    import numpy as np

    if not values or any(v is None for v in values):
        return None, None
    arr = np.asarray(values, dtype=np.float64)
    if np.isnan(arr).any():
        return None, None
    return float(arr.mean()), (float(arr.std(ddof=1)) if len(arr) > 1 else None)


def aggregate_runs(runs: Sequence[dict], protocols: Sequence[str] = ("acga", "coco")) -> dict:
    """Per protocol, the mean and sample std (ddof=1) of every metric over ``runs``.

    Returns ``{protocol: {metric: mean}, protocol + "_std": {metric: std}}``; a metric some run
    lacks or has as None/NaN gets None in both.
    """
    out: dict[str, dict] = {}
    for protocol in protocols:
        keys: list[str] = []
        for run in runs:
            keys += [k for k in run[protocol] if k not in keys]
        pairs = {k: _mean_std([run[protocol].get(k) for run in runs]) for k in keys}
        out[protocol] = {k: m for k, (m, _) in pairs.items()}
        out[f"{protocol}_std"] = {k: s for k, (_, s) in pairs.items()}
    return out


def _ensure_synthetic_a2d(root: Path, demo: Config, seed: int) -> None:
    """Generate the benchmark once, even with several ``--only`` processes started together:
    each writes into its own temporary folder and the first rename wins (same seed, same data)."""
    from .data.synth import generate_a2d, reusable_output

    if reusable_output(root, demo.synth.generator):
        return
    from .staging import StagedFolder

    # a killed run's temporaries are removed; a folder that is already there is not refused:
    # the rename fails unless it is empty, and only a finished one (its meta) is accepted
    with StagedFolder(root, marker="synth_meta.json", what="`acga ablate`", replace="first",
                      allow_foreign=True) as staged:
        generate_a2d(staged.tmp, videos=demo.synth.videos, seed=seed, size=demo.synth.size,
                     generator=demo.synth.generator)
        staged.publish()


def run_suite(suite: str, out: str | Path, *, quick: bool = False, seed: int = 0,
              progress: bool = True, extra: Sequence[str] = (),
              only: Sequence[str] = (), seeds: int = 1, size: str | None = None) -> list[dict]:
    """Train and evaluate the rows of ``suite``; write the table of every finished row.

    ``seed`` is the seed of the synthetic data. ``seeds``: train each row this many times, with
    ``train.seed`` = base .. base+seeds-1 (base: the row's ``train.seed``), each run in
    ``OUT/<row>/seed_<s>/`` (with 1, in ``OUT/<row>/`` as before). A run whose metrics.json
    exists is reused, so re-running an interrupted suite trains only the unfinished runs.

    ``only``: run just these configs of the suite (e.g. one per process or machine, sharing
    ``out``); the others are included in the table when an earlier run finished them.

    ``size``: a name of :data:`SIZES` (default ``demo``; ``quick=True`` is ``size="quick"``). A
    finished run is reused only if it was trained with the config it would be trained with now;
    one of another size or other overrides is refused, naming the first field that differs.
    """
    check_seeds(seeds)
    if quick and size not in (None, "quick"):
        raise ConfigError(f"--quick and --size {size} choose two sizes; give one of them")
    size = check_size("quick" if quick else (size or "demo"))
    if suite not in SUITES:
        raise ConfigError(f"--suite {suite}: unknown suite; choose one of {', '.join(sorted(SUITES))}")
    names = [n for n, _ in SUITES[suite]]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(f"--only {', '.join(unknown)}: not in suite {suite!r}; its configs are "
                         f"{', '.join(names)}")
    out = Path(out)
    # synth.* overrides choose the data (e.g. synth.generator=2); the rest go to every row
    demo = load_config(SIZES[size][0], [o for o in extra if o.startswith("synth.")])
    # every run of every row with its config, and every finished run checked against it,
    # before anything trains: a folder of another size is refused, not half-extended
    plans = []
    for name, paper_row in SUITES[suite]:
        row_dir = out / name.replace("/", "_")
        if seeds == 1:  # today's layout: one run in the row's folder
            plan = [(None, row_dir)]
        else:
            base = small_variant(name, demo, extra).train.seed
            plan = [(s, row_dir / f"seed_{s}") for s in seed_list(base, seeds)]
        runs_cfg = []
        for train_seed, run_dir in plan:
            seed_override = [] if train_seed is None else [f"train.seed={train_seed}"]
            cfg = small_variant(name, demo, list(extra) + seed_override)
            metrics_path = run_dir / "metrics.json"
            if metrics_path.exists():
                done = json.loads(metrics_path.read_text())
                _check_same_config(metrics_path, done.get("config_resolved"), cfg)
            runs_cfg.append((train_seed, run_dir, cfg))
        plans.append((name, paper_row, runs_cfg))
    root = out / "data" / "a2d"
    root.parent.mkdir(parents=True, exist_ok=True)
    _ensure_synthetic_a2d(root, demo, seed)
    rows, missing = [], []
    vectors = None
    for name, paper_row, plan in plans:
        runs = []
        for train_seed, run_dir, cfg in plan:
            metrics_path = run_dir / "metrics.json"
            label = name if train_seed is None else f"{name} seed {train_seed}"
            if metrics_path.exists():
                runs.append(json.loads(metrics_path.read_text()))
                log.info("%s: done before, reusing %s", label, metrics_path)
                continue
            if only and name not in only:
                log.info("%s: not run (not in --only) and not finished yet", label)
                continue
            if vectors is None:
                from .data.word_vectors import load_word_vectors

                vectors = load_word_vectors(demo.data.word_vectors)
            run = _train_and_evaluate(name, paper_row, cfg, root, run_dir, vectors, progress)
            atomic_write_json(metrics_path, run)
            runs.append(run)
        if len(runs) < len(plan):
            missing.append(name if seeds == 1 else f"{name} ({len(runs)} of {seeds} seeds)")
        elif seeds == 1:
            rows.append(runs[0])
        else:
            rows.append({"config": name, "paper_row": paper_row,
                         "seeds": [r["config_resolved"]["train"]["seed"] for r in runs],
                         **aggregate_runs(runs),
                         "seconds": round(sum(r["seconds"] for r in runs), 1),
                         "runs": [{"seed": r["config_resolved"]["train"]["seed"],
                                   "folder": str(d.relative_to(out)), **r}
                                  for r, (_, d, _) in zip(runs, plan)]})
    _write_tables(suite, out, rows, missing, size=size, seed=seed, seeds=seeds)
    return rows


def _flatten(tree: object, prefix: str = "") -> dict[str, object]:
    if isinstance(tree, dict):
        out: dict[str, object] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def _check_same_config(metrics_path: Path, stored: object, cfg: Config) -> None:
    """Refuse to reuse a finished run that was trained with another config than ``cfg`` (another
    --size, other overrides): its figures would enter the table under this one's name."""
    now = _flatten(json.loads(json.dumps(config_to_dict(cfg))))
    then = _flatten(stored) if isinstance(stored, dict) else {}
    differ = [k for k in now if k != "description" and then.get(k, now[k]) != now[k]]
    if differ:
        key = differ[0]
        raise ConfigError(
            f"{metrics_path}: this finished run was trained with {key} = {then[key]!r}, this "
            f"suite would train it with {now[key]!r} ({len(differ)} field(s) differ); give "
            f"another --out, or the same --size and overrides as that run")


def _train_and_evaluate(name: str, paper_row: str, cfg: Config, root: Path, run_dir: Path,
                        vectors, progress: bool) -> dict:
    """One run of one row: train into ``run_dir`` (resuming its last checkpoint) and evaluate."""
    import torch

    from .data.dataset import build_dataset
    from .engine import evaluate, fit_local

    t0 = time.perf_counter()
    model = fit_local(cfg, partial(build_dataset, cfg, "train", root=root, preload=True),
                      run_dir, resume=(run_dir / "last.safetensors").exists(),
                      progress=progress)
    test_set = build_dataset(cfg, "test", root=root, vectors=vectors, preload=True)
    with torch.inference_mode():
        acc = evaluate(model, test_set)
    return {"config": name, "paper_row": paper_row, "acga": acc.result("acga"),
            "coco": acc.result("coco"), "seconds": round(time.perf_counter() - t0, 1),
            "config_resolved": config_to_dict(cfg)}


def _write_tables(suite: str, out: Path, rows: list[dict], missing: list[str], *, size: str,
                  seed: int, seeds: int) -> None:
    """OUT/ablation_<suite>.md (mean ± std with several seeds) and OUT/ablation_<suite>.json."""
    from .results_table import format_table
    from .paper_results import PAPER_RESULTS, paper_metrics

    table = [(f"{r['config']} (synthetic)", r["acga"]) for r in rows]
    std = [r.get("acga_std") for r in rows] if seeds > 1 else None
    paper = PAPER_RESULTS.get("a2d", {})
    table_paper = [(f"{r['paper_row']} (paper, A2D)", paper_metrics("a2d", r["paper_row"]))
                   for r in rows if r["paper_row"] in paper]
    flags = f"{f' --size {size}' if size != 'demo' else ''}{f' --seeds {seeds}' if seeds > 1 else ''}"
    if seeds > 1:
        runs_line = (f"data seed {seed}, {seeds} training runs per row (train.seed = the row's "
                     f"seed + 0..{seeds - 1}); cells are mean ± sample standard deviation")
    else:
        runs_line = f"seed {seed}"
    md = [f"# Ablation suite `{suite}` on the synthetic benchmark", "",
          f"Size `{size}` ({SIZES[size][1]}), {runs_line}; command: "
          f"`acga ablate --suite {suite}{flags}`.", "",
          format_table(table, "acga", markdown=True, std=std), "",
          f"Wall time per row (s{', all seeds' if seeds > 1 else ''}): "
          + ", ".join(f"{r['config']} {r['seconds']}" for r in rows), "",
          *([f"Not finished yet: {', '.join(missing)}.", ""] if missing else []),
          "The paper's rows on A2D-Sentences, for comparison:", "",
          format_table(table_paper, "acga", markdown=True) if table_paper else "(none)", ""]
    with atomic_write(out / f"ablation_{suite}.md", "w") as handle:
        handle.write("\n".join(md))
    atomic_write_json(out / f"ablation_{suite}.json", rows)
