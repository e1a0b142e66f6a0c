"""Time of the frozen I3D part (stem .. Mixed_4e) for one clip: the cost of `acga extract`.

Prints a table and writes benchmarks/results/i3d_extract.json. Weights are random unless
--weights is given (the time does not depend on them).

    python benchmarks/i3d_extract.py                         # 16x224x224 and 16x512x512, CPU
    python benchmarks/i3d_extract.py --sizes 512 --frames 8 16 24 --device cuda --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import torch

from acga.models.i3d import build_i3d
from acga.utils import atomic_write_json


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model: torch.nn.Module, frames: int, size: int, repeats: int,
            device: torch.device) -> dict:
    x = torch.randn(1, 3, frames, size, size, device=device)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            out = model(x, end="Mixed_4e")
            _sync(device)
            times.append(time.perf_counter() - t0)
    row = {"frames": frames, "size": size, "output_shape": list(out.shape),
           "seconds": min(times), "runs": repeats, "all_seconds": times}
    if device.type == "cuda":
        row["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    parser.add_argument("--frames", type=int, nargs="+", default=[16])
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per shape (min kept)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--weights", default=None, help="I3D weights file (optional)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "i3d_extract.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_i3d("rgb", final_endpoint="Mixed_4e", weights=args.weights).eval().to(device)
    with torch.inference_mode():  # one small untimed run: allocator and kernel set-up
        model(torch.randn(1, 3, 8, 64, 64, device=device))
    rows = [measure(model, t, s, args.repeats, device) for t in args.frames for s in args.sizes]

    print(f"{'clip':<14} {'Mixed_4e shape':<24} {'seconds':>8}")
    for r in rows:
        shape = "x".join(map(str, r["output_shape"]))
        print(f"{r['frames']}x{r['size']}x{r['size']:<8} {shape:<24} {r['seconds']:>8.2f}")
    meta = {"device": torch.cuda.get_device_name(device) if device.type == "cuda"
            else (platform.processor() or platform.machine()),
            "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "weights": args.weights or "random",
            "part": "I3D RGB Conv3d_1a_7x7 .. Mixed_4e, batch 1, inference_mode, float32"}
    atomic_write_json(args.out, {"meta": meta, "rows": rows})


if __name__ == "__main__":
    main()
