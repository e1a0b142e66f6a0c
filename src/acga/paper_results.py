"""Published numbers to compare against: the ACGA paper (Wang et al. ICCV 2019) Tables 1-3, its
supplement's Table 2, the authors' README (haowang1992/ACGA, after their code clean-up) and
CMSA+CFSA (Ye et al. CVPR 2019 / TPAMI, as listed on its benchmark page).

``PAPER_RESULTS[dataset][method]`` maps a metric key of :mod:`acga.metrics` to the value **in
percent, exactly as printed** (e.g. ``55.7``); a metric a source does not report is absent.
:func:`paper_metrics` returns a row as fractions, the unit of :func:`acga.results_table.format_table`.
``PAPER_SOURCES`` says where each row comes from and ``PAPER_TABLES`` lists the rows of each
published table in their printed order, so a reproduced table can be laid out row by row.
``PAPER_PARAMS`` holds the reported trainable parameter counts, by packaged config
(``acga params`` compares with them). This module is the one home of published numbers: the
configs carry none.

Rows of the ablation tables that are the full model (Conv1D, RGB, Length=16, Res3+Res1+Res2,
Weight=1.5, F_TA + F_VA, "Ours") repeat ``"ACGA (paper)"`` and are listed once. All protocols
here are the authors' (``acga``: P@K with IoU >= K, mAP = mean of P@0.50:0.05:0.95), except
CMSA+CFSA whose evaluation code is not ours to verify.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

__all__ = ["PAPER_RESULTS", "PAPER_SOURCES", "PAPER_TABLES", "PAPER_PARAMS", "paper_metrics",
           "paper_rows", "reported_params"]

_KEYS = ("P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9", "mAP", "overall_iou", "mean_iou")
_SHORT_KEYS = ("mAP", "overall_iou", "mean_iou")  # the supplement's Table 2 columns


def _full(*values: float) -> dict[str, float]:
    """A row in the paper's column order: P@0.5..P@0.9, mAP, overall IoU, mean IoU."""
    assert len(values) == len(_KEYS)
    return dict(zip(_KEYS, values))


def _short(*values: float) -> dict[str, float]:
    """A supplement Table 2 row: mAP 0.5:0.95, overall IoU, mean IoU."""
    assert len(values) == len(_SHORT_KEYS)
    return dict(zip(_SHORT_KEYS, values))


ACGA = "ACGA (paper)"
ACGA_RELEASE = "ACGA (released code)"

