"""Baselines on ACGA's pipeline: shapes, gradients, hand-computed filters, parameter counts."""

from __future__ import annotations

import math

import pytest
import torch

from acga.config import load_config
from acga.errors import ConfigError
from acga.losses import segmentation_loss
from acga.models import build_model, parameter_table
from acga.models.baselines.base import DynamicFilter, bilinear_upsampling
from acga.models.baselines.cmsa import CrossModalSelfAttention
from acga.models.baselines.gavrilyuk import GavrilyukTwoStream

BASELINES = ["baselines/gavrilyuk_rgb", "baselines/gavrilyuk_rgb_flow", "baselines/hu",
             "baselines/li", "baselines/cmsa"]

# A reduced size of the paper configuration: same code and the real Mixed_4f, 64x64 input,
# 4x4 features, 2 Mixed_4e time steps.
SMALL = [
    "model.resolutions=[4,16,64]", "model.input_size=64", "model.deconv_dims=[8,8]",
    "model.word_dim=12", "model.num_words=6", "baseline.lstm_hidden=10",
    "baseline.classifier_width=6", "baseline.cmsa_dim=8", "baseline.cmsa_key_dim=4",
]


def _inputs(cfg, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = cfg.model
    streams = 2 if m.modality == "rgb+flow" else 1
    r1 = m.resolutions[0]
    visual = torch.randn(batch, streams * m.backbone_in_channels, 2, r1, r1, generator=g)
    words = torch.randn(batch, m.num_words, m.word_dim, generator=g)
    mask = torch.zeros(batch, m.num_words, dtype=torch.bool)
    mask[0, :3] = True
    mask[1:, :] = True
    return visual, words, mask


@pytest.mark.parametrize("name", BASELINES)
def test_forward_backward_reaches_every_parameter(name):
    cfg = load_config(name, SMALL + ["model.mask_padding=true"])
    torch.manual_seed(0)
    model = build_model(cfg)
    visual, words, mask = _inputs(cfg)
    out = model(visual, words, mask, return_attention=True)
    sizes = dict(zip("SML", cfg.model.resolutions))
    assert set(out) == set(cfg.model.heads) | {"final"}
    for key, value in out.items():
        r = sizes["L" if key == "final" else key]
        assert value.shape == (2, 1, r, r), key
        assert torch.isfinite(value).all(), key
    mask_l = (torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1)) > 0.7).float()
    loss, _ = segmentation_loss(out, mask_l, cfg.model, cfg.loss)
    loss.backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("name", ["baselines/gavrilyuk_rgb", "baselines/hu", "baselines/cmsa"])
def test_all_heads_and_mrf(name):
    cfg = load_config(name, SMALL + ["model.heads=[S,M,L]", "model.mrf=true",
                                     "loss.weights=[1,1,1]"])
    model = build_model(cfg)
    visual, words, _ = _inputs(cfg, batch=1)
    out = model(visual, words)
    assert {k: tuple(v.shape[-2:]) for k, v in out.items()} == {
        "S": (4, 4), "M": (16, 16), "L": (64, 64), "final": (64, 64)}


def test_dynamic_filter_equals_einsum_by_hand():
    torch.manual_seed(0)
    f = DynamicFilter(text_dim=3, channels=4, activation="tanh")
    feats = torch.randn(2, 4, 3, 5)
    s = torch.randn(2, 3)
    w, b = f.generator.weight.detach(), f.generator.bias.detach()
    out = f(feats, s)
    assert out.shape == (2, 1, 3, 5)
    for i in range(2):
        filt = [math.tanh(sum(w[c, d].item() * s[i, d].item() for d in range(3)) + b[c].item())
                for c in range(4)]
        for y in range(3):
            for x in range(5):
                expected = sum(filt[c] * feats[i, c, y, x].item() for c in range(4))
                assert out[i, 0, y, x].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # and as a 1x1 convolution with per-sample weights
    conv = torch.stack([torch.nn.functional.conv2d(feats[i:i + 1], f.filters(s)[i].view(1, 4, 1, 1))
                        for i in range(2)])[:, 0]
    torch.testing.assert_close(out, conv)


