"""`acga extract` on the fake releases: every key, resume, shards + merge, errors, and features
equal to a direct I3D forward pass. Tiny sizes (8 frames of 32 x 32, random weights)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from fixtures_release import make_a2d_release, make_jhmdb_release

from acga.cli.main import main
from acga.data.dataset import index_samples
from acga.data.features import FeatureCache
from acga.data.transforms import letterbox
from acga.data.video import read_clip
from acga.errors import CheckpointError, DataError
from acga.extract import RANDOM_WEIGHTS_SEED, extract_features, feature_shape, merge_shard_caches
from acga.extract_shards import shard_path
from acga.models.i3d import build_i3d, preprocess_rgb

SIZE, CLIP = 32, 8
SHAPE = (528, 2, 2, 2)
FAST = dict(clip_len=CLIP, input_size=SIZE, workers=0, progress=False)


@pytest.fixture(scope="module")
def a2d_root(tmp_path_factory):
    return make_a2d_release(tmp_path_factory.mktemp("a2d_extract"))


@pytest.fixture(scope="module")
def a2d_keys(a2d_root):
    return sorted(s.key for s in index_samples("a2d", a2d_root, None))


@pytest.fixture(scope="module")
def full_cache(a2d_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("caches") / "a2d_rgb"
    report = extract_features("a2d", a2d_root, out, **FAST)
    return out, report


def test_every_sample_of_both_splits_is_cached(full_cache, a2d_keys):
    out, report = full_cache
    cache = FeatureCache.open(out)
    assert cache.keys() == a2d_keys and len(a2d_keys) == 7  # 5 train + 2 test
    assert cache.settings.feature_shape == SHAPE == feature_shape(CLIP, SIZE)
    assert cache.settings.weights_sha256 == "random"
    assert cache.settings.modality == "rgb" and cache.settings.clip_len == CLIP
    assert cache.verify(deep=True).clean
    # vidA frames 3 and 10 each have two instances: 5 distinct clips for 7 samples
    assert (report.clips, report.computed, report.written, report.skipped) == (5, 5, 7, 0)
    np.testing.assert_array_equal(cache.read("vidA_f00003_i0"), cache.read("vidA_f00003_i1"))
    assert not np.array_equal(cache.read("vidA_f00003_i0"), cache.read("vidA_f00007_i1"))


def test_second_run_writes_nothing(full_cache, a2d_root):
    out, _ = full_cache
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "features").iterdir()}
    report = extract_features("a2d", a2d_root, out, **FAST)
    assert (report.computed, report.written, report.skipped) == (0, 0, 7)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "features").iterdir()} == mtimes


def test_resume_after_losing_entries(full_cache, a2d_root, tmp_path):
    out = tmp_path / "partial"
    shutil.copytree(full_cache[0], out)
    (out / "features" / "vidB_f00002_i1.npy").unlink()
    (out / "features" / "vidA_f00010_i2.npy").write_bytes(b"torn")  # half-written entry
    report = extract_features("a2d", a2d_root, out, **FAST)
    assert (report.computed, report.written) == (2, 2)
    assert FeatureCache.open(out).keys() == FeatureCache.open(full_cache[0]).keys()


def test_features_equal_a_direct_forward_pass(full_cache, a2d_root):
    sample = next(s for s in index_samples("a2d", a2d_root, "train") if s.key == "vidA_f00007_i1")
    clip = read_clip(a2d_root, "a2d", sample, CLIP)  # (8, 24, 40, 3)
    x = preprocess_rgb(letterbox(clip, SIZE))[None]  # (1, 3, 8, 32, 32)
    torch.manual_seed(RANDOM_WEIGHTS_SEED)
    model = build_i3d("rgb", final_endpoint="Mixed_4e").eval()
    with torch.inference_mode():
        direct = model(x)[0].numpy()  # (528, 2, 2, 2)
    got = FeatureCache.open(full_cache[0]).read(sample.key)
    assert got.shape == direct.shape == SHAPE
    scale = np.abs(direct).max()
    np.testing.assert_allclose(got, direct, rtol=2e-3, atol=1e-3 * scale)


def test_two_shards_merge_to_the_unsharded_cache(full_cache, a2d_root, tmp_path):
    out = tmp_path / "sharded"
    r0 = extract_features("a2d", a2d_root, out, shard=(0, 2), **FAST)
    assert r0.cache == shard_path(out, 0, 2) and r0.merged_into is None
    assert not out.exists()  # shard 1 is not done: no merge yet
    r1 = extract_features("a2d", a2d_root, out, shard=(1, 2), **FAST)
    assert r1.merged_into == out  # the last shard merges
    assert r0.written + r1.written == 7 and r0.computed + r1.computed == 5
    keys0 = set(FeatureCache.open(r0.cache).keys())
    keys1 = set(FeatureCache.open(r1.cache).keys())
    assert not keys0 & keys1
    # samples of one clip stay in one shard
    assert {"vidA_f00003_i0", "vidA_f00003_i1"} <= keys0 or {"vidA_f00003_i0", "vidA_f00003_i1"} <= keys1
    merged, whole = FeatureCache.open(out), FeatureCache.open(full_cache[0])
    assert merged.keys() == whole.keys()
    for key in whole.keys():
        np.testing.assert_array_equal(merged.read(key, mmap=True), whole.read(key, mmap=True))
    # an explicit merge is idempotent
    assert merge_shard_caches(out, dataset="a2d", root=a2d_root).samples == 7


def test_merge_refuses_an_incomplete_set(a2d_root, tmp_path):
    out = tmp_path / "half"
    extract_features("a2d", a2d_root, out, shard=(0, 3), **FAST)
    with pytest.raises(DataError, match=r"shard 1 of 3 is missing: .*half\.shard-1-of-3"):
        merge_shard_caches(out)


def test_corrupt_video_is_named(a2d_root, tmp_path):
    root = tmp_path / "a2d"
    shutil.copytree(a2d_root, root)
    video = root / "Release" / "clips320H" / "vidA.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 200)
    with pytest.raises(DataError, match=r"vidA\.mp4.*corrupt.*\(sample vidA_f0000\d_i\d\)"):
        extract_features("a2d", root, tmp_path / "c", **FAST)
    # the same through a loader worker process and the CLI: one line, exit status 2
    rc = main(["extract", "--dataset", "a2d", "--root", str(root), "--out", str(tmp_path / "c2"),
               "--size", str(SIZE), "--clip-len", str(CLIP), "--workers", "1", "--no-progress"])
    assert rc == 2


def test_cli_extract_flow_jhmdb_and_merge(tmp_path, capsys):
    pytest.importorskip("cv2", reason="flow needs acga[flow]")
    root = make_jhmdb_release(tmp_path / "jhmdb")
    out = tmp_path / "jhmdb_flow"
    args = ["extract", "--dataset", "jhmdb", "--root", str(root), "--out", str(out),
            "--modality", "flow", "--size", str(SIZE), "--clip-len", str(CLIP),
            "--workers", "0", "--no-progress", "-q"]
    assert main(args + ["--shard", "0/2", "--no-auto-merge"]) == 0
    assert main(args + ["--shard", "1/2", "--no-auto-merge"]) == 0
    assert not out.exists()
    assert main(["extract", "--merge", "--out", str(out), "--dataset", "jhmdb", "--root",
                 str(root), "-q"]) == 0
    cache = FeatureCache.open(out)
    assert cache.settings.modality == "flow" and cache.settings.feature_shape == SHAPE
    assert len(cache) == 6  # 2 videos x 3 uniform frames
    assert cache.keys() == sorted(s.key for s in index_samples("jhmdb", root))
    assert cache.verify(deep=True).clean
    capsys.readouterr()
    assert main(["extract", "--out", str(out)]) == 2
    assert "--dataset and --root required" in capsys.readouterr().err


def test_other_settings_are_refused(full_cache, a2d_root):
    with pytest.raises(DataError, match="clip_len: 8 != 16"):
        extract_features("a2d", a2d_root, full_cache[0], **{**FAST, "clip_len": 16})


def test_weights_file_is_hashed_and_a_wrong_one_leaves_no_cache(a2d_root, tmp_path):
    from acga.data.feature_manifest import weights_sha256

    torch.manual_seed(0)
    rgb = tmp_path / "rgb.pt"
    torch.save(build_i3d("rgb", final_endpoint="Mixed_3b").state_dict(), rgb)
    with pytest.raises(CheckpointError, match="missing keys"):  # a Mixed_3b file for a Mixed_4e model
        extract_features("a2d", a2d_root, tmp_path / "bad", weights=rgb, **FAST)
    assert not (tmp_path / "bad").exists()  # a re-run with the right file is not refused
    torch.save(build_i3d("rgb", final_endpoint="Mixed_4e").state_dict(), rgb)
    report = extract_features("a2d", a2d_root, tmp_path / "c", weights=rgb, **FAST)
    assert report.settings.weights_sha256 == weights_sha256(rgb) != "random"
    assert report.written == 7


# --- the release's I3D: BatchNorm eps 1e-5 -------------------------------------------------------

def _release_checkpoint(path, sd):
    """The authors' checkpoint layout around a release-layout I3D (see tests/release_i3d.py)."""
    torch.save({"epoch": 9, "optimizer": {"state": {}, "param_groups": []},
                "state_dict": {**{f"module.video_model.model.{k}": v for k, v in sd.items()},
                               "module.conv_fusion.bias": torch.zeros(1)}}, path)
    return path


