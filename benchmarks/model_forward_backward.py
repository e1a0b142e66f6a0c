"""Forward and backward time and peak memory of a config at batch 1 on this machine's CPU.

Prints a table and writes benchmarks/results/model_forward_backward.json.

    python benchmarks/model_forward_backward.py                   # paper config (acga_a2d)
    python benchmarks/model_forward_backward.py released_code ablations/baseline --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from acga.config import load_config
from acga.losses import segmentation_loss
from acga.models import build_model
from acga.utils import peak_rss_mib



def measure(name: str, repeats: int, batch: int) -> dict:
    cfg = load_config(name)
    torch.manual_seed(0)
    model = build_model(cfg)
    m = cfg.model
    streams = 2 if m.modality == "rgb+flow" else 1
    visual = torch.randn(batch, 528 * streams, max(1, m.clip_len // 4), m.resolutions[0], m.resolutions[0])
    words = torch.randn(batch, m.num_words, m.word_dim)
    mask = (torch.rand(batch, 1, m.input_size, m.input_size) > 0.8).float()
    rss_before = peak_rss_mib()
    fwd, bwd = [], []
    for _ in range(repeats + 1):  # the first run warms up allocators and is not counted
        t0 = time.perf_counter()
        out = model(visual, words)
        loss, _ = segmentation_loss(out, mask, m, cfg.loss)
        t1 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    with torch.inference_mode():
        t0 = time.perf_counter()
        model.eval()(visual, words)
        infer = time.perf_counter() - t0
    return {"config": name, "batch": batch, "forward_s": min(fwd[1:]), "backward_s": min(bwd[1:]),
            "inference_s": infer, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
            "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=["acga_a2d"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "model_forward_backward.json"))
    args = parser.parse_args()
    rows = [measure(n, args.repeats, args.batch) for n in args.configs]
    print(f"{'config':<24} {'batch':>5} {'forward s':>10} {'backward s':>11} {'inference s':>12} {'peak RSS MiB':>13}")
    for r in rows:
        print(f"{r['config']:<24} {r['batch']:>5} {r['forward_s']:>10.2f} {r['backward_s']:>11.2f} "
              f"{r['inference_s']:>12.2f} {r['peak_rss_mib']:>13.0f}")
    meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "torch": torch.__version__}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
