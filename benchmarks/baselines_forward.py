"""Forward time and peak memory of every baseline (and ACGA for reference) at the paper
configuration, batch 1, on this machine's CPU, inference mode (``torch.inference_mode``).

Each model runs in a fresh process so the peak resident memory (VmHWM) is its own: ``peak_mib``
is the process peak over the whole run (interpreter, weights, inputs, forward);
``forward_peak_mib`` is how far the forward pass raised it above the level reached after the
model and inputs were built. Time: the median of ``--repeats`` forward passes after one warm-up.

    python benchmarks/baselines_forward.py
    python benchmarks/baselines_forward.py baselines/hu baselines/cmsa --repeats 5

Prints a table and writes benchmarks/results/baselines_forward.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from acga.utils import peak_rss_mib

DEFAULT = ["baselines/gavrilyuk_rgb", "baselines/gavrilyuk_rgb_flow", "baselines/hu",
           "baselines/li", "baselines/cmsa", "acga_a2d"]
RESULTS = Path(__file__).resolve().parent / "results" / "baselines_forward.json"




def measure_one(name: str, repeats: int) -> dict:
    """Runs in the child process."""
    import torch

    from acga.config import load_config
    from acga.models import build_model, parameter_table

    cfg = load_config(name)
    m = cfg.model
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    streams = 2 if m.modality == "rgb+flow" else 1
    r1 = m.resolutions[0]
    visual = torch.randn(1, m.backbone_in_channels * streams, max(1, m.clip_len // 4), r1, r1)
    words = torch.randn(1, m.num_words, m.word_dim)
    before = peak_rss_mib()
    times = []
    with torch.inference_mode():
        for i in range(repeats + 1):
            start = time.perf_counter()
            out = model(visual, words)
            elapsed = time.perf_counter() - start
            if i:  # the first pass is a warm-up
                times.append(elapsed)
    peak = peak_rss_mib()
    return {
        "config": name,
        "model": m.name,
        "trainable_params": sum(r[2] for r in parameter_table(model)),
        "forward_s": statistics.median(times),
        "forward_s_all": times,
        "peak_mib": round(peak, 1),
        "forward_peak_mib": round(peak - before, 1),
        "final_shape": list(out["final"].shape),
        "visual_input_shape": list(visual.shape),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.repeats)))
        return
    rows = []
    for name in args.configs:
        proc = subprocess.run([sys.executable, __file__, "--one", name, "--repeats", str(args.repeats)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"  done {name}: {r['forward_s']:.2f} s", file=sys.stderr)
    w = max(len(r["config"]) for r in rows)
    print(f"{'config':<{w}} {'params':>12} {'forward s':>10} {'peak MiB':>9} {'fwd +MiB':>9}")
    for r in rows:
        print(f"{r['config']:<{w}} {r['trainable_params']:>12,} {r['forward_s']:>10.2f} "
              f"{r['peak_mib']:>9.0f} {r['forward_peak_mib']:>9.0f}")
    report = {
        "what": "forward pass, batch 1, paper configuration (16 frames, 512x512; cached Mixed_4e "
                "input (1, S*528, 4, 32, 32)), CPU, inference mode",
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "python": platform.python_version()},
        "results": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
