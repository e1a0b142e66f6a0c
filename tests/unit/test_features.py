"""The Mixed_4e feature cache (acga.data.features, feature_manifest, feature_merge)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from acga.data.feature_manifest import MANIFEST, CacheSettings, weights_sha256
from acga.data.feature_merge import merge_shards
from acga.data.features import CachedFeatureDataset, FeatureCache
from acga.errors import DataError, InvalidShapeError

SHAPE = (6, 2, 4, 4)  # (C, T, H, W): small stand-in for (528, 4, 32, 32)


def _settings(**kw) -> CacheSettings:
    base = dict(backbone="i3d_mixed_4e", weights_sha256="random", modality="rgb", clip_len=16,
                input_size=64, feature_shape=SHAPE, dtype="float16")
    base.update(kw)
    return CacheSettings(**base)


def _features(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) * 4


def test_float16_round_trip_within_half_precision(tmp_path):
    with FeatureCache.create(tmp_path / "c", _settings()) as cache:
        cache.write("v1_f00010_i0", _features(0))
    cache = FeatureCache.open(tmp_path / "c")
    got = cache.read("v1_f00010_i0")
    assert got.dtype == np.float32 and got.shape == SHAPE
    x = _features(0)
    np.testing.assert_allclose(got, x, rtol=2 ** -11, atol=2 ** -24)
    assert not np.array_equal(got, x)  # it really went through float16
    assert cache.read("v1_f00010_i0", mmap=True).dtype == np.float16


def test_float32_round_trip_is_exact(tmp_path):
    with FeatureCache.create(tmp_path / "c", _settings(dtype="float32")) as cache:
        cache.write("k", _features(1))
    np.testing.assert_array_equal(FeatureCache.open(tmp_path / "c").read("k"), _features(1))


def test_manifest_records_settings_and_keys(tmp_path):
    with FeatureCache.create(tmp_path / "c", _settings()) as cache:
        for i in range(3):
            cache.write(f"k{i}", _features(i))
    data = json.loads((tmp_path / "c" / MANIFEST).read_text())
    assert data["keys"] == ["k0", "k1", "k2"] and data["num_samples"] == 3
    assert data["settings"]["feature_shape"] == list(SHAPE)
    assert data["settings"]["weights_sha256"] == "random" and data["settings"]["modality"] == "rgb"


def test_mismatched_settings_are_refused_naming_fields(tmp_path):
    FeatureCache.create(tmp_path / "c", _settings()).close()
    with pytest.raises(DataError, match=r"modality: 'rgb' != 'flow'.*input_size: 64 != 512"):
        FeatureCache.create(tmp_path / "c", _settings(modality="flow", input_size=512))
    with pytest.raises(DataError, match=r"dtype: 'float16' != 'float32'"):
        FeatureCache.open(tmp_path / "c", expect=_settings(dtype="float32"))


def test_bn_eps_is_recorded_and_old_manifests_mean_tf_eps(tmp_path):
    with FeatureCache.create(tmp_path / "c", _settings(bn_eps=1e-5)) as cache:
        cache.write("k0", _features(0))
    data = json.loads((tmp_path / "c" / MANIFEST).read_text())
    assert data["settings"]["bn_eps"] == 1e-5
    with pytest.raises(DataError, match=r"bn_eps: 1e-05 != 0\.001"):
        FeatureCache.create(tmp_path / "c", _settings(bn_eps=1e-3))

    # a manifest written before the field existed: features made with TF's 1e-3
    del data["settings"]["bn_eps"]
    (tmp_path / "c" / MANIFEST).write_text(json.dumps(data))
    assert FeatureCache.open(tmp_path / "c").settings.bn_eps == 1e-3
    FeatureCache.create(tmp_path / "c", _settings()).close()  # resumable with the default
    with pytest.raises(DataError, match=r"bn_eps: 0\.001 != 1e-05"):
        FeatureCache.open(tmp_path / "c", expect=_settings(bn_eps=1e-5))
    with pytest.raises(DataError, match="bn_eps must be a positive number"):
        _settings(bn_eps=0)


def test_crash_leftovers_are_never_reported_done(tmp_path):
    root = tmp_path / "c"
    cache = FeatureCache.create(root, _settings(), flush_every=1000)
    cache.write("good", _features(0))
    cache.write("after_flush", _features(1))  # on disk, not yet in the manifest
    # Simulate a crash: a temp file of an interrupted write and a torn entry under a final name.
    (root / "features" / ".half.abc.tmp").write_bytes(b"\x93NUMPY partial")
    whole = (root / "features" / "good.npy").read_bytes()
    (root / "features" / "torn.npy").write_bytes(whole[: len(whole) // 2])
    cache._lock.close()  # the process died: its lock goes away, no manifest flush happened

    reader = FeatureCache.open(root)
    assert reader.keys() == ["after_flush", "good"]  # adopted the whole file, not the torn one
    with pytest.raises(DataError, match="no sample 'torn'"):
        reader.read("torn")
    assert not reader.verify().clean  # the leftovers are reported

    resumed = FeatureCache.create(root, _settings())
    assert resumed.keys() == ["after_flush", "good"] and not resumed.has("torn")
    assert not (root / "features" / "torn.npy").exists()
    assert not (root / "features" / ".half.abc.tmp").exists()
    resumed.write("torn", _features(2))  # redone
    resumed.close()
    again = FeatureCache.open(root)
    assert again.keys() == ["after_flush", "good", "torn"] and again.verify(deep=True).clean
    np.testing.assert_allclose(again.read("torn"), _features(2), rtol=2 ** -11, atol=1e-6)


def test_torn_entry_listed_in_manifest_is_dropped(tmp_path):
    root = tmp_path / "c"
    with FeatureCache.create(root, _settings()) as cache:
        cache.write("a", _features(0))
        cache.write("b", _features(1))
    f = root / "features" / "b.npy"
    f.write_bytes(f.read_bytes()[:-1])
    assert FeatureCache.open(root).keys() == ["a"]


def test_resume_appends(tmp_path):
    root = tmp_path / "c"
    with FeatureCache.create(root, _settings()) as cache:
        cache.write("a", _features(0))
    with FeatureCache.create(root, _settings()) as cache:
        assert cache.has("a") and not cache.has("b")
        cache.write("b", _features(1))
    assert FeatureCache.open(root).keys() == ["a", "b"]


def test_second_writer_is_refused(tmp_path):
    with FeatureCache.create(tmp_path / "c", _settings()):
        with pytest.raises(DataError, match="another process"):
            FeatureCache.create(tmp_path / "c", _settings())


def test_write_validates_shape_key_and_range(tmp_path):
    with FeatureCache.create(tmp_path / "c", _settings()) as cache:
        with pytest.raises(InvalidShapeError, match=r"\(6, 2, 4, 5\)"):
            cache.write("k", np.zeros((6, 2, 4, 5)))
        with pytest.raises(DataError, match="not file-name-safe"):
            cache.write("../evil", _features(0))
        with pytest.raises(DataError, match="float16"):
            cache.write("big", np.full(SHAPE, 1e6, np.float32))
        assert len(cache) == 0
    with pytest.raises(DataError, match="read-only"):
        FeatureCache.open(tmp_path / "c").write("k", _features(0))


def test_merge_shards(tmp_path):
    for shard, keys in (("s0", ["a", "c"]), ("s1", ["b", "c"])):
        with FeatureCache.create(tmp_path / shard, _settings()) as cache:
            for k in keys:
                cache.write(k, _features(ord(k)))
    merged = merge_shards(tmp_path / "all", [tmp_path / "s0", tmp_path / "s1"])
    assert merged.keys() == ["a", "b", "c"]
    np.testing.assert_array_equal(merged.read("b"), FeatureCache.open(tmp_path / "s1").read("b"))
    assert json.loads((tmp_path / "all" / MANIFEST).read_text())["keys"] == ["a", "b", "c"]
    FeatureCache.create(tmp_path / "s2", _settings(backbone="other")).close()
    with pytest.raises(DataError, match=r"s2 has other settings.*backbone"):
        merge_shards(tmp_path / "all2", [tmp_path / "s0", tmp_path / "s2"])
    # merged entries are the shards' bytes (hard links where possible); a read-only cache
    # adopts nothing
    assert ((tmp_path / "all" / "features" / "a.npy").read_bytes()
            == (tmp_path / "s0" / "features" / "a.npy").read_bytes())
    with pytest.raises(DataError, match="opened read-only"):
        merged.adopt("a", FeatureCache.open(tmp_path / "s0"))


def test_foreign_and_corrupt_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="not a feature cache"):
        FeatureCache.open(tmp_path)
    (tmp_path / MANIFEST).write_text('{"hello": 1}')
    with pytest.raises(DataError, match="not an acga feature cache manifest"):
        FeatureCache.open(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(DataError, match=f"{MANIFEST} is not a feature cache manifest"):
        FeatureCache.open(tmp_path)
    # A file of the right size whose content is not an .npy entry.
    root = tmp_path / "c"
    with FeatureCache.create(root, _settings()) as cache:
        cache.write("k", _features(0))
    f = root / "features" / "k.npy"
    f.write_bytes(b"\0" * f.stat().st_size)
    cache = FeatureCache.open(root)
    with pytest.raises(DataError, match=r"k\.npy cannot be read"):
        cache.read("k")
    assert "k" in cache.verify(deep=True).bad


def test_dataset_returns_float32_tensors_and_pickles(tmp_path):
    root = tmp_path / "c"
    with FeatureCache.create(root, _settings()) as cache:
        for i in range(3):
            cache.write(f"k{i}", _features(i))
    ds = CachedFeatureDataset(FeatureCache.open(root), ["k2", "k0"])
    assert len(ds) == 2
    item = ds[0]
    assert isinstance(item, torch.Tensor) and item.dtype == torch.float32 and tuple(item.shape) == SHAPE
    np.testing.assert_allclose(item.numpy(), _features(2), rtol=2 ** -11, atol=1e-6)
    ds2 = pickle.loads(pickle.dumps(ds))  # what a DataLoader worker receives
    assert torch.equal(ds2[1], ds[1])
    with pytest.raises(DataError, match="lacks 1 of 1"):
        CachedFeatureDataset(FeatureCache.open(root), ["zz"])


def test_weights_sha256(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(b"abc")
    assert weights_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert weights_sha256(None) == "random"


def test_weights_sha256_streams_files_larger_than_a_block(tmp_path):
    import hashlib

    data = bytes(range(256)) * 9000  # 2.2 MiB: more than one 1 MiB read
    p = tmp_path / "big.bin"
    p.write_bytes(data)
    assert weights_sha256(p) == hashlib.sha256(data).hexdigest()
