"""`acga ablate` on bad input: a run count below one, a config outside the suite, an unknown
suite. Each is refused with one error line and exit 2 before anything is written."""

from __future__ import annotations

import pytest

from bad_input import error_line, tree


@pytest.mark.parametrize("count", ["0", "-1", "-5"])
def test_seeds_below_one_are_refused_before_any_work(tmp_path, capsys, count):
    out = tmp_path / "out"
    error_line(capsys, ["ablate", "--seeds", count, "--out", str(out), "--quick", "--no-progress"],
               f"--seeds {count}", "1 or more")
    assert not out.exists()


def test_seeds_below_one_leave_an_existing_out_folder_untouched(tmp_path, capsys):
    error_line(capsys, ["ablate", "--seeds", "0", "--out", str(tmp_path)], "--seeds 0")
    assert tree(tmp_path) == set()


def test_only_outside_the_suite_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    error_line(capsys, ["ablate", "--seeds", "2", "--only", "ablations/nope", "--out", str(out)],
               "--only ablations/nope", "not in suite 'paper'", "ablations/baseline")
    assert not out.exists()


@pytest.mark.parametrize("argv", [["--seeds", "three"], ["--suite", "nope"]])
def test_malformed_options_are_usage_errors(tmp_path, capsys, argv):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        from acga.cli.main import main

        main(["ablate", *argv, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert argv[0] in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("argv, words", [
    (["--size", "huge"], ["--size huge", "unknown size", "demo, quick, map8, long, map16"]),
    (["--size", "long", "--quick"], ["--quick and --size long"]),
])
def test_a_size_that_does_not_exist_is_refused_before_any_work(tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    error_line(capsys, ["ablate", *argv, "--out", str(out), "--no-progress"], *words)
    assert not out.exists()
