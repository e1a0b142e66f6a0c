"""What the rows of an `acga ablate` run learned: language use and, for ACGA, LGVA's weights.

For every finished run of ``--out`` (the folder ``acga ablate`` wrote: ``<row>/`` of a one-seed
suite, ``<row>/seed_<s>/`` of a ``--seeds N`` suite), loads its ``last.safetensors`` with the
config the run stored (so rows of any ``--size`` and with overrides such as ``model.init=pytorch``
are rebuilt as trained) and evaluates it on the synthetic test split twice: as is, and with each
query replaced by another query of the same video (as ``acga demo`` does). For rows with LGVA
it also measures, on ``--samples`` test samples, how peaked LGVA's softmax over pixels is: the
mean largest weight of a row, the row entropy over log(H*W), and the weight of each pixel on
itself. Prints a table and writes ``--json`` (default benchmarks/results/ablation_analysis.json).

    acga ablate --suite paper --out runs/ablate
    python benchmarks/ablation_analysis.py --out runs/ablate --suite paper
    python benchmarks/ablation_analysis.py --out runs/ablate_seeds --suite supplement \
        --only ablations/f_va_only
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from acga.ablate import SUITES
from acga.checkpoint import load_checkpoint, load_model_weights
from acga.config import config_from_dict
from acga.data.dataset import build_dataset
from acga.data.word_vectors import load_word_vectors
from acga.demo import shuffled_queries
from acga.engine import evaluate
from acga.engine.training import collate
from acga.models import build_model


@torch.no_grad()
def lgva_stats(model, dataset, samples: int) -> dict[str, float] | None:
    picks = list(range(0, len(dataset), max(1, len(dataset) // samples)))[:samples]
    peak, entropy, self_weight = [], [], []
    for i in range(0, len(picks), 8):
        batch = collate([dataset[j] for j in picks[i:i + 8]])
        f_v = model.forward_visual(batch["visual"])
        _, _, weights = model.forward_attention(f_v, model.forward_text(batch["words"]),
                                                batch["word_mask"])
        if "pixels" not in weights:
            return None
        p = weights["pixels"]  # (B, HW, HW), rows sum to 1
        peak.append(p.max(-1).values.mean())
        entropy.append((-(p.clamp_min(1e-12).log() * p).sum(-1)).mean() / math.log(p.shape[-1]))
        self_weight.append(torch.diagonal(p, dim1=1, dim2=2).mean())
    n = p.shape[-1]
    mean = lambda xs: round(float(torch.stack(xs).mean()), 4)  # noqa: E731
    return {"max_weight": mean(peak), "entropy_over_log_n": mean(entropy),
            "self_weight": mean(self_weight), "uniform_weight": round(1 / n, 4)}


def finished_runs(out: Path, name: str) -> list[tuple[int | None, Path]]:
    """(seed, run folder) of the finished runs of row ``name``: its one-seed folder and/or its
    ``seed_<s>`` folders, those with a ``last.safetensors``."""
    row = out / name.replace("/", "_")
    runs: list[tuple[int | None, Path]] = [(None, row)] if (row / "last.safetensors").exists() else []
    for folder in sorted(row.glob("seed_*"), key=lambda p: p.name):
        suffix = folder.name[len("seed_"):]
        if suffix.isdigit() and (folder / "last.safetensors").exists():
            runs.append((int(suffix), folder))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the folder `acga ablate --out` wrote")
    parser.add_argument("--suite", default="paper", choices=sorted(SUITES))
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--only", action="append", default=[], metavar="CONFIG",
                        help="analyse only this row (repeatable)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "ablation_analysis.json"))
    args = parser.parse_args()
    out = Path(args.out)
    # each run's own word vectors (every size uses the same builtin file, so this loads once)
    vectors_by_path: dict[str, object] = {}
    rows = []
    for name, _ in SUITES[args.suite]:
        if args.only and name not in args.only:
            continue
        for seed, folder in finished_runs(out, name):
            cfg = config_from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")),
                                   str(folder / "config.json"))
            path = str(cfg.data.word_vectors)
            if path not in vectors_by_path:
                vectors_by_path[path] = load_word_vectors(path)
            vectors = vectors_by_path[path]
            model = build_model(cfg)
            load_model_weights(model, load_checkpoint(folder / "last.safetensors"))
            model.eval()
            test = build_dataset(cfg, "test", root=out / "data" / "a2d", vectors=vectors, preload=True)
            swapped = test.with_queries(shuffled_queries(test.samples, 0), vectors)
            with torch.inference_mode():
                plain = evaluate(model, test).result("acga")["mean_iou"]
                other = evaluate(model, swapped).result("acga")["mean_iou"]
            rows.append({"config": name, "seed": seed, "mean_iou": round(100 * plain, 1),
                         "mean_iou_swapped_queries": round(100 * other, 1),
                         "lgva": lgva_stats(model, test, args.samples)
                         if cfg.model.name == "acga" else None})
    print(f"{'config':<30} {'seed':>4} {'mean IoU':>8} {'swapped':>8} {'LGVA max':>9} {'entropy':>8} {'self':>7}")
    for r in rows:
        g = r["lgva"] or {}
        seed = "-" if r["seed"] is None else r["seed"]
        print(f"{r['config']:<30} {seed:>4} {r['mean_iou']:>8} {r['mean_iou_swapped_queries']:>8} "
              f"{g.get('max_weight', '-'):>9} {g.get('entropy_over_log_n', '-'):>8} {g.get('self_weight', '-'):>7}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"suite": args.suite, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
