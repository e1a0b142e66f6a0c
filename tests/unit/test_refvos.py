"""Ref-YouTube-VOS and Ref-DAVIS17 readers: a hand-built release with values computed by hand,
the synthetic sets read back (round trip), and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acga.data.records import normalize_query
from acga.data.davis import index_davis, load_davis_mask, read_davis_expressions
from acga.data.refvos import RefSample, jpeg_problem, read_palette_png
from acga.data.synth import davis_palette, generate_davis, generate_ytvos
from acga.data.ytvos import index_ytvos, load_ytvos_mask
from acga.errors import DataError


def _palette_png(path: Path, labels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.asarray(labels, np.uint8))
    im.putpalette(davis_palette())
    im.save(path)


def _jpeg(path: Path, h=4, w=6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path, format="JPEG")


# ------------------------------------------------------------------ hand-built Ref-YouTube-VOS


@pytest.fixture()
def tiny_ytvos(tmp_path) -> Path:
    """One train video "v", frames 00000 and 00005 (4x6), objects 1 and 3 (non-contiguous);
    object 3 is absent from 00005. Expressions: 0 -> 1, 1 -> 3 (odd whitespace), 2 -> 1 (a
    duplicate of 0), 3 -> 1 (empty)."""
    root = tmp_path / "ytvos"
    a = np.zeros((4, 6), np.uint8)
    a[0:2, 0:2] = 1  # 4 pixels of object 1
    a[3, 3:6] = 3  # 3 pixels of object 3
    b = np.zeros((4, 6), np.uint8)
    b[1:4, 1:3] = 1  # 6 pixels of object 1
    for stem, lab in (("00000", a), ("00005", b)):
        _jpeg(root / "train" / "JPEGImages" / "v" / f"{stem}.jpg")
        _palette_png(root / "train" / "Annotations" / "v" / f"{stem}.png", lab)
    meta = {"videos": {"v": {"frames": ["00005", "00000"], "expressions": {
        "0": {"exp": "a red ball", "obj_id": "1"},
        "1": {"exp": "  the  dog\n running ", "obj_id": "3"},
        "2": {"exp": "a red  ball", "obj_id": "1"},
        "3": {"exp": "   ", "obj_id": "1"}}}}}
    path = root / "meta_expressions" / "train" / "meta_expressions.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(meta))
    return root


def test_tiny_ytvos_by_hand(tiny_ytvos):
    samples, report = index_ytvos(tiny_ytvos, "train")
    got = [(s.expression, s.frame, s.instance, s.query, s.mask_sum) for s in samples]
    assert got == [
        ("0", 0, 1, "a red ball", 4), ("0", 5, 1, "a red ball", 6),
        ("1", 0, 3, "the dog running", 3), ("1", 5, 3, "the dog running", 0),
        ("2", 0, 1, "a red ball", 4), ("2", 5, 1, "a red ball", 6),
    ]
    assert all((s.height, s.width, s.split, s.dataset) == (4, 6, "train", "ytvos")
               for s in samples)
    text = report.summary()
    assert "empty expressions skipped: 1" in text
    assert "duplicate expressions (same object and text) kept: 1" in text
    assert "samples where the object is absent (mask_sum 0): 1" in text
    assert "videos with non-contiguous object ids: 1" in text
    assert load_ytvos_mask(tiny_ytvos, samples[2]).sum() == 3
    rec = json.loads(samples[2].to_json())
    assert rec["expression"] == "1" and RefSample.from_dict(rec) == samples[2]
    assert samples[2].key == "v_e1_f00000_i3"


def test_tiny_ytvos_frame_without_png_is_no_sample(tiny_ytvos):
    (tiny_ytvos / "train" / "Annotations" / "v" / "00005.png").unlink()
    samples, report = index_ytvos(tiny_ytvos, "train")
    assert [s.frame for s in samples] == [0, 0, 0]
    assert "frames without annotation PNG: 1" in report.summary()


# ------------------------------------------------------------------ hand-built Ref-DAVIS17


def test_davis_expression_file_quirks(tmp_path):
    path = tmp_path / "Davis17_annot2.txt"
    path.write_bytes('bear 1 "a brown bear"\r\n\r\nclasic-car 2 "the  caf\xe9 car "\n'
                     'dog 1 "a dog with a \\"hat\\""\nmotor-bike 3 "no end quote\n'
                     'cows 1 ""\n'.encode("latin-1"))
    counts: dict = {}
    got = read_davis_expressions(path, counts=counts)
    assert got == [(1, "bear", 1, "a brown bear"), (3, "classic-car", 2, "the caf\xe9 car"),
                   (4, "dog", 1, 'a dog with a \\"hat\\"'), (5, "motorbike", 3, "no end quote")]
    assert counts == {"misspelt video names corrected": 2, "empty expressions skipped": 1,
                      "expressions without a matching pair of quotes": 1}
    path.write_text("bear one \"x\"\n")
    with pytest.raises(DataError, match=r"line 1: object id 'one'"):
        read_davis_expressions(path)


# ------------------------------------------------------------------ synthetic round trip


@pytest.fixture(scope="module")
def synth_ytvos(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ytvos"
    return out, generate_ytvos(out, videos=8, size=32, frames=6)


@pytest.fixture(scope="module")
def synth_davis(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "davis"
    return out, generate_davis(out, videos=6, size=32, frames=6)


def test_ytvos_round_trip(synth_ytvos):
    root, summary = synth_ytvos
    meta = json.loads((root / "synth_meta.json").read_text())
    by_video = {v["video"]: v for v in meta["videos"]}
    for split in ("train", "valid"):
        samples, report = index_ytvos(root, split)
        assert len(samples) == summary.samples[split] == report.samples[split]
        videos = {s.video for s in samples}
        assert videos == {v for v, m in by_video.items() if m["split"] == split}
        for s in samples:
            m = by_video[s.video]
            assert s.frame % 5 == 0 and s.frame // 5 < m["frames"]
            assert s.query in {normalize_query(t) for _, t in m["expressions"]}
        if split == "train":
            for s in samples:
                assert str(s.instance) in by_video[s.video]["objects"]
                mask = load_ytvos_mask(root, s)
                assert mask.shape == (s.height, s.width) and int(mask.sum()) == s.mask_sum
            assert any(s.mask_sum == 0 for s in samples)  # an absent object
        else:
            assert all(s.mask_sum is None and s.instance is None for s in samples)
            assert "test videos removed from valid" in report.summary()


def test_davis_round_trip(synth_davis):
    root, summary = synth_davis
    meta = json.loads((root / "synth_meta.json").read_text())
    by_video = {v["video"]: v for v in meta["videos"]}
    assert "classic-car" in by_video
    for split in ("train", "val"):
        samples, report = index_davis(root, split)
        assert len(samples) == summary.samples[split]
        assert {s.video for s in samples} == {v for v, m in by_video.items()
                                              if m["split"] == split}
        for s in samples[::7]:
            mask = load_davis_mask(root, s)
            assert int(mask.sum()) == s.mask_sum
            assert str(s.instance) in by_video[s.video]["objects"]
    val, _ = index_davis(root, "val", sets=("annot1",))
    assert any(s.video == "classic-car" for s in val)  # written clasic-car in annot1
    assert {s.expression.rsplit("-", 1)[0] for s in val} == {"annot1"}
    ids = {json.dumps(sorted(m["objects"], key=int)) for m in by_video.values()}
    assert any(json.loads(x) != [str(i) for i in range(1, len(json.loads(x)) + 1)] for x in ids)


# ------------------------------------------------------------------ bad input


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def _first_train_video(root: Path) -> str:
    meta = json.loads((root / "meta_expressions/train/meta_expressions.json").read_text())
    return next(iter(meta["videos"]))


def test_ytvos_missing_meta_expressions(synth_ytvos, tmp_path):
    root = _copy(synth_ytvos[0], tmp_path)
    (root / "meta_expressions/train/meta_expressions.json").unlink()
    with pytest.raises(DataError, match=r"meta_expressions\.json does not exist.*meta_expressions"
                                         r"\.zip"):
        index_ytvos(root, "train", skip_bad=True)  # not skippable


def test_ytvos_missing_and_truncated_frames(synth_ytvos, tmp_path):
    root = _copy(synth_ytvos[0], tmp_path)
    vid = _first_train_video(root)
    full, _ = index_ytvos(root, "train")
    n_exp = len({s.expression for s in full if s.video == vid})
    jpg = root / "train/JPEGImages" / vid / "00010.jpg"
    jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    assert "truncated" in jpeg_problem(jpg)
    with pytest.raises(DataError, match=rf"{vid}/00010\.jpg is truncated.*--skip-bad"):
        index_ytvos(root, "train")
    samples, report = index_ytvos(root, "train", skip_bad=True)
    assert len(samples) == len(full) - n_exp and len(report.bad_files) == 1
    (root / "train/JPEGImages" / vid / "00005.jpg").unlink()
    with pytest.raises(DataError, match=rf"{vid}/00005\.jpg does not exist.*--skip-bad"):
        index_ytvos(root, "train")
    samples, report = index_ytvos(root, "train", skip_bad=True)
    assert len(samples) == len(full) - 2 * n_exp and len(report.bad_files) == 2
    assert "bad files skipped: 2" in report.summary()


def test_ytvos_non_palette_png(synth_ytvos, tmp_path):
    root = _copy(synth_ytvos[0], tmp_path)
    vid = _first_train_video(root)
    png = root / "train/Annotations" / vid / "00000.png"
    Image.open(png).convert("L").save(png)
    with pytest.raises(DataError, match=rf"{vid}/00000\.png is a 'L' image, not a palette"):
        index_ytvos(root, "train")
    with pytest.raises(DataError, match="not a palette"):
        read_palette_png(png)
    full = len(index_ytvos(synth_ytvos[0], "train")[0])
    samples, report = index_ytvos(root, "train", skip_bad=True)
    assert len(samples) < full and len(report.bad_files) == 1


def test_ytvos_object_never_annotated(synth_ytvos, tmp_path):
    root = _copy(synth_ytvos[0], tmp_path)
    path = root / "meta_expressions/train/meta_expressions.json"
    meta = json.loads(path.read_text())
    vid = next(iter(meta["videos"]))
    meta["videos"][vid]["expressions"]["0"]["obj_id"] = "9"
    path.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=rf"expression 0 of video {vid} .* names object 9, which "
                                        "has no pixels"):
        index_ytvos(root, "train")
    full = index_ytvos(synth_ytvos[0], "train")[0]
    n_frames = len({s.frame for s in full if s.video == vid})
    samples, report = index_ytvos(root, "train", skip_bad=True)
    assert len(samples) == len(full) - n_frames and len(report.bad_files) == 1


def test_davis_bad_input(synth_davis, tmp_path):
    root = _copy(synth_davis[0], tmp_path)
    full, _ = index_davis(root, "val")
    vid = "classic-car"
    n_exp = len({s.expression for s in full if s.video == vid})
    # an expression naming object 9
    with open(root / "davis_text_annotations/Davis17_annot1.txt", "a") as f:
        f.write(f'{vid} 9 "nobody"\n')
    with pytest.raises(DataError, match=rf"Davis17_annot1\.txt line \d+ names object 9 of video "
                                        rf"{vid}"):
        index_davis(root, "val")
    samples, report = index_davis(root, "val", skip_bad=True)
    assert len(samples) == len(full) and len(report.bad_files) == 1
    # a truncated frame and a non-palette annotation: each drops one frame of every expression
    jpg = root / "DAVIS/JPEGImages/480p" / vid / "00002.jpg"
    jpg.write_bytes(jpg.read_bytes()[:40])
    png = root / "DAVIS/Annotations/480p" / vid / "00003.png"
    Image.open(png).convert("RGB").save(png)
    with pytest.raises(DataError, match=r"00002\.jpg is truncated"):
        index_davis(root, "val", sets=("annot2",))
    samples, report = index_davis(root, "val", skip_bad=True)
    assert len(samples) == len(full) - 2 * n_exp and len(report.bad_files) == 3
    # a missing expression file, and a missing annotation
    (root / "davis_text_annotations/Davis17_annot2.txt").unlink()
    with pytest.raises(DataError, match=r"Davis17_annot2\.txt does not exist.*--sets"):
        index_davis(root, "val", skip_bad=True)
    shutil.copy(synth_davis[0] / "DAVIS/JPEGImages/480p" / vid / "00002.jpg", jpg)
    shutil.copy(synth_davis[0] / "DAVIS/Annotations/480p" / vid / "00003.png", png)
    (root / "DAVIS/Annotations/480p" / vid / "00004.png").unlink()
    with pytest.raises(DataError, match=r"00004\.jpg has no annotation .*00004\.png"):
        index_davis(root, "val", sets=("annot1",))


# ------------------------------------------------------------------ submission zip


def test_ytvos_submission_zip(synth_ytvos, tmp_path):
    import zipfile

    from acga.refvos_submission import write_ytvos_submission

    root, summary = synth_ytvos
    samples, _ = index_ytvos(root, "valid")
    # a 2x3 square in every frame: 6 foreground pixels each
    def masks(items):
        for s in items:
            m = np.zeros((s.height, s.width), np.uint8)
            m[1:3, 2:5] = 1
            yield s, m

    out = tmp_path / "sub.zip"
    assert write_ytvos_submission(masks(samples), out, expected=samples) == len(samples)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        s = samples[0]
        name = f"Annotations/{s.video}/{s.expression}/{s.frame:05d}.png"
        assert name in names and len(names) == summary.samples["valid"]
        import io

        arr = np.asarray(Image.open(io.BytesIO(zf.read(name))))
        assert arr.shape == (s.height, s.width) and (arr == 255).sum() == 6
    before = out.read_bytes()
    with pytest.raises(DataError, match="masks missing from the submission"):
        write_ytvos_submission(masks(samples[1:]), out, expected=samples)
    assert out.read_bytes() == before  # the earlier zip is left as it was
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
