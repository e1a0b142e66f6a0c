"""`acga convert-official`: convert the authors' released checkpoint to an acga checkpoint."""

from __future__ import annotations

import argparse

COMMAND = "convert-official"
HELP = "convert the authors' released checkpoint"
DESCRIPTION = """\
Convert the checkpoint of the authors' release (haowang1992/ACGA: model_best.pth.tar from their
ckpt.tar, a torch.save of {'epoch', 'state_dict', 'optimizer'}) into an acga .safetensors
checkpoint with the released_code config, which reproduces the release's forward pass. The file
is read with torch.load(weights_only=True): no code in it runs. Only I3D's Mixed_4f of the
release's whole I3D is kept (the frozen blocks up to Mixed_4e run in `acga extract`); the
optimizer state is dropped. Every tensor the model needs must come from the file with the right
shape, or nothing is written.

Evaluate the result on a feature cache like any checkpoint (docs/official_checkpoint.md). For
the release's features, extract the cache with the I3D in the same file: `acga extract --weights
model_best.pth.tar` detects its layout and uses the release's BatchNorm eps (1e-5). The README
of the release unpacks ckpt.tar into checkpoint/ACGA/ without naming the file; `tar tvf ckpt.tar`
shows it.

examples:
  acga convert-official checkpoint/ACGA/model_best.pth.tar --out acga_official.safetensors
  acga extract --dataset a2d --root /data/a2d --out cache/a2d_rgb_release \\
      --weights checkpoint/ACGA/model_best.pth.tar
  acga eval --checkpoint acga_official.safetensors data.cache=cache/a2d_rgb_release --root /data/a2d
"""


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="the authors' checkpoint (model_best.pth.tar)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="overrides of the released_code config stored with the weights, "
                        "right after CHECKPOINT (e.g. data.cache=cache/a2d_rgb)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="the .safetensors checkpoint to write")


def run(args: argparse.Namespace) -> int:
    from ..convert import convert_official_checkpoint
    from ..utils import check_writable

    check_writable(args.out)
    report = convert_official_checkpoint(args.checkpoint, args.out, overrides=args.overrides)
    print(report.summary())
    return 0
