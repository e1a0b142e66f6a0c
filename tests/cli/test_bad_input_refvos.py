"""`acga extract`, `acga train` and `acga eval` on damaged Ref-YouTube-VOS / Ref-DAVIS17 files: a
missing meta_expressions.json, a listed frame missing on disk, an annotation that is not a
palette PNG, an expression naming an object that is never annotated, a truncated JPEG. Each
stops with one error line naming the file and what to do, leaving nothing behind; with
--skip-bad the file is skipped and counted and the command completes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from acga.cli.main import main
from acga.data.dataset import index_samples
from bad_input import error_line, tree
from refvos_fixtures import SMALL3D, synth_roots, train_small3d

@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    return synth_roots(tmp_path_factory.mktemp("refvos_bad"))


@pytest.fixture(scope="module")
def checkpoint(pristine, tmp_path_factory) -> Path:
    return train_small3d(pristine["ytvos"], tmp_path_factory.mktemp("refvos_bad_run") / "run")


def _first_video(root: Path, dataset: str, split: str) -> str:
    return index_samples(dataset, root, split)[0].video


def _frame_dir(root: Path, dataset: str, split: str, video: str) -> Path:
    if dataset == "ytvos":
        return root / split / "JPEGImages" / video
    return root / "DAVIS" / "JPEGImages" / "480p" / video


def _ann_dir(root: Path, dataset: str, split: str, video: str) -> Path:
    if dataset == "ytvos":
        return root / split / "Annotations" / video
    return root / "DAVIS" / "Annotations" / "480p" / video


def _no_meta(root, dataset, split):
    path = root / "meta_expressions" / split / "meta_expressions.json"
    path.unlink()
    return path, ("does not exist", "meta_expressions.zip")


def _missing_frame(root, dataset, split):
    video = _first_video(root, dataset, split)
    path = sorted(_frame_dir(root, dataset, split, video).glob("*.jpg"))[1]
    path.unlink()
    return path, ("does not exist", "--skip-bad")


def _rgb_annotation(root, dataset, split):
    video = _first_video(root, dataset, split)
    path = sorted(_ann_dir(root, dataset, split, video).glob("*.png"))[2]
    Image.open(path).convert("L").save(path)
    return path, ("not a palette ('P') PNG", "--skip-bad")


def _absent_object(root, dataset, split):
    video = _first_video(root, dataset, split)
    if dataset == "ytvos":
        path = root / "meta_expressions" / split / "meta_expressions.json"
        meta = json.loads(path.read_text())
        meta["videos"][video]["expressions"]["99"] = {"exp": "a ghost", "obj_id": "9"}
        path.write_text(json.dumps(meta))
    else:
        path = root / "davis_text_annotations" / "Davis17_annot1_full_video.txt"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f'{video} 9 "a ghost"\n')
    return path, ("names object 9", "--skip-bad")


def _truncated_jpeg(root, dataset, split):
    video = _first_video(root, dataset, split)
    path = sorted(_frame_dir(root, dataset, split, video).glob("*.jpg"))[1]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, ("is truncated", "--skip-bad")


CASES = [("ytvos", _no_meta), ("ytvos", _missing_frame), ("davis", _rgb_annotation),
         ("ytvos", _absent_object), ("davis", _absent_object), ("davis", _truncated_jpeg)]
IDS = [f"{d}-{f.__name__[1:]}" for d, f in CASES]


@pytest.mark.parametrize("dataset,damage", CASES, ids=IDS)
def test_extract_and_eval_stop_or_skip(pristine, checkpoint, tmp_path, capsys, dataset, damage):
    root = tmp_path / dataset
    shutil.copytree(pristine[dataset], root)
    split = "train"
    bad, fragments = damage(root, dataset, split)
    cache, out = tmp_path / "cache", tmp_path / "eval"
    extract = ["extract", "--dataset", dataset, "--root", str(root), "--out", str(cache),
               "--clip-len", "2", "--size", "32", "--workers", "0", "--no-progress"]
    evaluate = ["eval", "--checkpoint", str(checkpoint), "--dataset", dataset, "--split", split,
                "--root", str(root), "--out", str(out), "--no-progress"]
    for argv, left in ((extract, cache), (evaluate, out)):
        line = error_line(capsys, argv, str(bad), *fragments)
        assert line.count("\n") == 0
        assert not left.exists() or tree(left) == set(), tree(left)  # nothing half-written
    if damage is _no_meta:
        return  # nothing to skip: the split has no expressions at all
    kept = index_samples(dataset, root, split, skip_bad=True)
    assert 0 < len(kept) <= len(index_samples(dataset, pristine[dataset], split))
    assert main([*extract, "--skip-bad"]) == 0
    assert "bad files skipped: 1" in capsys.readouterr().err
    assert len(list((cache / "features").glob("*.npy"))) == len(kept)
    assert main([*evaluate, "--skip-bad", "-q"]) == 0
    metrics = json.loads((out / f"metrics_{dataset}.json").read_text())
    assert metrics["masks"] == len(kept)


def test_train_stops_on_a_truncated_jpeg_and_skips_it(pristine, tmp_path, capsys):
    root = tmp_path / "davis"
    shutil.copytree(pristine["davis"], root)
    bad, fragments = _truncated_jpeg(root, "davis", "train")
    run = tmp_path / "run"
    argv = ["train", "acga_a2d", *SMALL3D, "--dataset", "davis", "--root", str(root),
            "--out", str(run), "--no-progress"]
    error_line(capsys, argv, str(bad), *fragments)
    assert not (run / "last.safetensors").exists()
    assert main([*argv, "--skip-bad", "--overwrite", "-q"]) == 0
    assert (run / "last.safetensors").is_file()
