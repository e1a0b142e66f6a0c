"""Response -> mask (relative threshold, per sample) and the inverse letterbox."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from acga.errors import InvalidShapeError
from acga.postprocess import response_to_mask, undo_letterbox


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_relative_threshold_hand_computed():
    # probabilities 0.8 (max), 0.41, 0.40, 0.39, 0.1: threshold 0.5 * 0.8 = 0.4, strictly above.
    probs = [0.8, 0.41, 0.40, 0.39, 0.1]
    logits = np.array([[_logit(p) for p in probs]], dtype=np.float64)
    mask = response_to_mask(logits)
    assert mask.dtype == np.bool_ and mask.shape == (1, 5)
    assert mask.tolist() == [[True, True, False, False, False]]
    # another threshold: 0.25 * 0.8 = 0.2
    assert response_to_mask(logits, threshold=0.25).tolist() == [[True, True, True, True, False]]


def test_max_is_per_sample_in_a_batch():
    # Sample 0 is confident (max p = 0.99), sample 1 is not (max p = 0.2); an absolute 0.5
    # threshold would give sample 1 an empty mask, the relative one keeps its peak region.
    probs = np.array([[[0.99, 0.6], [0.4, 0.1]],
                      [[0.2, 0.15], [0.09, 0.05]]])
    logits = np.log(probs / (1 - probs))
    mask = response_to_mask(logits)
    assert mask.tolist() == [[[True, True], [False, False]],
                             [[True, True], [False, False]]]
    # the same with a channel axis (B, 1, H, W) and as a torch tensor
    t = torch.tensor(logits, dtype=torch.float32).unsqueeze(1)
    out = response_to_mask(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bool and out.shape == (2, 1, 2, 2)
    assert out[:, 0].tolist() == mask.tolist()


def test_torch_and_numpy_agree_with_reference():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 16, 16, generator=g) * 4
    # the authors' arithmetic, re-derived: sigmoid * 255 compared with 0.5 * its max
    scaled = torch.sigmoid(logits).numpy() * 255.0
    reference = np.stack([s > np.amax(s) * 0.5 for s in scaled])
    assert np.array_equal(response_to_mask(logits).numpy(), reference)
    assert np.array_equal(response_to_mask(logits.numpy()), reference)
    single = response_to_mask(logits[1].numpy())
    assert single.shape == (16, 16) and np.array_equal(single, reference[1])


def test_extreme_logits_do_not_overflow():
    logits = np.array([[-1000.0, 1000.0], [0.0, 30.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise"):
        mask = response_to_mask(logits)
    # sigmoid(0) = 0.5 = 0.5 * 1.0 is not strictly above the threshold
    assert mask.tolist() == [[False, True], [False, True]]


def test_bad_shapes_and_threshold():
    with pytest.raises(InvalidShapeError, match="response"):
        response_to_mask(np.zeros(5))
    with pytest.raises(InvalidShapeError, match="response"):
        response_to_mask(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="outside"):
        response_to_mask(np.zeros((2, 2)), threshold=1.5)


def test_undo_letterbox_landscape_and_portrait():
    # A 4x4 square holding a 2x4 landscape frame in rows 1..2: mark those rows differently.
    square = np.array([[0, 0, 0, 0], [1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 0, 0]])
    assert undo_letterbox(square, 2, 4).tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    # resized: an 8x8 square for a 2x4 frame -> scale 2, nearest picks every other pixel
    big = np.kron(square, np.ones((2, 2), dtype=int))
    assert undo_letterbox(big, 2, 4).tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    # portrait, batch
    portrait = square.T[None]
    assert undo_letterbox(portrait, 4, 2).tolist() == [[[1, 5], [2, 6], [3, 7], [4, 8]]]
    # upsampling: a 2x2 square to a 4x4 frame repeats each pixel twice
    assert undo_letterbox(np.array([[1, 2], [3, 4]]), 4, 4).tolist() == \
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    # odd padding: a 3x6 frame sits at row 1 of the 6x6 square (1 above, 2 below)
    square6 = np.zeros((6, 6), int)
    square6[1:4] = np.arange(18).reshape(3, 6) + 1
    assert undo_letterbox(square6, 3, 6).tolist() == (np.arange(18).reshape(3, 6) + 1).tolist()
    with pytest.raises(InvalidShapeError, match="square"):
        undo_letterbox(np.zeros((4, 5)), 4, 5)
