"""DAVIS J, F and the Ref-DAVIS17 aggregation on cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from acga.errors import InvalidShapeError
from acga.metrics_davis import (boundary_f, boundary_map, boundary_radius, davis_protocol, disk,
                                jf, region_similarity)


def square(top, left, size, shape=(10, 10)):
    m = np.zeros(shape, np.uint8)
    m[top:top + size, left:left + size] = 1
    return m


def test_j_shifted_squares():
    # two 4x4 squares, the second 2 columns to the right: I = 8, U = 16 + 16 - 8 = 24
    assert region_similarity(square(2, 4, 4), square(2, 2, 4)) == pytest.approx(1 / 3)


def test_j_empty_cases():
    empty = np.zeros((6, 6), np.uint8)
    assert region_similarity(empty, empty) == 1.0
    assert region_similarity(square(1, 1, 2, (6, 6)), empty) == 0.0
    assert region_similarity(empty, square(1, 1, 2, (6, 6))) == 0.0


def test_boundary_map_of_a_square():
    # 4x4 square at rows 2..5, cols 2..5: its last row and last column, plus the outside
    # pixels whose right, lower or lower-right neighbour is inside (col 1 rows 1..5, row 1
    # cols 2..5): 4 + 3 + 5 + 4 = 16 pixels
    b = boundary_map(square(2, 2, 4))
    expected = np.zeros((10, 10), bool)
    expected[5, 2:6] = True
    expected[2:5, 5] = True
    expected[1:6, 1] = True
    expected[1, 2:6] = True
    assert b.sum() == 16
    np.testing.assert_array_equal(b, expected)


def test_boundary_map_full_and_border():
    assert not boundary_map(np.ones((5, 7))).any()  # the image border is no boundary
    m = np.zeros((3, 3), np.uint8)
    m[2, 2] = 1  # bottom-right pixel: never a boundary pixel itself
    b = boundary_map(m)
    assert not b[2, 2] and b[1, 1] and b[1, 2] and b[2, 1] and b.sum() == 3


def test_radius_rounds_up():
    assert boundary_radius((480, 854)) == 8  # 0.008 * 979.65 = 7.84
    assert boundary_radius((100, 100)) == 2  # 0.008 * 141.42 = 1.13
    assert boundary_radius((10, 10)) == 1
    assert boundary_radius((10, 10), bound_th=3) == 3


def test_disk():
    assert disk(0).sum() == 1
    assert disk(1).sum() == 5  # a plus
    assert disk(2).sum() == 13
    assert disk(2)[0, 2] and not disk(2)[0, 1]


def test_f_shifted_squares():
    # radius 1 (a plus): 10 of the 16 predicted boundary pixels lie within 1 of the ground
    # truth's, and 10 of the 16 ground-truth ones within 1 of the prediction's
    pred, gt = square(2, 4, 4), square(2, 2, 4)
    assert boundary_f(pred, gt, bound_th=1) == pytest.approx(0.625)
    assert boundary_f(gt, pred, bound_th=1) == pytest.approx(0.625)
    assert boundary_f(pred, gt, bound_th=3) == pytest.approx(1.0)


def test_thin_line_shifted_by_one():
    # a one-pixel vertical line, rows 2..7; the prediction one column to the right. Each
    # boundary is a 7x2 block (rows 1..7): they share one column
    gt = np.zeros((10, 10), np.uint8)
    gt[2:8, 5] = 1
    pred = np.roll(gt, 1, axis=1)
    assert boundary_map(gt).sum() == 14
    j, f = jf(pred, gt, bound_th=1)
    assert j == 0.0
    assert f == pytest.approx(1.0)
    assert boundary_f(pred, gt, bound_th=0) == pytest.approx(0.5)  # P = R = 7 / 14


def test_f_empty_cases():
    empty = np.zeros((8, 8), np.uint8)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(square(2, 2, 3, (8, 8)), empty) == 0.0  # P = 0, R = 1
    assert boundary_f(empty, square(2, 2, 3, (8, 8))) == 0.0  # P = 1, R = 0
    assert boundary_f(square(2, 2, 3, (8, 8)), square(2, 2, 3, (8, 8))) == 1.0


def test_shape_checks():
    with pytest.raises(InvalidShapeError):
        region_similarity(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(InvalidShapeError):
        boundary_f(np.zeros((3,)), np.zeros((3,)))


def test_protocol_means_frames_then_expressions_then_sets():
    records = [
        ("A", "e1", 1.0, 1.0), ("A", "e1", 0.5, 0.0),  # e1: J 0.75, F 0.5
        ("A", "e2", 0.25, 0.5),                        # e2: J 0.25, F 0.5 -> A: J 0.5, F 0.5
        ("B", "e3", 1.0, 1.0),                         # B: J 1, F 1
    ]
    r = davis_protocol(records)
    assert r.sets["A"]["J"] == pytest.approx(0.5) and r.sets["A"]["F"] == pytest.approx(0.5)
    assert r.sets["A"]["expressions"] == 2
    assert r.J == pytest.approx(0.75) and r.F == pytest.approx(0.75)
    assert r.JF == pytest.approx(0.75)
    assert (r.expressions, r.frames) == (3, 4)
    with pytest.raises(ValueError):
        davis_protocol([])
