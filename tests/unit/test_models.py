"""The ACGA network: hand-computed attention, coordinates, loss, every ablation config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from acga.config import list_packaged_configs, load_config
from acga.errors import InvalidShapeError
from acga.losses import segmentation_loss, weighted_bce
from acga.models import build_model, parameter_table, parameters_without_gradient
from acga.models.attention import LanguageGuidedVisionAttention, VisionGuidedLanguageAttention
from acga.models.layers import coordinate_map

# A reduced size of the paper configuration: same code, 64x64 input, 4x4 features.
SMALL = [
    "model.resolutions=[4,16,64]", "model.input_size=64", "model.head_widths=[8,8,8]",
    "model.deconv_dims=[8,8]", "model.word_dim=12", "model.num_words=6",
]
ABLATIONS = [n for n in list_packaged_configs() if n.startswith("ablations/")] + ["acga_a2d", "released_code"]


def test_coordinate_map_values_at_known_pixels():
    c = coordinate_map(4, 8)  # H=4, W=8
    assert c.shape == (8, 4, 8)
    # top-left cell: x in [-1, -0.75], y in [-1, -0.5]
    assert c[:, 0, 0].tolist() == pytest.approx([-1, -1, -0.75, -0.5, -0.875, -0.75, 1 / 8, 1 / 4])
    # row 2, column 5: x in [0.25, 0.5], y in [0, 0.5]
    assert c[:, 2, 5].tolist() == pytest.approx([0.25, 0.0, 0.5, 0.5, 0.375, 0.25, 1 / 8, 1 / 4])


def test_vgla_softmax_over_words_by_hand():
    att = VisionGuidedLanguageAttention(visual_dim=2, text_dim=2)
    with torch.no_grad():
        att.video_to_text.weight.copy_(torch.eye(2))
        att.video_to_text.bias.zero_()
    f_vc = torch.tensor([[1.0, 0.0], [0.0, 2.0]]).T.reshape(1, 2, 1, 2)  # pixels (1,0), (0,2)
    words = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # (1, L=3, D=2)
    f_ta, weights = att(f_vc, words)
    assert f_ta.shape == (1, 2, 1, 2) and weights.shape == (1, 2, 3)
    for p, pixel in enumerate([(1.0, 0.0), (0.0, 2.0)]):
        logits = [(pixel[0] * w[0] + pixel[1] * w[1]) / math.sqrt(2) for w in words[0].tolist()]
        z = [math.exp(v) for v in logits]
        a = [v / sum(z) for v in z]
        assert weights[0, p].tolist() == pytest.approx(a, rel=1e-5)
        expected = [sum(a[t] * words[0, t, d].item() for t in range(3)) for d in range(2)]
        assert f_ta[0, :, 0, p].tolist() == pytest.approx(expected, rel=1e-5)


def _lgva_by_hand(f_vc, f_t, att, order):
    """numpy re-computation of eq. 5-8 from the module's weights."""
    x = f_vc[0].reshape(f_vc.shape[1], -1).T.numpy().astype(np.float64)  # (HW, C)
    lin = lambda m, v: v @ m.weight.detach().numpy().T + m.bias.detach().numpy()  # noqa: E731
    gate = lin(att.text_to_video, f_t[0].numpy().max(axis=0))
    q, k, v = lin(att.query, x) * gate, lin(att.key, x) * gate, lin(att.value, x)
    logits = (q @ k.T if order == "query_key" else k @ q.T) / math.sqrt(x.shape[1])
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return (w @ v).T, w


@pytest.mark.parametrize("order", ["query_key", "key_query"])
def test_lgva_matches_numpy_and_rows_sum_to_one(order):
    torch.manual_seed(0)
    att = LanguageGuidedVisionAttention(visual_dim=5, text_dim=3, scores=order)
    f_vc = torch.randn(1, 5, 2, 3)
    f_t = torch.randn(1, 4, 3)
    f_va, weights = att(f_vc, f_t)
    expected, w = _lgva_by_hand(f_vc, f_t, att, order)
    assert weights[0].sum(dim=-1).tolist() == pytest.approx([1.0] * 6, abs=1e-6)
    np.testing.assert_allclose(weights[0].detach().numpy(), w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f_va[0].reshape(5, -1).detach().numpy(), expected, rtol=1e-4, atol=1e-6)


