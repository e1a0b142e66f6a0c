"""Results tables in the paper's layout (Method | P@0.5 .. P@0.9 | mAP | Overall IoU | Mean IoU),
as plain text for the terminal or Markdown for reports; values in percent with one decimal."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .metrics import check_protocol

__all__ = ["format_table"]

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("P@0.5", "P@0.5"), ("P@0.6", "P@0.6"), ("P@0.7", "P@0.7"), ("P@0.8", "P@0.8"),
    ("P@0.9", "P@0.9"), ("mAP", "mAP 0.5:0.95"), ("overall_iou", "Overall IoU"),
    ("mean_iou", "Mean IoU"))

_PROTOCOL_NOTES = {
    "acga": "protocol acga (paper): P@K = IoU >= K; mAP = mean of P@0.50:0.05:0.95",
    "coco": "protocol coco (MTTR): P@K = IoU > K; mAP = pycocotools segm AP 0.50:0.95",
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _cell(value: Any, std: Any = None) -> str:
    """``value`` in percent with one decimal; with a ``std``, "mean ± std" (both in percent)."""
    if _missing(value):
        return "-"
    if _missing(std):
        return f"{100.0 * float(value):.1f}"
    return f"{100.0 * float(value):.1f} ± {100.0 * float(std):.1f}"


def format_table(rows: Sequence[tuple[str, Mapping[str, Any]]], protocol: str = "acga",
                 markdown: bool = False,
                 std: Sequence[Mapping[str, Any] | None] | None = None) -> str:
    """A results table in the paper's layout, values in percent with one decimal.

    Columns: Method | P@0.5 P@0.6 P@0.7 P@0.8 P@0.9 | mAP 0.5:0.95 | Overall IoU | Mean IoU.

    Args:
        rows: ``(method name, metrics)`` with metrics as fractions (the dicts the protocols
            return); a missing or None value prints as "-" (e.g. the supplement's rows, which
            report only mAP and IoU).
        protocol: named in the caption line ("acga" or "coco").
        markdown: a Markdown table instead of aligned plain text.
        std: one dict per row (or None) of standard deviations, as fractions like the
            metrics; a cell with one prints "mean ± std" (e.g. ``52.7 ± 1.3``), without one
            just the value.
    """
    check_protocol(protocol)
    if std is not None and len(std) != len(rows):
        raise ValueError(f"std has {len(std)} entries for {len(rows)} rows")
    stds = list(std) if std is not None else [None] * len(rows)
    headers = ["Method"] + [h for _, h in _COLUMNS]
    body = [[name] + [_cell(metrics.get(key), (s or {}).get(key)) for key, _ in _COLUMNS]
            for (name, metrics), s in zip(rows, stds)]
    caption = _PROTOCOL_NOTES[protocol]
    if markdown:
        lines = [f"*{caption}*", "",
                 "| " + " | ".join(headers) + " |",
                 "|" + "|".join([":---"] + ["---:"] * len(_COLUMNS)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(headers[c]), *(len(r[c]) for r in body)) if body else len(headers[c])
              for c in range(len(headers))]

    def line(cells: list[str]) -> str:
        # Group like the paper: Method | five precisions | mAP | Overall | Mean.
        first = cells[0].ljust(widths[0])
        prec = " ".join(cells[i].rjust(widths[i]) for i in range(1, 6))
        rest = " | ".join(cells[i].rjust(widths[i]) for i in range(6, 9))
        return f"{first} | {prec} | {rest}"

    header = line(headers)
    return "\n".join([caption, header, "-" * len(header)] + [line(r) for r in body])
