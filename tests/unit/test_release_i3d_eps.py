"""The frozen I3D built from the ACGA release's weights computes as the release's port does:
BatchNorm eps 1e-5, checked against the independent forward pass of ``tests/release_i3d.py``
with BatchNorm statistics for which eps matters (running variances 1e-4 .. 1e-2)."""

from __future__ import annotations

import logging

import pytest
import torch

from release_i3d import RELEASE_EPS, release_mixed_4e, release_state_dict

from acga.checkpoint import Checkpoint, check_features_convention, expected_features_bn_eps
from acga.convert import OFFICIAL_SOURCE
from acga.data.feature_manifest import CacheSettings
from acga.data.features import FeatureCache
from acga.errors import AcgaError, CheckpointError
from acga.models.i3d import build_i3d
from acga.models.i3d_net import I3D, RELEASE_BN_EPS, TF_BN_EPS
from acga.models.i3d_weights import bn_settings_for_layout, read_i3d_weights

PREFIX = "module.video_model.model."


@pytest.fixture(scope="module")
def release_sd():
    return release_state_dict(seed=3)


@pytest.fixture(scope="module")
def clip():
    g = torch.Generator().manual_seed(11)
    return torch.rand(1, 3, 8, 32, 32, generator=g) * 2 - 1  # I3D's [-1, 1] range


def _acga_checkpoint(sd: dict[str, torch.Tensor]) -> dict:
    """The authors' checkpoint layout: {'epoch', 'state_dict', 'optimizer'}, DataParallel
    ``module.`` + VideoEncoder ``video_model.model.`` before the I3D, the ACGA head beside it."""
    return {"epoch": 9, "optimizer": {"state": {}, "param_groups": []},
            "state_dict": {**{PREFIX + k: v for k, v in sd.items()},
                           "module.txt_model.0.weight": torch.zeros(4, 3, 3),
                           "module.conv_fusion.bias": torch.zeros(1)}}


def _bn_eps_of(model: torch.nn.Module) -> set[float]:
    return {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)}


def _float64(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.double() if v.is_floating_point() else v for k, v in sd.items()}


@pytest.mark.parametrize("wrapped", [False, True], ids=["i3d_rgb.pth", "model_best.pth.tar"])
def test_release_weights_give_the_release_features(release_sd, clip, tmp_path, wrapped):
    path = tmp_path / ("model_best.pth.tar" if wrapped else "i3d_rgb.pth")
    torch.save(_acga_checkpoint(release_sd) if wrapped else release_sd, path)
    assert read_i3d_weights(path).bn_eps == RELEASE_BN_EPS

    model = build_i3d("rgb", final_endpoint="Mixed_4e", weights=path)
    assert _bn_eps_of(model) == {RELEASE_BN_EPS}
    with torch.no_grad():
        # float64 on both sides: the comparison sees the architecture and eps, not rounding
        ours64 = model.double()(clip.double())
        ref64 = release_mixed_4e(_float64(release_sd), clip.double())
        assert ours64.shape == ref64.shape == (1, 528, 2, 2, 2)
        assert (ours64 - ref64).abs().max().item() <= 1e-5
        # float32, as `acga extract` runs it: rounding through ~20 units, relative to the scale
        ours32 = model.float()(clip)
        ref32 = release_mixed_4e(release_sd, clip)
        scale = max(1.0, ref32.abs().max().item())
        assert (ours32 - ref32).abs().max().item() <= 1e-5 * scale

        tf_model = build_i3d("rgb", final_endpoint="Mixed_4e", weights=path, bn_eps=TF_BN_EPS)
        assert _bn_eps_of(tf_model) == {TF_BN_EPS}
        ours_tf = tf_model.double()(clip.double())
        # measurably different features with TF's eps ...
        assert (ours_tf - ref64).abs().max().item() > 1e-2
        # ... and that difference is the eps alone
        ref_tf = release_mixed_4e(_float64(release_sd), clip.double(), eps=TF_BN_EPS)
        assert (ours_tf - ref_tf).abs().max().item() <= 1e-5


def test_reference_forward_sees_the_eps(release_sd, clip):
    # guard on the helper itself: with these statistics the two eps give other features
    with torch.no_grad():
        a = release_mixed_4e(release_sd, clip, eps=RELEASE_EPS)
        b = release_mixed_4e(release_sd, clip, eps=1e-3)
    assert torch.isfinite(a).all() and 0.1 < a.abs().max().item() < 1e3
    assert (a - b).abs().max().item() > 1e-2


