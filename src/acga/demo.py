"""The embedded default: synthesize, train, evaluate, report: all on a CPU, with no download.

``run_demo(out, quick)`` writes the synthetic A2D- and JHMDB-layout benchmarks, trains a small
configuration of the full ACGA model (``configs/demo.yaml``; a small 3-D CNN trained jointly
stands in for the frozen I3D, whose weights cannot be downloaded), evaluates it on the synthetic
test split with both protocols, checks that the language matters (each test query replaced by
a query of another sample of the same video), evaluates zero-shot on the JHMDB-layout set and
on a small Ref-DAVIS17-layout set (J, F, J&F over every frame, :mod:`acga.evaluate_refvos`), and
writes ``report.md`` and a self-contained ``report.html`` with curves and overlays.

Each stage is skipped when its output exists, so an interrupted demo resumes.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import random
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .config import Config, config_to_dict, load_config
from .utils import atomic_write, atomic_write_json

__all__ = ["run_demo", "DemoResult", "shuffled_queries"]

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    out: Path
    metrics: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


def shuffled_queries(samples, seed: int = 0) -> list[str]:
    """For each sample, the query of another sample of the same video with a different query;
    when the video has no other query, one from another video (seeded)."""
    rng = random.Random(seed)
    by_video: dict[str, list[str]] = {}
    for s in samples:
        by_video.setdefault(s.video, [])
        if s.query not in by_video[s.video]:
            by_video[s.video].append(s.query)
    all_queries = sorted({s.query for s in samples})
    out = []
    for s in samples:
        others = [q for q in by_video[s.video] if q != s.query]
        if not others:
            others = [q for q in all_queries if q != s.query] or [s.query]
        out.append(rng.choice(others))
    return out


def _stage(name: str, seconds: dict):
    class _Timer:
        def __enter__(self):
            log.info("demo: %s ...", name)
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            seconds[name] = round(time.perf_counter() - self.t0, 1)
            if exc[0] is None:
                log.info("demo: %s done in %.1f s", name, seconds[name])

    return _Timer()


def run_demo(out: str | Path = "acga-demo", *, quick: bool = False, seed: int = 0,
             progress: bool = True, overrides: list[str] | None = None) -> DemoResult:
    from .data.dataset import build_dataset, index_samples
    from .data.synth import generate_a2d, generate_jhmdb, reusable_output
    from .data.word_vectors import load_word_vectors
    from .engine import evaluate, fit_local
    from .models import build_model, check_model_name
    from .checkpoint import load_checkpoint, load_model_weights

    out = Path(out)
    cfg: Config = load_config("demo_quick" if quick else "demo", overrides or [])  # before mkdir
    check_model_name(cfg.model.name)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)
    seconds = result.seconds
    n_videos, n_jhmdb, size = cfg.synth.videos, cfg.synth.jhmdb_videos, cfg.synth.size
    a2d_root, jhmdb_root = out / "data" / "a2d", out / "data" / "jhmdb"

    with _stage("synthesize", seconds):
        if not reusable_output(a2d_root, cfg.synth.generator):
            generate_a2d(a2d_root, videos=n_videos, seed=seed, size=size,
                         generator=cfg.synth.generator)
        if not (jhmdb_root / "synth_meta.json").exists():
            generate_jhmdb(jhmdb_root, videos=n_jhmdb, seed=seed + 1, size=size)

    vectors = load_word_vectors(cfg.data.word_vectors)
    run_dir = out / "run"
    final = run_dir / f"epoch_{cfg.train.epochs}.safetensors"
    with _stage("train", seconds):
        if final.exists():
            model = build_model(cfg)
            load_model_weights(model, load_checkpoint(final))
        else:
            # Each training process loads (and preloads) the train split itself.
            model = fit_local(cfg, partial(build_dataset, cfg, "train", root=a2d_root, preload=True),
                              run_dir, resume=(run_dir / "last.safetensors").exists(),
                              progress=progress)
    with _stage("load test data", seconds):
        test_set = build_dataset(cfg, "test", root=a2d_root, vectors=vectors, preload=True)
    model.eval()
    with _stage("evaluate", seconds):
        acc = evaluate(model, test_set, eval_mask=cfg.data.eval_mask)
        metrics = {p: acc.result(p) for p in ("acga", "coco")}
        swapped = test_set.with_queries(shuffled_queries(test_set.samples, seed), vectors)
        metrics_swapped = {"acga": evaluate(model, swapped).result("acga")}
    with _stage("zero-shot JHMDB", seconds):
        jhmdb_cfg = cfg
        jhmdb_set = build_dataset(jhmdb_cfg, None, root=jhmdb_root, dataset="jhmdb", vectors=vectors,
                                  preload=True)
        jhmdb_acc = evaluate(model, jhmdb_set)  # one pass, both protocols
        metrics_jhmdb = {p: jhmdb_acc.result(p) for p in ("acga", "coco")}
    with _stage("zero-shot Ref-DAVIS", seconds):
        metrics_davis = zero_shot_davis(model, cfg, vectors, out / "data" / "davis",
                                        out / "davis_zero_shot", seed=seed + 2)
    n_train = len(index_samples("a2d", a2d_root, "train"))
    result.metrics = {"a2d_test": metrics, "a2d_test_swapped_queries": metrics_swapped,
                      "jhmdb_zero_shot": metrics_jhmdb, "davis_zero_shot": metrics_davis,
                      "samples": {"train": n_train, "test": len(test_set),
                                  "jhmdb": len(jhmdb_set), "davis": metrics_davis["masks"]}}
    with _stage("report", seconds):
        write_report(out, cfg, model, test_set, acc, result, run_dir / "log.jsonl")
    atomic_write_json(out / "metrics.json", {"metrics": result.metrics, "seconds": seconds,
                                            "config": config_to_dict(cfg)})
    return result


DEMO_DAVIS_VIDEOS = 6
"""Videos of the demo's synthetic Ref-DAVIS set (2 in val: 32 frames, about 40 s on 2 cores)."""


