"""`acga score` through the real `main()`: PNG folders and .npz files, JSON output, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from acga.cli.main import main

KEYS = ["P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9", "mAP", "overall_iou", "mean_iou"]


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """Three 6x8 samples with hand-computable scores.

    0: perfect (I = U = 12); 1: pred is the top 3 of gt's 4 rows (I 12, U 16 -> 0.75);
    2: pred disjoint from gt (I 0, U 8).
    """
    gt = np.zeros((3, 6, 8), np.uint8)
    pred = np.zeros((3, 6, 8), np.uint8)
    gt[0, 1:4, 2:6] = 1
    pred[0, 1:4, 2:6] = 1
    gt[1, 0:4, 0:4] = 1
    pred[1, 0:3, 0:4] = 1
    gt[2, 0:2, 0:2] = 1
    pred[2, 4:6, 6:8] = 1
    return pred, gt


def _check_values(result: dict, strict: bool) -> None:
    assert list(result) == KEYS
    iou1 = (12 + 1e-6) / (16 + 1e-6)
    assert result["P@0.5"] == pytest.approx(2 / 3) and result["P@0.7"] == pytest.approx(2 / 3)
    assert result["P@0.8"] == pytest.approx(1 / 3) and result["P@0.9"] == pytest.approx(1 / 3)
    assert result["overall_iou"] == pytest.approx(24 / 36)
    assert result["mean_iou"] == pytest.approx((1 + iou1 + 1e-6 / 8.000001) / 3)
    if not strict:
        # hits at .50 .55 .60 .65 .70 .75 .80 .85 .90 .95 = 2 2 2 2 2 2 1 1 1 1 (0.75+ >= 0.75)
        assert result["mAP"] == pytest.approx(16 / 30)


def test_score_png_folders_with_json(tmp_path, capsys):
    pred, gt = _masks()
    for i in range(3):
        (tmp_path / "pred" / "vid").mkdir(parents=True, exist_ok=True)
        (tmp_path / "gt" / "vid").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pred[i] * 255).save(tmp_path / "pred" / "vid" / f"{i:05d}.png")
        # ground truth as a palette PNG with index 1 = foreground (as A2D-style masks often are)
        im = Image.fromarray(gt[i], mode="L").convert("P")
        im.save(tmp_path / "gt" / "vid" / f"{i:05d}.png")
    out = tmp_path / "scores.json"
    rc = main(["score", str(tmp_path / "pred"), str(tmp_path / "gt"), "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "3 samples" in printed and "mAP 0.5:0.95" in printed and "IoU >= K" in printed
    data = json.loads(out.read_text())
    assert list(data) == ["acga", "coco"]
    _check_values(data["acga"], strict=False)
    _check_values(data["coco"], strict=True)
    # coco mAP by hand: images in name order TP(all t), TP(t <= 0.75), FP; npig 3.
    # t <= 0.75 (6 thresholds): recall 2/3 at precision 1 -> levels 0..0.66 = 67 points.
    # t >= 0.80 (4 thresholds): recall 1/3 -> levels 0..0.33 = 34 points.
    assert data["coco"]["mAP"] == pytest.approx((6 * 67 + 4 * 34) / 1010, abs=1e-12)
    assert data["acga"]["mAP"] == pytest.approx(16 / 30)
    # the printed table shows the acga row in percent
    row = [line for line in printed.splitlines() if line.startswith("pred ")][0]
    assert row.split() == ["pred", "|", "66.7", "66.7", "66.7", "33.3", "33.3", "|", "53.3", "|",
                           "66.7", "|", "58.3"]


def test_score_npz_single_protocol(tmp_path, capsys):
    pred, gt = _masks()
    np.savez(tmp_path / "pred.npz", pred=pred.astype(bool))
    np.savez(tmp_path / "gt.npz", gt=gt)
    out = tmp_path / "s.json"
    rc = main(["score", str(tmp_path / "pred.npz"), str(tmp_path / "gt.npz"), "--protocol", "acga",
               "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert list(data) == ["acga"]
    _check_values(data["acga"], strict=False)
    assert "IoU > K" not in capsys.readouterr().out
    # one file holding both arrays, given twice
    np.savez(tmp_path / "both.npz", pred=pred, gt=gt)
    assert main(["score", str(tmp_path / "both.npz"), str(tmp_path / "both.npz"), "--protocol", "coco"]) == 0


def test_score_errors_name_the_problem(tmp_path, capsys):
    pred, gt = _masks()
    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    for i in range(3):
        Image.fromarray(pred[i] * 255).save(tmp_path / "p" / f"{i}.png")
        Image.fromarray(gt[i] * 255).save(tmp_path / "g" / f"{i}.png")
    Image.fromarray(gt[0] * 255).save(tmp_path / "g" / "extra.png")
    assert main(["score", str(tmp_path / "p"), str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "extra.png" in err and "have no prediction" in err and "Traceback" not in err

    (tmp_path / "g" / "extra.png").unlink()
    Image.fromarray(np.zeros((5, 8), np.uint8)).save(tmp_path / "p" / "1.png")
    assert main(["score", str(tmp_path / "p"), str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "1.png is 5x8" in err and "is 6x8" in err

    assert main(["score", str(tmp_path / "missing"), str(tmp_path / "g")]) == 2
    assert f"PRED {tmp_path / 'missing'} does not exist" in capsys.readouterr().err

    np.savez(tmp_path / "wrong.npz", masks=pred)
    np.savez(tmp_path / "gt.npz", gt=gt[:2])
    assert main(["score", str(tmp_path / "wrong.npz"), str(tmp_path / "gt.npz")]) == 2
    assert "has no array 'pred' (it holds masks)" in capsys.readouterr().err
    np.savez(tmp_path / "pred.npz", pred=pred)
    assert main(["score", str(tmp_path / "pred.npz"), str(tmp_path / "gt.npz")]) == 2
    assert "(3, 6, 8)" in capsys.readouterr().err

    assert main(["score", str(tmp_path / "pred.npz"), str(tmp_path / "g")]) == 2
    assert "both be folders" in capsys.readouterr().err


def test_score_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["score", "--help"])
    assert exc.value.code == 0
    assert "example:" in capsys.readouterr().out
