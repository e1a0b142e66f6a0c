"""`acga data samples` through the real main()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures_release import (make_a2d_release, make_jhmdb_release,
                              write_mttr_frame_list)

from acga.cli.main import main
from acga.data.records import SAMPLE_KEYS


@pytest.fixture(scope="module")
def a2d_root(tmp_path_factory) -> Path:
    return make_a2d_release(tmp_path_factory.mktemp("a2d_cli"), with_videos=False)


@pytest.fixture(scope="module")
def jhmdb_root(tmp_path_factory) -> Path:
    return make_jhmdb_release(tmp_path_factory.mktemp("jhmdb_cli"))


def test_a2d_test_split(a2d_root, capsys):
    assert main(["data", "samples", "a2d", str(a2d_root), "--split", "test"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        '{"dataset": "a2d", "split": "test", "video": "vidB", "frame": 2, "instance": 1, '
        '"query": "a Cat eating", "height": 16, "width": 24, "mask_sum": 8}',
        '{"dataset": "a2d", "split": "test", "video": "vidB", "frame": 5, "instance": 1, '
        '"query": "a Cat eating", "height": 16, "width": 24, "mask_sum": 0}',
    ]
    assert "samples: test 2\n" in err


def test_a2d_both_splits(a2d_root, capsys):
    assert main(["data", "samples", "a2d", str(a2d_root)]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [tuple(r) for r in records] == [SAMPLE_KEYS] * 7
    assert [(r["split"], r["video"], r["frame"], r["instance"]) for r in records] == [
        ("train", "vidA", 3, 0), ("train", "vidA", 10, 0), ("train", "vidA", 3, 1),
        ("train", "vidA", 7, 1), ("train", "vidA", 10, 2), ("test", "vidB", 2, 1),
        ("test", "vidB", 5, 1)]
    assert "missed dropped" in err and "bad files skipped: 0" in err
    # logging flags are accepted after the positionals too
    assert main(["data", "samples", "a2d", str(a2d_root), "--split", "train", "-q"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_jhmdb_frames(jhmdb_root, tmp_path, capsys):
    assert main(["data", "samples", "jhmdb", str(jhmdb_root)]) == 0
    out, _ = capsys.readouterr()
    first = json.loads(out.splitlines()[0])
    assert first == {"dataset": "jhmdb", "split": None, "video": "v_wave1", "frame": 2,
                     "instance": None, "query": "a woman waving", "height": 12, "width": 20,
                     "mask_sum": 6}
    assert len(out.splitlines()) == 6
    assert main(["data", "samples", "jhmdb", str(jhmdb_root), "--frames", "all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 14
    meta = write_mttr_frame_list(tmp_path / "meta.json", [("v_run1", 8)])
    assert main(["data", "samples", "jhmdb", str(jhmdb_root), "--frames", str(meta)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["frame"] == 8 and json.loads(line)["mask_sum"] == 16


def test_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["data", "samples", "a2d", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and str(missing) in err
    root = make_a2d_release(tmp_path / "bad", corrupt=True, with_videos=False)
    assert main(["data", "samples", "a2d", str(root), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acga data: error:") and "00004.h5" in err and "--skip-bad" in err
    assert main(["data", "samples", "a2d", str(root), "--split", "test", "--skip-bad"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert "bad files skipped: 1" in err and "00004.h5" in err.splitlines()[-1]


def test_corrupt_mat_cli(tmp_path, capsys):
    root = make_jhmdb_release(tmp_path / "j", corrupt=True)
    assert main(["data", "samples", "jhmdb", str(root)]) == 2
    assert "puppet_mask.mat" in capsys.readouterr().err
    assert main(["data", "samples", "jhmdb", str(root), "--skip-bad"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3 and "bad files skipped: 1" in err


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "acga data samples a2d /data/a2d_sentences --split test" in out
    with pytest.raises(SystemExit):
        main(["data", "samples", "jhmdb", "--help"])
    assert "--frames" in capsys.readouterr().out