def zero_shot_davis(model, cfg: Config, vectors, root: Path, out: Path, *, seed: int) -> dict:
    """J, F and J&F (fractions) of ``model`` on the val split of a small synthetic Ref-DAVIS17
    set, written to ``root`` (its own folder and seed: the A2D set's random stream is not
    touched), every frame masked as ``acga eval --dataset davis`` does; outputs under ``out``."""
    from .data.dataset import index_samples
    from .data.synth import generate_davis
    from .evaluate_refvos import evaluate_refvos
    from .segment import Segmenter

    if not (root / "synth_meta.json").exists():
        generate_davis(root, videos=DEMO_DAVIS_VIDEOS, seed=seed, size=cfg.synth.size)
    samples = index_samples("davis", root, "val")
    result = evaluate_refvos(Segmenter(model, cfg, vectors), samples, root, out, progress=False)
    return {"J": result.davis.J, "F": result.davis.F, "J&F": result.davis.JF,
            "expressions": result.davis.expressions, "masks": result.masks,
            "frames": result.frames, "frames_per_second": result.frames_per_second}


def _overlays(model, dataset, acc, count: int = 12):
    """(image (H, W, 3), caption) for ``count`` test samples spread over the split."""
    import torch

    from .data.dataset import load_mask
    from .data.transforms import unletterbox_mask
    from .data.video import read_clip
    from .engine import predict_masks
    from .visualize import overlay

    n = len(dataset)
    picks = sorted({int(i) for i in np.linspace(0, n - 1, min(count, n))})
    ious = {row["key"]: row["iou"] for row in acc.per_sample()}
    items = []
    with torch.inference_mode():
        for i, pred_sq in predict_masks(model, dataset, picks):
            s = dataset.samples[i]
            frame = read_clip(dataset.root, s.dataset, s, 1)[0]
            pred = unletterbox_mask(pred_sq.astype(np.uint8), s.height, s.width).astype(bool)
            gt = load_mask(dataset.root, s).astype(bool)
            left = overlay(frame, [gt], colors=[(0, 255, 0)], alpha=0.65)
            right = overlay(frame, [pred], colors=[(255, 0, 0)], alpha=0.65)
            image = np.concatenate([left, np.full((frame.shape[0], 4, 3), 255, np.uint8), right], axis=1)
            query = s.query if len(s.query) <= 44 else s.query[:41] + "..."  # one caption line
            items.append((image, f"{query} (IoU {ious.get(s.key, float('nan')):.2f})"))
    return items


