"""Contact sheet of the synthetic benchmark: a few generated videos, three frames each around an
annotated frame, the annotated frame's masks outlined, and the queries (docs/synthetic.md).

    python benchmarks/synth_contact_sheet.py [--out docs/img/synth_contact_sheet.png] [--seed 0]

Generates a small A2D-layout benchmark in a temporary folder, reads it back through the files
(PNG frames, HDF5 masks, annotation CSV: what a reader sees) and draws one row per video: a
``same_appearance`` pair, a ``same_action`` pair and random videos.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from acga.data.a2d import read_a2d_h5
from acga.data.synth import META_NAME, generate_a2d

# one outline colour per instance id
_OUTLINE = [(255, 255, 0), (0, 255, 255), (255, 0, 255)]


def _outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a 0/1 mask (H, W) -> bool (H, W)."""
    m = mask.astype(bool)
    inner = m.copy()
    inner[1:] &= m[:-1]
    inner[:-1] &= m[1:]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    return m & ~inner


def contact_sheet(root: Path, out: Path, rows: int = 5, scale: int = 3) -> Path:
    """Draw ``rows`` videos of the A2D-layout benchmark at ``root`` into the PNG ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    meta = json.loads((root / META_NAME).read_text())
    with open(root / "text_annotations" / "a2d_annotation.txt", newline="") as handle:
        queries = {(v, int(i)): q for v, i, q in list(csv.reader(handle))[1:]}
    videos = [v for v in meta["videos"] if not v["missed"]]
    chosen = [next(v for v in videos if v["kind"] == "same_appearance"),
              next(v for v in videos if v["kind"] == "same_action")]
    chosen += [v for v in videos if v["kind"] == "random" and len(v["actors"]) > 1][:rows - 2]
    fig, axes = plt.subplots(len(chosen), 4, figsize=(15, 2.6 * len(chosen)),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    for row, v in zip(axes, chosen):
        frame = v["annotated_frames"][len(v["annotated_frames"]) // 2]
        ids, masks = read_a2d_h5(root / "text_annotations" / "a2d_annotation_with_instances"
                                 / v["video"] / f"{frame:05d}.h5")
        for ax, f in zip(row[:3], (frame - 4, frame, frame + 4)):
            f = min(max(f, 1), v["frames"])
            img = np.array(Image.open(root / "Release" / "pngs320H" / v["video"] / f"{f:05d}.png"))
            if f == frame:
                for inst, m in zip(ids, masks):
                    img[_outline(m)] = _OUTLINE[inst % len(_OUTLINE)]
            ax.imshow(np.kron(img, np.ones((scale, scale, 1), dtype=np.uint8)))
            ax.set_title(f"{v['video']} frame {f}" + (" (annotated)" if f == frame else ""),
                         fontsize=8)
            ax.axis("off")
        lines = [f"kind: {v['kind']}"]
        for a in v["actors"]:
            lines.append(f"#{a['instance']} {a['colour']} {a['size']} {a['class']}, "
                         f"{a['action']}")
            lines.append("   \u201c" + textwrap.shorten(queries[(v["video"], a["instance"])], 70)
                         + "\u201d")
        row[3].axis("off")
        y = 0.95
        for k, line in enumerate(lines):
            inst = None if k == 0 else v["actors"][(k - 1) // 2]["instance"]
            color = "black" if inst is None else tuple(
                c * 0.8 for c in np.array(_OUTLINE[inst % len(_OUTLINE)]) / 255)
            row[3].text(0.0, y, line, fontsize=8.5, family="monospace", va="top",
                        color=color, transform=row[3].transAxes)
            y -= 0.13
    fig.suptitle("acga synth a2d: frames 4 before, at and 4 after an annotated frame; "
                 "masks outlined per instance", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"
                                             / "synth_contact_sheet.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "a2d"
        generate_a2d(root, videos=24, seed=args.seed, size=args.size, mp4=False)
        print(contact_sheet(root, Path(args.out)))


if __name__ == "__main__":
    main()
