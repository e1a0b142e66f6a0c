"""Converting the authors' released checkpoint (haowang1992/ACGA) and checking the converted model
against an independent re-implementation of the release's forward pass.

The fake checkpoint is built from the key names and shapes of the release, written out below
from its ``model/acga.py`` (module names, ``opt`` defaults of ``main.py``: dim_semantic 300,
dim_spatial 8, dim_visual_small/medium/large 832/256/128) and ``model/pytorch_i3d.py``
(``Unit3Dpy`` = ``conv3d`` + ``batch3d``; ``Mixed`` branches ``branch_0``, ``branch_1.0/1.1``,
``branch_2.0/2.1``, ``branch_3.1``), saved like the release (``torch.save`` of
``{'epoch', 'state_dict', 'optimizer'}``, keys under ``module.``, PyTorch 1.4's legacy format).

The reference forward (:func:`release_forward`) uses ``torch.nn.functional`` only, following the
release's ``ACGA.forward`` / ``AttentionLayer.forward`` / ``Mixed.forward`` line by line (Mixed_4f
is written by hand too), reading the weights by the release's key names: none of our modules.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from acga.checkpoint import load_checkpoint, load_model_weights
from acga.cli.main import main
from acga.config import apply_overrides, config_from_dict
from acga.convert import convert_official_checkpoint, remap_official
from acga.errors import CheckpointError
from acga.models import build_model

# ------------------------------------------------------------------ the release's keys and shapes

# (release I3D block, in channels, (b0, b1a, b1b, b2a, b2b, b3b)), pytorch_i3d.py
_MIXED = {
    "mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def _unit(prefix: str, cin: int, cout: int, k: int) -> dict[str, tuple[int, ...]]:
    """Unit3Dpy: conv3d (no bias) + batch3d (BatchNorm3d, PyTorch >= 0.4.1 has the counter)."""
    return {f"{prefix}.conv3d.weight": (cout, cin, k, k, k),
            f"{prefix}.batch3d.weight": (cout,), f"{prefix}.batch3d.bias": (cout,),
            f"{prefix}.batch3d.running_mean": (cout,), f"{prefix}.batch3d.running_var": (cout,),
            f"{prefix}.batch3d.num_batches_tracked": ()}


def _mixed(prefix: str, cin: int, w: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {**_unit(f"{prefix}.branch_0", cin, w[0], 1),
            **_unit(f"{prefix}.branch_1.0", cin, w[1], 1),
            **_unit(f"{prefix}.branch_1.1", w[1], w[2], 3),
            **_unit(f"{prefix}.branch_2.0", cin, w[3], 1),
            **_unit(f"{prefix}.branch_2.1", w[3], w[4], 3),
            **_unit(f"{prefix}.branch_3.1", cin, w[5], 1)}


def release_keys() -> dict[str, tuple[int, ...]]:
    """module.* key -> shape: every ACGA key of the release, and a few of its I3D blocks besides
    mixed_4f (the stem's first unit, mixed_4e, mixed_5c, the logits) that must be dropped."""
    i3d = "video_model.model"
    keys: dict[str, tuple[int, ...]] = {
        **_unit(f"{i3d}.conv3d_1a_7x7", 3, 64, 7),
        **{k: v for name, (cin, w) in _MIXED.items()
           for k, v in _mixed(f"{i3d}.{name}", cin, w).items()},
        f"{i3d}.conv3d_0c_1x1.conv3d.weight": (400, 1024, 1, 1, 1),
        f"{i3d}.conv3d_0c_1x1.conv3d.bias": (400,),
        "txt_model.0.weight": (300, 300, 3), "txt_model.0.bias": (300,),
        "attention_layer.video_reduce.weight": (300, 840),
        "attention_layer.video_reduce.bias": (300,),
        "attention_layer.video_linearK.weight": (840, 840),
        "attention_layer.video_linearK.bias": (840,),
        "attention_layer.video_linearQ.weight": (840, 840),
        "attention_layer.video_linearQ.bias": (840,),
        "attention_layer.video_linearV.weight": (840, 840),
        "attention_layer.video_linearV.bias": (840,),
        "attention_layer.txt_increase.weight": (840, 300),
        "attention_layer.txt_increase.bias": (840,),
        "deconv_small.0.weight": (832, 256, 8, 8), "deconv_small.0.bias": (256,),
        "deconv_small.1.weight": (256, 256, 3, 3), "deconv_small.1.bias": (256,),
        "conv_mask_small.0.weight": (256, 832 + 8 + 300, 3, 3), "conv_mask_small.0.bias": (256,),
        "conv_mask_small.2.weight": (256, 256, 3, 3), "conv_mask_small.2.bias": (256,),
        "conv_mask_small.4.weight": (1, 256, 1, 1), "conv_mask_small.4.bias": (1,),
        "deconv_medium.0.weight": (256, 128, 8, 8), "deconv_medium.0.bias": (128,),
        "deconv_medium.1.weight": (128, 128, 3, 3), "deconv_medium.1.bias": (128,),
        "conv_mask_medium.0.weight": (128, 256 + 8 + 300, 3, 3), "conv_mask_medium.0.bias": (128,),
        "conv_mask_medium.2.weight": (128, 128, 3, 3), "conv_mask_medium.2.bias": (128,),
        "conv_mask_medium.4.weight": (1, 128, 1, 1), "conv_mask_medium.4.bias": (1,),
        "conv_mask_large.0.weight": (64, 128 + 8 + 300, 3, 3), "conv_mask_large.0.bias": (64,),
        "conv_mask_large.2.weight": (64, 64, 3, 3), "conv_mask_large.2.bias": (64,),
        "conv_mask_large.4.weight": (1, 64, 1, 1), "conv_mask_large.4.bias": (1,),
        "conv_fusion.weight": (1, 3, 3, 3), "conv_fusion.bias": (1,),
    }
    return {f"module.{k}": v for k, v in keys.items()}


# Standard deviations of the attention weights and of the text encoder (the others are
# He-scaled): large enough that the attention over pixels is far from uniform and asymmetric (so a
# transposed score matrix shows), small enough that nothing saturates.
_STD = {"attention_layer.video_linearK": 0.15, "attention_layer.video_linearQ": 0.15,
        "attention_layer.txt_increase": 0.2, "attention_layer.video_reduce": 1.0,
        "txt_model.0": 0.1}


def make_release_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for key, shape in release_keys().items():
        if key.endswith("num_batches_tracked"):
            sd[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith("running_var"):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(("batch3d.weight",)):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith("running_mean"):
            sd[key] = torch.randn(shape, generator=g) * 0.1
        else:
            module = key[len("module."):].rsplit(".", 1)[0]
            if key.endswith(".bias"):
                sd[key] = torch.randn(shape, generator=g) * 0.05
            else:
                fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
                if ".0.weight" in key and ("deconv" in key):
                    fan_in = shape[0] * 4  # transposed conv: (in, out, k, k), ~4 taps per output
                std = _STD.get(module, math.sqrt(2.0 / fan_in))
                sd[key] = torch.randn(shape, generator=g) * std
    return sd


def _optimizer_state(sd: dict[str, torch.Tensor]) -> dict:
    """Adam's state_dict as PyTorch 1.4 writes it: int param ids, int step, plain groups."""
    state = {i: {"step": 4000, "exp_avg": torch.zeros(3), "exp_avg_sq": torch.ones(3)}
             for i in range(3)}
    groups = [{"lr": 5e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
               "amsgrad": False, "params": [i]} for i in range(3)]
    return {"state": state, "param_groups": groups}


# ------------------------------------------------------------------ the release's forward, by hand

def _spatial(h: int, w: int) -> torch.Tensor:
    """util/tool.py get_video_spatial_feature: (8, h, w)."""
    out = np.zeros((8, h, w), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            xmin, xmax = x / w * 2 - 1, (x + 1) / w * 2 - 1
            ymin, ymax = y / h * 2 - 1, (y + 1) / h * 2 - 1
            out[:, y, x] = [xmin, ymin, xmax, ymax, (xmin + xmax) / 2, (ymin + ymax) / 2,
                            1 / w, 1 / h]
    return torch.from_numpy(out)


def _unit3d(sd, prefix: str, x: torch.Tensor) -> torch.Tensor:
    """Unit3Dpy with SAME padding for stride 1 (k=1: none; k=3: 1 each side), BN eps 1e-5."""
    w = sd[f"{prefix}.conv3d.weight"]
    x = F.conv3d(x, w, None, 1, w.shape[-1] // 2)
    x = F.batch_norm(x, sd[f"{prefix}.batch3d.running_mean"], sd[f"{prefix}.batch3d.running_var"],
                     sd[f"{prefix}.batch3d.weight"], sd[f"{prefix}.batch3d.bias"], False, 0.1, 1e-5)
    return F.relu(x)


def _mixed_4f(sd, x: torch.Tensor) -> torch.Tensor:
    p = "module.video_model.model.mixed_4f"
    b0 = _unit3d(sd, f"{p}.branch_0", x)
    b1 = _unit3d(sd, f"{p}.branch_1.1", _unit3d(sd, f"{p}.branch_1.0", x))
    b2 = _unit3d(sd, f"{p}.branch_2.1", _unit3d(sd, f"{p}.branch_2.0", x))
    # MaxPool3dTFPadding(3, stride 1): ConstantPad3d(1, 0) then MaxPool3d(3, 1, ceil_mode=True)
    pooled = F.max_pool3d(F.pad(x, (1, 1, 1, 1, 1, 1), value=0.0), 3, 1, ceil_mode=True)
    b3 = _unit3d(sd, f"{p}.branch_3.1", pooled)
    return torch.cat([b0, b1, b2, b3], dim=1)


def _conv_mask(sd, name: str, x: torch.Tensor) -> torch.Tensor:
    p = f"module.{name}"
    x = F.relu(F.conv2d(x, sd[f"{p}.0.weight"], sd[f"{p}.0.bias"], padding=1))
    x = F.relu(F.conv2d(x, sd[f"{p}.2.weight"], sd[f"{p}.2.bias"], padding=1))
    return F.conv2d(x, sd[f"{p}.4.weight"], sd[f"{p}.4.bias"])


def _deconv(sd, name: str, x: torch.Tensor) -> torch.Tensor:
    p = f"module.{name}"
    x = F.conv_transpose2d(x, sd[f"{p}.0.weight"], sd[f"{p}.0.bias"], stride=4, padding=2)
    return F.conv2d(x, sd[f"{p}.1.weight"], sd[f"{p}.1.bias"], padding=1)


def release_forward(sd, video: torch.Tensor, words: torch.Tensor, sizes: tuple[int, int, int]):
    """The release's ACGA.forward: video (N, 528, T, s, s) Mixed_4e, words (N, 20, 300)."""
    small, medium, large = sizes
    sp_s, sp_m, sp_l = (_spatial(r, r)[None].expand(video.shape[0], -1, -1, -1) for r in sizes)
    a = "module.attention_layer"

    video = F.normalize(_mixed_4f(sd, video).mean(-3), p=2, dim=1)  # (N, 832, s, s)
    txt = torch.tanh(F.conv1d(words.permute(0, 2, 1), sd["module.txt_model.0.weight"],
                              sd["module.txt_model.0.bias"], padding=1))  # (N, 300, 20)
    # AttentionLayer.forward
    vs = torch.cat((video, spatial := sp_s), dim=1).permute(0, 2, 3, 1).reshape(-1, 840)
    n = video.shape[0]
    reduce = F.linear(vs, sd[f"{a}.video_reduce.weight"], sd[f"{a}.video_reduce.bias"])
    reduce = reduce.view(n, small * small, 300)
    txt_score = F.softmax(torch.bmm(reduce, txt) / 300 ** 0.5, dim=-1)
    weighted_txt = torch.bmm(txt_score, txt.permute(0, 2, 1)).view(n, small, small, 300)
    weighted_txt = weighted_txt.permute(0, 3, 1, 2)  # (N, 300, s, s)
    gate = F.linear(F.max_pool1d(txt, 20).squeeze(-1), sd[f"{a}.txt_increase.weight"],
                    sd[f"{a}.txt_increase.bias"])[:, None, :]  # (N, 1, 840)
    def proj(name: str) -> torch.Tensor:  # (N, s*s, 840)
        return F.linear(vs, sd[f"{a}.{name}.weight"], sd[f"{a}.{name}.bias"]).view(n, -1, 840)

    key = proj("video_linearK") * gate
    query = proj("video_linearQ") * gate
    value = proj("video_linearV")
    video_score = F.softmax(torch.bmm(key, query.permute(0, 2, 1)) / 840 ** 0.5, dim=-1)
    weighted_video = torch.bmm(video_score, value).view(n, small, small, 840).permute(0, 3, 1, 2)
    video_attn = weighted_video[:, :832]
    # decoder
    r_s = _conv_mask(sd, "conv_mask_small", torch.cat((video_attn, weighted_txt, spatial), dim=1))
    d_s = _deconv(sd, "deconv_small", video_attn)
    txt_m = F.interpolate(weighted_txt, size=d_s.shape[2:], mode="bilinear")
    r_m = _conv_mask(sd, "conv_mask_medium", torch.cat((d_s, txt_m, sp_m), dim=1))
    d_m = _deconv(sd, "deconv_medium", d_s)
    txt_l = F.interpolate(weighted_txt, size=d_m.shape[2:], mode="bilinear")
    r_l = _conv_mask(sd, "conv_mask_large", torch.cat((d_m, txt_l, sp_l), dim=1))
    up = lambda r: F.interpolate(r, size=r_l.shape[2:], mode="bilinear")  # noqa: E731
    fused = F.conv2d(torch.cat((up(r_s), up(r_m), r_l), dim=1), sd["module.conv_fusion.weight"],
                     sd["module.conv_fusion.bias"], padding=1)
    return {"S": r_s, "M": r_m, "L": r_l, "final": fused, "pixels": video_score, "words": txt_score}


# ------------------------------------------------------------------ fixtures

SMALL = ["model.resolutions=[4,16,64]", "model.input_size=64"]


@pytest.fixture(scope="module")
def release_sd() -> dict[str, torch.Tensor]:
    return make_release_state_dict()


@pytest.fixture(scope="module")
def converted(tmp_path_factory, release_sd):
    tmp = tmp_path_factory.mktemp("official")
    src = tmp / "model_best.pth.tar"
    # PyTorch 1.4 (the release's) wrote the legacy, non-zip format
    torch.save({"epoch": 9, "state_dict": release_sd, "optimizer": _optimizer_state(release_sd)},
               src, _use_new_zipfile_serialization=False)
    dst = tmp / "acga_official.safetensors"
    report = convert_official_checkpoint(src, dst)
    return src, dst, report


def _inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    video = torch.relu(torch.randn(1, 528, 2, 4, 4, generator=g))  # Mixed_4e (post-ReLU)
    words = torch.zeros(1, 20, 300)
    words[:, :7] = torch.randn(1, 7, 300, generator=g) * 0.3  # 7 words, zero-padded
    return video, words


def _our_model(dst, overrides=()):
    ckpt = load_checkpoint(dst)
    cfg = config_from_dict(apply_overrides(ckpt.config, [*SMALL, *overrides]))
    model = build_model(cfg).eval()
    load_model_weights(model, ckpt)
    return model, ckpt


# ------------------------------------------------------------------ tests

@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_converted_model_matches_the_release_forward(converted, release_sd, impl):
    _, dst, _ = converted
    model, _ = _our_model(dst, [f"model.decoder_impl={impl}"])
    video, words = _inputs()
    with torch.no_grad():
        ours = model(video, words, return_attention=True)
        ref = release_forward(release_sd, video, words, (4, 16, 64))
    for name in ("S", "M", "L", "final"):
        assert ours[name].shape == ref[name].shape, name
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-4, atol=1e-4, msg=name)
    torch.testing.assert_close(ours["att_pixels"], ref["pixels"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours["att_words"], ref["words"], rtol=1e-4, atol=1e-5)
    # the attention is far from uniform and asymmetric, so a transposed score matrix would show
    assert ref["pixels"].max() > 0.2 and ref["words"].max() > 0.2
    # the responses are not trivial: they vary over the map
    assert ref["final"].std() > 1e-2 and ref["S"].std() > 1e-2


@pytest.mark.parametrize("override", ["model.lgva_scores=query_key",
                                      "model.concat_order=video_coords_text",
                                      "model.coords=interp"])
def test_reference_tells_release_conventions_apart(converted, override):
    """Guard: with any one release convention switched off, our model no longer matches the
    reference, so the comparison above really checks that convention."""
    _, dst, _ = converted
    released, _ = _our_model(dst)
    other, _ = _our_model(dst, [override])
    video, words = _inputs()
    with torch.no_grad():
        a, b = released(video, words)["final"], other(video, words)["final"]
    assert (a - b).abs().max() > 1e-3


def test_converted_checkpoint_metadata(converted, release_sd):
    src, dst, report = converted
    ckpt = load_checkpoint(dst)
    assert ckpt.state["epoch"] == 9
    assert ckpt.state["source"] == "haowang1992/ACGA"
    assert ckpt.state["converted_from"] == "model_best.pth.tar"
    m = ckpt.config["model"]
    assert (m["lgva_value_channels"], m["lgva_scores"], m["coords"], m["concat_order"]) == \
        (832, "key_query", "native", "video_text_coords")
    assert m["mixed_4f_bn_eps"] == 1e-5 and m["resolutions"] == [32, 128, 512]
    assert not ckpt.optim and not ckpt.rng
    # every tensor of our model came from the file, unchanged
    assert set(ckpt.model) == set(build_model(config_from_dict(ckpt.config)).state_dict())
    torch.testing.assert_close(
        ckpt.model["decoder.deconv_medium.0.weight"], release_sd["module.deconv_small.0.weight"],
        rtol=0, atol=0)
    torch.testing.assert_close(
        ckpt.model["visual.streams.0.b1b.bn.running_var"],
        release_sd["module.video_model.model.mixed_4f.branch_1.1.batch3d.running_var"],
        rtol=0, atol=0)
    # report: the other I3D blocks and the optimizer are dropped; nothing untested happened
    assert report.epoch == 9 and report.modality == "rgb" and not report.warnings
    assert report.mapped == len(ckpt.model)
    blocks = {k.split(".")[3] for k in report.dropped if k.startswith("module.video_model")}
    assert blocks == {"conv3d_1a_7x7", "mixed_4e", "mixed_5c", "conv3d_0c_1x1"}
    assert "optimizer" in report.dropped
    assert not any(".mixed_4f." in k for k in report.dropped)


def test_remap_is_pure_and_accepts_bare_keys(release_sd):
    before = {k: v.clone() for k, v in list(release_sd.items())[:3]}
    out = remap_official(release_sd)
    assert list(release_sd)[:3] == list(before) and all(
        torch.equal(release_sd[k], v) for k, v in before.items())
    assert out["text_encoder.conv.weight"] is release_sd["module.txt_model.0.weight"]
    att = "module.attention_layer"
    assert out["vision_attention.key.weight"] is release_sd[f"{att}.video_linearK.weight"]
    assert out["vision_attention.query.weight"] is release_sd[f"{att}.video_linearQ.weight"]
    bare = remap_official({k[len("module."):]: v for k, v in release_sd.items()})
    assert bare.keys() == out.keys()


def test_num_batches_tracked_is_optional(release_sd):
    sd = {k: v for k, v in release_sd.items() if not k.endswith("num_batches_tracked")}
    out = remap_official(sd)
    assert "visual.streams.0.b0.bn.weight" in out
    assert not any(k.endswith("num_batches_tracked") for k in out)


def test_missing_key_is_refused_by_name(release_sd):
    sd = dict(release_sd)
    del sd["module.attention_layer.video_linearV.bias"]
    del sd["module.video_model.model.mixed_4f.branch_2.1.conv3d.weight"]
    with pytest.raises(CheckpointError) as err:
        remap_official(sd, source="ckpt.pth.tar")
    msg = str(err.value)
    assert "ckpt.pth.tar" in msg
    assert "module.attention_layer.video_linearV.bias" in msg
    assert "vision_attention.value.bias" in msg
    assert ("module.video_model.model.mixed_4f.branch_2.1.conv3d.weight -> "
            "visual.streams.0.b2b.conv3d.weight") in msg


def test_wrong_shape_is_refused_by_name(release_sd):
    sd = dict(release_sd)
    sd["module.conv_mask_small.0.weight"] = torch.zeros(256, 832 + 300, 3, 3)  # no coords
    with pytest.raises(CheckpointError) as err:
        remap_official(sd, source="ckpt.pth.tar")
    msg = str(err.value)
    assert "module.conv_mask_small.0.weight" in msg and "decoder.head.S.0.weight" in msg
    assert "(256, 1132, 3, 3)" in msg and "(256, 1140, 3, 3)" in msg


def test_unknown_key_is_refused(release_sd):
    sd = dict(release_sd)
    sd["module.attention_layer.extra_gate.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="extra_gate"):
        remap_official(sd)


def test_non_checkpoint_files_are_refused(tmp_path):
    text = tmp_path / "notes.pth.tar"
    text.write_text("not a checkpoint\n")
    with pytest.raises(CheckpointError, match="notes.pth.tar"):
        convert_official_checkpoint(text, tmp_path / "out.safetensors")
    other = tmp_path / "other.pth"
    torch.save({"model": [1, 2, 3]}, other)
    with pytest.raises(CheckpointError, match="not the authors' checkpoint"):
        convert_official_checkpoint(other, tmp_path / "out.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        convert_official_checkpoint(tmp_path / "missing.pth.tar", tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_weights_only_refusal_explains(tmp_path):
    path = tmp_path / "pickled.pth.tar"
    torch.save({"epoch": 9, "state_dict": {}, "optimizer": {}, "args": _Opaque()}, path)
    with pytest.raises(CheckpointError, match=r"holds a Python object of type \S*_Opaque") as err:
        convert_official_checkpoint(path, tmp_path / "out.safetensors")
    # what the file is and what to pass instead; never the advice to load it unsafely
    assert "no code from a file runs" in str(err.value) and "model_best.pth.tar" in str(err.value)
    assert "weights_only=False" not in str(err.value) and "False" not in str(err.value)


class _Opaque:
    """A class weights_only refuses to unpickle."""


def test_cli_errors_in_one_line(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert main(["convert-official", str(text), "--out", str(tmp_path / "o.safetensors")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("acga convert-official: error:")


def test_cli_converts(converted, tmp_path, capsys):
    src, _, _ = converted
    out = tmp_path / "acga_official.safetensors"
    assert main(["convert-official", str(src), "data.cache=cache/a2d_rgb", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 9" in printed and "mixed_4e" in printed and "mixed_4f" not in printed
    ckpt = load_checkpoint(out)
    assert ckpt.config["data"]["cache"] == "cache/a2d_rgb"
    assert ckpt.config["model"]["lgva_scores"] == "key_query"


def test_untested_paths_convert_with_warnings(release_sd, tmp_path, caplog):
    """A bare state dict without ``module.`` whose I3D takes flow: converted, each path logged."""
    sd = {k[len("module."):]: v for k, v in release_sd.items()}
    sd["video_model.model.conv3d_1a_7x7.conv3d.weight"] = torch.zeros(64, 2, 7, 7, 7)
    src = tmp_path / "bare.pth"
    torch.save(sd, src)
    with caplog.at_level("WARNING", logger="acga.convert"):
        report = convert_official_checkpoint(src, tmp_path / "out.safetensors")
    assert report.modality == "flow" and report.epoch is None and len(report.warnings) == 3
    assert len([r for r in caplog.records if "untested" in r.getMessage()]) == 3
    assert load_checkpoint(tmp_path / "out.safetensors").config["model"]["modality"] == "flow"
