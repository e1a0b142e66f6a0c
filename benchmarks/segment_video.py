"""`acga segment` throughput and memory on long videos: memory must stay flat with length.

Writes synthetic 640x360, 25 fps H.264 videos (moving shapes over a drifting texture) of each
``--durations`` length, then segments each with the demo-size model (``demo.yaml``: small 3-D
CNN, 192x192 input since 2026-12-03 (128x128 before; docs/segment.md's figures are at 128),
8-frame clips; the `acga demo` checkpoint when one exists, else random
weights: speed and memory do not depend on the weights) at ``--every 4``, in a fresh process
per video so each peak resident memory (VmHWM) is its own.

    python benchmarks/segment_video.py                     # 30 s vs 60 s
    python benchmarks/segment_video.py --durations 10 20
    python benchmarks/segment_video.py --config acga_a2d --set model.word_dim=50 --every 16
    python benchmarks/segment_video.py --checkpoint runs/paper/last.safetensors --every 16

``--config`` runs that config's model with random weights (``model.word_dim=50``: the builtin
word vectors are 50-d; the paper's word2vec is 300-d), e.g. the paper configuration (I3D Mixed_4e
from pixels + ACGA); ``--checkpoint`` the model a checkpoint's config describes. Results of a
config other than the demo's go to segment_video_<config>.json.

Prints a table and writes benchmarks/results/segment_video.json. ``frames_per_s`` counts every
output frame (decode, model on 1 frame in K, masks as PNG, overlay encoding, all included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acga.utils import peak_rss_mib

RESULTS = Path(__file__).resolve().parent / "results" / "segment_video.json"
QUERY = "the red ball rolling on the left"




def vm_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_video(path: Path, seconds: float, fps: int = 25, width: int = 640, height: int = 360) -> int:
    """Moving shapes (a ball rolling, a box walking, a bar bouncing) over a drifting texture."""
    import av
    import numpy as np

    n = int(round(seconds * fps))
    yy, xx = np.mgrid[0:height, 0:width]
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23"})
    s.width, s.height, s.pix_fmt = width, height, "yuv420p"
    for i in range(n):
        t = i / fps
        bg = (96 + 40 * np.sin((xx + 20 * t) / 23.0) * np.cos((yy - 7 * t) / 17.0)).astype(np.uint8)
        frame = np.stack([bg, bg * 0.9, bg * 0.8], axis=-1).astype(np.uint8)
        bx, by = (60 + 90 * t) % (width - 80) + 40, height * 0.7
        frame[(xx - bx) ** 2 + (yy - by) ** 2 < 30 ** 2] = (220, 30, 30)
        wx = int((width - 100) * (0.5 + 0.5 * np.sin(t / 2.0)))
        frame[120:220, wx:wx + 60] = (40, 200, 60)
        hy = int(40 + 60 * abs(np.sin(t * 2.0)))
        frame[hy:hy + 20, 500:600] = (30, 60, 220)
        for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return n


def child(video: str, out: str, every: int, checkpoint: str | None, config: str | None,
          overrides: list[str]) -> dict:
    """Segment one video in this process; report time and memory as JSON."""
    import torch

    from acga.config import load_config
    from acga.data.text import candidate_words
    from acga.data.word_vectors import load_word_vectors
    from acga.models import build_model
    from acga.segment import Segmenter, default_checkpoint, load_segment_model

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ckpt = Path(checkpoint) if checkpoint else default_checkpoint()
    if config:  # speed and memory do not depend on the weights
        cfg = load_config(config, overrides)
        model, weights = build_model(cfg), "random"
    elif ckpt.is_file():  # the model the checkpoint's own config describes (demo or paper size)
        model, cfg, _ = load_segment_model(ckpt)
        weights = str(ckpt)
    else:
        cfg = load_config("demo")
        model, weights = build_model(cfg), "random"
    model.eval()
    vectors = load_word_vectors("builtin", vocab=candidate_words([QUERY]))
    rss_ready = vm_rss_mib()
    t0 = time.perf_counter()
    r = Segmenter(model, cfg, vectors).segment(video, [QUERY], out, every=every, progress=False)
    seconds = time.perf_counter() - t0
    return {"frames": r.num_frames, "windows": r.windows, "seconds": round(seconds, 2),
            "frames_per_s": round(r.num_frames / seconds, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1), "rss_before_segment_mib": round(rss_ready, 1),
            "peak_frames_held": r.peak_frames_held, "weights": weights, "config": cfg.name,
            "torch_threads": torch.get_num_threads()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--durations", type=float, nargs="+", default=[30.0, 60.0])
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--checkpoint", default=None, help="model to run (default: the acga demo model)")
    ap.add_argument("--config", default=None, help="run this config's model with random weights instead")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override of --config (repeatable)")
    ap.add_argument("--json", default=None,
                    help=f"output JSON (default {RESULTS.name}, or segment_video_<config>.json "
                         "for a --checkpoint of another config)")
    ap.add_argument("--child", nargs=2, metavar=("VIDEO", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.every, args.checkpoint,
                               args.config, args.overrides)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="acga-bench-segment-") as tmp:
        for seconds in args.durations:
            video = Path(tmp) / f"synthetic_{seconds:g}s.mp4"
            t0 = time.perf_counter()
            n = make_video(video, seconds)
            made = time.perf_counter() - t0
            cmd = [sys.executable, __file__, "--child", str(video), str(Path(tmp) / f"out{seconds:g}"),
                   "--every", str(args.every)] + (["--checkpoint", args.checkpoint] if args.checkpoint else [])
            if args.config:
                cmd += ["--config", args.config] + [f"--set={o}" for o in args.overrides]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            row = {"duration_s": seconds, "video": "640x360, 25 fps, H.264", "video_frames": n,
                   "video_write_s": round(made, 1), **json.loads(proc.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"{seconds:5g} s video ({row['frames']} frames): {row['frames_per_s']:6.1f} frames/s, "
                  f"{row['seconds']:6.1f} s, peak RSS {row['peak_rss_mib']:7.1f} MiB "
                  f"(before segmenting {row['rss_before_segment_mib']:.1f}), "
                  f"peak frames held {row['peak_frames_held']}", flush=True)
    config = rows[0]["config"]
    result = {"benchmark": "segment_video", "config": config, "every": args.every, "query": QUERY,
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "rows": rows}
    if len(rows) >= 2:
        result["peak_rss_growth_mib"] = round(rows[-1]["peak_rss_mib"] - rows[0]["peak_rss_mib"], 1)
    json_path = Path(args.json) if args.json else (
        RESULTS if config == "demo" else RESULTS.with_name(f"segment_video_{config.replace('/', '_')}.json"))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
