"""`acga segment`: segment your own video from a sentence (masks, overlay video, attention)."""

from __future__ import annotations

import argparse
import sys

COMMAND = "segment"
HELP = "segment your own video from a sentence"
DESCRIPTION = """\
Segment the actor and action a sentence describes in any video PyAV/FFmpeg can read, and write
  OUT/masks/<query index>/<frame:05d>.png   0/255 masks at the video's displayed size
                                            (query index from 0, frame numbers from 1)
  OUT/overlay.mp4                           H.264 video: masks (one colour per query) + text
  OUT/contact_sheet.png                     a few frames with their overlays
  OUT/attention/q<i>_words.png, _pixels.png with --attention: VGLA word weights of the most
                                            responsive regions and a background region, and
                                            LGVA's map for the response maximum (supplement
                                            Figure 1)
  OUT/frames.csv, OUT/segment.json          frame times; what was run

The model runs on a clip_len-frame window centred on every K-th frame (--every K; edge frames
repeat at the ends, as in training); the other frames take the mask of the nearest window.
The video is streamed: memory does not grow with its length. Phone-video rotation is applied.
Outputs go to a temporary folder moved to OUT at the end: an error, Ctrl-C or SIGTERM leaves
nothing behind (temporary folders of a killed run are removed by the next run). Re-running into
an earlier `acga segment` output replaces the files it wrote (listed in its segment.json) and
keeps any other file there. A video that decodes to fewer frames than its container states
(a truncated download) is segmented as far as it goes, with a warning.

Without --checkpoint the model of the last `acga demo` is used
(./acga-demo/run/last.safetensors, or $ACGA_DEMO_DIR/run/last.safetensors).

examples:
  acga segment walk.mp4 "the dog walking on the left"
  acga segment clip.mov "a man riding" --query "the car rolling" --every 4 --attention --out seg
  acga segment v.mp4 "the adult running" --checkpoint runs/acga/last.safetensors \\
      --i3d-weights rgb_imagenet.pt --word-vectors GoogleNews-vectors-negative300.bin
"""

def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="a video file (mp4, mov, avi, mkv, webm, ...)")
    parser.add_argument("query", metavar="QUERY", help="the sentence to segment")
    parser.add_argument("--query", dest="more_queries", action="append", default=[],
                        metavar="Q", help="another sentence (repeatable; one colour each)")
    parser.add_argument("--checkpoint", metavar="FILE", default=None,
                        help="model checkpoint (.safetensors; default: the `acga demo` model)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: <video name>_segment); the files of an "
                        "earlier `acga segment` output there are replaced, other files kept")
    parser.add_argument("--every", metavar="K", type=int, default=1,
                        help="run the model on every K-th frame, fill the others from the "
                        "nearest (default: 1)")
    parser.add_argument("--attention", action="store_true",
                        help="also draw the VGLA word weights and the LGVA map")
    parser.add_argument("--attention-frame", metavar="N", type=int, default=None,
                        help="frame (1-based) to draw the attention of (default: the window "
                        "with the most confident response)")
    parser.add_argument("--i3d-weights", metavar="FILE", default=None,
                        help="RGB I3D weights (rgb_imagenet.pt, or the ACGA release's "
                        "i3d_rgb.pth / checkpoint: BatchNorm eps 1e-5, as for `acga extract`) "
                        "for models on I3D features; without them the I3D is random and the "
                        "masks are meaningless")
    parser.add_argument("--word-vectors", metavar="FILE", default=None,
                        help="word vectors (default: those the checkpoint was trained with)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto (default)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _named_after(exc: OSError, out) -> OSError:
    """A write error inside the hidden temporary folder (``.OUT.tmp-...``, removed already) or
    one naming no file (a full disk) is reported for OUT, the folder the user named."""
    import os

    from ..staging import temporary_prefix

    name = str(exc.filename) if exc.filename is not None else None
    if exc.errno is None or (name is not None and not name.startswith(temporary_prefix(out))):
        return exc
    return type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(out))


def run(args: argparse.Namespace) -> int:
    from ..runsafety import sigterm_as_exception

    with sigterm_as_exception(COMMAND):  # a stopped run removes its temporary folder
        return _segment(args)


def _segment(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..segment import Segmenter
    from ..utils import resolve_device

    queries = [args.query, *args.more_queries]
    device = str(resolve_device(args.device, "--device"))
    segmenter = Segmenter.load(args.checkpoint, args.word_vectors, args.i3d_weights, device,
                               queries=queries)
    if args.checkpoint is None:
        print("acga segment: no --checkpoint given, using the `acga demo` model "
              f"{segmenter.checkpoint}", file=sys.stderr)
    video = Path(args.video)
    out = Path(args.out) if args.out else Path(f"{video.stem}_segment")
    try:
        result = segmenter.segment(video, queries, out, every=args.every,
                                   attention=args.attention, progress=not args.no_progress,
                                   attention_frame=args.attention_frame)
    except OSError as exc:
        raise _named_after(exc, out) from exc
    print(f"{result.num_frames} frames ({result.width}x{result.height}"
          f"{f', rotated {result.rotation} deg' if result.rotation else ''}), "
          f"{result.windows} model windows, {result.seconds:.1f} s "
          f"({result.num_frames / max(result.seconds, 1e-9):.1f} frames/s)")
    for q, (info, folder) in enumerate(zip(result.queries, result.mask_dirs)):
        print(f"  query {q} {info.text!r}: masks in {folder}")
    print(f"  overlay video: {result.overlay_video}")
    print(f"  contact sheet: {result.contact_sheet}")
    for path in result.attention:
        print(f"  attention: {path}")
    return 0
