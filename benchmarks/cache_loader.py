"""Feature-cache data loader: throughput and peak memory versus dataset size.

Builds caches of N = 200 and N = 2000 samples of the paper's Mixed_4e shape (528, 4, 32, 32)
float16 (4.3 MB each on disk; 8.7 GB for N = 2000), then, in a fresh process per run, iterates a
shuffled DataLoader (batch 4, like training) over every sample once and records samples/s and
the peak resident memory (VmHWM of the main process; the largest worker's peak from
getrusage(RUSAGE_CHILDREN)). The authors' release instead holds every feature in RAM: N x 8.7 MB
as float32, listed as ``in_ram_mib`` for comparison.

The cache files were just written, so they are read from the OS page cache: the rates are an
upper bound for a disk that cannot keep up. Page-cache pages are not part of the process RSS.

    python benchmarks/cache_loader.py                         # N = 200, 2000; workers 0 and 2
    python benchmarks/cache_loader.py --sizes 50 200 --shape 528 4 16 16 --keep DIR

Prints a table and writes benchmarks/results/cache_loader.json; the caches are deleted at the
end unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from acga.data.feature_manifest import CacheSettings
from acga.data.features import CachedFeatureDataset, FeatureCache
from acga.utils import peak_rss_mib




def build(path: Path, n: int, shape: tuple[int, ...]) -> float:
    settings = CacheSettings(backbone="i3d_mixed_4e", weights_sha256="random", modality="rgb",
                             clip_len=16, input_size=512, feature_shape=shape, dtype="float16")
    rng = np.random.default_rng(0)
    # ReLU-like non-negative activations; a few distinct arrays keep generation cheap.
    pool = [np.maximum(rng.standard_normal(shape, dtype=np.float32), 0) for _ in range(4)]
    t0 = time.perf_counter()
    with FeatureCache.create(path, settings, flush_every=256) as cache:
        for i in range(n):
            if not cache.has(f"s{i:06d}"):
                cache.write(f"s{i:06d}", pool[i % 4] + i * 1e-3)
    return time.perf_counter() - t0


def run_child(path: str, workers: int, batch: int) -> dict:
    """One measurement in this (fresh) process."""
    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    base = peak_rss_mib()
    cache = FeatureCache.open(path)
    ds = CachedFeatureDataset(cache)
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    seen = 0
    checksum = 0.0
    for x in loader:
        seen += x.shape[0]
        checksum += float(x[:, 0, 0, 0, 0].sum())  # touch the batch
    dt = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"samples": seen, "seconds": dt, "samples_per_s": seen / dt,
            "peak_rss_main_mib": peak_rss_mib(), "rss_after_import_mib": base,
            "peak_rss_worker_mib": children if workers else None, "checksum": checksum}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--shape", type=int, nargs="+", default=[528, 4, 32, 32])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--keep", type=Path, default=None, help="build the caches here and keep them")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cache_loader.json")
    ap.add_argument("--child", nargs=3, metavar=("PATH", "WORKERS", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], int(args.child[1]), int(args.child[2]))))
        return

    shape = tuple(args.shape)
    entry_mib = math.prod(shape) * 2 / 2**20
    root = args.keep or Path(tempfile.mkdtemp(prefix="acga_cache_bench_", dir=os.environ.get("TMPDIR")))
    rows = []
    try:
        for n in args.sizes:
            path = root / f"n{n}"
            build_s = build(path, n, shape)
            for workers in args.workers:
                out = subprocess.run([sys.executable, __file__, "--child", str(path), str(workers),
                                      str(args.batch)], check=True, capture_output=True, text=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                res.update(n=n, workers=workers, build_s=round(build_s, 1),
                           cache_gib=round(n * entry_mib / 1024, 2),
                           in_ram_mib=round(n * entry_mib * 2, 0))
                rows.append(res)
            if args.keep is None:
                shutil.rmtree(path)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"feature shape {shape} float16 ({entry_mib:.2f} MiB/sample), batch {args.batch}")
    print(f"{'N':>6} {'workers':>7} {'cache GiB':>9} {'samples/s':>9} {'peak RSS main':>13} "
          f"{'peak RSS worker':>15} {'all-in-RAM':>10}")
    for r in rows:
        worker = f"{r['peak_rss_worker_mib']:.0f} MiB" if r["peak_rss_worker_mib"] else "-"
        print(f"{r['n']:>6} {r['workers']:>7} {r['cache_gib']:>9} {r['samples_per_s']:>9.1f} "
              f"{r['peak_rss_main_mib']:>9.0f} MiB {worker:>15} {r['in_ram_mib']:>6.0f} MiB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from acga.utils import atomic_write_json

    atomic_write_json(args.out, {
        "benchmark": "cache_loader", "feature_shape": list(shape), "dtype": "float16",
        "batch": args.batch, "machine": platform.platform(), "cpus": os.cpu_count(),
        "note": "files read from the page cache right after writing; RSS excludes page cache",
        "rows": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