def test_piergiaj_layout_and_no_weights_keep_tf_eps():
    torch.manual_seed(0)
    sd = I3D(3, final_endpoint="Mixed_4e").state_dict()  # piergiaj/pytorch-i3d names
    assert read_i3d_weights(sd).layout == "pytorch_i3d"
    assert _bn_eps_of(build_i3d("rgb", weights=sd)) == {TF_BN_EPS}
    assert _bn_eps_of(build_i3d("rgb")) == {TF_BN_EPS}
    assert _bn_eps_of(build_i3d("rgb", weights=sd, bn_eps=1e-5)) == {1e-5}
    assert bn_settings_for_layout("release") == (1e-5, 0.1)
    assert bn_settings_for_layout("pytorch_i3d") == bn_settings_for_layout(None) == (1e-3, 0.01)


def test_release_checkpoint_missing_blocks_names_the_keys(release_sd, tmp_path):
    sd = {k: v for k, v in release_sd.items() if not k.startswith(("mixed_4d.", "mixed_4e."))}
    path = tmp_path / "model_best.pth.tar"
    torch.save(_acga_checkpoint(sd), path)
    with pytest.raises(CheckpointError) as info:
        build_i3d("rgb", final_endpoint="Mixed_4e", weights=path)
    msg = str(info.value)
    assert isinstance(info.value, AcgaError) and "\n" not in msg
    assert str(path) in msg
    # named as in the file, with ours beside, and counted: 2 blocks x 6 units x 5 tensors
    assert f"{PREFIX}mixed_4d.branch_0.conv3d.weight (Mixed_4d.b0.conv3d.weight)" in msg
    assert "(60 in all)" in msg and "blocks lacking tensors: Mixed_4d, Mixed_4e" in msg


def test_weights_in_neither_layout_are_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"layer1.0.conv1.weight": torch.zeros(2, 2, 1, 1), "fc.bias": torch.zeros(2)},
               path)
    with pytest.raises(CheckpointError, match=r"resnet\.pth.*not an I3D checkpoint.*"
                                              r"layer1\.0\.conv1\.weight"):
        read_i3d_weights(path)


# --- acga eval's check of the features' convention ----------------------------------------------

def _cache(tmp_path, name: str, eps: float) -> FeatureCache:
    settings = CacheSettings(backbone="i3d_mixed_4e", weights_sha256="random", modality="rgb",
                             clip_len=8, input_size=32, feature_shape=(528, 2, 2, 2),
                             bn_eps=eps)
    FeatureCache.create(tmp_path / name, settings).close()
    return FeatureCache.open(tmp_path / name)


def _ckpt(state: dict) -> Checkpoint:
    return Checkpoint(path="ck.safetensors", model={}, optim={}, rng={}, config={}, state=state)


def test_eval_warns_on_features_of_the_other_convention(tmp_path, caplog):
    tf, rel = _cache(tmp_path, "tf", 1e-3), _cache(tmp_path, "rel", 1e-5)
    converted = _ckpt({"epoch": 9, "source": OFFICIAL_SOURCE})
    assert expected_features_bn_eps(converted)[0] == RELEASE_BN_EPS
    with caplog.at_level(logging.WARNING, logger="acga.checkpoint"):
        warned = check_features_convention(converted, [tf])
    assert len(warned) == 1 and "eps 0.001" in warned[0] and "1e-05" in warned[0]
    assert any(r.levelno == logging.WARNING and "tf" in r.getMessage() for r in caplog.records)
    assert check_features_convention(converted, [rel]) == []

    trained_tf = _ckpt({"epoch": 1, "features_bn_eps": 1e-3})
    assert len(check_features_convention(trained_tf, [rel])) == 1  # the reverse
    assert check_features_convention(trained_tf, [tf]) == []
    old = _ckpt({"epoch": 1})  # before the eps was recorded: every cache was 1e-3
    assert expected_features_bn_eps(old)[0] == TF_BN_EPS
    assert len(check_features_convention(old, [rel])) == 1
    assert check_features_convention(old, None) == []  # a model that reads pixels


def test_training_records_the_caches_eps(tmp_path):
    from types import SimpleNamespace

    from acga.engine.training import features_state

    rel = _cache(tmp_path, "rel", 1e-5)
    state = features_state(SimpleNamespace(cache=[rel]))
    assert state == {"features_bn_eps": 1e-5}
    assert expected_features_bn_eps(_ckpt(state))[0] == 1e-5
    assert features_state(SimpleNamespace(cache=None)) == {}  # pixels: nothing to record
