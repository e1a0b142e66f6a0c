"""Baselines on ACGA's pipeline: Gavrilyuk et al. 2018, Hu et al. 2016, Li et al. 2017, CMSA+CFSA.

Each model is written from its paper's description; where a detail is unstated we chose, and
say so in the class docstring and in docs/baselines.md. Every baseline:

- takes the same inputs as :class:`acga.models.acga.ACGA` (cached Mixed_4e features, or a clip
  for ``small3d``; word vectors (B, L, D); an optional word mask) and gets F_V from the same
  :func:`~acga.models.backbone.build_visual_backbone`, so Mixed_4f is trained as in ACGA;
- returns the same dict: logits (B, 1, r, r) for every head in ``cfg.heads`` and "final" (the
  MRF fusion of the heads if ``cfg.mrf``, else R^L), so the loss, trainer, evaluator and
  ``acga params`` work unchanged;
- is built from a :class:`~acga.config.ModelConfig` whose ``name`` selects it; an option the
  model does not implement (e.g. ``attention: kwa``) is refused at build time with a
  :class:`~acga.errors.ConfigError` listing the valid values.

Paper-configuration data flow (B = batch, r1 = 32, r3 = 512):

==============  ==============================================================================
gavrilyuk       sentence (Conv1d k2 + tanh, max over words) -> three tanh(Linear) 1x1 filters;
                [F_V, C] (840) -> R_S; Deconv -> 256 @128 -> R_M; Deconv -> 128 @512 -> R_L
hu              LSTM(1000) last state, L2; [F_V, C, h] -> 1x1 conv 500 -> ReLU -> 1x1 -> R_S;
                learned x16 deconvolution -> R_L
li              LSTM(1000) last state -> sigmoid(Linear) 1x1 filter on F_V -> R_S; x16 deconv
cmsa            per frame and level: self-attention over the (words x pixels) volume of
                [v, w, c]; mean over words; gated multi-level fusion; cross-frame
                self-attention; annotated frame -> 3x3 conv -> R_S; bilinear -> R_M, R_L
==============  ==============================================================================
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from .attention import masked_max
from .backbone import I3DMixed4fEncoder, Small3DEncoder, build_visual_backbone
from .layers import Deconv, check_shape, coordinate_map
from .text_encoder import build_text_encoder

__all__ = [
    "DynamicFilter",
    "Gavrilyuk",
    "GavrilyukTwoStream",
    "HuSegmentation",
    "LiDynamicFilter",
    "CMSA",
    "SUPPORTED",
    "build_gavrilyuk",
    "build_hu",
    "build_li",
    "build_cmsa",
]

# Options each baseline implements. Any other value of these ModelConfig fields is refused when
# the model is built (ACGA's attention options have no meaning for a baseline).
_COMMON: dict[str, tuple] = {
    "attention": ("none",),
    "lgva_scores": ("query_key",),
    "lgva_gate": ("linear",),
    "lgva_value_channels": (None,),
    "coords": ("interp",),
    "concat_order": ("video_coords_text",),
}
SUPPORTED: dict[str, dict[str, tuple]] = {
    "gavrilyuk": {**_COMMON, "text_encoder": ("conv1d", "lstm")},
    "hu": {**_COMMON, "text_encoder": ("lstm",), "deconv_activation": (False,)},
    "li": {**_COMMON, "text_encoder": ("lstm",), "deconv_activation": (False,)},
    "cmsa": {**_COMMON, "text_encoder": ("conv1d", "lstm"), "deconv_activation": (False,)},
}


def check_supported(name: str, cfg: ModelConfig) -> None:
    """Raise ConfigError if ``cfg`` sets an option baseline ``name`` does not implement."""
    for key, valid in SUPPORTED[name].items():
        value = getattr(cfg, key)
        if value not in valid:
            raise ConfigError(
                f"model.name = {name!r} does not support model.{key} = {value!r}; valid: "
                f"{', '.join(repr(v) for v in valid)}")


# ------------------------------------------------------------------------------------------
# shared pieces


class DynamicFilter(nn.Module):
    """A 1x1 convolution whose weights are generated from the sentence (no bias term).

    f = act(W s + b) (B, C); response[b, 0, y, x] = sum_c f[b, c] * features[b, c, y, x].

    Args:
        text_dim: size of the sentence vector s.
        channels: channels C of the feature map it filters.
        activation: ``tanh`` (Gavrilyuk et al. eq. 2) or ``sigmoid``.
    """

    def __init__(self, text_dim: int, channels: int, activation: str = "tanh"):
        super().__init__()
        if activation not in ("tanh", "sigmoid"):
            raise ValueError(f"activation {activation!r}: use tanh or sigmoid")
        self.channels = channels
        self.generator = nn.Linear(text_dim, channels)
        self.activation = torch.tanh if activation == "tanh" else torch.sigmoid

    def filters(self, sentence: torch.Tensor) -> torch.Tensor:
        """sentence (B, D) -> filters (B, C)."""
        return self.activation(self.generator(sentence))

    def forward(self, features: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """features (B, C, H, W), sentence (B, D) -> response (B, 1, H, W)."""
        check_shape("dynamic-filter features", features, (sentence.shape[0], self.channels, None, None))
        return torch.einsum("bchw,bc->bhw", features, self.filters(sentence))[:, None]


def bilinear_upsampling(factor: int) -> nn.ConvTranspose2d:
    """A learned 1 -> 1 channel transposed convolution upsampling by ``factor``, initialised to
    bilinear interpolation (FCN, Long et al. 2015; Hu et al. 2016's "deconvolution")."""
    k = 2 * factor
    up = nn.ConvTranspose2d(1, 1, kernel_size=k, stride=factor, padding=factor // 2)
    if up.weight.device.type != "meta":
        center = (k - 1) / 2
        og = torch.arange(k, dtype=torch.float32)
        filt = 1 - (og - center).abs() / factor
        with torch.no_grad():
            up.weight.copy_((filt[:, None] * filt[None, :])[None, None])
            up.bias.zero_()
    return up


def _heads_and_fusion(cfg: ModelConfig) -> tuple[tuple[str, ...], nn.Conv2d | None]:
    heads = tuple(h for h in ("S", "M", "L") if h in cfg.heads)
    fusion = nn.Conv2d(len(heads), 1, kernel_size=3, padding=1) if cfg.mrf else None
    return heads, fusion


def _finish(responses: dict[str, torch.Tensor], heads: tuple[str, ...],
            fusion: nn.Module | None) -> dict[str, torch.Tensor]:
    """Keep the configured heads; "final" = MRF fusion (Conv3x3 over Interp'd heads) or R^L."""
    out = {h: responses[h] for h in heads}
    if fusion is None:
        out["final"] = responses["L"]
    else:
        size = responses["L"].shape[-2:]
        stacked = [out[h] if h == "L" else
                   F.interpolate(out[h], size=size, mode="bilinear", align_corners=False)
                   for h in heads]
        out["final"] = fusion(torch.cat(stacked, dim=1))
    return out


def _interp(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def _last_state(outputs: torch.Tensor, word_mask: torch.Tensor | None) -> torch.Tensor:
    """LSTM outputs (B, L, H) -> the state after the last real word (mask given) or the last
    position (the padded sequence, as a fixed-length encoder would)."""
    if word_mask is None:
        return outputs[:, -1]
    last = (word_mask.long().sum(dim=1) - 1).clamp(min=0)  # (B,)
    return outputs[torch.arange(outputs.shape[0], device=outputs.device), last]


def _maybe_init(module: nn.Module, cfg: ModelConfig) -> None:
    """``init: released``: ACGA's release initialisation (Linear N(0, 0.02), zero bias)."""
    if cfg.init != "released":
        return
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ------------------------------------------------------------------------------------------
# Gavrilyuk et al., CVPR 2018


class Gavrilyuk(nn.Module):
    """Gavrilyuk, Ghodrati, Li, Snoek, "Actor and Action Video Segmentation from a Sentence",
    CVPR 2018: one stream (RGB or flow).

    - Sentence: word2vec (B, L, 300) -> Conv1d(300, 300, k=2) + tanh (``text_kernel_size: 2``)
      -> max over words -> s (B, 300).
    - Video: I3D Mixed_4f (trainable), temporal mean, L2 -> F_V; V_S = [F_V, C] (840, 32x32).
    - Decoder: V_M = Deconv(V_S) (256 @ 128), V_L = Deconv(V_M) (128 @ 512); Deconv =
      ConvTranspose(k8, s4, p2) + Conv3x3, the block ACGA took from this paper.
    - Dynamic filters, one per resolution r: f_r = tanh(W_r s + b_r), R_r = f_r * V_r (1x1,
      no bias). Loss at every resolution (``heads: [S, M, L]``), plain logistic loss.

    Our choices where the paper is silent: coordinates only at Res1 (the 840-channel map the
    first deconvolution reads); a ReLU between the transposed convolution and the 3x3
    convolution when ``deconv_activation`` (the baseline configs set it; without it the decoder
    would be linear); ``init: released`` draws the filter generators N(0, 0.02).

    Trainable parameters at the paper configuration: Mixed_4f 1,799,168 + Conv1d 180,300 +
    Deconvs 14,352,896 + 2,244,864 + generators 301 x (840 + 256 + 128) = 368,424
    = 18,945,652, the supplement's Table 1 count exactly.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.visual = build_visual_backbone(c)
        self.text_encoder = build_text_encoder(c.text_encoder, c.word_dim, c.text_kernel_size)
        dims = {"S": c.visual_dim + c.coord_dim, "M": c.deconv_dims[0], "L": c.deconv_dims[1]}
        self.heads, self.fusion = _heads_and_fusion(c)
        self.deconv_medium = Deconv(dims["S"], dims["M"], c.deconv_activation)
        self.deconv_large = Deconv(dims["M"], dims["L"], c.deconv_activation)
        # R_L is always computed ("final"); S and M only when they are heads.
        self.filters = nn.ModuleDict({
            h: DynamicFilter(c.word_dim, dims[h], "tanh")
            for h in ("S", "M", "L") if h in self.heads or h == "L"})
        self.register_buffer("coords_S", coordinate_map(c.resolutions[0], c.resolutions[0]),
                             persistent=False)
        _maybe_init(self.text_encoder, c)
        _maybe_init(self.filters, c)

    def forward_text(self, words: torch.Tensor, word_mask: torch.Tensor | None = None) -> torch.Tensor:
        """words (B, L, D) -> sentence s (B, D): Enc_T then max over words."""
        mask = word_mask if self.cfg.mask_padding else None
        return masked_max(self.text_encoder(words), mask)

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        """Same contract as :meth:`acga.models.acga.ACGA.forward` (no attention maps)."""
        c = self.cfg
        check_shape("words", words, (visual.shape[0], c.num_words, c.word_dim))
        s = self.forward_text(words, word_mask)  # (B, D)
        f_v = self.visual(visual)  # (B, 832, r1, r1)
        v = {"S": torch.cat([f_v, self.coords_S.to(f_v.dtype).expand(f_v.shape[0], -1, -1, -1)], 1)}
        v["M"] = self.deconv_medium(v["S"])  # (B, 256, r2, r2)
        v["L"] = self.deconv_large(v["M"])  # (B, 128, r3, r3)
        responses = {h: f(v[h], s) for h, f in self.filters.items()}
        return _finish(responses, self.heads, self.fusion)


class GavrilyukTwoStream(nn.Module):
    """Gavrilyuk et al. RGB + Flow: two complete single-stream networks (``rgb``, ``flow``), each
    with its own Mixed_4f, sentence encoder, filters and decoder; their responses are averaged.

    This is what makes the supplement's count exactly twice the RGB one (37,891,304 =
    2 x 18,945,652). Input: (B, 2*528, T', r1, r1), RGB channels first. We train the two
    jointly through the averaged logits (the paper's training schedule of the streams is not
    in ACGA's comparison).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.backbone != "i3d_cached":
            raise ConfigError("model.name = 'gavrilyuk' with model.modality = 'rgb+flow' needs "
                              "model.backbone = 'i3d_cached'")
        self.cfg = cfg
        self.in_channels = cfg.backbone_in_channels
        self.rgb = Gavrilyuk(dataclasses.replace(cfg, modality="rgb"))
        self.flow = Gavrilyuk(dataclasses.replace(cfg, modality="flow"))

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        check_shape("visual features", visual, (None, 2 * self.in_channels, None, None, None))
        rgb, flow = visual.split(self.in_channels, dim=1)
        a = self.rgb(rgb, words, word_mask)
        b = self.flow(flow, words, word_mask)
        return {k: (a[k] + b[k]) / 2 for k in a}


def build_gavrilyuk(cfg: ModelConfig) -> nn.Module:
    check_supported("gavrilyuk", cfg)
    return GavrilyukTwoStream(cfg) if cfg.modality == "rgb+flow" else Gavrilyuk(cfg)


# ------------------------------------------------------------------------------------------
# Hu et al., ECCV 2016 and Li et al., CVPR 2017


class _LowResBaseline(nn.Module):
    """Shared frame of Hu and Li: a response at Res1, upsampled to Res3 by one learned
    transposed convolution (x16, bilinear init); R_M, if a head, is Interp(R_S) to Res2."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.visual = build_visual_backbone(c)
        self.lstm = nn.LSTM(c.word_dim, c.lstm_hidden, num_layers=1, batch_first=True)
        self.heads, self.fusion = _heads_and_fusion(c)
        self.upsample = bilinear_upsampling(c.resolutions[2] // c.resolutions[0])

    def forward_text(self, words: torch.Tensor, word_mask: torch.Tensor | None) -> torch.Tensor:
        """words (B, L, D) -> the LSTM state after the last word (B, H)."""
        out, _ = self.lstm(words)  # (B, L, H)
        return _last_state(out, word_mask if self.cfg.mask_padding else None)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        """Same contract as :meth:`acga.models.acga.ACGA.forward` (no attention maps)."""
        c = self.cfg
        check_shape("words", words, (visual.shape[0], c.num_words, c.word_dim))
        h = self.forward_text(words, word_mask)  # (B, H)
        f_v = self.visual(visual)  # (B, C_V, r1, r1)
        r_s = self.response_small(f_v, h)  # (B, 1, r1, r1)
        responses = {"S": r_s, "L": self.upsample(r_s)}  # (B, 1, r3, r3)
        if "M" in self.heads:
            responses["M"] = _interp(r_s, c.resolutions[1])
        return _finish(responses, self.heads, self.fusion)


class HuSegmentation(_LowResBaseline):
    """Hu, Rohrbach, Darrell, "Segmentation from Natural Language Expressions", ECCV 2016.

    - Sentence: LSTM (hidden ``lstm_hidden`` = 1000) over the word vectors; its state after the
      last word, L2-normalised -> h (B, 1000), tiled over the map.
    - Visual: F_V (L2-normalised, as Hu et al. normalise their FCN features) and the 8
      coordinate channels C.
    - Classifier: [F_V, C, h] -> Conv1x1(``classifier_width`` = 500) -> ReLU -> Conv1x1(1)
      -> R_S at Res1; one learned transposed convolution (x16, bilinear init; Hu et al.'s
      x32 "deconvolution" for VGG-16's stride 32) -> R_L.

    Our choices: F_V from the same I3D Mixed_4f as ACGA instead of VGG-16 fc8 features; the
    LSTM reads the zero-padded 20-word sequence (or stops at the last real word with
    ``mask_padding``); the configs train at full resolution only (``heads: [L]``), Hu et al.'s
    second (high-resolution) stage.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        c = cfg
        in_dim = c.visual_dim + c.coord_dim + c.lstm_hidden
        self.classifier = nn.Sequential(
            nn.Conv2d(in_dim, c.classifier_width, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(c.classifier_width, 1, kernel_size=1))
        self.register_buffer("coords_S", coordinate_map(c.resolutions[0], c.resolutions[0]),
                             persistent=False)
        _maybe_init(self.lstm, c)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        b, _, r, _ = f_v.shape
        h = F.normalize(h, p=2, dim=1)[:, :, None, None].expand(-1, -1, r, r)  # (B, H, r1, r1)
        coords = self.coords_S.to(f_v.dtype).expand(b, -1, -1, -1)
        return self.classifier(torch.cat([f_v, coords, h], dim=1))


class LiDynamicFilter(_LowResBaseline):
    """Li, Tao, Gavves, Snoek, Smeulders, "Tracking by Natural Language Specification",
    CVPR 2017: its lingual specification network adapted to segmentation, as in Gavrilyuk
    et al.'s comparison.

    - Sentence: LSTM (``lstm_hidden``) state after the last word -> h.
    - One dynamic 1x1 filter f = sigmoid(W h + b) (B, C_V) convolved with F_V -> R_S at Res1;
      upsampled to Res3 by a learned x16 transposed convolution (bilinear init) -> R_L.

    Our choices: no spatial coordinates (the tracker has none, which is what separates it from
    Gavrilyuk et al.'s filters on [F_V, C]); a single resolution; the sigmoid activation of the
    filter generator is our reading of Li et al.; the segmentation decoder of the adaptation
    is not described in the ACGA or Gavrilyuk papers, hence the learned upsampling as for Hu.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.filter = DynamicFilter(cfg.lstm_hidden, cfg.visual_dim, "sigmoid")
        _maybe_init(self.filter, cfg)

    def response_small(self, f_v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.filter(f_v, h)


def build_hu(cfg: ModelConfig) -> nn.Module:
    check_supported("hu", cfg)
    return HuSegmentation(cfg)


def build_li(cfg: ModelConfig) -> nn.Module:
    check_supported("li", cfg)
    return LiDynamicFilter(cfg)


# ------------------------------------------------------------------------------------------
# CMSA + CFSA: Ye, Rochan, Liu, Wang, CVPR 2019 and TPAMI 2021


def frame_levels(encoder: nn.Module, visual: torch.Tensor) -> list[torch.Tensor]:
    """The two per-frame feature levels of the shared visual backbone, each L2-normalised per
    pixel and frame: [low (B, C_low, T', r1, r1), high (B, C_V, T', r1, r1)].

    ``i3d_cached``: low = the cached Mixed_4e input (frozen), high = Mixed_4f; ``small3d``: low =
    the last CNN stage, high = the 1x1x1 projection. With two streams, each level is the mean of
    the normalised streams, normalised again (the backbone's late fusion of F_V).
    """
    if isinstance(encoder, I3DMixed4fEncoder):
        expected = encoder.in_channels * len(encoder.streams)
        check_shape("visual features", visual,
                    (None, expected, None, encoder.feature_size, encoder.feature_size))
        lows, highs = [], []
        for stream, x in zip(encoder.streams, visual.split(encoder.in_channels, dim=1)):
            lows.append(F.normalize(x, p=2, dim=1))
            highs.append(F.normalize(stream(x), p=2, dim=1))
        if len(lows) == 1:
            return [lows[0], highs[0]]
        return [F.normalize(torch.stack(v).mean(0), p=2, dim=1) for v in (lows, highs)]
    if isinstance(encoder, Small3DEncoder):
        check_shape("clip", visual, (None, 3, None, encoder.input_size, encoder.input_size))
        low = encoder.features(visual)
        return [F.normalize(low, p=2, dim=1), F.normalize(encoder.proj(low), p=2, dim=1)]
    raise TypeError(f"no feature levels for {type(encoder).__name__}")


class CrossModalSelfAttention(nn.Module):
    """CMSA over the word-pixel volume of one frame and one visual level.

    Every (word l, pixel p) pair has the joint feature f_lp = [v_p, w_l, c_p]. q, k, v are linear
    maps of f_lp; attention runs over all L*H*W positions; y_lp = f_lp + W_o(attention)_lp
    (residual); then mean over words and a 1x1 convolution to ``out_dim`` channels.

    A linear map of a concatenation is the sum of linear maps of its parts, so q_lp = A v_p +
    B w_l + C c_p is formed by broadcasting without materialising the (L*H*W, C_v + D + 8)
    volume; equally mean_l f_lp = [v_p, mean_l w_l, c_p].
    """

    def __init__(self, visual_dim: int, word_dim: int, coord_dim: int, key_dim: int, out_dim: int):
        super().__init__()
        self.key_dim = key_dim
        self.visual = nn.Linear(visual_dim, 3 * key_dim, bias=False)
        self.word = nn.Linear(word_dim, 3 * key_dim, bias=False)
        self.coord = nn.Linear(coord_dim, 3 * key_dim)
        joint = visual_dim + word_dim + coord_dim
        self.out = nn.Linear(key_dim, joint)
        self.project = nn.Conv2d(joint, out_dim, kernel_size=1)

    def forward(self, v: torch.Tensor, w: torch.Tensor, c: torch.Tensor,
                word_mask: torch.Tensor | None = None) -> torch.Tensor:
        """v (N, C_v, H, W) visual, w (N, L, D) words, c (N, 8, H, W) coordinates; word_mask
        (N, L) bool or None (padded words then take no part as keys nor in the mean).

        Returns the word-pooled cross-modal feature (N, out_dim, H, W).
        """
        n, _, hh, ww = v.shape
        length = w.shape[1]
        pix = self.visual(v.flatten(2).transpose(1, 2)) + \
            self.coord(c.flatten(2).transpose(1, 2))  # (N, HW, 3K)
        wrd = self.word(w)  # (N, L, 3K)
        qkv = (wrd[:, :, None] + pix[:, None]).flatten(1, 2)  # (N, L*HW, 3K)
        q, k, val = qkv.chunk(3, dim=-1)
        mask = None
        if word_mask is not None:  # keys of padded words are excluded
            mask = word_mask[:, :, None].expand(-1, -1, hh * ww).reshape(n, 1, 1, length * hh * ww)
        att = F.scaled_dot_product_attention(q[:, None], k[:, None], val[:, None],
                                             attn_mask=mask)[:, 0]  # (N, L*HW, K)
        res = self.out(att).reshape(n, length, hh * ww, -1)  # (N, L, HW, C_joint)
        if word_mask is None:
            res_mean = res.mean(dim=1)
            w_mean = w.mean(dim=1)
        else:
            m = word_mask.to(res.dtype)
            denom = m.sum(dim=1).clamp(min=1)
            res_mean = (res * m[:, :, None, None]).sum(dim=1) / denom[:, None, None]
            w_mean = (w * m[:, :, None]).sum(dim=1) / denom[:, None]
        pooled = torch.cat([v, w_mean[:, :, None, None].expand(-1, -1, hh, ww), c], dim=1)
        pooled = pooled + res_mean.transpose(1, 2).reshape(n, -1, hh, ww)  # (N, C_joint, H, W)
        return self.project(pooled)


class GatedMultiLevelFusion(nn.Module):
    """GMLF: for each level i a memory gate g_i and a reset gate r_i (sigmoid of 1x1
    convolutions of X_i); the contextual controller C_i = sum_{j != i} g_j * X_j gathers the
    other levels; F_i = r_i * tanh(X_i) + (1 - r_i) * C_i; the fused map is sum_i F_i."""

    def __init__(self, levels: int, dim: int):
        super().__init__()
        self.memory = nn.ModuleList(nn.Conv2d(dim, dim, 1) for _ in range(levels))
        self.reset = nn.ModuleList(nn.Conv2d(dim, dim, 1) for _ in range(levels))

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        gated = [torch.sigmoid(m(x)) * x for m, x in zip(self.memory, xs)]
        total = torch.stack(gated).sum(dim=0)
        fused = 0
        for i, x in enumerate(xs):
            r = torch.sigmoid(self.reset[i](x))
            fused = fused + r * torch.tanh(x) + (1 - r) * (total - gated[i])
        return fused


class CrossFrameSelfAttention(nn.Module):
    """CFSA: self-attention over all T*H*W positions of the per-frame fused maps, residual;
    the annotated (middle) frame's map is returned."""

    def __init__(self, dim: int, key_dim: int):
        super().__init__()
        self.qkv = nn.Conv3d(dim, 2 * key_dim + dim, kernel_size=1)
        self.key_dim = key_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W) -> (B, C, H, W) at frame T // 2."""
        b, ch, t, hh, ww = x.shape
        q, k, v = self.qkv(x).flatten(2).transpose(1, 2).split(
            [self.key_dim, self.key_dim, ch], dim=-1)  # (B, THW, .)
        att = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        y = x + att.transpose(1, 2).reshape(b, ch, t, hh, ww)
        return y[:, :, t // 2]


class CMSA(nn.Module):
    """CMSA + CFSA: Ye, Rochan, Liu, Wang, "Cross-Modal Self-Attention Network for Referring
    Image Segmentation", CVPR 2019, and its TPAMI extension to video with cross-frame
    self-attention ("Referring Segmentation in Images and Videos with Cross-Modal
    Self-Attention Network").

    Data flow (paper configuration, T' = 4 Mixed_4f time steps):

    1. Words: Enc_T (the pipeline's Conv1d + tanh or LSTM) over the word vectors -> w (B, L, D).
    2. Two visual levels per frame (:func:`frame_levels`): Mixed_4e (528, frozen cache) and
       Mixed_4f (832), each (B, C, T', 32, 32), L2-normalised; coordinates C (8).
    3. Per level and frame: :class:`CrossModalSelfAttention` over the 20 x 32 x 32 word-pixel
       volume of [v, w, c] -> mean over words -> X (``cmsa_dim``).
    4. Per frame: :class:`GatedMultiLevelFusion` of the two levels.
    5. :class:`CrossFrameSelfAttention` over the T' x 32 x 32 positions; annotated frame.
    6. Conv3x3 -> R_S (32x32); R_M, R_L by bilinear interpolation (CMSA upsamples its
       prediction bilinearly to the image size); loss at full resolution (``heads: [L]``).

    Our choices: the paper's three DeepLab-101 levels (res3-res5) become the two I3D levels the
    cache provides (a third, the decoder's upsampled map, would make the word-pixel volume 16x
    larger: 327,680 positions at 128x128); word2vec vectors through Enc_T stand in for CMSA's
    learned word embeddings; the attention projections are ``cmsa_key_dim`` = 64 wide so the
    20,480-position attention runs on a CPU; GMLF is written from the paper's equations as we
    read them (gates from 1x1 convolutions).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.visual = build_visual_backbone(c)
        self.text_encoder = build_text_encoder(c.text_encoder, c.word_dim, c.text_kernel_size)
        if c.backbone == "i3d_cached":
            low_dim = c.backbone_in_channels
        else:
            low_dim = self.visual.proj.in_channels
        self.cmsa = nn.ModuleList(
            CrossModalSelfAttention(d, c.word_dim, c.coord_dim, c.cmsa_key_dim, c.cmsa_dim)
            for d in (low_dim, c.visual_dim))
        self.fusion_levels = GatedMultiLevelFusion(2, c.cmsa_dim)
        self.cfsa = CrossFrameSelfAttention(c.cmsa_dim, c.cmsa_key_dim)
        self.predict = nn.Conv2d(c.cmsa_dim, 1, kernel_size=3, padding=1)
        self.heads, self.fusion = _heads_and_fusion(c)
        self.register_buffer("coords_S", coordinate_map(c.resolutions[0], c.resolutions[0]),
                             persistent=False)
        _maybe_init(self.text_encoder, c)
        _maybe_init(self.cmsa, c)

    def forward(self, visual: torch.Tensor, words: torch.Tensor,
                word_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict[str, torch.Tensor]:
        """Same contract as :meth:`acga.models.acga.ACGA.forward` (no attention maps)."""
        c = self.cfg
        b = visual.shape[0]
        check_shape("words", words, (b, c.num_words, c.word_dim))
        mask = word_mask if c.mask_padding else None
        w = self.text_encoder(words)  # (B, L, D)
        levels = frame_levels(self.visual, visual)  # [(B, C_i, T', r1, r1)]
        t, r = levels[0].shape[2], levels[0].shape[-1]
        # frames into the batch: (B*T', ...)
        w_bt = w.repeat_interleave(t, dim=0)
        m_bt = None if mask is None else mask.repeat_interleave(t, dim=0)
        coords = self.coords_S.to(w.dtype).expand(b * t, -1, -1, -1)
        xs = [att(lv.transpose(1, 2).flatten(0, 1), w_bt, coords, m_bt)  # (B*T', cmsa, r1, r1)
              for att, lv in zip(self.cmsa, levels)]
        fused = self.fusion_levels(xs).reshape(b, t, c.cmsa_dim, r, r).transpose(1, 2)
        y = self.cfsa(fused)  # (B, cmsa, r1, r1)
        r_s = self.predict(y)  # (B, 1, r1, r1)
        responses = {"S": r_s, "M": _interp(r_s, c.resolutions[1]), "L": _interp(r_s, c.resolutions[2])}
        return _finish(responses, self.heads, self.fusion)


def build_cmsa(cfg: ModelConfig) -> nn.Module:
    check_supported("cmsa", cfg)
    return CMSA(cfg)
