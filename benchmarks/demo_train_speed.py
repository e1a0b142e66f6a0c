"""Training speed of the demo configuration on this CPU, one change at a time.

Each row trains ``configs/demo_map8.yaml`` (the demo's 8x8 size until 2026-12-03: batch 4,
128x128 input, 8-frame clips) for ``--steps`` steps on random in-memory clips with the real
trainer (``acga.engine.fit_local``: forward, weighted BCE at three resolutions, backward,
Adam), in a fresh Python process, since the malloc setting is process-wide. Rows, each adding
one change to the one before:

1. ``before``: the demo as it was: stem kernel (3, 5, 5), glibc's default malloc, one process
   with all cores as threads, the reference decoder;
2. ``+ malloc``: ``acga.utils.retain_freed_memory`` (what the ``acga`` command does);
3. ``+ stem 1x5x5``: ``model.small3d_stem_kernel=[1,5,5]``;
4. ``+ fast decoder``: ``model.decoder_impl=fast`` (the default; see acga.models.decoder);
5. ``+ 2 processes``: ``train.processes=2`` (DDP over gloo, one thread each).

The first ``--warmup`` steps are not timed. Prints a table and writes
benchmarks/results/demo_train_speed.json.

    python benchmarks/demo_train_speed.py
    python benchmarks/demo_train_speed.py --steps 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

_REF = "model.decoder_impl=reference"
ROWS = [
    ("before", False, ["model.small3d_stem_kernel=[3,5,5]", "train.processes=1", _REF]),
    ("+ malloc", True, ["model.small3d_stem_kernel=[3,5,5]", "train.processes=1", _REF]),
    ("+ stem 1x5x5", True, ["model.small3d_stem_kernel=[1,5,5]", "train.processes=1", _REF]),
    ("+ fast decoder", True, ["model.small3d_stem_kernel=[1,5,5]", "train.processes=1"]),
    ("+ 2 processes", True, ["model.small3d_stem_kernel=[1,5,5]", "train.processes=2"]),
]


def _measure(overrides: list[str], steps: int, warmup: int) -> dict:
    """Run in a fresh process: train ``steps`` steps, return the timed rate past ``warmup``."""
    import torch

    from acga.config import load_config
    from acga.data.dataset import RandomSamples
    from acga.engine import fit_local, local_processes
    from acga.utils import peak_rss_mib, retain_freed_memory

    retain_freed_memory()  # a no-op in the rows run with ACGA_MALLOC=default
    cfg = load_config("demo_map8", overrides + ["train.epochs=1", f"train.steps_per_epoch={steps}",
                                           "train.device=cpu"])
    with tempfile.TemporaryDirectory() as tmp:
        fit_local(cfg, partial(RandomSamples, steps * cfg.train.batch_size, cfg), tmp, progress=False)
        log = [json.loads(x) for x in (Path(tmp) / "log.jsonl").read_text().splitlines()]
    rec = [r for r in log if r["kind"] == "step"]
    # samples_per_s is cumulative from the epoch's start: recover the time at two steps.
    seen = [r["step"] * cfg.train.batch_size for r in rec]
    t = [s / r["samples_per_s"] for s, r in zip(seen, rec)]
    rate = (seen[-1] - seen[warmup - 1]) / (t[-1] - t[warmup - 1])
    return {"samples_per_s": round(rate, 2), "seconds_per_step": round(cfg.train.batch_size / rate, 4),
            "processes": local_processes(cfg), "threads": torch.get_num_threads(),
            "peak_rss_mib_main": round(peak_rss_mib())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "demo_train_speed.json"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # one row, in its own process
        spec = json.loads(args.child)
        print(json.dumps(_measure(spec["overrides"], args.steps, args.warmup)))
        return
    rows = []
    for name, malloc, overrides in ROWS:
        spec = json.dumps({"overrides": overrides})
        env = dict(os.environ, ACGA_MALLOC="retain" if malloc else "default")
        done = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--warmup",
                               str(args.warmup), "--child", spec], env=env, check=True,
                              capture_output=True, text=True)
        row = {"variant": name, "overrides": overrides, "malloc_retain": malloc,
               **json.loads(done.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(f"{name:<16} done: {row['samples_per_s']} samples/s", file=sys.stderr)
    base = rows[0]["samples_per_s"]
    print(f"\n{'variant':<16} {'processes':>9} {'samples/s':>10} {'s/step':>7} {'speed-up':>9}")
    for r in rows:
        print(f"{r['variant']:<16} {r['processes']:>9} {r['samples_per_s']:>10} "
              f"{r['seconds_per_step']:>7} {r['samples_per_s'] / base:>8.2f}x")
    result = {"config": "demo_map8", "batch": 4, "steps": args.steps, "warmup": args.warmup,
              "cpus": os.cpu_count(), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