def test_lgva_orders_differ_and_zero_gate_gives_uniform_context():
    torch.manual_seed(1)
    a = LanguageGuidedVisionAttention(visual_dim=4, text_dim=3, scores="query_key")
    b = LanguageGuidedVisionAttention(visual_dim=4, text_dim=3, scores="key_query")
    b.load_state_dict(a.state_dict())
    f_vc, f_t = torch.randn(1, 4, 2, 2), torch.randn(1, 5, 3)
    assert not torch.allclose(a(f_vc, f_t)[0], b(f_vc, f_t)[0])
    # A zero gate (text -> video Linear all zero) zeroes Q and K: every pixel attends uniformly,
    # so F_VA at every pixel is the mean of V over pixels.
    with torch.no_grad():
        a.text_to_video.weight.zero_()
        a.text_to_video.bias.zero_()
    f_va, w = a(f_vc, f_t)
    assert torch.allclose(w, torch.full_like(w, 0.25))
    v = a.value(f_vc.flatten(2).transpose(1, 2))  # (1, 4, 4)
    assert torch.allclose(f_va[0, :, 0, 0], v[0].mean(dim=0), atol=1e-6)


def test_lgva_keeps_value_channels():
    att = LanguageGuidedVisionAttention(visual_dim=10, text_dim=3, value_channels=8)
    f_va, _ = att(torch.randn(2, 10, 2, 2), torch.randn(2, 4, 3))
    assert f_va.shape == (2, 8, 2, 2)


def test_weighted_bce_matches_direct_formula():
    torch.manual_seed(2)
    logits = torch.randn(2, 1, 3, 3)
    target = torch.rand(2, 1, 3, 3).round()
    p = 1.5
    s = 1 / (1 + np.exp(-logits.numpy().astype(np.float64)))
    y = target.numpy()
    direct = np.mean(-p * y * np.log(s) - (1 - y) * np.log(1 - s))
    assert weighted_bce(logits, target, p).item() == pytest.approx(direct, rel=1e-5)
    assert weighted_bce(logits, target, 1.0).item() < weighted_bce(logits, target, 2.0).item()


def _small_cfg(name, extra=()):
    return load_config(name, SMALL + list(extra))


def _inputs(cfg, batch=2):
    m = cfg.model
    streams = 2 if m.modality == "rgb+flow" else 1
    t = max(1, m.clip_len // 4)
    r1 = m.resolutions[0]
    visual = torch.randn(batch, 528 * streams, t, r1, r1)
    words = torch.randn(batch, m.num_words, m.word_dim)
    return visual, words


def _zero_by_algebra(cfg) -> set[str]:
    """The library's list of parameters without a gradient, which the reasoning of
    test_lgva_column_bias_has_no_effect backs."""
    return parameters_without_gradient(cfg)


@pytest.mark.parametrize("name", ABLATIONS)
def test_every_config_forward_backward_reaches_every_parameter(name):
    # float64: some true gradients at this reduced size are ~1e-11, far above float64 rounding
    # (~1e-25 here) but not safely above float32's; a parameter counts as reached only if its
    # gradient is non-zero by algebra, not by rounding.
    torch.manual_seed(0)
    cfg = _small_cfg(name)
    model = build_model(cfg).double()
    visual, words = (x.double() for x in _inputs(cfg))
    out = model(visual, words)
    r1, r2, r3 = cfg.model.resolutions
    sizes = {"S": r1, "M": r2, "L": r3}
    for head in cfg.model.heads:
        assert out[head].shape == (2, 1, sizes[head], sizes[head])
    assert out["final"].shape == (2, 1, r3, r3)
    assert torch.isfinite(out["final"]).all()
    mask = (torch.rand(2, 1, r3, r3) > 0.7).double()
    loss, terms = segmentation_loss(out, mask, cfg.model, cfg.loss)
    assert set(terms) == {f"loss_{h}" for h in cfg.model.heads}
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values())
    largest = max(g.abs().max().item() for g in grads.values())
    zero = _zero_by_algebra(cfg)
    assert zero <= set(grads)
    missing = [n for n, g in grads.items() if n not in zero and not torch.any(g != 0)]
    assert missing == []
    for n in zero:  # rounding noise only: many orders of magnitude below every real gradient
        assert grads[n].abs().max().item() < 1e-10 * largest, n


