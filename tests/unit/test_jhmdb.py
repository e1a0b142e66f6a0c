"""JHMDB-Sentences reader against a hand-built fake release (tests/fixtures_release.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures_release import jhmdb_mask, make_jhmdb_release, write_mttr_frame_list

from acga.data.jhmdb import (index_jhmdb, load_jhmdb_mask, read_puppet_mask, uniform_frames,
                             write_puppet_mask)
from acga.data.records import Sample
from acga.errors import DataError

# v_wave1: 6 PNGs, 6 masks of 3 x (t + 1); v_run1: 10 PNGs but 8 masks of 2 x (t + 1).
# uniform, 0-based floor((2i+1)T/6): T=6 -> 1, 3, 5; T=8 -> 1, 4, 6 (1-based +1).
EXPECTED_UNIFORM = [
    Sample("jhmdb", None, "v_wave1", 2, None, "a woman waving", 12, 20, 6),
    Sample("jhmdb", None, "v_wave1", 4, None, "a woman waving", 12, 20, 12),
    Sample("jhmdb", None, "v_wave1", 6, None, "a woman waving", 12, 20, 18),
    Sample("jhmdb", None, "v_run1", 2, None, "Man running on the Left", 12, 20, 4),
    Sample("jhmdb", None, "v_run1", 5, None, "Man running on the Left", 12, 20, 10),
    Sample("jhmdb", None, "v_run1", 7, None, "Man running on the Left", 12, 20, 14),
]


@pytest.fixture(scope="module")
def jhmdb_root(tmp_path_factory) -> Path:
    return make_jhmdb_release(tmp_path_factory.mktemp("jhmdb"))


@pytest.mark.parametrize("t, expected", [(6, [2, 4, 6]), (8, [2, 5, 7]), (40, [7, 21, 34]),
                                         (3, [1, 2, 3]), (1, [1])])
def test_uniform_frames(t, expected):
    assert uniform_frames(t) == expected


def test_uniform(jhmdb_root):
    samples, report = index_jhmdb(jhmdb_root)
    assert samples == EXPECTED_UNIFORM
    assert report.videos == {"all": 2} and report.samples == {"all": 6}
    assert "more PNGs than masks" in report.summary() and report.bad_files == []
    assert "samples: 6\n" in report.summary()


def test_all_frames_stop_at_last_mask(jhmdb_root):
    samples, _ = index_jhmdb(jhmdb_root, "all")
    assert [(s.video, s.frame) for s in samples] == (
        [("v_wave1", f) for f in range(1, 7)] + [("v_run1", f) for f in range(1, 9)])
    assert [s.mask_sum for s in samples if s.video == "v_run1"] == [2 * f for f in range(1, 9)]


def test_mttr_frame_list(jhmdb_root, tmp_path):
    path = write_mttr_frame_list(tmp_path / "meta.json",
                                 [("v_run1", 3), ("v_run1", 1), ("v_wave1", 6)])
    samples, _ = index_jhmdb(jhmdb_root, str(path))
    assert samples == [
        Sample("jhmdb", None, "v_run1", 1, None, "Man running on the Left", 12, 20, 2),
        Sample("jhmdb", None, "v_run1", 3, None, "Man running on the Left", 12, 20, 6),
        Sample("jhmdb", None, "v_wave1", 6, None, "a woman waving", 12, 20, 18),
    ]
    # frame 9 has a PNG but no mask
    bad = write_mttr_frame_list(tmp_path / "bad.json", [("v_run1", 9)])
    with pytest.raises(DataError, match="frame 9 of video v_run1, which has 8 usable"):
        index_jhmdb(jhmdb_root, bad)
    with pytest.raises(DataError, match="missing.json does not exist"):
        index_jhmdb(jhmdb_root, tmp_path / "missing.json")


def test_masks(jhmdb_root):
    for s in EXPECTED_UNIFORM:
        m = load_jhmdb_mask(jhmdb_root, s)
        assert m.shape == (12, 20) and m.dtype == np.uint8
        np.testing.assert_array_equal(m, jhmdb_mask(s.video, s.frame - 1))
    with pytest.raises(DataError, match="8 masks; frame 9"):
        load_jhmdb_mask(jhmdb_root, Sample("jhmdb", None, "v_run1", 9, None, "q", 12, 20, 0))


def test_corrupt_mat(tmp_path):
    root = make_jhmdb_release(tmp_path / "j", corrupt=True)
    with pytest.raises(DataError, match=r"v_run1[/\\]puppet_mask\.mat.*--skip-bad"):
        index_jhmdb(root)
    samples, report = index_jhmdb(root, skip_bad=True)
    assert samples == EXPECTED_UNIFORM[:3]
    assert len(report.bad_files) == 1 and report.bad_files[0][0].endswith("puppet_mask.mat")


@pytest.mark.parametrize("rel, needle", [
    ("jhmdb_annotation.txt", "has no jhmdb_annotation.txt"),
    ("Rename_Images", "has no Rename_Images/"),
    ("puppet_mask", "has no puppet_mask/"),
])
def test_missing_files_name_the_path(tmp_path, rel, needle):
    root = make_jhmdb_release(tmp_path / "j")
    target = root / rel
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DataError) as info:
        index_jhmdb(root)
    assert str(root) in str(info.value) and needle in str(info.value)


def test_missing_video_folder(tmp_path):
    root = make_jhmdb_release(tmp_path / "j")
    shutil.rmtree(root / "Rename_Images" / "run" / "v_run1")
    with pytest.raises(DataError, match="v_run1 has no frame folder"):
        index_jhmdb(root)
    samples, report = index_jhmdb(root, skip_bad=True)
    assert samples == EXPECTED_UNIFORM[:3] and len(report.bad_files) == 1


def test_written_puppet_mask_reads_back_with_fixed_bytes(tmp_path):
    import scipy.io

    part = np.zeros((5, 7, 3), np.uint8)  # (H, W, T)
    part[1:4, 2:5, 0] = 1
    part[0, 0, 2] = 1
    path = tmp_path / "run" / "v" / "puppet_mask.mat"
    write_puppet_mask(path, part)
    np.testing.assert_array_equal(read_puppet_mask(path), part)
    # scipy, an independent reader, finds the same array under the release's name
    np.testing.assert_array_equal(scipy.io.loadmat(str(path))["part_mask"], part)
    # the header text is fixed (scipy writes the time there), so the bytes repeat
    assert path.read_bytes()[:42] == b"MATLAB 5.0 MAT-file, written by acga synth"
    write_puppet_mask(tmp_path / "again.mat", part)
    assert (tmp_path / "again.mat").read_bytes() == path.read_bytes()
