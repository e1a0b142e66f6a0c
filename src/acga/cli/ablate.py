"""`acga ablate`: train and evaluate a suite of configs on the synthetic benchmark."""

from __future__ import annotations

import argparse

COMMAND = "ablate"
HELP = "train and evaluate a suite of configs; write the table"
DESCRIPTION = """\
Train and evaluate every config of a suite on the synthetic benchmark at the demo's CPU size
(same data, budget and schedule for each), and write OUT/ablation_<suite>.md and .json with the
table beside the paper's numbers on A2D-Sentences. Finished rows are reused on re-runs.

--seeds N trains every row N times, with train.seed = the row's seed, +1, ..., +N-1 (the
synthetic data, set by --seed, stays the same), each run in OUT/<row>/seed_<s>/; the table
shows mean ± sample standard deviation. Finished runs are reused, so re-running an interrupted
suite with the same arguments trains only the unfinished ones. With N = 1 (the default) a row
runs in OUT/<row>/ as before. A finished run is reused only with the config it was trained
with: one of another --size or other overrides is refused (give another --out).

sizes (--size):
  demo        192x192 input, 12x12 features, 7 epochs at batch 4 (the default; `acga demo`)
  quick       64x64 input, 4x4 features, 120 videos, 6 epochs (a smoke test)
  map8        128x128 input, 8x8 features, 8 epochs (the demo's size before 2026-12-03)
  long        map8 with twice the updates (16 epochs)
  map16       map8's data and budget with 16x16 features (256x256 input, ~4x compute)

suites:
  paper       the paper's Table 3: Baseline, +MRF, +WBCE, +ATT
  attention   its last step alone: Baseline + MRF + WBCE against + ATT (the full ACGA)
  supplement  the supplement's Table 2 (without the optical-flow rows)
  baselines   Hu et al., Li et al., Gavrilyuk et al. (RGB), CMSA+CFSA and ACGA, same budget

examples:
  acga ablate --suite paper --out runs/ablate
  acga ablate --suite paper --quick train.epochs=3
  acga ablate --suite paper --seeds 3      # each row 3 times: mean ± std
  acga ablate --suite paper --size long --only ablations/full
  # two rows at a time on a 2-core machine, one thread each, sharing the output folder:
  OMP_NUM_THREADS=1 acga ablate --out runs/ablate --only ablations/baseline &
  OMP_NUM_THREADS=1 acga ablate --out runs/ablate --only ablations/baseline_mrf
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    from ..ablate import SIZES, SUITES

    parser.add_argument("--suite", choices=sorted(SUITES), default="paper")
    parser.add_argument("--out", default="runs/ablate", help="output folder (default runs/ablate)")
    parser.add_argument("--size", default=None, metavar="NAME",
                        help="size and budget every row is brought to: "
                             + "; ".join(f"{k}: {v}" for k, (_, v) in SIZES.items())
                             + " (default demo)")
    parser.add_argument("--quick", action="store_true", help="the same as --size quick")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="training runs per row, with train.seed = base .. base+N-1 "
                             "(default 1)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="overrides applied to every config (e.g. train.epochs=4)")
    parser.add_argument("--only", action="append", default=[], metavar="CONFIG",
                        help="run only this config of the suite (repeatable); rows finished "
                             "earlier in OUT still enter the table")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..ablate import check_seeds, check_size, run_suite
    from ..errors import ConfigError
    from ..utils import check_writable

    check_seeds(args.seeds)  # refused before anything is written
    if args.size is not None:
        check_size(args.size)
        if args.quick and args.size != "quick":
            raise ConfigError(f"--quick and --size {args.size} choose two sizes; give one of them")
    check_writable(args.out, folder=True)
    from ..results_table import format_table
    from ..runsafety import sigterm_as_exception

    with sigterm_as_exception(COMMAND):  # stopped: temporaries removed, workers ended
        rows = run_suite(args.suite, args.out, quick=args.quick, size=args.size, seed=args.seed,
                         progress=not args.no_progress, extra=args.overrides, only=args.only,
                         seeds=args.seeds)
    std = [r.get("acga_std") for r in rows] if args.seeds > 1 else None
    print(format_table([(r["config"], r["acga"]) for r in rows], "acga", std=std))
    print(f"\ntable: {Path(args.out) / f'ablation_{args.suite}.md'}")
    return 0
