"""`acga demo`: the embedded default, end to end on a CPU with nothing downloaded."""

from __future__ import annotations

import argparse
import time

COMMAND = "demo"
HELP = "embedded default: synthesize data, train, evaluate, write a report"
DESCRIPTION = """\
Generate the synthetic A2D-layout benchmark (and its JHMDB-layout twin), train a small
configuration of the full ACGA model on it, evaluate it with both protocols (and with each
query swapped for another of the same video, to show the language is used), evaluate zero-shot
on the JHMDB-layout set, and write OUT/report.md and OUT/report.html with the metric table,
training curves and overlays. Re-running resumes: finished stages are skipped.

examples:
  acga demo                       # about 10 minutes on a 2-core CPU
  acga demo --quick --out /tmp/d  # about 2 minutes
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="acga-demo", help="output folder (default: acga-demo)")
    parser.add_argument("--quick", action="store_true", help="smaller data and model, ~2 minutes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="overrides of the demo config (e.g. train.epochs=2)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..utils import check_writable

    check_writable(args.out, folder=True)
    from ..results_table import format_table

    from ..runsafety import sigterm_as_exception

    t0 = time.perf_counter()
    with sigterm_as_exception(COMMAND):  # stopped: temporaries removed, training workers ended
        result = run_demo(args.out, quick=args.quick, seed=args.seed,
                          progress=not args.no_progress, overrides=args.overrides)
    m = result.metrics
    print(format_table([("ACGA demo, synthetic A2D test", m["a2d_test"]["acga"]),
                        ("  queries swapped within video", m["a2d_test_swapped_queries"]["acga"]),
                        ("  zero-shot synthetic JHMDB", m["jhmdb_zero_shot"]["acga"])], "acga"))
    d = m["davis_zero_shot"]
    print(f"zero-shot synthetic Ref-DAVIS: J&F {100 * d['J&F']:.1f}, J {100 * d['J']:.1f}, "
          f"F {100 * d['F']:.1f} ({d['expressions']} expressions, {d['frames']} frames)")
    print(f"\nreport: {result.out / 'report.html'}  ({time.perf_counter() - t0:.0f} s)")
    return 0