def test_sigmoid_filter_and_bilinear_upsampling():
    f = DynamicFilter(2, 3, activation="sigmoid")
    with torch.no_grad():
        f.generator.weight.zero_()
        f.generator.bias.zero_()
    feats = torch.randn(1, 3, 2, 2)
    torch.testing.assert_close(f(feats, torch.randn(1, 2)), 0.5 * feats.sum(1, keepdim=True))
    up = bilinear_upsampling(4)
    x = torch.ones(1, 1, 3, 3)
    y = up(x)
    assert y.shape == (1, 1, 12, 12)
    # a constant map stays constant away from the border (bilinear kernel sums to 1 per phase)
    torch.testing.assert_close(y[0, 0, 2:-2, 2:-2], torch.ones(8, 8))


def test_cmsa_attention_matches_the_materialised_word_pixel_volume():
    torch.manual_seed(0)
    att = CrossModalSelfAttention(visual_dim=3, word_dim=2, coord_dim=8, key_dim=4, out_dim=5)
    v = torch.randn(1, 3, 2, 2)
    w = torch.randn(1, 3, 2)
    c = torch.randn(1, 8, 2, 2)
    out = att(v, w, c)
    # explicit volume f_lp = [v_p, w_l, c_p], (L*HW, 13), one linear map for q, k, v
    vp = v[0].flatten(1).T  # (HW, 3)
    cp = c[0].flatten(1).T  # (HW, 8)
    vol = torch.cat([torch.cat([vp, w[0, l].expand(4, 2), cp], 1) for l in range(3)])  # (12, 13)
    wqkv = torch.cat([att.visual.weight, att.word.weight, att.coord.weight], dim=1)  # (3K, 13)
    q, k, val = (vol @ wqkv.T + att.coord.bias).chunk(3, dim=1)
    a = torch.softmax(q @ k.T / math.sqrt(4), dim=1)
    y = vol + att.out(a @ val)  # (12, 13)
    pooled = y.reshape(3, 4, 13).mean(0).T.reshape(1, 13, 2, 2)
    torch.testing.assert_close(out, att.project(pooled), rtol=1e-4, atol=1e-5)


def test_gavrilyuk_parameter_counts_match_supplement_table_1():
    from acga.paper_results import reported_params

    counts = {}
    for name in ("baselines/gavrilyuk_rgb", "baselines/gavrilyuk_rgb_flow"):
        cfg = load_config(name)
        with torch.device("meta"):
            model = build_model(cfg)
        counts[name] = sum(r[2] for r in parameter_table(model))
        assert counts[name] == reported_params(name)
    assert counts["baselines/gavrilyuk_rgb"] == 18_945_652
    assert counts["baselines/gavrilyuk_rgb_flow"] == 2 * 18_945_652 == 37_891_304
    # the arithmetic of docs/baselines.md
    mixed_4f = 1_797_120 + 2_048
    text = 300 * 300 * 2 + 300
    deconvs = (840 * 256 * 64 + 256 + 256 * 256 * 9 + 256) + (256 * 128 * 64 + 128 + 128 * 128 * 9 + 128)
    generators = 301 * (840 + 256 + 128)
    assert mixed_4f + text + deconvs + generators == 18_945_652


@pytest.mark.parametrize("name, module, cls", [
    ("baselines/gavrilyuk_rgb", "gavrilyuk", "Gavrilyuk"), ("baselines/hu", "hu", "HuSegmentation"),
    ("baselines/li", "li", "LiDynamicFilter"), ("baselines/cmsa", "cmsa", "CMSA")])
def test_baseline_defaults_are_its_config(name, module, cls):
    """A baseline built with no arguments is its packaged config: under the same seed, the same
    keys in the same order and the same initial weights."""
    import importlib

    model_cls = getattr(importlib.import_module(f"acga.models.baselines.{module}"), cls)
    torch.manual_seed(5)
    plain = model_cls().state_dict()
    torch.manual_seed(5)
    built = build_model(load_config(name)).state_dict()
    assert list(plain) == list(built)
    assert all(torch.equal(plain[k], built[k]) for k in plain)


