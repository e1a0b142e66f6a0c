"""`acga synth ytvos|davis`, `acga data samples ytvos|davis` and `acga score --protocol davis`
through the real main()."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acga.cli.main import main
from acga.data.records import SAMPLE_KEYS


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("refvos_cli")
    out = {}
    for layout in ("ytvos", "davis"):
        out[layout] = base / layout
        assert main(["synth", layout, "--out", str(out[layout]), "--videos", "5",
                     "--size", "32"]) == 0
    return out


@pytest.mark.parametrize("layout,split", [("ytvos", "train"), ("ytvos", "valid"),
                                          ("davis", "val"), ("davis", "train")])
def test_samples_jsonl_match_synth_counts(roots, layout, split, capsys):
    capsys.readouterr()
    assert main(["data", "samples", layout, str(roots[layout]), "--split", split]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    meta = json.loads((roots[layout] / "synth_meta.json").read_text())
    assert len(records) == meta["samples"][split] > 0
    assert all(list(r) == [*SAMPLE_KEYS, "expression"] for r in records)
    assert {r["dataset"] for r in records} == {layout}
    assert f"samples: {split} {len(records):,}" in err


def test_davis_one_set_and_errors(roots, tmp_path, capsys):
    capsys.readouterr()
    assert main(["data", "samples", "davis", str(roots["davis"]), "--sets", "annot2"]) == 0
    out, err = capsys.readouterr()
    assert {json.loads(x)["expression"].split("-")[0] for x in out.splitlines()} == {"annot2"}
    assert "expression sets: annot2" in err
    assert main(["data", "samples", "ytvos", str(tmp_path)]) == 2
    assert "has no train/JPEGImages/" in capsys.readouterr().err


def _png(path: Path, mask) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, np.uint8) * 255).save(path)


def test_score_davis_by_hand(tmp_path, capsys):
    # set A: e1 perfect (J = F = 1), e2 predicted empty against a square (J = F = 0);
    # set B: e3 empty against empty (J = F = 1). A: 0.5, B: 1 -> J = F = J&F = 0.75
    square = np.zeros((20, 20), np.uint8)
    square[5:12, 4:10] = 1
    empty = np.zeros_like(square)
    for root, masks in (("gt", (square, square, empty)), ("pred", (square, empty, empty))):
        for rel, m in zip(("A/v/e1/00000.png", "A/v/e2/00000.png", "B/v/e3/00000.png"), masks):
            _png(tmp_path / root / rel, m)
    js = tmp_path / "s.json"
    assert main(["score", str(tmp_path / "pred"), str(tmp_path / "gt"), "--protocol", "davis",
                 "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "3 frames of 3 expressions in 2 set(s)" in out
    result = json.loads(js.read_text())["davis"]
    assert result["J"] == pytest.approx(0.75) and result["F"] == pytest.approx(0.75)
    assert result["J&F"] == pytest.approx(0.75)
    assert result["sets"]["A"]["J&F"] == pytest.approx(0.5)
    # a flat folder has no expressions
    _png(tmp_path / "flat_gt" / "00000.png", square)
    _png(tmp_path / "flat_pred" / "00000.png", square)
    assert main(["score", str(tmp_path / "flat_pred"), str(tmp_path / "flat_gt"),
                 "--protocol", "davis"]) == 2
    assert "not inside an expression folder" in capsys.readouterr().err