PAPER_RESULTS: dict[str, dict[str, dict[str, float]]] = {
    "a2d": {
        # Table 1 (the first two rows are trained on ReferIt only; "*" = fine-tuned on A2D).
        "Hu et al.": _full(7.7, 3.9, 0.8, 0.0, 0.0, 2.0, 21.3, 12.8),
        "Li et al.": _full(10.8, 6.2, 2.0, 0.3, 0.0, 3.3, 24.8, 14.4),
        "Hu et al. *": _full(34.8, 23.6, 13.3, 3.3, 0.1, 13.2, 47.4, 35.0),
        "Li et al. *": _full(38.7, 29.0, 17.5, 6.6, 0.1, 16.3, 51.5, 35.4),
        "Gavrilyuk et al. (RGB)": _full(47.5, 34.7, 21.1, 8.0, 0.2, 19.8, 53.6, 42.1),
        "Gavrilyuk et al. (RGB + Flow)": _full(50.0, 37.6, 23.1, 9.4, 0.4, 21.5, 55.1, 42.6),
        ACGA: _full(55.7, 45.9, 31.9, 16.0, 2.0, 27.4, 60.1, 49.0),
        # Table 3 ablations ("Baseline + MRF + WBCE + ATT (RGB)" is ACGA (paper)).
        "Baseline (RGB)": _full(48.9, 36.1, 21.8, 9.2, 0.3, 20.6, 52.8, 44.1),
        "Baseline + MRF (RGB)": _full(50.1, 38.4, 26.2, 13.0, 1.1, 23.1, 57.7, 45.5),
        "Baseline + MRF + WBCE (RGB)": _full(53.5, 43.4, 29.7, 13.7, 1.4, 25.5, 57.4, 47.5),
        # Supplement Table 2 (A2D rows).
        "F_TA only": _short(26.4, 59.1, 48.3),
        "F_VA only": _short(26.5, 60.2, 48.3),
        "Key-Word-Aware": _short(24.9, 56.6, 47.2),
        "LSTM": _short(27.1, 60.1, 49.1),
        "Flow": _short(18.2, 48.9, 39.9),
        "RGB+Flow": _short(28.7, 60.6, 50.3),
        "Length=8": _short(26.4, 58.5, 47.9),
        "Length=24": _short(27.0, 60.1, 48.2),
        "Res3": _short(24.6, 58.5, 46.6),
        "Res3 + Res1": _short(27.1, 60.1, 48.4),
        "Res3 + Res2": _short(25.9, 59.1, 47.5),
        "Weight=1.0": _short(26.4, 59.3, 47.6),
        "Weight=2.0": _short(27.2, 59.4, 49.0),
        # The authors' README: their released checkpoint after the code clean-up.
        ACGA_RELEASE: _full(56.7, 47.6, 33.8, 16.9, 1.9, 28.5, 61.3, 49.8),
        # Ye et al.'s benchmark page lists no mAP.
        "CMSA+CFSA": {"P@0.5": 48.7, "P@0.6": 43.1, "P@0.7": 35.8, "P@0.8": 23.1,
                      "P@0.9": 5.2, "overall_iou": 61.8, "mean_iou": 43.2},
    },
    "jhmdb": {
        # Table 2: zero-shot transfer of the A2D model.
        "Hu et al.": _full(63.3, 35.0, 8.5, 0.2, 0.0, 17.8, 54.6, 52.8),
        "Li et al.": _full(57.8, 33.5, 10.3, 0.6, 0.0, 17.3, 52.9, 49.1),
        "Gavrilyuk et al. (RGB + Flow)": _full(69.9, 46.0, 17.3, 1.4, 0.0, 23.3, 54.1, 54.2),
        ACGA: _full(75.6, 56.4, 28.7, 3.4, 0.0, 28.9, 57.6, 58.4),
        # Supplement Table 2 (JHMDB rows).
        "F_TA only": _short(26.0, 53.7, 55.6),
        "F_VA only": _short(26.5, 55.9, 56.3),
        "Key-Word-Aware": _short(27.5, 58.0, 57.7),
        "LSTM": _short(27.7, 56.5, 57.2),
        "Flow": _short(14.2, 41.2, 43.8),
        "RGB+Flow": _short(29.5, 57.9, 59.1),
        ACGA_RELEASE: _full(75.4, 58.5, 29.4, 3.6, 0.0, 29.3, 57.8, 58.8),
        "CMSA+CFSA": {"P@0.5": 76.4, "P@0.6": 62.5, "P@0.7": 38.9, "P@0.8": 9.0,
                      "P@0.9": 0.1, "overall_iou": 62.8, "mean_iou": 58.1},
    },
}

_SUPP = "supplement Table 2"
_README = "authors' README (haowang1992/ACGA), after their code clean-up"
_CMSA = "CMSA+CFSA benchmark page (Ye et al.), no mAP listed"

PAPER_SOURCES: dict[str, dict[str, str]] = {
    "a2d": {
        "Hu et al.": "Table 1 (trained on ReferIt only)",
        "Li et al.": "Table 1 (trained on ReferIt only)",
        "Hu et al. *": "Table 1 (fine-tuned on A2D); also the README's 'Hu et al.'",
        "Li et al. *": "Table 1 (fine-tuned on A2D); also the README's 'Li et al.'",
        "Gavrilyuk et al. (RGB)": "Table 1 and Table 3",
        "Gavrilyuk et al. (RGB + Flow)": "Table 1 and Table 3",
        ACGA: "Table 1 'Ours (RGB)' = Table 3 'Baseline + MRF + WBCE + ATT (RGB)'",
        "Baseline (RGB)": "Table 3",
        "Baseline + MRF (RGB)": "Table 3",
        "Baseline + MRF + WBCE (RGB)": "Table 3",
        **{m: _SUPP for m in ("F_TA only", "F_VA only", "Key-Word-Aware", "LSTM", "Flow",
                              "RGB+Flow", "Length=8", "Length=24", "Res3", "Res3 + Res1",
                              "Res3 + Res2", "Weight=1.0", "Weight=2.0")},
        ACGA_RELEASE: _README,
        "CMSA+CFSA": _CMSA,
    },
    "jhmdb": {
        "Hu et al.": "Table 2",
        "Li et al.": "Table 2",
        "Gavrilyuk et al. (RGB + Flow)": "Table 2",
        ACGA: "Table 2 'Ours (RGB)'",
        **{m: _SUPP for m in ("F_TA only", "F_VA only", "Key-Word-Aware", "LSTM", "Flow", "RGB+Flow")},
        ACGA_RELEASE: _README,
        "CMSA+CFSA": _CMSA,
    },
}

