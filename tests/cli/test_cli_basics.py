"""The console script: help for every command, one-line errors for user mistakes, params."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from acga.cli.main import SUBCOMMANDS, main


def test_top_level_help_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command, _, _ in SUBCOMMANDS:
        assert command in out


@pytest.mark.parametrize("command", [c for c, _, _ in SUBCOMMANDS])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"acga {command}" in out and "example" in out.lower()


def test_params_prints_the_table_and_writes_json(tmp_path, capsys):
    out_json = tmp_path / "params.json"
    assert main(["params", "ablations/baseline_mrf", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "22,749,099" in out and "matches" in out
    data = json.loads(out_json.read_text())
    assert data[0]["trainable"] == 22_749_099 and data[0]["matches_paper"] is True


def test_user_mistakes_are_one_line_errors_with_exit_2(tmp_path, capsys):
    assert main(["params", "no_such_config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acga params: error: config no_such_config not found") and "Traceback" not in err
    assert main(["train", "acga_a2d", f"data.root={tmp_path / 'missing'}", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and str(tmp_path / "missing") in err
    assert main(["train", "acga_a2d", "model.mfr=true"]) == 2
    assert "did you mean model.mrf" in capsys.readouterr().err


def test_python_dash_m_acga_works():
    result = subprocess.run([sys.executable, "-m", "acga", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("acga ")