def test_two_stream_averages_two_independent_networks():
    cfg = load_config("baselines/gavrilyuk_rgb_flow", SMALL)
    model = build_model(cfg).eval()
    assert isinstance(model, GavrilyukTwoStream)
    visual, words, _ = _inputs(cfg, batch=1)
    out = model(visual, words)
    a = model.rgb(visual[:, :528], words)
    b = model.flow(visual[:, 528:], words)
    torch.testing.assert_close(out["final"], (a["final"] + b["final"]) / 2)


@pytest.mark.parametrize("name, override, valid", [
    ("baselines/hu", "model.text_encoder=conv1d", "'lstm'"),
    ("baselines/gavrilyuk_rgb", "model.attention=kwa", "'none'"),
    ("baselines/cmsa", "model.coords=native", "'interp'"),
])
def test_unsupported_option_fails_with_valid_names(name, override, valid):
    cfg = load_config(name, [override])
    with pytest.raises(ConfigError, match=f"does not support .*valid: {valid}"):
        with torch.device("meta"):
            build_model(cfg)


def test_checkpoint_with_baseline_sizes_under_model_loads(tmp_path):
    # a checkpoint written before the baseline: section existed stores its sizes under model:
    from acga.checkpoint import load_checkpoint, load_model_weights, save_checkpoint
    from acga.config import config_from_dict, config_to_dict

    cfg = load_config("baselines/hu", SMALL)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    old = config_to_dict(cfg)
    old["model"].update(old.pop("baseline"))
    path = save_checkpoint(tmp_path / "old.safetensors", model, config=old, include_rng=False)
    ckpt = load_checkpoint(path)
    restored = config_from_dict(ckpt.config, source=str(path))
    assert restored == cfg
    assert (restored.baseline.lstm_hidden, restored.baseline.classifier_width) == (10, 6)
    again = build_model(restored).eval()
    load_model_weights(again, ckpt)
    visual, words, mask = _inputs(cfg)
    with torch.no_grad():
        torch.testing.assert_close(again(visual, words, mask)["final"], model(visual, words, mask)["final"])


def test_unknown_model_name_lists_baselines():
    # the config loads (acga.config knows no model names); building it is refused
    cfg = load_config("baselines/hu", ["model.name=hu2016"])
    with pytest.raises(ConfigError, match="model.name = 'hu2016' is not a model; use one of: acga, cmsa, gavrilyuk, hu, li"):
        build_model(cfg)


@pytest.mark.parametrize("model", ["gavrilyuk", "hu", "li", "cmsa"])
def test_trains_and_predicts_with_the_engine_on_small3d(model, tmp_path):
    from acga.engine import fit, predict_masks

    tiny = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
            "model.word_dim=6", "model.num_words=5", "model.clip_len=4", "model.input_size=32",
            "model.resolutions=[2,8,32]", "model.deconv_dims=[4,4]", "baseline.lstm_hidden=4",
            "baseline.classifier_width=4", "baseline.cmsa_dim=4", "baseline.cmsa_key_dim=4",
            "train.batch_size=2", "train.epochs=1", "data.source=video",
            f"model.name={model}", "model.attention=none"]
    if model in ("hu", "li"):
        tiny.append("model.text_encoder=lstm")
    cfg = load_config("demo", tiny)
    g = torch.Generator().manual_seed(0)
    data = [{"visual": torch.rand(3, 4, 32, 32, generator=g) * 2 - 1,
             "words": torch.randn(5, 6, generator=g),
             "word_mask": torch.ones(5, dtype=torch.bool),
             "mask": (torch.rand(1, 32, 32, generator=g) > 0.7).float(),
             "index": torch.tensor(i)} for i in range(4)]
    trained = fit(cfg, data, tmp_path, progress=False)
    assert (tmp_path / "last.safetensors").is_file()
    masks = dict(predict_masks(trained, data, batch_size=2))
    assert sorted(masks) == [0, 1, 2, 3] and all(m.shape == (32, 32) for m in masks.values())