@pytest.mark.parametrize("order", ["query_key", "key_query"])
def test_lgva_column_bias_has_no_effect(order):
    """The reasoning behind _zero_by_algebra: shifting that bias leaves F_VA unchanged, while
    shifting the other projection's bias changes it."""
    torch.manual_seed(3)
    att = LanguageGuidedVisionAttention(visual_dim=6, text_dim=4, scores=order).double()
    f_vc, f_t = torch.randn(2, 6, 3, 3, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64)
    before = att(f_vc, f_t)[0]
    cancelled, kept = (att.key, att.query) if order == "query_key" else (att.query, att.key)
    with torch.no_grad():
        cancelled.bias.add_(torch.randn(6, dtype=torch.float64))
    torch.testing.assert_close(att(f_vc, f_t)[0], before, rtol=1e-9, atol=1e-12)
    with torch.no_grad():
        kept.bias.add_(torch.randn(6, dtype=torch.float64))
    assert (att(f_vc, f_t)[0] - before).abs().max().item() > 1e-3


def test_kwa_score_has_no_bias_and_old_checkpoints_still_load(tmp_path):
    from acga.checkpoint import Checkpoint, load_model_weights

    cfg = _small_cfg("ablations/kwa")
    model = build_model(cfg)
    assert model.text_attention.score.bias is None
    old = {k: v.clone() for k, v in model.state_dict().items()}
    old["text_attention.score.bias"] = torch.tensor([0.3])  # written by acga <= 0.1
    other = build_model(cfg)
    load_model_weights(other, Checkpoint(tmp_path / "old.safetensors", old, {}, {}, {}, {}))
    for k, v in model.state_dict().items():
        assert torch.equal(other.state_dict()[k], v), k


PAPER_COUNTS = {
    "acga_a2d": 25_613_063,                     # supplement Table 1, full model
    "ablations/full": 25_613_063,
    "ablations/baseline_mrf_wbce": 22_749_099,
    "ablations/baseline_mrf": 22_749_099,
    "ablations/baseline": 22_749_071,
    "released_code": 25_463_559,                # the authors' release
}


