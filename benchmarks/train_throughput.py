"""Training throughput and peak RSS of a config from cached Mixed_4e features.

Fills a feature cache with random float16 features of the paper's shape for a small synthetic
A2D-layout set, then times ``acga.engine.fit`` for a fixed number of steps (the real trainer:
data loading from the memory-mapped cache, forward, weighted BCE at three resolutions,
backward, Adam). Prints a table and writes benchmarks/results/train_throughput.json.

    python benchmarks/train_throughput.py                       # acga_a2d, batch 4, 6 steps
    python benchmarks/train_throughput.py --config released_code --steps 10
    python benchmarks/train_throughput.py --set model.decoder_impl=reference --out /tmp/ref.json
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

from acga.config import load_config
from acga.data.dataset import SegmentationDataset, index_samples
from acga.data.feature_manifest import CacheSettings
from acga.data.features import FeatureCache
from acga.data.synth import generate_a2d
from acga.data.word_vectors import load_word_vectors
from acga.engine import fit
from acga.utils import retain_freed_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="acga_a2d")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, e.g. model.decoder_impl=reference (repeatable)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_throughput.json"))
    args = parser.parse_args()
    retain_freed_memory()  # as the `acga` command does (ACGA_MALLOC=default turns it off)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_a2d(tmp / "a2d", videos=args.videos, seed=0, size=96)
        samples = index_samples("a2d", tmp / "a2d", "train")
        probe = load_config(args.config)
        m = probe.model
        shape = (528, max(1, m.clip_len // 4), m.resolutions[0], m.resolutions[0])
        settings = CacheSettings(backbone="i3d_mixed_4e", weights_sha256="random", modality="rgb",
                                 clip_len=m.clip_len, input_size=m.input_size, feature_shape=shape)
        rng = np.random.default_rng(0)
        with FeatureCache.create(tmp / "cache", settings) as cache:
            for s in samples:
                cache.write(s.key, rng.standard_normal(shape).astype(np.float16))
        cfg = load_config(args.config, [
            "model.word_dim=50", "data.source=cache", f"data.cache={tmp / 'cache'}",
            f"train.batch_size={args.batch}", "train.epochs=1", f"train.steps_per_epoch={args.steps}", *args.overrides])
        data = SegmentationDataset(samples, tmp / "a2d", cfg, load_word_vectors("builtin"),
                                   cache=[FeatureCache.open(tmp / "cache")])
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        fit(cfg, data, tmp / "run", progress=False)
        seconds = time.perf_counter() - t0
        log = [json.loads(x) for x in (tmp / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if r["kind"] == "step"]
    row = {"config": args.config, "overrides": args.overrides, "batch": args.batch, "steps": len(steps),
           "seconds": round(seconds, 1), "samples_per_s": round(len(steps) * args.batch / seconds, 3),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "rss_before_training_mib": round(rss_before), "threads": torch.get_num_threads(),
           "cpus": os.cpu_count(), "malloc": os.environ.get("ACGA_MALLOC", "retain"),
           "note": "word_dim 50 (builtin GloVe); the paper's 300-d adds about 1 MB of "
                   "text-encoder weights and no measurable time"}
    print(f"{'config':<16} {'batch':>5} {'steps':>5} {'seconds':>8} {'samples/s':>10} {'peak RSS MiB':>13}")
    print(f"{row['config']:<16} {row['batch']:>5} {row['steps']:>5} {row['seconds']:>8} "
          f"{row['samples_per_s']:>10} {row['peak_rss_mib']:>13}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