# (dataset, method) rows of each published table, in printed order.
PAPER_TABLES: dict[str, list[tuple[str, str]]] = {
    "table1": [("a2d", m) for m in ("Hu et al.", "Li et al.", "Hu et al. *", "Li et al. *",
                                     "Gavrilyuk et al. (RGB)", "Gavrilyuk et al. (RGB + Flow)", ACGA)],
    "table2": [("jhmdb", m) for m in ("Hu et al.", "Li et al.", "Gavrilyuk et al. (RGB + Flow)", ACGA)],
    "table3": [("a2d", m) for m in ("Gavrilyuk et al. (RGB)", "Gavrilyuk et al. (RGB + Flow)",
                                     "Baseline (RGB)", "Baseline + MRF (RGB)",
                                     "Baseline + MRF + WBCE (RGB)", ACGA)],
    "supplement_table2": (
        [("a2d", m) for m in ("F_TA only", "F_VA only", ACGA)]
        + [("jhmdb", m) for m in ("F_TA only", "F_VA only", ACGA)]
        + [("a2d", "Key-Word-Aware"), ("a2d", ACGA), ("jhmdb", "Key-Word-Aware"), ("jhmdb", ACGA)]
        + [("a2d", ACGA), ("a2d", "LSTM"), ("jhmdb", ACGA), ("jhmdb", "LSTM")]
        + [("a2d", ACGA), ("a2d", "Flow"), ("a2d", "RGB+Flow")]
        + [("jhmdb", ACGA), ("jhmdb", "Flow"), ("jhmdb", "RGB+Flow")]
        + [("a2d", m) for m in ("Length=8", ACGA, "Length=24")]
        + [("a2d", m) for m in ("Res3", "Res3 + Res1", "Res3 + Res2", ACGA)]
        + [("a2d", m) for m in ("Weight=1.0", ACGA, "Weight=2.0")]
    ),
    "readme": [("a2d", m) for m in ("Hu et al. *", "Li et al. *", "Gavrilyuk et al. (RGB)", ACGA_RELEASE)]
    + [("jhmdb", m) for m in ("Hu et al.", "Li et al.", "Gavrilyuk et al. (RGB + Flow)", ACGA_RELEASE)],
}


def paper_metrics(dataset: str, method: str) -> dict[str, float]:
    """One published row as fractions in [0, 1] (the unit of :mod:`acga.metrics`).

    Raises:
        KeyError: naming the dataset or method and the valid choices.
    """
    if dataset not in PAPER_RESULTS:
        raise KeyError(f"no published results for dataset {dataset!r}; use one of {sorted(PAPER_RESULTS)}")
    rows = PAPER_RESULTS[dataset]
    if method not in rows:
        raise KeyError(f"no published row {method!r} for {dataset}; rows: {sorted(rows)}")
    return {k: v / 100.0 for k, v in rows[method].items()}


def paper_rows(table: str) -> list[tuple[str, Mapping[str, float]]]:
    """The rows of a published table as ``(label, fractions)`` for :func:`acga.results_table.format_table`;
    labels carry the dataset when the table mixes datasets."""
    if table not in PAPER_TABLES:
        raise KeyError(f"unknown table {table!r}; use one of {sorted(PAPER_TABLES)}")
    entries = PAPER_TABLES[table]
    mixed = len({d for d, _ in entries}) > 1
    return [(f"{m} [{d}]" if mixed else m, paper_metrics(d, m)) for d, m in entries]


PAPER_PARAMS: dict[str, int] = {
    # supplement Table 1 (trainable: Mixed_4f and everything after it)
    "acga_a2d": 25_613_063,
    "ablations/full": 25_613_063,
    "ablations/baseline": 22_749_071,
    "ablations/baseline_mrf": 22_749_099,
    "ablations/baseline_mrf_wbce": 22_749_099,
    "baselines/gavrilyuk_rgb": 18_945_652,
    "baselines/gavrilyuk_rgb_flow": 37_891_304,
    # the authors' release, counted from its code (docs/parameters.md)
    "released_code": 25_463_559,
}
"""Reported trainable parameter count of each packaged config that reproduces a counted row."""


def reported_params(config: str | os.PathLike) -> int | None:
    """The reported trainable parameter count of a packaged config, by name (``acga_a2d``,
    ``ablations/baseline``) or by its path inside the package's config folder; ``None`` for
    any other config (a user's file reproduces no published row, even with a packaged base)."""
    from .config import packaged_config_dir, resolve_config_path
    from .errors import ConfigError

    name = str(config)
    if name in PAPER_PARAMS:
        return PAPER_PARAMS[name]
    try:
        path = Path(resolve_config_path(config)).resolve()
        name = path.relative_to(packaged_config_dir().resolve()).with_suffix("").as_posix()
    except (ConfigError, ValueError):  # no such config, or one outside the package
        return None
    return PAPER_PARAMS.get(name)
