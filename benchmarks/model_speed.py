"""The decoder's fast path against the reference computation of the same model, on this CPU.

For each config and batch size, times inference (``torch.inference_mode``, eval mode) and a
training step (forward, the config's weighted BCE at every head, backward) with
``model.decoder_impl=reference`` (eq. 10-13 as written) and ``fast`` (the default), and records
each one's peak resident memory. Every (config, implementation, mode, batch) runs in a fresh
Python process, so each peak (VmHWM) is its own; the two implementations alternate, ``--rounds``
times, so a noisy neighbour slows both alike. Each process times ``--repeats`` runs (at least a
second of them) after one warm-up run; the table keeps the fastest run of all rounds and the
largest peak. The inputs are what the model sees after the feature cache: Mixed_4e features
(B, 528, T', r1, r1) for the I3D configs, clips (B, 3, T, H, W) for the demo's 3-D CNN.

Then, in this process, the two paths on the same weights and inputs (batch 1): the largest
absolute difference of the logits, and of every parameter's gradient relative to that
tensor's largest entry.

Prints a table and writes benchmarks/results/model_speed.json.

    python benchmarks/model_speed.py                                  # released_code, acga_a2d, demo
    python benchmarks/model_speed.py demo --batches 1 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from acga.config import load_config
from acga.losses import segmentation_loss
from acga.models import build_model, parameters_without_gradient
from acga.utils import peak_rss_mib, retain_freed_memory

IMPLEMENTATIONS = ("reference", "fast")
MODES = ("inference", "train_step")


def _model_and_inputs(config: str, impl: str, batch: int, seed: int = 0):
    cfg = load_config(config, [f"model.decoder_impl={impl}"])
    torch.manual_seed(seed)
    model = build_model(cfg)
    m = cfg.model
    gen = torch.Generator().manual_seed(seed + 1)
    if m.backbone == "small3d":
        visual = torch.randn(batch, 3, m.clip_len, m.input_size, m.input_size, generator=gen)
    else:
        streams = 2 if m.modality == "rgb+flow" else 1
        visual = torch.randn(batch, 528 * streams, max(1, m.clip_len // 4), m.resolutions[0],
                             m.resolutions[0], generator=gen)
    words = torch.randn(batch, m.num_words, m.word_dim, generator=gen)
    mask = (torch.rand(batch, 1, m.input_size, m.input_size, generator=gen) > 0.8).float()
    return cfg, model, visual, words, mask


def _train_step(cfg, model, visual, words, mask) -> None:
    model.zero_grad(set_to_none=True)
    out = model(visual, words)
    loss, _ = segmentation_loss(out, mask, cfg.model, cfg.loss)
    loss.backward()


def worker(config: str, impl: str, mode: str, batch: int, repeats: int) -> dict:
    """One measurement in this (fresh) process."""
    retain_freed_memory()  # as the acga command does
    cfg, model, visual, words, mask = _model_and_inputs(config, impl, batch)
    rss_loaded = peak_rss_mib()
    times: list[float] = []
    # The first run warms up the allocator and is not counted; small models run until a
    # second of timed runs, so the minimum is not one scheduler hiccup.
    while len(times) < repeats + 1 or (sum(times[1:]) < 1.0 and len(times) < 50):
        t0 = time.perf_counter()
        if mode == "inference":
            model.eval()
            with torch.inference_mode():
                model(visual, words)
        else:
            model.train()
            _train_step(cfg, model, visual, words, mask)
        times.append(time.perf_counter() - t0)
    return {"config": config, "impl": impl, "mode": mode, "batch": batch,
            "seconds": min(times[1:]), "peak_rss_mib": peak_rss_mib(),
            "rss_loaded_mib": rss_loaded, "threads": torch.get_num_threads()}


def agreement(config: str) -> dict:
    """Largest logit difference and relative gradient difference, fast vs reference, batch 1."""
    results = {}
    for impl in IMPLEMENTATIONS:
        cfg, model, visual, words, mask = _model_and_inputs(config, impl, 1)
        model.train()
        out = model(visual, words)
        loss, _ = segmentation_loss(out, mask, cfg.model, cfg.loss)
        loss.backward()
        results[impl] = ({k: v.detach() for k, v in out.items()},
                         {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    (ref_out, ref_grad), (fast_out, fast_grad) = results["reference"], results["fast"]
    logits = max(float((ref_out[k] - fast_out[k]).abs().max()) for k in ref_out)
    # A bias that the softmax cancels gets only rounding noise as gradient (docs/parameters.md,
    # "Parameters that cannot learn"): relative to itself, noise.
    skipped = sorted(parameters_without_gradient(load_config(config)))
    worst_name, worst = "", 0.0
    for name, g in ref_grad.items():
        scale = float(g.abs().max())
        if name in skipped or scale == 0.0:
            continue
        rel = float((g - fast_grad[name]).abs().max()) / scale
        if rel > worst:
            worst_name, worst = name, rel
    return {"config": config, "max_abs_logit_diff": logits, "max_rel_grad_diff": worst,
            "worst_grad": worst_name, "no_gradient_by_algebra": skipped}


def _run_worker(config: str, impl: str, mode: str, batch: int, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", config, impl, mode, str(batch),
           "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {config} {impl} {mode} batch {batch} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=["released_code", "acga_a2d", "demo"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per process (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="processes per implementation, alternating")
    parser.add_argument("--no-agreement", action="store_true", help="skip the output/gradient comparison")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "model_speed.json"))
    parser.add_argument("--worker", nargs=4, metavar=("CONFIG", "IMPL", "MODE", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        config, impl, mode, batch = args.worker
        print(json.dumps(worker(config, impl, mode, int(batch), args.repeats)))
        return

    rows, pairs = [], []
    for config in args.configs:
        for batch in args.batches:
            for mode in args.modes:
                got: dict[str, dict] = {}
                for _ in range(args.rounds):
                    for impl in IMPLEMENTATIONS:
                        row = _run_worker(config, impl, mode, batch, args.repeats)
                        rows.append(row)
                        best = got.setdefault(impl, dict(row))
                        best["seconds"] = min(best["seconds"], row["seconds"])
                        best["peak_rss_mib"] = max(best["peak_rss_mib"], row["peak_rss_mib"])
                ref, fast = got["reference"], got["fast"]
                pair = {"config": config, "mode": mode, "batch": batch,
                        "reference_s": ref["seconds"], "fast_s": fast["seconds"],
                        "speedup": ref["seconds"] / fast["seconds"],
                        "reference_peak_rss_mib": ref["peak_rss_mib"],
                        "fast_peak_rss_mib": fast["peak_rss_mib"],
                        "memory_ratio": fast["peak_rss_mib"] / ref["peak_rss_mib"]}
                pairs.append(pair)
                print(f"{config:<14} {mode:<10} batch {batch}: reference {ref['seconds']:7.2f} s "
                      f"{ref['peak_rss_mib']:6.0f} MiB | fast {fast['seconds']:7.2f} s "
                      f"{fast['peak_rss_mib']:6.0f} MiB", flush=True)
    agree = [] if args.no_agreement else [agreement(c) for c in args.configs]

    header = (f"{'config':<14} {'mode':<10} {'batch':>5} {'reference s':>12} {'fast s':>8} "
              f"{'speed-up':>9} {'ref MiB':>8} {'fast MiB':>9} {'memory':>7}")
    print("\n" + header + "\n" + "-" * len(header))
    for p in pairs:
        print(f"{p['config']:<14} {p['mode']:<10} {p['batch']:>5} {p['reference_s']:>12.2f} "
              f"{p['fast_s']:>8.2f} {p['speedup']:>8.2f}x {p['reference_peak_rss_mib']:>8.0f} "
              f"{p['fast_peak_rss_mib']:>9.0f} {p['memory_ratio']:>6.2f}x")
    for a in agree:
        print(f"{a['config']}: logits differ by at most {a['max_abs_logit_diff']:.1e}; gradients by "
              f"{a['max_rel_grad_diff']:.1e} of their largest entry ({a['worst_grad']})")
    meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "repeats": args.repeats, "rounds": args.rounds}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"meta": meta, "pairs": pairs, "agreement": agree, "rows": rows},
                              indent=2) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
