"""What the rows of an `acga ablate` run learned: language use and, for ACGA, LGVA's weights.

For every finished row of ``--out`` (the folder ``acga ablate`` wrote), loads its
``last.safetensors`` and evaluates it on the synthetic test split twice: as is, and with each
query replaced by another query of the same video (as ``acga demo`` does). For rows with LGVA
it also measures, on ``--samples`` test samples, how peaked LGVA's softmax over pixels is: the
mean largest weight of a row, the row entropy over log(H*W), and the weight of each pixel on
itself. Prints a table and writes ``--json`` (default benchmarks/results/ablation_analysis.json).

    acga ablate --suite paper --out runs/ablate
    python benchmarks/ablation_analysis.py --out runs/ablate --suite paper
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from acga.ablate import SUITES, small_variant
from acga.checkpoint import load_checkpoint, load_model_weights
from acga.config import load_config
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the folder `acga ablate --out` wrote")
    parser.add_argument("--suite", default="paper", choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true", help="the suite ran with --quick")
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "ablation_analysis.json"))
    args = parser.parse_args()
    out = Path(args.out)
    demo = load_config("demo_quick" if args.quick else "demo")
    vectors = load_word_vectors(demo.data.word_vectors)
    rows = []
    for name, _ in SUITES[args.suite]:
        ckpt = out / name.replace("/", "_") / "last.safetensors"
        if not ckpt.exists():
            continue
        cfg = small_variant(name, demo)
        model = build_model(cfg)
        load_model_weights(model, load_checkpoint(ckpt))
        model.eval()
        test = build_dataset(cfg, "test", root=out / "data" / "a2d", vectors=vectors, preload=True)
        swapped = test.with_queries(shuffled_queries(test.samples, 0), vectors)
        with torch.inference_mode():
            plain = evaluate(model, test).result("acga")["mean_iou"]
            other = evaluate(model, swapped).result("acga")["mean_iou"]
        row = {"config": name, "mean_iou": round(100 * plain, 1),
               "mean_iou_swapped_queries": round(100 * other, 1),
               "lgva": lgva_stats(model, test, args.samples) if cfg.model.name == "acga" else None}
        rows.append(row)
    print(f"{'config':<30} {'mean IoU':>8} {'swapped':>8} {'LGVA max':>9} {'entropy':>8} {'self':>7}")
    for r in rows:
        g = r["lgva"] or {}
        print(f"{r['config']:<30} {r['mean_iou']:>8} {r['mean_iou_swapped_queries']:>8} "
              f"{g.get('max_weight', '-'):>9} {g.get('entropy_over_log_n', '-'):>8} {g.get('self_weight', '-'):>7}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"suite": args.suite, "quick": args.quick, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