def test_release_weights_extract_with_release_eps(a2d_root, tmp_path):
    import json

    from release_i3d import release_mixed_4e, release_state_dict

    sd = release_state_dict(seed=7)
    weights = _release_checkpoint(tmp_path / "model_best.pth.tar", sd)
    out = tmp_path / "rel"
    sample = next(s for s in index_samples("a2d", a2d_root, "train") if s.key == "vidA_f00007_i1")
    fast = {**FAST, "samples": [sample]}  # one clip: the eps, not the release, is under test
    report = extract_features("a2d", a2d_root, out, weights=weights, **fast)
    assert report.settings.bn_eps == 1e-5 and report.written == 1
    assert json.loads((out / "manifest.json").read_text())["settings"]["bn_eps"] == 1e-5

    x = preprocess_rgb(letterbox(read_clip(a2d_root, "a2d", sample, CLIP), SIZE))[None]
    with torch.no_grad():
        ref = release_mixed_4e(sd, x)[0].numpy()
    got = FeatureCache.open(out).read(sample.key)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=2e-3, atol=1e-3 * scale)  # float16 on disk

    # the other eps is another cache: refused in this folder, made in a new one
    with pytest.raises(DataError, match=r"bn_eps: 1e-05 != 0\.001"):
        extract_features("a2d", a2d_root, out, weights=weights, bn_eps=1e-3, **fast)
    tf = extract_features("a2d", a2d_root, tmp_path / "tf", weights=weights, bn_eps=1e-3, **fast)
    assert tf.settings.bn_eps == 1e-3
    other = FeatureCache.open(tmp_path / "tf").read(sample.key)
    assert np.abs(other - got).max() > 1e-2


