"""I3D: endpoint shapes, split runs, preprocessing, and loading public / released checkpoints.

The checkpoint tests build state dicts from the key names and shapes of the public files
(piergiaj/pytorch-i3d ``pytorch_i3d.py``; the ACGA release's ``model/pytorch_i3d.py``), written
out here independently of our module, so a naming or shape mistake in ours shows.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from acga.errors import CheckpointError, InvalidShapeError
from acga.models.i3d import build_i3d, preprocess_flow, preprocess_rgb
from acga.models.i3d_net import ENDPOINT_CHANNELS, I3D, build_mixed_4f
from acga.models.i3d_weights import detect_i3d_layout, load_i3d_weights, remap_release_i3d

# (name, in, out, kernel) of every conv unit, and the inception widths, from the I3D paper/TF
# model, as both public PyTorch ports lay them out.
_STEM = [("Conv3d_1a_7x7", None, 64, 7), ("Conv3d_2b_1x1", 64, 64, 1),
         ("Conv3d_2c_3x3", 64, 192, 3)]
_MIXED = [
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run these many tiny convolutions on one thread: on a shared 2-core machine the thread
    pool's hand-offs cost ~10 ms per op, 50x the op itself. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _units(in_channels: int):
    """(unit name in piergiaj's port, unit name in the release's port, c_in, c_out, k)."""
    for name, cin, cout, k in _STEM:
        yield name, name.lower(), cin or in_channels, cout, k
    for name, cin, (c0, c1, c2, c3, c4, c5) in _MIXED:
        low = name.lower()
        yield f"{name}.b0", f"{low}.branch_0", cin, c0, 1
        yield f"{name}.b1a", f"{low}.branch_1.0", cin, c1, 1
        yield f"{name}.b1b", f"{low}.branch_1.1", c1, c2, 3
        yield f"{name}.b2a", f"{low}.branch_2.0", cin, c3, 1
        yield f"{name}.b2b", f"{low}.branch_2.1", c3, c4, 3
        yield f"{name}.b3b", f"{low}.branch_3.1", cin, c5, 1


def _public_state_dict(in_channels: int = 3, num_classes: int = 400, *, release: bool = False,
                       batches_tracked: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for pier, rel, cin, cout, k in _units(in_channels):
        unit, bn = (rel, "batch3d") if release else (pier, "bn")
        sd[f"{unit}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=g) * 0.05
        sd[f"{unit}.{bn}.weight"] = torch.ones(cout)
        sd[f"{unit}.{bn}.bias"] = torch.randn(cout, generator=g) * 0.1
        sd[f"{unit}.{bn}.running_mean"] = torch.randn(cout, generator=g) * 0.1
        sd[f"{unit}.{bn}.running_var"] = torch.rand(cout, generator=g) + 0.5
        if batches_tracked:
            sd[f"{unit}.{bn}.num_batches_tracked"] = torch.tensor(0)
    logits = "conv3d_0c_1x1" if release else "logits"
    sd[f"{logits}.conv3d.weight"] = torch.randn(num_classes, 1024, 1, 1, 1, generator=g) * 0.01
    sd[f"{logits}.conv3d.bias"] = torch.zeros(num_classes)
    return sd


def test_public_key_count_matches_port():
    # 57 conv units (3 stem + 9 x 6 branches) x 5 tensors + 2 logits tensors
    assert len(_public_state_dict()) == 57 * 5 + 2 == 287


# --- shapes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("frames, t4", [(8, 2), (16, 4), (24, 6)])
def test_endpoint_shapes_small(frames, t4):
    torch.manual_seed(0)
    model = I3D(3, final_endpoint="Mixed_4f").eval()
    x = torch.randn(1, 3, frames, 64, 64)
    with torch.no_grad():
        out = model.forward_endpoints(x, ["Conv3d_1a_7x7", "Mixed_3c", "Mixed_4e", "Mixed_4f"])
    assert out["Conv3d_1a_7x7"].shape == (1, 64, frames // 2, 32, 32)
    assert out["Mixed_3c"].shape == (1, 480, frames // 2, 8, 8)
    assert out["Mixed_4e"].shape == (1, 528, t4, 4, 4)
    assert out["Mixed_4f"].shape == (1, 832, t4, 4, 4)


def test_tail_endpoints_shapes_and_odd_sizes():
    model = I3D(2, final_endpoint="Logits", num_classes=7).eval()
    with torch.no_grad():
        out = model.forward_endpoints(torch.randn(2, 2, 5, 33, 47), ["Mixed_4e", "Mixed_5c",
                                                                     "Logits"])
    # SAME padding: ceil at each stride 2 (T 5->3->2->1, H 33->17->9->5->3->2, W 47->...->2)
    assert out["Mixed_4e"].shape == (2, 528, 2, 3, 3)
    assert out["Mixed_5c"].shape == (2, 1024, 1, 2, 2)
    assert out["Logits"].shape == (2, 7)


def test_channels_table():
    assert ENDPOINT_CHANNELS["Mixed_4e"] == 528 and ENDPOINT_CHANNELS["Mixed_4f"] == 832
    assert ENDPOINT_CHANNELS["Mixed_3c"] == 480 and ENDPOINT_CHANNELS["Mixed_5c"] == 1024


def test_split_run_equals_one_run():
    torch.manual_seed(1)
    model = I3D(3, final_endpoint="Mixed_4f").eval()
    x = torch.randn(1, 3, 8, 48, 48)
    with torch.no_grad():
        full = model(x, end="Mixed_4f")
        cached = model(x, end="Mixed_4e")
        tail = model(cached, start="Mixed_4f", end="Mixed_4f")
        alone = model.block("Mixed_4f")(cached)
    assert full.shape == (1, 832, 2, 3, 3)
    # The same kernels on the same shapes; a tolerance all the same, since no algebra makes
    # two runs of a convolution bit-identical on every CPU.
    torch.testing.assert_close(tail, full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(alone, full, rtol=1e-5, atol=1e-6)


def test_build_mixed_4f_is_the_block():
    block = build_mixed_4f()
    assert sum(p.numel() for p in block.parameters()) == sum(
        p.numel() for p in I3D(3, final_endpoint="Mixed_4f").block("Mixed_4f").parameters())
    out = block(torch.randn(2, 528, 2, 3, 3))
    assert out.shape == (2, 832, 2, 3, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in block.parameters())


def test_wrong_input_channels_and_endpoints():
    model = I3D(3, final_endpoint="Mixed_4e")
    with pytest.raises(InvalidShapeError, match="Mixed_4b"):
        model(torch.randn(1, 528, 2, 4, 4), start="Mixed_4b")
    with pytest.raises(ValueError, match="Mixed_4f"):
        model(torch.randn(1, 528, 2, 4, 4), start="Mixed_4f")
    with pytest.raises(ValueError, match="comes after"):
        model(torch.randn(1, 480, 2, 4, 4), start="Mixed_4d", end="Mixed_4b")
    with pytest.raises(KeyError):
        model.block("Mixed_5b")


def test_same_padding_matches_explicit_pad():
    # Conv3d_1a_7x7 on T=16, 64x64: TF SAME pads 2 before / 3 after on every axis
    torch.manual_seed(2)
    model = I3D(3, final_endpoint="Conv3d_1a_7x7").eval()
    unit = model.block("Conv3d_1a_7x7")
    x = torch.randn(1, 3, 16, 64, 64)
    ref = torch.nn.functional.conv3d(torch.nn.functional.pad(x, (2, 3, 2, 3, 2, 3)),
                                     unit.conv3d.weight, stride=2)
    ref = torch.relu(unit.bn(ref))
    with torch.no_grad():
        assert torch.allclose(model(x), ref, atol=1e-5)
    # and the temporal pool of MaxPool3d_4a_3x3 on an even length pads 0 before / 1 after
    pool = I3D(3, final_endpoint="MaxPool3d_4a_3x3").block("MaxPool3d_4a_3x3")
    y = torch.rand(1, 1, 4, 4, 4)
    expected = torch.nn.functional.max_pool3d(torch.nn.functional.pad(y, (0, 1, 0, 1, 0, 1)), 3, 2)
    assert torch.equal(pool(y), expected)


def test_batchnorm_settings():
    bn = I3D(3, final_endpoint="Conv3d_2b_1x1").block("Conv3d_2b_1x1").bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)
    assert build_mixed_4f(bn_eps=1e-5, bn_momentum=0.1).b1b.bn.eps == 1e-5
    assert I3D(3, final_endpoint="Conv3d_1a_7x7").block("Conv3d_1a_7x7").conv3d.bias is None


# --- preprocessing ----------------------------------------------------------------------------

def test_preprocess_rgb_values():
    frames = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    frames[0, 0, 0] = (0, 255, 51)
    frames[1, 2, 3] = (128, 1, 254)
    x = preprocess_rgb(frames)
    assert x.shape == (3, 2, 3, 4) and x.dtype == torch.float32
    assert x[:, 0, 0, 0].tolist() == pytest.approx([-1.0, 1.0, 51 / 127.5 - 1], abs=1e-6)
    assert x[:, 1, 2, 3].tolist() == pytest.approx([128 / 127.5 - 1, 1 / 127.5 - 1,
                                                    254 / 127.5 - 1], abs=1e-6)
    assert x[0, 1, 0, 0].item() == -1.0
    batched = preprocess_rgb(np.stack([frames, frames[::-1]]))  # (2, T, H, W, 3) -> (2, 3, T, H, W)
    assert batched.shape == (2, 3, 2, 3, 4)
    assert torch.equal(batched[0], x) and torch.equal(batched[1, :, 0], x[:, 1])
    with pytest.raises(TypeError):
        preprocess_rgb(frames.astype(np.float32))
    with pytest.raises(InvalidShapeError):
        preprocess_rgb(np.zeros((2, 3, 4), dtype=np.uint8))


def test_preprocess_flow_values():
    flow = np.zeros((1, 2, 2, 2), dtype=np.float32)
    flow[0, 0, 0] = (-35.0, 10.0)
    flow[0, 1, 1] = (20.0, -5.0)
    y = preprocess_flow(flow)
    assert y.shape == (2, 1, 2, 2)
    assert y[:, 0, 0, 0].tolist() == pytest.approx([-1.0, 0.5])
    assert y[:, 0, 1, 1].tolist() == pytest.approx([1.0, -0.25])
    with pytest.raises(InvalidShapeError):
        preprocess_flow(np.zeros((1, 2, 2, 3), dtype=np.float32))


# --- checkpoints ------------------------------------------------------------------------------

def _bn_ref(sd, unit, bn, x, eps):
    return (x - sd[f"{unit}.{bn}.running_mean"].view(-1, 1, 1, 1)) / torch.sqrt(
        sd[f"{unit}.{bn}.running_var"].view(-1, 1, 1, 1) + eps) + sd[f"{unit}.{bn}.bias"].view(
        -1, 1, 1, 1)


def test_load_pytorch_i3d_file(tmp_path):
    sd = _public_state_dict(3)
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(sd, path)
    model = I3D(3, final_endpoint="Logits")
    report = load_i3d_weights(model, path)
    assert report.layout == "pytorch_i3d"
    assert report.loaded == 287 and report.ignored == {} and report.missing == []
    mine = model.state_dict()
    for key, value in sd.items():
        assert torch.equal(mine[key], value), key


def test_load_truncated_model_reports_ignored(tmp_path):
    sd = _public_state_dict(2, batches_tracked=True)
    path = tmp_path / "flow_imagenet.pt"
    torch.save(sd, path)
    model = build_i3d("flow", final_endpoint="Mixed_4e", weights=path)
    assert not model.training
    report = load_i3d_weights(model, path)
    ignored_endpoints = {k.split(".")[0] for k in report.ignored}
    assert ignored_endpoints == {"Mixed_4f", "Mixed_5b", "Mixed_5c", "logits"}
    assert report.loaded == (3 + 6 * 6) * 6  # stem + Mixed_3b..4e units, 6 tensors each
    assert torch.equal(model.block("Mixed_4e").b2b.conv3d.weight, sd["Mixed_4e.b2b.conv3d.weight"])


def test_load_single_block_and_numerics():
    sd = _public_state_dict(3, seed=3)
    block = build_mixed_4f()
    report = load_i3d_weights(block, sd, block="Mixed_4f")
    assert report.loaded == 6 * 5
    assert torch.equal(block.b3b.conv3d.weight, sd["Mixed_4f.b3b.conv3d.weight"])
    # check one branch against a hand computation: b0 = relu(BN(conv1x1(x)))
    block.eval()
    x = torch.randn(1, 528, 2, 3, 3)
    w = sd["Mixed_4f.b0.conv3d.weight"]
    ref = torch.relu(_bn_ref(sd, "Mixed_4f.b0", "bn",
                             torch.einsum("oi,bithw->bothw", w[:, :, 0, 0, 0], x), 1e-3))
    with torch.no_grad():
        assert torch.allclose(block(x)[:, :256], ref, atol=1e-4)


def test_load_release_layout(tmp_path):
    rel = _public_state_dict(3, release=True, batches_tracked=True, seed=4)
    assert detect_i3d_layout(rel) == "release"
    remapped = remap_release_i3d(rel)
    assert remapped["Mixed_4f.b1b.bn.running_var"] is rel["mixed_4f.branch_1.1.batch3d.running_var"]
    assert remapped["logits.conv3d.bias"] is rel["conv3d_0c_1x1.conv3d.bias"]
    assert remapped["Conv3d_1a_7x7.conv3d.weight"] is rel["conv3d_1a_7x7.conv3d.weight"]

    path = tmp_path / "i3d_rgb.pth"
    torch.save(rel, path)
    model = I3D(3)
    report = load_i3d_weights(model, path)
    assert report.layout == "release" and report.loaded == len(rel) and not report.ignored
    assert torch.equal(model.Mixed_3c.b2b.bn.running_mean,
                       rel["mixed_3c.branch_2.1.batch3d.running_mean"])


def test_load_release_acga_checkpoint(tmp_path):
    rel = _public_state_dict(3, release=True, seed=5)
    ckpt = {"epoch": 9, "optimizer": {"state": {}, "param_groups": []},
            "state_dict": {**{f"module.video_model.model.{k}": v for k, v in rel.items()},
                           "module.txt_model.0.weight": torch.zeros(300, 300, 3),
                           "module.conv_fusion.bias": torch.zeros(1)}}
    path = tmp_path / "acga_release.pth.tar"
    torch.save(ckpt, path)
    block = build_mixed_4f(bn_eps=1e-5, bn_momentum=0.1)
    report = load_i3d_weights(block, path, block="Mixed_4f")
    assert report.loaded == 30
    assert torch.equal(block.b0.conv3d.weight, rel["mixed_4f.branch_0.conv3d.weight"])
    assert "not part of the I3D" in report.ignored["module.txt_model.0.weight"]
    assert {"epoch", "optimizer"} <= set(report.ignored)


def test_shape_mismatch_is_refused_with_key(tmp_path):
    sd = _public_state_dict(3)
    sd["Mixed_4c.b1b.conv3d.weight"] = torch.zeros(224, 112, 1, 3, 3)
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"bad\.pt.*Mixed_4c\.b1b\.conv3d\.weight"):
        load_i3d_weights(I3D(3), path)


def test_flow_file_into_rgb_model_hints_modality():
    with pytest.raises(CheckpointError, match="flow"):
        load_i3d_weights(I3D(3, final_endpoint="Mixed_4e"), _public_state_dict(2))


def test_missing_and_extra_keys_are_refused(tmp_path):
    sd = _public_state_dict(3)
    del sd["Mixed_4e.b3b.bn.running_var"]
    with pytest.raises(CheckpointError, match=r"missing keys: Mixed_4e\.b3b\.bn\.running_var"):
        load_i3d_weights(I3D(3), sd)
    # strict=False loads the rest and reports the gap
    report = load_i3d_weights(I3D(3), sd, strict=False)
    assert report.missing == ["Mixed_4e.b3b.bn.running_var"]

    sd = _public_state_dict(3)
    sd["Mixed_4e.b4.conv3d.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected keys: Mixed_4e\.b4\.conv3d\.weight"):
        load_i3d_weights(I3D(3), sd)
    sd = _public_state_dict(3)
    sd["extra_head.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected keys: extra_head\.weight"):
        load_i3d_weights(I3D(3), sd)


def test_charades_logits_need_ignore():
    sd = _public_state_dict(3, num_classes=157)
    with pytest.raises(CheckpointError, match=r"logits\.conv3d\.weight: file \(157, 1024"):
        load_i3d_weights(I3D(3), sd)
    report = load_i3d_weights(I3D(3), sd, ignore={"Logits"})
    assert set(report.ignored) == {"logits.conv3d.weight", "logits.conv3d.bias"}
    load_i3d_weights(I3D(3, num_classes=157), sd)  # or build the 157-class head


def test_foreign_and_unreadable_files(tmp_path):
    with pytest.raises(CheckpointError, match="not an I3D checkpoint"):
        load_i3d_weights(I3D(3), {"features.0.conv.weight": torch.zeros(64, 3, 7, 7, 7)})
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_i3d_weights(I3D(3), bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_i3d_weights(I3D(3), tmp_path / "nope.pt")


def test_dataparallel_prefix_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    sd = _public_state_dict(3, seed=6)
    model = I3D(3, final_endpoint="Mixed_4e")
    load_i3d_weights(model, {f"module.{k}": v for k, v in sd.items()})
    assert torch.equal(model.Conv3d_2c_3x3.bn.bias, sd["Conv3d_2c_3x3.bn.bias"])
    path = tmp_path / "rgb.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    model = I3D(3, final_endpoint="Mixed_4e")
    load_i3d_weights(model, path)
    assert torch.equal(model.Mixed_4b.b0.conv3d.weight, sd["Mixed_4b.b0.conv3d.weight"])


@pytest.mark.slow
def test_paper_shape_16x512():
    model = I3D(3, final_endpoint="Mixed_4f").eval()
    with torch.no_grad():
        out = model.forward_endpoints(torch.randn(1, 3, 16, 512, 512), ["Mixed_4e", "Mixed_4f"])
    assert out["Mixed_4e"].shape == (1, 528, 4, 32, 32)
    assert out["Mixed_4f"].shape == (1, 832, 4, 32, 32)


def test_extract_and_segment_build_the_same_random_fallback_i3d():
    """Without I3D weights, `acga segment` must see the features `acga extract` cached."""
    from acga.extract import _build_model
    from acga.models.i3d_net import TF_BN_EPS
    from acga.segment import _random_i3d

    torch.manual_seed(123)  # the callers' global RNG state must not matter ...
    ext = _build_model("rgb", None, torch.device("cpu"), TF_BN_EPS)
    before = torch.random.get_rng_state()
    seg = _random_i3d()
    assert torch.equal(torch.random.get_rng_state(), before)  # ... nor be consumed
    sd_e, sd_s = ext.state_dict(), seg.state_dict()
    assert sd_e.keys() == sd_s.keys() and len(sd_e) > 100
    for k in sd_e:
        assert torch.equal(sd_e[k], sd_s[k]), k
    assert not ext.training and not seg.training
    x = torch.linspace(-1, 1, 3 * 8 * 32 * 32).reshape(1, 3, 8, 32, 32)
    with torch.inference_mode():
        fe, fs = ext(x), seg(x)
    assert fe.shape == (1, 528, 2, 2, 2)
    assert torch.equal(fe, fs)


def test_random_fallback_i3d_is_seeded_with_2019():
    from acga.models.i3d import RANDOM_I3D_SEED, build_random_i3d

    assert RANDOM_I3D_SEED == 2019  # feature caches made without weights depend on it
    torch.manual_seed(2019)
    ref = build_i3d("rgb", final_endpoint="Mixed_4e")
    got = build_random_i3d("rgb")
    for k, v in ref.state_dict().items():
        assert torch.equal(v, got.state_dict()[k]), k
