"""Data-loader throughput: clips from raw MP4, from PNG folders, and Mixed_4e features from the cache.

Generates a synthetic A2D-layout set at 320 pixels tall (the release's clips are 320H), then
times ``SegmentationDataset`` item loading (clip decode + letterbox + mask + words, or a cached
feature read) through a torch DataLoader, at the paper's clip length and input size. The cache
is filled with random float16 features of the paper's shape (reading speed does not depend on
the values). Prints a table and writes benchmarks/results/data_loader.json.

    python benchmarks/data_loader.py                   # 16 frames, 512x512, 40 videos
    python benchmarks/data_loader.py --videos 20 --size 320 --input 256 --workers 0 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from acga.config import load_config
from acga.data.dataset import SegmentationDataset, index_samples
from acga.data.feature_manifest import CacheSettings
from acga.data.features import FeatureCache
from acga.data.synth import generate_a2d
from acga.data.word_vectors import load_word_vectors


def view(root: Path, out: Path, keep: str) -> Path:
    """A copy of the release tree (symlinks) holding only MP4s or only PNG folders."""
    (out / "Release").mkdir(parents=True)
    (out / "text_annotations").symlink_to(root / "text_annotations")
    (out / "Release" / "videoset.csv").symlink_to(root / "Release" / "videoset.csv")
    folder = "clips320H" if keep == "mp4" else "pngs320H"
    (out / "Release" / folder).symlink_to(root / "Release" / folder)
    return out


def collate(items):
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def run(dataset, workers: int, batch: int, limit: int) -> dict:
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        collate_fn=collate, generator=torch.Generator().manual_seed(0))
    n, t0 = 0, time.perf_counter()
    for batch_items in loader:
        n += batch_items["visual"].shape[0]
        if n >= limit:
            break
    seconds = time.perf_counter() - t0
    return {"samples": n, "seconds": round(seconds, 2), "samples_per_s": round(n / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--size", type=int, default=320, help="frame height of the synthetic videos")
    parser.add_argument("--input", type=int, default=512, help="model input size")
    parser.add_argument("--clip-len", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--limit", type=int, default=64, help="samples timed per row")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "data_loader.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate_a2d(tmp / "a2d", videos=args.videos, seed=0, size=args.size)
        synth_s = time.perf_counter() - t0
        samples = index_samples("a2d", tmp / "a2d", "train")
        vectors = load_word_vectors("builtin")
        r1 = args.input // 16
        base = ["model.word_dim=50", f"model.clip_len={args.clip_len}", f"model.input_size={args.input}",
                f"model.resolutions=[{r1},{4 * r1},{args.input}]"]
        for source in ("mp4", "png"):
            root = view(tmp / "a2d", tmp / f"view_{source}", source)
            cfg = load_config("acga_a2d", base + ["data.source=video"])
            data = SegmentationDataset(samples, root, cfg, vectors)
            for w in args.workers:
                rows.append({"source": source, "workers": w, **run(data, w, args.batch, args.limit)})
        feature_shape = (528, max(1, args.clip_len // 4), r1, r1)
        cache_dir = tmp / "cache"
        settings = CacheSettings(backbone="i3d_mixed_4e", weights_sha256="random", modality="rgb",
                                 clip_len=args.clip_len, input_size=args.input,
                                 feature_shape=feature_shape, dtype="float16")
        rng = np.random.default_rng(0)
        with FeatureCache.create(cache_dir, settings) as cache:
            for s in samples:
                cache.write(s.key, rng.standard_normal(feature_shape).astype(np.float16))
        cfg = load_config("acga_a2d", base + ["data.source=cache", f"data.cache={cache_dir}"])
        data = SegmentationDataset(samples, tmp / "a2d", cfg, vectors, cache=[FeatureCache.open(cache_dir)])
        for w in args.workers:
            rows.append({"source": "cache", "workers": w, **run(data, w, args.batch, args.limit)})
    print(f"synthetic set: {args.videos} videos at {args.size}H, {len(samples)} train samples "
          f"(generated in {synth_s:.1f} s); clip {args.clip_len} x {args.input}^2, batch {args.batch}")
    print(f"{'source':<8} {'workers':>7} {'samples':>8} {'seconds':>8} {'samples/s':>10}")
    for r in rows:
        print(f"{r['source']:<8} {r['workers']:>7} {r['samples']:>8} {r['seconds']:>8} {r['samples_per_s']:>10}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = {"videos": args.videos, "size": args.size, "input": args.input, "clip_len": args.clip_len,
            "batch": args.batch, "cpus": os.cpu_count(), "peak_rss_mib_main": round(peak)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