@pytest.mark.parametrize("case", ["neither_layout", "missing_blocks"])
def test_bad_release_weights_write_nothing(a2d_root, tmp_path, case):
    from release_i3d import release_state_dict

    path = tmp_path / "model_best.pth.tar"
    if case == "neither_layout":
        torch.save({"state_dict": {"module.backbone.layer1.weight": torch.zeros(2)}}, path)
        match = r"model_best\.pth\.tar.*not an I3D checkpoint"
    else:
        sd = {k: v for k, v in release_state_dict(seed=1).items()
              if not k.startswith("mixed_3c.branch_2")}
        _release_checkpoint(path, sd)
        match = (r"missing keys: module\.video_model\.model\.mixed_3c\.branch_2\.0\.conv3d\.weight"
                 r".*\(10 in all\).*blocks lacking tensors: Mixed_3c")
    with pytest.raises(CheckpointError, match=match):
        extract_features("a2d", a2d_root, tmp_path / "out", weights=path, **FAST)
    assert not (tmp_path / "out").exists()


def test_cli_bn_eps(a2d_root, tmp_path, capsys, monkeypatch):
    import acga.extract

    out = tmp_path / "c"
    args = ["extract", "--dataset", "a2d", "--root", str(a2d_root), "--out", str(out),
            "--clip-len", str(CLIP), "--size", str(SIZE), "--workers", "0", "--no-progress"]
    assert main(args + ["--bn-eps", "0"]) == 2
    assert "BatchNorm eps must be a positive number" in capsys.readouterr().err
    assert not out.exists()
    seen = {}

    def fake(*a, **kw):
        seen.update(kw)
        raise DataError("stop here")

    monkeypatch.setattr(acga.extract, "extract_features", fake)
    assert main(args + ["--bn-eps", "1e-5"]) == 2
    assert seen["bn_eps"] == 1e-5
    assert main(args) == 2 and seen["bn_eps"] is None  # the weights' convention
