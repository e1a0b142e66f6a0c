"""The fast decoder against the reference (eq. 10-13 as written): each algebraic step on its
own, then every config forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from acga.config import list_packaged_configs, load_config
from acga.losses import segmentation_loss
from acga.models import build_model
from acga.models.decoder import MultiResolutionDecoder, interpolation_matrix, shifted_interpolation
from acga.models.layers import Deconv
from unit.test_models import SMALL, _inputs, _zero_by_algebra

CONFIGS = sorted(n for n in list_packaged_configs() if n.startswith("ablations/")) + \
    ["acga_a2d", "released_code", "demo"]


@pytest.mark.parametrize("size_in,size_out", [(4, 16), (8, 32), (32, 128), (32, 512), (5, 7)])
def test_interpolation_matrix_is_pytorchs_bilinear(size_in, size_out):
    g = torch.Generator().manual_seed(size_out)
    x = torch.randn(2, 3, size_in, size_in, generator=g, dtype=torch.float64)
    u = interpolation_matrix(size_in, size_out)
    assert u.shape == (size_out, size_in)
    # every row is a convex combination of at most two neighbouring inputs
    assert torch.allclose(u.sum(dim=1), torch.ones(size_out, dtype=torch.float64))
    assert ((u > 0).sum(dim=1) <= 2).all()
    expected = F.interpolate(x, size=(size_out, size_out), mode="bilinear", align_corners=False)
    torch.testing.assert_close(u @ x @ u.T, expected, rtol=1e-12, atol=1e-12)


def test_shifted_interpolation_rows_by_hand():
    u, s = interpolation_matrix(2, 8), shifted_interpolation(2, 8)
    assert s.shape == (3, 8, 2)
    torch.testing.assert_close(s[1], u)
    assert s[0, 0].abs().sum() == 0 and torch.equal(s[0, 1:], u[:-1])  # tap -1: row y is U[y-1]
    assert s[2, -1].abs().sum() == 0 and torch.equal(s[2, :-1], u[1:])  # tap +1: row y is U[y+1]
    # scale 4: output 0 sits at input -0.375, clamped to 0; output 2 at 0.125 between 0 and 1
    torch.testing.assert_close(u[0], torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(u[2], torch.tensor([0.875, 0.125], dtype=torch.float64))


def _decoder(**kw) -> MultiResolutionDecoder:
    torch.manual_seed(0)
    args = dict(video_dim=6, text_dim=5, resolutions=(4, 16, 64), head_widths=(4, 3, 3),
                deconv_dims=(5, 4))
    args.update(kw)
    return MultiResolutionDecoder(**args).double()


@pytest.mark.parametrize("name", ["M", "L"])
def test_text_term_equals_convolving_the_upsampled_text(name):
    dec = _decoder()
    text = torch.randn(2, 5, 4, 4, dtype=torch.float64)
    weight = torch.randn(7, 5, 3, 3, dtype=torch.float64)
    size = {"M": 16, "L": 64}[name]
    up = F.interpolate(text, size=(size, size), mode="bilinear", align_corners=False)
    expected = F.conv2d(up, weight, padding=1)
    torch.testing.assert_close(dec._text_term(text, weight, name), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("size", [2, 3, 5])
def test_fused_large_chain_equals_the_three_convolutions_borders_included(size):
    dec = _decoder(resolutions=(4, 4 * size, 16 * size))
    medium = torch.randn(2, 5, 4 * size, 4 * size, dtype=torch.float64)
    w_head, b_head = torch.randn(3, 4, 3, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    expected = F.conv2d(dec.deconv_large(medium), w_head, b_head, padding=1)
    got = dec._large_video_term(medium, w_head, b_head)
    assert got.shape == expected.shape == (2, 3, 16 * size, 16 * size)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    # the border rows are the ones the composed kernel alone gets wrong
    kernel, bias = dec._large_kernel(dec.deconv_large[0].weight, dec.deconv_large[0].bias,
                                     dec.deconv_large[1].weight, dec.deconv_large[1].bias,
                                     w_head, b_head)
    composed = F.conv_transpose2d(medium, kernel, bias, stride=4, padding=4)
    torch.testing.assert_close(composed[..., 2:-2, 2:-2], expected[..., 2:-2, 2:-2],
                               rtol=1e-10, atol=1e-10)
    assert (composed[..., 0, :] - expected[..., 0, :]).abs().max() > 1e-3


def test_deconv_with_activation_is_not_fused_and_still_matches():
    dec = _decoder(deconv_activation=True)
    assert isinstance(dec.deconv_large, Deconv) and len(dec.deconv_large) == 3
    video, text = torch.randn(2, 6, 4, 4, dtype=torch.float64), torch.randn(2, 5, 4, 4, dtype=torch.float64)
    fast, ref = dec.forward_fast(video, text), dec.forward_reference(video, text)
    for k in ref:
        torch.testing.assert_close(fast[k], ref[k], rtol=1e-10, atol=1e-10)


def test_unknown_implementation_is_refused():
    dec = _decoder()
    dec.implementation = "quick"
    with pytest.raises(ValueError, match="'quick'"):
        dec(torch.randn(1, 6, 4, 4, dtype=torch.float64), torch.randn(1, 5, 4, 4, dtype=torch.float64))


def _demo_small(name):
    extra = ["model.resolutions=[4,16,64]", "model.input_size=64"] if name == "demo" else SMALL
    return load_config(name, extra + ["model.decoder_impl=reference"])


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_path_equals_the_reference_forward_and_backward(name):
    """The tolerances of the speed goal: float32 logits within 1e-4 (max abs), and every
    gradient within 1e-3 of its tensor's largest entry."""
    cfg = _demo_small(name)
    torch.manual_seed(0)
    model = build_model(cfg)
    m = cfg.model
    if m.backbone == "small3d":
        visual = torch.randn(2, 3, m.clip_len, m.input_size, m.input_size)
        words = torch.randn(2, m.num_words, m.word_dim)
    else:
        visual, words = _inputs(cfg)
    mask = (torch.rand(2, 1, m.input_size, m.input_size) > 0.7).float()
    results = {}
    for impl in ("reference", "fast"):
        model.decoder.implementation = impl
        model.zero_grad(set_to_none=True)
        out = model(visual, words)
        loss, _ = segmentation_loss(out, mask, m, cfg.loss)
        loss.backward()
        results[impl] = ({k: v.detach() for k, v in out.items()},
                         {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    (ref_out, ref_grad), (fast_out, fast_grad) = results["reference"], results["fast"]
    assert ref_out.keys() == fast_out.keys()
    for k in ref_out:
        assert (fast_out[k] - ref_out[k]).abs().max().item() < 1e-4, k
        assert ref_out[k].std() > 1e-3, k  # not a trivially constant map
    assert ref_grad.keys() == fast_grad.keys()
    zero = _zero_by_algebra(cfg)  # rounding noise in both: nothing to compare
    for n, g in ref_grad.items():
        if n not in zero:
            assert (fast_grad[n] - g).abs().max().item() <= 1e-3 * g.abs().max().item(), n
