"""Ref-DAVIS17 / Ref-YouTube-VOS end to end through the real main() on tiny synthetic sets:
`acga extract` -> `acga train` (2 steps) -> `acga eval`, checked against an independent
`acga score --protocol davis` on the written masks and against the submission layout built from
meta_expressions.json by hand."""

from __future__ import annotations

import json
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acga.cli.main import main
from acga.data.dataset import index_samples, load_mask
from acga.data.refvos import write_expression_masks
from refvos_fixtures import SMALL_HEADS, synth_roots, train_small3d

@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("refvos_pipeline")
    return synth_roots(base)


def _gt_and_score(root: Path, dataset: str, split: str, pred: Path, tmp: Path) -> dict:
    """J&F of `acga score --protocol davis` on the eval's masks against ground truth written
    here from the release's palette PNGs."""
    samples = index_samples(dataset, root, split)
    gt = tmp / f"gt_{dataset}"
    assert write_expression_masks(samples, partial(load_mask, root), gt) == len(samples)
    js = tmp / f"score_{dataset}.json"
    assert main(["score", str(pred), str(gt), "--protocol", "davis", "--json", str(js), "-q"]) == 0
    return json.loads(js.read_text())["davis"]


def _mask_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}


def test_davis_extract_train_eval_matches_score(roots, tmp_path, capsys):
    root = roots["davis"]
    cache = tmp_path / "cache"
    assert main(["extract", "--dataset", "davis", "--root", str(root), "--out", str(cache),
                 "--clip-len", "2", "--size", "32", "--workers", "0", "--no-progress", "-q"]) == 0
    train = index_samples("davis", root, "train")
    assert len(list((cache / "features").glob("*.npy"))) == len(train)
    run = tmp_path / "run"
    assert main(["train", "acga_a2d", f"data.cache={cache}", "model.clip_len=2", *SMALL_HEADS,
                 "--dataset", "davis", "--root", str(root), "--out", str(run), "--no-progress",
                 "-q"]) == 0
    out = tmp_path / "eval"
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run / "last.safetensors"), "--dataset", "davis",
                 "--root", str(root), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics_davis.json").read_text())
    val = index_samples("davis", root, "val")
    # every frame of every video has a mask for each of its expressions
    from acga.data.refvos import expression_mask_path

    assert _mask_files(out / "masks_davis") == {expression_mask_path(s) for s in val}
    assert metrics["masks"] == len(val) and metrics["split"] == "val"
    assert metrics["frames"] == len({(s.video, s.frame) for s in val})
    assert metrics["windows"] == metrics["frames"]  # --every 1: a window per frame
    assert metrics["frames_per_second"] > 0 and "frames/s" in printed
    score = _gt_and_score(root, "davis", "val", out / "masks_davis", tmp_path)
    assert metrics["davis"]["J&F"] == pytest.approx(score["J&F"], abs=1e-9)
    assert metrics["davis"]["J"] == pytest.approx(score["J"], abs=1e-9)
    assert set(metrics["davis"]["sets"]) == set(score["sets"]) == {
        "annot1", "annot1_full_video", "annot2", "annot2_full_video"}
    rows = [json.loads(x) for x in (out / "per_expression_davis.jsonl").read_text().splitlines()]
    assert len(rows) == metrics["davis"]["expressions"] == len({s.expression for s in val})
    # the per-expression rows average back to the set means
    for name, s in metrics["davis"]["sets"].items():
        js = [r["J"] for r in rows if r["set"] == name]
        assert np.mean(js) == pytest.approx(s["J"], abs=1e-9)


@pytest.fixture(scope="module")
def ytvos_run(roots, tmp_path_factory) -> Path:
    return train_small3d(roots["ytvos"], tmp_path_factory.mktemp("ytvos_run") / "run")


def _expected_zip_names(root: Path) -> list[str]:
    """The server's layout, from the release files: valid videos minus the test ones, every
    expression, every listed frame."""
    valid = json.loads((root / "meta_expressions/valid/meta_expressions.json").read_text())["videos"]
    test = json.loads((root / "meta_expressions/test/meta_expressions.json").read_text())["videos"]
    return sorted(f"Annotations/{vid}/{exp}/{frame}.png" for vid, entry in valid.items()
                  if vid not in test for exp in entry["expressions"] for frame in entry["frames"])


def test_ytvos_valid_submission_layout(roots, ytvos_run, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(ytvos_run), "--dataset", "ytvos", "--root",
                 str(roots["ytvos"]), "--out", str(out), "--no-progress", "-q"]) == 0
    zip_path = out / "submission_ytvos_valid.zip"
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert sorted(names) == _expected_zip_names(roots["ytvos"]) and len(names) == len(set(names))
        with zf.open(names[0]) as handle:
            mask = np.asarray(Image.open(handle))
    frame = Image.open(roots["ytvos"] / "valid/JPEGImages" / names[0].split("/")[1] / "00000.jpg")
    assert mask.shape == (frame.height, frame.width) and set(np.unique(mask)) <= {0, 255}
    metrics = json.loads((out / "metrics_ytvos.json").read_text())
    assert metrics["masks"] == len(names) and "davis" not in metrics
    assert metrics["outputs"] == ["submission_ytvos_valid.zip"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


def test_ytvos_train_split_scores_and_every(roots, ytvos_run, tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--checkpoint", str(ytvos_run), "--dataset", "ytvos", "--split", "train",
            "--root", str(roots["ytvos"]), "--no-progress", "-q"]
    assert main([*args, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics_ytvos.json").read_text())
    score = _gt_and_score(roots["ytvos"], "ytvos", "train", out / "masks_ytvos", tmp_path)
    assert metrics["davis"]["J&F"] == pytest.approx(score["J&F"], abs=1e-9)
    # --every 3: fewer windows, still a mask for every frame of every expression
    out3 = tmp_path / "eval3"
    assert main([*args, "--out", str(out3), "--every", "3"]) == 0
    m3 = json.loads((out3 / "metrics_ytvos.json").read_text())
    assert _mask_files(out3 / "masks_ytvos") == _mask_files(out / "masks_ytvos")
    per_video = {}
    for s in index_samples("ytvos", roots["ytvos"], "train"):
        per_video.setdefault(s.video, set()).add(s.frame)
    assert m3["windows"] == sum(-(-len(f) // 3) for f in per_video.values()) < metrics["windows"]