@pytest.mark.parametrize("name,count", sorted(PAPER_COUNTS.items()))
def test_trainable_parameters_equal_the_paper(name, count):
    cfg = load_config(name)
    with torch.device("meta"):
        model = build_model(cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == count
    from acga.paper_results import reported_params

    assert reported_params(name) == count


def test_acga_without_a_config_is_the_paper_configuration():
    """ACGA() takes explicit arguments whose defaults are the paper's: under the same seed it is
    build_model(acga_a2d) key for key and weight for weight (same draws in the same order)."""
    from acga.models.acga import ACGA

    torch.manual_seed(3)
    plain = ACGA().state_dict()
    torch.manual_seed(3)
    built = build_model(load_config("acga_a2d")).state_dict()
    assert list(plain) == list(built)
    assert all(torch.equal(plain[k], built[k]) for k in plain)
    assert not hasattr(ACGA(), "cfg")


def test_parameter_breakdown_of_the_release():
    with torch.device("meta"):
        model = build_model(load_config("released_code"))
    rows = {name: trainable for name, _, trainable in parameter_table(model, depth=1)}
    assert rows["visual"] == 1_799_168          # I3D Mixed_4f: convs without bias + BN affine
    assert rows["text_encoder"] == 270_300      # Conv1d(300, 300, 3)
    assert rows["text_attention"] + rows["vision_attention"] == 2_624_460
    assert rows["decoder"] == 20_769_631        # deconvs, three FCN heads, fusion conv


def test_wrong_input_shapes_name_the_expected_shape():
    cfg = _small_cfg("acga_a2d")
    model = build_model(cfg)
    visual, words = _inputs(cfg)
    with pytest.raises(InvalidShapeError, match=r"words has shape \(2, 5, 12\), expected \(2, 6, 12\)"):
        model(visual, words[:, :5])
    with pytest.raises(InvalidShapeError, match="visual features"):
        model(visual[:, :500], words)


def test_small3d_backbone_maps_a_clip_to_the_feature_grid():
    cfg = load_config("acga_a2d", SMALL + ["model.backbone=small3d", "model.visual_dim=16",
                                           "model.clip_len=4"])
    model = build_model(cfg)
    out = model(torch.randn(1, 3, 4, 64, 64), torch.randn(1, 6, 12))
    assert out["final"].shape == (1, 1, 64, 64)
    f_v = model.forward_visual(torch.randn(1, 3, 4, 64, 64))
    assert f_v.shape == (1, 16, 4, 4)
    assert torch.allclose(f_v.norm(dim=1), torch.ones(1, 4, 4), atol=1e-5)  # per-pixel L2


def test_small3d_stem_kernel_sets_the_first_convolution_only():
    base = SMALL + ["model.backbone=small3d", "model.visual_dim=16", "model.clip_len=4"]
    wide = build_model(load_config("acga_a2d", base)).visual.features
    flat = build_model(load_config("acga_a2d", base + ["model.small3d_stem_kernel=[1,5,5]"])).visual.features
    convs = [m for m in flat if isinstance(m, torch.nn.Conv3d)]
    assert convs[0].weight.shape[2:] == (1, 5, 5) and convs[0].padding == (0, 2, 2)
    assert [m.weight.shape for m in wide if isinstance(m, torch.nn.Conv3d)][0][2:] == (3, 5, 5)
    assert all(c.weight.shape[2:] == (3, 3, 3) for c in convs[1:])
    # Same output grid: a temporal kernel of 1 with padding 0 keeps T, as (3, 5, 5) with padding 1.
    clip = torch.randn(2, 3, 4, 64, 64)
    assert flat(clip).shape == wide(clip).shape


@pytest.mark.parametrize("kw,what", [
    ({"scores": "querykey"}, "LGVA scores = 'querykey'"),
    ({"scores": "Query_Key"}, "LGVA scores"),
    ({"gate": "relu"}, "LGVA gate = 'relu'"),
])
def test_lgva_refuses_unknown_options(kw, what):
    with pytest.raises(ValueError, match=what + r".*use one of"):
        LanguageGuidedVisionAttention(visual_dim=4, text_dim=3, **kw)


@pytest.mark.parametrize("kw,what", [
    ({"coords": "interpolated"}, "decoder coords = 'interpolated'.*'interp', 'native'"),
    ({"concat_order": "video_text"}, "decoder concat_order = 'video_text'"),
    ({"implementation": "slow"}, "decoder implementation = 'slow'"),
])
def test_decoder_refuses_unknown_options(kw, what):
    from acga.models.decoder import MultiResolutionDecoder

    with pytest.raises(ValueError, match=what):
        MultiResolutionDecoder(video_dim=6, text_dim=5, resolutions=(4, 16, 64),
                               head_widths=(4, 3, 3), deconv_dims=(5, 4), **kw)


def test_every_valid_option_constructs():
    from acga.models.decoder import MultiResolutionDecoder

    for scores in ("query_key", "key_query"):
        for gate in ("linear", "sigmoid"):
            att = LanguageGuidedVisionAttention(visual_dim=4, text_dim=3, scores=scores, gate=gate)
            assert (att.scores, att.gate_activation) == (scores, gate)
    for coords in ("interp", "native"):
        for order in ("video_coords_text", "video_text_coords"):
            dec = MultiResolutionDecoder(video_dim=6, text_dim=5, resolutions=(4, 16, 64),
                                         head_widths=(4, 3, 3), deconv_dims=(5, 4),
                                         coords=coords, concat_order=order)
            assert (dec.coords, dec.concat_order) == (coords, order)
