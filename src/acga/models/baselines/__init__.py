"""Baselines on ACGA's pipeline: Gavrilyuk et al. 2018, Hu et al. 2016, Li et al. 2017, CMSA+CFSA,
one module each (:mod:`.gavrilyuk`, :mod:`.hu`, :mod:`.li`, :mod:`.cmsa`) on the shared frame of
:mod:`.base`.

Each model is written from its paper's description; where a detail is unstated we chose, and
say so in the class docstring and in docs/baselines.md. Every baseline:

- takes the same inputs as :class:`acga.models.acga.ACGA` (cached Mixed_4e features, or a clip
  for ``small3d``; word vectors (B, L, D); an optional word mask) and gets F_V from the same
  :func:`~acga.models.backbone.build_visual_backbone`, so Mixed_4f is trained as in ACGA;
- returns the same dict: logits (B, 1, r, r) for every head in ``heads`` and "final" (the
  MRF fusion of the heads if ``mrf``, else R^L), so the loss, trainer, evaluator and
  ``acga params`` work unchanged;
- takes explicit arguments (the :class:`~acga.config.ModelConfig` fields of the same names; its
  own layer sizes are :class:`~acga.config.BaselineConfig`'s), read from a config by its builder
  in :mod:`acga.models.build`, which refuses an option the model does not implement (e.g.
  ``attention: kwa``) with a :class:`~acga.errors.ConfigError` listing the valid values.

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
