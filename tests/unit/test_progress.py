"""utils.progress_bar: a tqdm bar on a terminal, a few log lines otherwise."""

from __future__ import annotations

import io
import logging

import pytest

from acga import utils
from acga.utils import progress_bar


def _messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "acga.progress"]


def test_without_a_terminal_nothing_is_drawn_and_one_line_is_logged(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="acga.progress"):
        bar = progress_bar(range(5000), desc="epoch 1/3", unit="step")
        total = 0
        for i in bar:
            total += i
            bar.set_postfix(loss=f"{i / 1000:.4f}")
    assert total == sum(range(5000))  # every item passes through
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
    msgs = _messages(caplog)
    assert len(msgs) == 1
    assert msgs[0].startswith("epoch 1/3: 5000/5000 steps in ") and msgs[0].endswith("loss=4.9990")


def test_without_a_terminal_long_runs_log_once_per_interval(monkeypatch, capsys, caplog):
    now = [100.0]
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    with caplog.at_level(logging.INFO, logger="acga.progress"):
        bar = progress_bar(total=10, desc="extract rgb", unit="clip", interval_s=60)
        for _ in range(10):  # 25 s per clip: lines at 75 s (n=3), 150 s (n=6), 225 s (n=9)
            now[0] += 25.0
            bar.update(1)
        bar.close()
        bar.close()  # a second close logs nothing
    msgs = _messages(caplog)
    assert [m.split(" in ")[0] for m in msgs] == [
        "extract rgb: 3/10 clips so far", "extract rgb: 6/10 clips so far",
        "extract rgb: 9/10 clips so far", "extract rgb: 10/10 clips"]
    assert msgs[-1] == "extract rgb: 10/10 clips in 250.0 s, 0.04 clip/s"
    assert capsys.readouterr().err == ""


def test_disabled_shows_and_logs_nothing(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="acga.progress"):
        bar = progress_bar(total=3, desc="x", enabled=False)
        bar.update(3)
        bar.close()
    assert _messages(caplog) == [] and capsys.readouterr().err == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_it_is_a_tqdm_bar(monkeypatch):
    from tqdm import tqdm

    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    bar = progress_bar(range(3), desc="segment", unit="frame")
    assert isinstance(bar, tqdm)
    assert list(bar) == [0, 1, 2]
    assert "segment" in term.getvalue() and "3/3" in term.getvalue()


@pytest.mark.parametrize("stream", [None, object()])
def test_streams_without_isatty_count_as_no_terminal(monkeypatch, stream):
    monkeypatch.setattr("sys.stderr", stream)
    assert not utils._stderr_is_terminal()
