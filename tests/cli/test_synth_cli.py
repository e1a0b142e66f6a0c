"""`acga synth`: the real main() on tiny outputs."""

from __future__ import annotations

import csv
import json

import pytest

from acga.cli.main import main


def test_writes_a2d_and_prints_one_summary_line(tmp_path, capsys):
    out = tmp_path / "a2d"
    assert main(["synth", "a2d", "--out", str(out), "--videos", "5", "--size", "32",
                 "--seed", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert "5 videos" in lines[0] and "32x42" in lines[0] and "samples train" in lines[0]
    rows = list(csv.reader(open(out / "Release" / "videoset.csv")))
    assert len(rows) == 5 and {r[4] for r in rows} == {"32"} and {r[5] for r in rows} == {"42"}
    meta = json.loads((out / "synth_meta.json").read_text())
    assert meta["seed"] == 4 and len(meta["videos"]) == 5
    assert len(list((out / "Release" / "clips320H").glob("*.mp4"))) == 5


def test_rewrites_a_previous_output_without_stale_videos(tmp_path, capsys):
    out = tmp_path / "a2d"
    assert main(["synth", "a2d", "--out", str(out), "--videos", "4", "--size", "32",
                 "--no-mp4"]) == 0
    before = {p.name for p in (out / "Release" / "pngs320H").iterdir()}
    assert main(["synth", "a2d", "--out", str(out), "--videos", "2", "--size", "32",
                 "--seed", "9", "--no-mp4"]) == 0
    after = {p.name for p in (out / "Release" / "pngs320H").iterdir()}
    assert len(before) == 4 and len(after) == 2 and not before & after
    assert not (out / "Release" / "clips320H").exists()
    assert not (out / ".acga-synth-staging").exists()


def test_refuses_a_foreign_folder_unless_forced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["synth", "jhmdb", "--out", str(out), "--videos", "1", "--size", "32"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert main(["synth", "jhmdb", "--out", str(out), "--videos", "1", "--size", "32",
                 "--force"]) == 0
    assert (out / "thesis.tex").read_text() == "precious"
    assert (out / "jhmdb_annotation.txt").is_file()
    # a JHMDB output is not overwritten by the A2D layout by mistake
    assert main(["synth", "a2d", "--out", str(out), "--videos", "1", "--size", "32"]) == 2
    assert "jhmdb layout" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--size", "16"], "--size"),
    (["--videos", "0"], "videos"),
])
def test_bad_values_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["synth", "a2d", "--out", str(tmp_path / "x")] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "acga synth a2d --out" in text and "--force" in text
