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
runs in OUT/<row>/ as before.

suites:
  paper       the paper's Table 3: Baseline, +MRF, +WBCE, +ATT
  supplement  the supplement's Table 2 (without the optical-flow rows)
  baselines   Hu et al., Li et al., Gavrilyuk et al. (RGB), CMSA+CFSA and ACGA, same budget

examples:
  acga ablate --suite paper --out runs/ablate
  acga ablate --suite paper --quick train.epochs=3
  acga ablate --suite paper --seeds 3      # each row 3 times: mean ± std
  # two rows at a time on a 2-core machine, one thread each, sharing the output folder:
  OMP_NUM_THREADS=1 acga ablate --out runs/ablate --only ablations/baseline &
  OMP_NUM_THREADS=1 acga ablate --out runs/ablate --only ablations/baseline_mrf
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    from ..ablate import SUITES

    parser.add_argument("--suite", choices=sorted(SUITES), default="paper")
    parser.add_argument("--out", default="runs/ablate", help="output folder (default runs/ablate)")
    parser.add_argument("--quick", action="store_true", help="the quick demo size")
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

    from ..ablate import check_seeds, run_suite
    from ..utils import check_writable

    check_seeds(args.seeds)  # refused before anything is written
    check_writable(args.out, folder=True)
    from ..results_table import format_table
    from ..runsafety import sigterm_as_exception

    with sigterm_as_exception(COMMAND):  # stopped: temporaries removed, workers ended
        rows = run_suite(args.suite, args.out, quick=args.quick, seed=args.seed,
                         progress=not args.no_progress, extra=args.overrides, only=args.only,
                         seeds=args.seeds)
    std = [r.get("acga_std") for r in rows] if args.seeds > 1 else None
    print(format_table([(r["config"], r["acga"]) for r in rows], "acga", std=std))
    print(f"\ntable: {Path(args.out) / f'ablation_{args.suite}.md'}")
    return 0
