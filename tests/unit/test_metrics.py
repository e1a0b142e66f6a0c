"""Metrics: hand-computed IoUs, both protocols on hand-made cases, COCO mAP against an
independent 101-point computation, empty masks, and the published-numbers table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acga import metrics
from acga.errors import InvalidShapeError
from acga.metrics import (
    METRIC_KEYS,
    MetricAccumulator,
    acga_protocol,
    coco_map,
    coco_protocol,
    encode_rle,
    mask_iou,
    precision_at,
)
from acga.results_table import format_table
from acga.paper_results import PAPER_RESULTS, PAPER_TABLES, paper_metrics, paper_rows


def _box(h: int, w: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[top:bottom, left:right] = True
    return m


# ---------------------------------------------------------------- mask_iou


def test_mask_iou_hand_computed():
    pred = _box(6, 6, 0, 0, 2, 3)  # 6 pixels
    gt = _box(6, 6, 1, 1, 3, 4)  # 6 pixels, overlap rows 1, cols 1..2 = 2 pixels
    iou, inter, union = mask_iou(pred, gt)
    assert (inter, union) == (2, 10)
    assert iou == pytest.approx((2 + 1e-6) / (10 + 1e-6), abs=0, rel=1e-15)
    # non-zero = foreground for integer masks (e.g. 0/255 PNGs)
    assert mask_iou(pred.astype(np.uint8) * 255, gt.astype(np.int64)) == (iou, 2, 10)


def test_mask_iou_empty_cases():
    empty, some = np.zeros((3, 4), bool), _box(3, 4, 0, 0, 1, 2)
    assert mask_iou(empty, empty) == (1.0, 0, 0)  # nothing to find, nothing found
    iou, inter, union = mask_iou(empty, some)
    assert (inter, union) == (0, 2) and iou == pytest.approx(1e-6 / 2, rel=1e-6)
    assert mask_iou(some, empty)[1:] == (0, 2)
    assert mask_iou(some, some)[0] == 1.0


def test_mask_iou_rejects_mismatched_shapes():
    with pytest.raises(InvalidShapeError, match=r"pred has shape \(3, 4\), expected \(4, 3\)"):
        mask_iou(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(InvalidShapeError, match="expected \\(H, W\\)"):
        mask_iou(np.zeros((1, 3, 4)), np.zeros((1, 3, 4)))


# ---------------------------------------------------------------- acga protocol


def test_acga_protocol_exact_values():
    # Eight samples; IoUs chosen so each precision is a simple fraction. Exact boundary values
    # (0.5, 0.7, 0.9) count: the acga protocol uses IoU >= K.
    ious = [1.0, 0.95, 0.9, 0.75, 0.7, 0.55, 0.5, 0.1]
    inter = [10, 19, 9, 3, 7, 11, 1, 1]
    union = [10, 20, 10, 4, 10, 20, 2, 10]
    out = acga_protocol(ious, inter, union)
    assert list(out) == list(METRIC_KEYS)
    assert out["P@0.5"] == 7 / 8
    assert out["P@0.6"] == 5 / 8
    assert out["P@0.7"] == 5 / 8
    assert out["P@0.8"] == 3 / 8
    assert out["P@0.9"] == 3 / 8
    # thresholds .50 .55 .60 .65 .70 .75 .80 .85 .90 .95 -> hits 7 6 5 5 5 4 3 3 3 2
    assert out["mAP"] == pytest.approx(43 / 80, abs=1e-15)
    assert out["overall_iou"] == pytest.approx(61 / 86, abs=1e-15)
    assert out["mean_iou"] == pytest.approx(sum(ious) / 8, abs=1e-15)


def test_acga_protocol_matches_independent_loop():
    rng = np.random.default_rng(0)
    inter = rng.integers(0, 50, size=200)
    union = inter + rng.integers(0, 50, size=200)
    ious = (inter + 1e-6) / (union + 1e-6)
    out = acga_protocol(ious, inter, union)
    # The authors' report_result, re-derived: loop and count.
    for k in (0.5, 0.6, 0.7, 0.8, 0.9):
        assert out[f"P@{k}"] == sum(1 for v in ious if v >= k) / 200
    expected_map = sum(sum(1 for v in ious if v >= t / 100.0) / 200 for t in range(50, 96, 5)) / 10
    assert out["mAP"] == pytest.approx(expected_map, abs=1e-12)
    assert out["overall_iou"] == pytest.approx(inter.sum() / union.sum(), abs=1e-12)


def test_protocols_differ_in_strictness_on_unsmoothed_ious(monkeypatch):
    # acga counts IoU == K, coco does not. Fed raw I / U (no smoothing) the two P@K differ:
    ious = [0.5, 0.6, 0.7, 0.8, 0.9]
    out = acga_protocol(ious, [1] * 5, [2] * 5)
    assert [out[f"P@{k}"] for k in (0.5, 0.6, 0.7, 0.8, 0.9)] == [1.0, 0.8, 0.6, 0.4, 0.2]
    assert [precision_at(ious, k, strict=True) for k in (0.5, 0.6, 0.7, 0.8, 0.9)] == \
        [0.8, 0.6, 0.4, 0.2, 0.0]
    # and each protocol asks for its own rule
    calls = []
    real = metrics.precision_at
    monkeypatch.setattr(metrics, "precision_at",
                        lambda v, k, strict=False: calls.append((k, strict)) or real(v, k, strict))
    acc = MetricAccumulator()
    acc.add(np.ones((2, 2)), np.ones((2, 2)))
    acc.result("coco")
    assert calls == [(k, True) for k in (0.5, 0.6, 0.7, 0.8, 0.9)]
    calls.clear()
    acc.result("acga")
    assert {strict for _, strict in calls} == {False} and len(calls) == 15


def test_protocols_strictness_on_masks_with_smoothing():
    # On masks, the 1e-6 smoothing lifts I/U = 0.5 to 0.50000006, so coco's strict P@0.5 counts
    # it as acga's does: MTTR behaves the same (its compute_iou smooths identically). The rule
    # differs only for IoUs given unsmoothed, as in the test above.
    gt = _box(4, 4, 0, 0, 2, 4)  # 8 px
    half = _box(4, 4, 0, 0, 1, 4)  # 4 px inside gt: I/U = 4/8
    acc = MetricAccumulator()
    assert acc.add(half, gt, "half") == pytest.approx(0.5 + 0.5e-6 / 8, rel=1e-9)
    assert acc.result("acga")["P@0.5"] == 1.0
    assert acc.result("coco")["P@0.5"] == 1.0
    assert acc.result("coco")["P@0.6"] == 0.0


def test_acga_protocol_rejects_empty_and_ragged():
    with pytest.raises(ValueError, match="no samples"):
        acga_protocol([], [], [])
    with pytest.raises(ValueError, match="differ in length"):
        acga_protocol([0.5], [1, 2], [2])


def test_overall_iou_all_empty_is_one():
    e = np.zeros((3, 3), bool)
    out = acga_protocol(*zip(mask_iou(e, e), mask_iou(e, e)))
    assert out["overall_iou"] == 1.0 and out["mean_iou"] == 1.0 and out["mAP"] == 1.0


# ---------------------------------------------------------------- coco protocol


def _coco_ap_reference(ious: list[float]) -> float:
    """Independent COCO mAP for one GT and one score-1 detection per image, images in order.

    At each IoU threshold t (0.50:0.05:0.95), detection i is a true positive iff IoU_i >= t
    (pycocotools' IoU: 0 when either mask is empty). Walking detections in order gives
    precision/recall points; precision is made monotone from the right, then read at the 101
    recall levels 0, 0.01, ..., 1 (the first point whose recall reaches the level; 0 if none).
    """
    n = len(ious)
    aps = []
    for t in np.linspace(0.5, 0.95, 10):
        tp = 0
        points = []  # (recall, precision)
        for k, iou in enumerate(ious, start=1):
            tp += iou >= t
            points.append((tp / n, tp / k))
        # monotone envelope from the right
        best = 0.0
        envelope = []
        for rec, prec in reversed(points):
            best = max(best, prec)
            envelope.append((rec, best))
        envelope.reverse()
        total = 0.0
        for level in np.linspace(0.0, 1.0, 101):
            reached = [prec for rec, prec in envelope if rec >= level]
            total += reached[0] if reached else 0.0
        aps.append(total / 101)
    return float(np.mean(aps))


def test_coco_all_perfect_and_all_wrong():
    gts = [_box(8, 8, i % 4, 0, 4 + i % 4, 5) for i in range(5)]
    assert coco_protocol(gts, gts)["mAP"] == pytest.approx(1.0, abs=1e-12)
    wrong = [~g for g in gts]  # disjoint from the ground truth
    out = coco_protocol(wrong, gts)
    assert out["mAP"] == 0.0
    assert out["P@0.5"] == 0.0 and out["overall_iou"] == 0.0


def test_coco_mixed_case_by_hand():
    a = _box(4, 4, 0, 0, 2, 4)  # 8 px
    b = _box(4, 4, 0, 0, 1, 4)  # 4 px, IoU(a, b) = 0.5 exactly
    # Sample 1: perfect (TP at every t). Sample 2: IoU 0.5 (TP only at t = 0.5).
    # t = 0.5: AP 1. t >= 0.55: TP then FP -> recall 0.5 at precision 1: levels 0..0.50 = 51 of
    # 101 points -> 51/101. mAP = (1 + 9 * 51/101) / 10 = 560/1010.
    assert coco_protocol([a, b], [a, a])["mAP"] == pytest.approx(560 / 1010, abs=1e-12)
    # Same samples, other order: FP then TP -> precision 0.5 at recall 0.5 -> 25.5/101 each.
    # COCO AP with tied scores depends on the order of samples.
    assert coco_protocol([b, a], [a, a])["mAP"] == pytest.approx((101 + 9 * 25.5) / 1010, abs=1e-12)


def test_coco_empty_masks_follow_pycocotools():
    a = _box(4, 4, 0, 0, 2, 4)
    e = np.zeros((4, 4), bool)
    # empty pred / empty gt: IoU 1 for P@K and mean IoU (smoothed, as in MTTR), but pycocotools
    # scores the pair 0: a false positive and a missed ground truth for mAP.
    out = coco_protocol([a, e], [a, e])
    assert out["P@0.9"] == 1.0 and out["mean_iou"] == pytest.approx(1.0)
    # TP then FP, npig 2 -> 51/101 at every threshold
    assert out["mAP"] == pytest.approx(51 / 101, abs=1e-12)
    assert acga_protocol(*zip(mask_iou(a, a), mask_iou(e, e)))["mAP"] == 1.0
    # empty prediction of a non-empty gt: IoU ~0 under both
    out = coco_protocol([e], [a])
    assert out["mAP"] == 0.0 and out["P@0.5"] == 0.0 and out["mean_iou"] < 1e-6


def test_coco_map_matches_independent_reference():
    rng = np.random.default_rng(3)
    preds, gts, ious = [], [], []
    for _ in range(30):
        h, w = 12, 16
        gt = _box(h, w, 2, 3, 9, 12)
        pred = _box(h, w, int(rng.integers(0, 5)), int(rng.integers(0, 6)),
                    int(rng.integers(6, 12)), int(rng.integers(8, 16)))
        _, inter, union = mask_iou(pred, gt)
        preds.append(pred)
        gts.append(gt)
        ious.append(inter / union)
    expected = _coco_ap_reference(ious)
    assert 0.05 < expected < 0.95  # a genuinely mixed case
    assert coco_protocol(preds, gts)["mAP"] == pytest.approx(expected, abs=1e-12)
    # RLE input gives the same number
    assert coco_map([encode_rle(p) for p in preds], [encode_rle(g) for g in gts]) == \
        pytest.approx(expected, abs=1e-12)


def test_coco_protocol_strict_precision():
    # IoU 1 passes every strict threshold; IoU 0.75 passes 0.5, 0.6, 0.7 only.
    gt = _box(4, 4, 0, 0, 4, 4)  # 16 px
    pred = _box(4, 4, 0, 0, 3, 4)  # 12 px -> 0.75
    out = coco_protocol([gt, pred], [gt, gt])
    assert [out[f"P@{k}"] for k in (0.5, 0.6, 0.7, 0.8, 0.9)] == [1.0, 1.0, 1.0, 0.5, 0.5]
    assert out["overall_iou"] == pytest.approx(28 / 32)


# ---------------------------------------------------------------- accumulator


def test_accumulator_matches_functions_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    preds = [rng.random((5, 7)) > 0.5 for _ in range(6)]
    gts = [rng.random((5, 7)) > 0.5 for _ in range(6)]
    acc = MetricAccumulator()
    for i, (p, g) in enumerate(zip(preds, gts)):
        acc.add(p, g, key=f"v{i}")
    triples = [mask_iou(p, g) for p, g in zip(preds, gts)]
    assert acc.result("acga") == acga_protocol(*zip(*triples))
    assert acc.result("coco") == coco_protocol(preds, gts)
    records = acc.per_sample(with_rles=True)
    assert [r["key"] for r in records] == [f"v{i}" for i in range(6)]
    assert records[2]["intersection"] == int(np.sum(preds[2] & gts[2]))
    assert records[2]["gt_area"] == int(gts[2].sum()) and records[2]["height"] == 5
    reloaded = MetricAccumulator.from_per_sample(json.loads(json.dumps(records)))
    assert reloaded.result("coco") == acc.result("coco")
    light = MetricAccumulator.from_per_sample(acc.per_sample())
    assert light.result("acga") == acc.result("acga")
    with pytest.raises(ValueError, match="needs the masks"):
        light.result("coco")


def test_accumulator_errors():
    acc = MetricAccumulator()
    with pytest.raises(ValueError, match="no samples"):
        acc.result("acga")
    acc.add(np.ones((2, 2)), np.ones((2, 2)), "a")
    with pytest.raises(ValueError, match="'a' was added twice"):
        acc.add(np.ones((2, 2)), np.ones((2, 2)), "a")
    with pytest.raises(InvalidShapeError, match="pred of b"):
        acc.add(np.ones((2, 3)), np.ones((2, 2)), "b")
    with pytest.raises(ValueError, match="unknown protocol 'voc'"):
        acc.result("voc")


# ---------------------------------------------------------------- table and paper numbers


def test_format_table_text_and_markdown():
    row = {"P@0.5": 0.557, "P@0.6": 0.459, "P@0.7": 0.319, "P@0.8": 0.16, "P@0.9": 0.02,
           "mAP": 0.274, "overall_iou": 0.601, "mean_iou": 0.49}
    text = format_table([("Ours (RGB)", row), ("partial", {"mAP": 0.25})], "acga")
    lines = text.splitlines()
    assert "IoU >= K" in lines[0]
    assert lines[1].split("|")[1].split() == ["P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9"]
    assert lines[3].split() == ["Ours", "(RGB)", "|", "55.7", "45.9", "31.9", "16.0", "2.0", "|",
                                "27.4", "|", "60.1", "|", "49.0"]
    assert lines[4].split() == ["partial", "|", "-", "-", "-", "-", "-", "|", "25.0", "|", "-", "|", "-"]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned
    md = format_table([("Ours (RGB)", row)], "coco", markdown=True).splitlines()
    assert "IoU > K" in md[0]
    assert md[2] == "| Method | P@0.5 | P@0.6 | P@0.7 | P@0.8 | P@0.9 | mAP 0.5:0.95 | Overall IoU | Mean IoU |"
    assert md[4] == "| Ours (RGB) | 55.7 | 45.9 | 31.9 | 16.0 | 2.0 | 27.4 | 60.1 | 49.0 |"


def test_paper_results_are_consistent():
    a2d, jhmdb = PAPER_RESULTS["a2d"], PAPER_RESULTS["jhmdb"]
    assert a2d["ACGA (paper)"]["mAP"] == 27.4 and jhmdb["ACGA (paper)"]["P@0.5"] == 75.6
    assert a2d["ACGA (released code)"]["overall_iou"] == 61.3
    assert a2d["Res3"] == {"mAP": 24.6, "overall_iou": 58.5, "mean_iou": 46.6}
    assert "mAP" not in a2d["CMSA+CFSA"] and a2d["CMSA+CFSA"]["P@0.9"] == 5.2
    # mAP = mean of P@t over t = .50:.05:.95 and P@t falls with t, so (sandwiching each P@.x5
    # between its neighbours) (P5 + 2 P6 + 2 P7 + 2 P8 + 2 P9) / 10 <= mAP <= mean(P@K); every
    # published full row must satisfy it up to rounding (0.1 per printed value).
    for table, entries in PAPER_TABLES.items():
        for dataset, method in entries:
            row = PAPER_RESULTS[dataset][method]
            assert set(row) <= set(METRIC_KEYS), (table, method)
            if "P@0.5" in row and "mAP" in row:
                p = [row[f"P@{k}"] for k in (0.5, 0.6, 0.7, 0.8, 0.9)]
                low, high = (p[0] + 2 * sum(p[1:])) / 10, sum(p) / 5
                assert low - 0.15 <= row["mAP"] <= high + 0.15, (dataset, method, low, high)
    assert paper_metrics("a2d", "Baseline (RGB)")["P@0.5"] == pytest.approx(0.489)
    rows = paper_rows("table3")
    assert rows[-1][0] == "ACGA (paper)" and len(rows) == 6
    assert "[jhmdb]" in paper_rows("supplement_table2")[3][0]
    last = format_table(paper_rows("table1"), "acga").splitlines()[-1].split()
    assert last == ["ACGA", "(paper)", "|", "55.7", "45.9", "31.9", "16.0", "2.0", "|", "27.4", "|",
                    "60.1", "|", "49.0"]
    with pytest.raises(KeyError, match="no published row"):
        paper_metrics("a2d", "Ours")
