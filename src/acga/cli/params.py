"""`acga params`: parameter counts of configs, broken down by module, against the paper."""

from __future__ import annotations

import argparse

from ..config import list_packaged_configs, load_config

COMMAND = "params"
HELP = "parameter table of configs, by module"
DESCRIPTION = """\
Print, for each config, the total and trainable parameters of the model it builds, broken down
by module, and compare the trainable count with the number the paper reports (supplement
Table 1) or the authors' release. Without CONFIG, every packaged config is listed.

The counts cover what is trained: I3D's Mixed_4f block and everything after it (the frozen
I3D stem..Mixed_4e runs once, in `acga extract`).

example:
  acga params acga_a2d released_code ablations/baseline
  acga params --json params.json
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="*", metavar="CONFIG",
                        help="config files or packaged names (default: all packaged configs)")
    parser.add_argument("--depth", type=int, default=1, help="module depth of the breakdown (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")


def count_config(name: str, depth: int = 1) -> dict:
    """Build the config's model and count its parameters (a plain dict, JSON-safe)."""
    import torch

    from ..models import build_model, parameter_table
    from ..paper_results import reported_params

    cfg = load_config(name)
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = build_model(cfg)
    rows = parameter_table(model, depth)
    total = sum(r[1] for r in rows)
    trainable = sum(r[2] for r in rows)
    paper = reported_params(name)
    return {
        "config": name,
        "description": cfg.description,
        "modules": [{"module": m, "total": t, "trainable": tr} for m, t, tr in rows],
        "total": total,
        "trainable": trainable,
        "paper": paper,
        "matches_paper": None if paper is None else trainable == paper,
    }


def format_report(report: dict) -> str:
    lines = [f"{report['config']}: {report['description']}"]
    width = max([len(r["module"]) for r in report["modules"]] + [len("trainable (sum)")])
    lines.append(f"  {'module':<{width}} {'total':>12} {'trainable':>12}")
    for r in report["modules"]:
        lines.append(f"  {r['module']:<{width}} {r['total']:>12,} {r['trainable']:>12,}")
    lines.append(f"  {'sum':<{width}} {report['total']:>12,} {report['trainable']:>12,}")
    if report["paper"] is not None:
        verdict = "matches" if report["matches_paper"] else \
            f"differs by {report['trainable'] - report['paper']:+,}"
        lines.append(f"  reported: {report['paper']:,} trainable -> {verdict}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    names = args.configs or list_packaged_configs()
    if args.json:
        from ..utils import check_writable

        check_writable(args.json)
    reports = [count_config(n, args.depth) for n in names]
    print("\n\n".join(format_report(r) for r in reports))
    if len(reports) > 1:
        print("\nsummary")
        w = max(len(r["config"]) for r in reports)
        print(f"  {'config':<{w}} {'trainable':>12} {'reported':>12}  match")
        for r in reports:
            rep = "" if r["paper"] is None else f"{r['paper']:,}"
            ok = "" if r["matches_paper"] is None else ("yes" if r["matches_paper"] else "NO")
            print(f"  {r['config']:<{w}} {r['trainable']:>12,} {rep:>12}  {ok}")
    if args.json:
        from ..utils import atomic_write_json

        atomic_write_json(args.json, reports)
    return 0
