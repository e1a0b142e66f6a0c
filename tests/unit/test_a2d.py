"""A2D-Sentences reader against a hand-built fake release (tests/fixtures_release.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures_release import a2d_mask, make_a2d_release, rect

from acga.data.a2d import index_a2d, load_a2d_mask, read_a2d_h5, write_a2d_h5
from acga.data.records import Sample
from acga.errors import DataError

# Hand-derived from the tables in fixtures_release.py: vidA (train) rows 0, 1, 10, 2 in file
# order, frames ascending; vidC dropped (missed); vidB (test) with its "1 (copy)" row skipped.
EXPECTED_TRAIN = [
    Sample("a2d", "train", "vidA", 3, 0, "a man running", 24, 40, 6),
    Sample("a2d", "train", "vidA", 10, 0, "a man running", 24, 40, 9),
    Sample("a2d", "train", "vidA", 3, 1, "The dog jumping", 24, 40, 40),
    Sample("a2d", "train", "vidA", 7, 1, "The dog jumping", 24, 40, 5),
    Sample("a2d", "train", "vidA", 10, 2, "a Ball, rolling", 24, 40, 40),
]
EXPECTED_TEST = [
    Sample("a2d", "test", "vidB", 2, 1, "a Cat eating", 16, 24, 8),
    Sample("a2d", "test", "vidB", 5, 1, "a Cat eating", 16, 24, 0),
]


@pytest.fixture(scope="module")
def a2d_root(tmp_path_factory) -> Path:
    return make_a2d_release(tmp_path_factory.mktemp("a2d"), with_videos=False)


def test_enumeration_both_splits(a2d_root):
    samples, report = index_a2d(a2d_root)
    assert samples == EXPECTED_TRAIN + EXPECTED_TEST
    assert report.videos == {"train": 1, "test": 2}
    assert report.samples == {"train": 5, "test": 2}
    assert report.videos_listed == 4
    assert report.missed_videos_dropped == 1
    assert report.copy_rows_skipped == 1
    assert report.rows_without_video == 1
    assert report.ids_without_mask == [("vidA", 10)]
    assert report.masks_without_query == [("vidB", 5, 0)]
    assert report.bad_files == []
    text = report.summary()
    assert "samples: train 5, test 2 (total 7)" in text
    assert "vidA#10" in text and "vidB/00005#0" in text


@pytest.mark.parametrize("split, expected", [("train", EXPECTED_TRAIN), ("test", EXPECTED_TEST)])
def test_enumeration_per_split(a2d_root, split, expected):
    samples, report = index_a2d(a2d_root, split)
    assert samples == expected
    assert list(report.samples) == [split]
    # missed videos are dropped first, from both splits
    assert report.missed_videos_dropped == 1


def test_masks_are_untransposed_and_pick_the_first_duplicate(a2d_root):
    # vidA/00003: two instances stored (2, W, H); 24 x 40 is not square so a transposition shows
    m = load_a2d_mask(a2d_root, EXPECTED_TRAIN[2])
    assert m.shape == (24, 40) and m.dtype == np.uint8
    np.testing.assert_array_equal(m, rect(24, 40, (5, 9), (10, 20)))
    # vidA/00007: a single instance stored 2-D (W, H)
    np.testing.assert_array_equal(load_a2d_mask(a2d_root, EXPECTED_TRAIN[3]),
                                  rect(24, 40, (0, 1), (0, 5)))
    # vidA/00010 lists id 0 twice: the first mask (3 x 3), not the duplicate's (10 x 10)
    m = load_a2d_mask(a2d_root, EXPECTED_TRAIN[1])
    np.testing.assert_array_equal(m, a2d_mask("vidA", 10, 0))
    assert m.sum() == 9
    # vidB/00005: an all-zero mask is a sample with mask_sum 0
    assert load_a2d_mask(a2d_root, EXPECTED_TEST[1]).sum() == 0


def test_every_sample_mask_matches_its_record(a2d_root):
    samples, _ = index_a2d(a2d_root)
    for s in samples:
        m = load_a2d_mask(a2d_root, s)
        assert m.shape == (s.height, s.width)
        assert int(m.sum()) == s.mask_sum
        assert set(np.unique(m)) <= {0, 1}


def test_h5_with_trailing_masks(a2d_root):
    ids, masks = read_a2d_h5(a2d_root / "text_annotations" / "a2d_annotation_with_instances"
                             / "vidB" / "00002.h5")
    assert ids == [1]
    assert masks.shape == (3, 16, 24)  # two trailing masks that belong to no instance
    np.testing.assert_array_equal(masks[0], rect(16, 24, (0, 4), (0, 2)))


def test_h5_listing_more_instances_than_masks_is_bad(tmp_path):
    import h5py

    path = tmp_path / "00001.h5"
    with h5py.File(path, "w") as f:
        f["instance"] = np.array([0.0, 1.0])
        f["reMask"] = np.zeros((5, 3), np.uint8)
    with pytest.raises(DataError, match=r"00001\.h5.*only 1 masks"):
        read_a2d_h5(path)


def test_videoset_with_header_keeps_first_video(tmp_path):
    root = make_a2d_release(tmp_path / "a2d", with_videos=False)
    csv_path = root / "Release" / "videoset.csv"
    csv_path.write_text("vid,label,start,end,h,w,frames,annotated,subset\n" + csv_path.read_text())
    samples, report = index_a2d(root)
    assert samples == EXPECTED_TRAIN + EXPECTED_TEST
    assert report.videos_listed == 4


def test_videoset_wrong_columns(tmp_path):
    root = make_a2d_release(tmp_path / "a2d", with_videos=False)
    csv_path = root / "Release" / "videoset.csv"
    csv_path.write_text(csv_path.read_text() + "vidQ,1,2\n")
    with pytest.raises(DataError, match=r"videoset\.csv line 5 has 3 columns, expected 9"):
        index_a2d(root)


def test_corrupt_h5_raises_or_is_skipped(tmp_path):
    root = make_a2d_release(tmp_path / "a2d", corrupt=True, with_videos=False)
    with pytest.raises(DataError, match=r"vidE[/\\]00004\.h5.*--skip-bad"):
        index_a2d(root)
    samples, report = index_a2d(root, skip_bad=True)
    assert samples == EXPECTED_TRAIN + EXPECTED_TEST
    assert [Path(p).name for p, _ in report.bad_files] == ["00004.h5"]
    assert "00004.h5" in report.summary()


@pytest.mark.parametrize("rel, needle", [
    ("Release/videoset.csv", "has no Release/videoset.csv"),
    ("text_annotations/a2d_annotation.txt", "has no text_annotations/a2d_annotation.txt"),
    ("text_annotations/a2d_missed_videos.txt", "has no text_annotations/a2d_missed_videos.txt"),
])
def test_missing_file_errors_name_the_path(tmp_path, rel, needle):
    root = make_a2d_release(tmp_path / "a2d", with_videos=False)
    (root / rel).unlink()
    with pytest.raises(DataError) as info:
        index_a2d(root)
    msg = str(info.value)
    assert str(root) in msg and needle in msg and "pass the folder holding Release/" in msg


def test_missing_root_and_mask_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        index_a2d(tmp_path / "nowhere")
    root = make_a2d_release(tmp_path / "a2d", with_videos=False)
    import shutil

    shutil.rmtree(root / "text_annotations" / "a2d_annotation_with_instances")
    with pytest.raises(DataError, match="a2d_annotation_with_instances"):
        index_a2d(root)
    with pytest.raises(DataError, match=r"00003\.h5.*does not exist"):
        load_a2d_mask(root, EXPECTED_TRAIN[0])


def test_bad_split(a2d_root):
    with pytest.raises(DataError, match="'val'"):
        index_a2d(a2d_root, "val")


def test_written_h5_is_stored_as_released_and_reads_back(tmp_path):
    """write_a2d_h5 stores what the release stores (float ids, transposed masks, boxes x1 y1
    x2 y2) and read_a2d_h5 returns the masks unchanged; one instance drops the axis."""
    import h5py

    masks = np.zeros((2, 4, 6), np.uint8)  # (N, H, W)
    masks[0, 1:3, 0:2] = 1  # rows 1-2, columns 0-1
    masks[1, 0, 5] = 1
    path = tmp_path / "v" / "00007.h5"
    write_a2d_h5(path, [3, 0], masks)
    with h5py.File(path, "r") as f:
        assert f["instance"][()].dtype == np.float64 and f["instance"][()].tolist() == [3.0, 0.0]
        assert f["reMask"].shape == (2, 6, 4)  # (N, W, H)
        np.testing.assert_array_equal(f["reBBox"][()], [[0, 5], [1, 0], [1, 5], [2, 0]])
    ids, back = read_a2d_h5(path)
    assert ids == [3, 0]
    np.testing.assert_array_equal(back, masks)

    write_a2d_h5(tmp_path / "one.h5", [2], masks[:1])
    with h5py.File(tmp_path / "one.h5", "r") as f:
        assert f["reMask"].shape == (6, 4)  # (W, H)
    ids, back = read_a2d_h5(tmp_path / "one.h5")
    assert ids == [2]
    np.testing.assert_array_equal(back, masks[:1])
    # no timestamps: the same masks give the same bytes
    write_a2d_h5(tmp_path / "again.h5", [3, 0], masks)
    assert (tmp_path / "again.h5").read_bytes() == path.read_bytes()