def _davis_table(d: dict) -> str:
    """The markdown row of the zero-shot Ref-DAVIS J, F and J&F."""
    return "\n".join(["| | J&F | J | F | expressions | frames |", "|---|---|---|---|---|---|",
                      f"| zero-shot synthetic Ref-DAVIS | {100 * d['J&F']:.1f} | "
                      f"{100 * d['J']:.1f} | {100 * d['F']:.1f} | {d['expressions']} | "
                      f"{d['frames']} |"])


def _img_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'


def write_report(out: Path, cfg: Config, model, test_set, acc, result: DemoResult,
                 log_path: Path) -> None:
    from .results_table import format_table
    from .visualize import contact_sheet, plot_curves, save_png_atomic

    records = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    curves = out / "training_curves.png"
    plot_curves([r for r in records if r.get("kind") == "step"], curves, keys=("loss",))
    items = _overlays(model, test_set, acc)
    sheet_path = out / "overlays.png"
    sheet = contact_sheet([im for im, _ in items], ncols=3, captions=[c for _, c in items])
    save_png_atomic(sheet, sheet_path)
    m = result.metrics
    rows = [("ACGA demo (synthetic A2D test)", m["a2d_test"]["acga"]),
            ("  same, queries swapped within video", m["a2d_test_swapped_queries"]["acga"]),
            ("  zero-shot, synthetic JHMDB", m["jhmdb_zero_shot"]["acga"])]
    coco_rows = [("ACGA demo (synthetic A2D test)", m["a2d_test"]["coco"]),
                 ("  zero-shot, synthetic JHMDB", m["jhmdb_zero_shot"]["coco"])]
    gap = m["a2d_test"]["acga"]["mean_iou"] - m["a2d_test_swapped_queries"]["acga"]["mean_iou"]
    md = [
        "# acga demo report", "",
        f"Config `{cfg.name}`: {cfg.description}", "",
        f"Samples: {m['samples']['train']} train, {m['samples']['test']} test, "
        f"{m['samples']['jhmdb']} JHMDB-layout. Wall time by stage (s): "
        + ", ".join(f"{k} {v}" for k, v in result.seconds.items()) + ".", "",
        "## Metrics (acga protocol, percent)", "",
        format_table(rows, "acga", markdown=True), "",
        f"Mean IoU drops by {100 * gap:.1f} points when each test query is replaced by another "
        "query of the same video: the model uses the language.", "",
        "## Metrics (coco protocol, percent)", "",
        format_table(coco_rows, "coco", markdown=True), "",
        "## Zero-shot synthetic Ref-DAVIS (J, F, J&F, percent)", "",
        _davis_table(m["davis_zero_shot"]), "",
        "## Training curve", "", f"![training curves]({curves.name})", "",
        "## Predictions", "",
        "Green: ground truth; red: prediction. Each caption is the query and the IoU.", "",
        f"![overlays]({sheet_path.name})", "",
    ]
    with atomic_write(out / "report.md", "w") as handle:
        handle.write("\n".join(md))
    body = "\n".join(md)
    html_lines = []
    for line in body.splitlines():
        if line.startswith("!["):
            name = line[line.index("(") + 1: line.rindex(")")]
            html_lines.append(_img_tag(out / name))
        elif line.startswith("# "):
            html_lines.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            html_lines.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-: "):
                continue
            html_lines.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        elif line:
            html_lines.append(f"<p>{html.escape(line)}</p>")
    page, in_table = [], False
    for item in html_lines:
        if item.startswith("<tr>") and not in_table:
            page.append("<table>")
            in_table = True
        if not item.startswith("<tr>") and in_table:
            page.append("</table>")
            in_table = False
        page.append(item)
    if in_table:
        page.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
             "table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "img{max-width:100%}")
    with atomic_write(out / "report.html", "w") as handle:
        handle.write(f"<!doctype html><html><head><meta charset='utf-8'><title>acga demo</title>"
                     f"<style>{style}</style></head><body>\n" + "\n".join(page) + "\n</body></html>\n")
