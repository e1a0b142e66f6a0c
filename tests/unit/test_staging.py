"""`acga.staging.StagedFolder` on real file trees: a new folder, a re-run replacing only the
files it owns, a clash refused with nothing changed, an interrupted run leaving nothing, stale
temporaries of killed runs, and the first-rename-wins mode."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acga.errors import DataError
from acga.staging import StagedFolder, files_under, temporary_prefix

OWN = re.compile(r"^(?:result\.txt|parts/\d+\.txt|marker\.json)$")


def staged(out: Path, **kw) -> StagedFolder:
    return StagedFolder(out, marker="marker.json", what="`test`", own_names=OWN, **kw)


def write_run(out: Path, files: dict[str, str], **kw) -> None:
    """One complete run: ``files`` staged, the marker listing them written last, published."""
    with staged(out, **kw) as s:
        for rel, text in files.items():
            (s.tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (s.tmp / rel).write_text(text)
        (s.tmp / "marker.json").write_text(json.dumps({"files": s.files() + ["marker.json"]}))
        s.publish()


def tree(folder: Path) -> dict[str, str]:
    return {rel: (folder / rel).read_text() for rel in files_under(folder)}


def hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_new_folder_is_the_renamed_temporary(tmp_path):
    out = tmp_path / "sub" / "out"  # the parent is created too
    with staged(out) as s:
        assert s.tmp.parent == out.parent and s.tmp.name.startswith(".out.tmp-")
        assert str(s.tmp).startswith(temporary_prefix(out))
        (s.tmp / "result.txt").write_text("1")
        (s.tmp / "marker.json").write_text("{}")
        inode = s.tmp.stat().st_ino
        s.publish()
    assert out.stat().st_ino == inode  # renamed, not copied
    assert tree(out) == {"marker.json": "{}", "result.txt": "1"}
    assert hidden(out.parent) == []


def test_rerun_replaces_owned_files_and_keeps_foreign_ones(tmp_path):
    out = tmp_path / "out"
    write_run(out, {"result.txt": "old", "parts/0.txt": "a", "parts/1.txt": "b",
                    "listed.bin": "mine"})
    (out / "notes.md").write_text("the user's")  # foreign, top level
    (out / "parts" / "keep.txt").write_text("the user's too")  # foreign, in an owned folder
    write_run(out, {"result.txt": "new", "parts/0.txt": "A"})
    assert tree(out) == {
        "result.txt": "new", "parts/0.txt": "A",  # replaced
        "notes.md": "the user's", "parts/keep.txt": "the user's too",  # kept
        "marker.json": json.dumps({"files": ["parts/0.txt", "result.txt", "marker.json"]})}
    # parts/1.txt (own name) and listed.bin (listed by the old marker) are gone
    assert hidden(tmp_path) == []


def test_files_with_own_names_are_owned_without_a_list(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.json").write_text("not json")  # an older version, or a damaged marker
    (out / "parts").mkdir()
    (out / "parts" / "7.txt").write_text("stale")
    (out / "other.txt").write_text("foreign")
    s = staged(out)
    assert s.owned() == {"marker.json", "parts/7.txt"}
    write_run(out, {"result.txt": "r"})
    assert sorted(tree(out)) == ["marker.json", "other.txt", "result.txt"]


def test_a_clash_is_refused_with_nothing_changed(tmp_path):
    out = tmp_path / "out"
    write_run(out, {"result.txt": "old"})
    (out / "extra.txt").write_text("the user's")  # where the next run writes a file
    (out / "parts").write_text("a user's file where the run needs a folder")
    before = tree(out)
    with pytest.raises(DataError, match=r"out: extra\.txt is not a file `test` wrote and this "
                                        r"run would replace it; move it away or choose another --out"):
        write_run(out, {"result.txt": "new", "extra.txt": "x"})
    assert tree(out) == before and hidden(tmp_path) == []
    with pytest.raises(DataError, match="parts is not a file `test` wrote"):
        write_run(out, {"parts/0.txt": "x"})
    assert tree(out) == before and hidden(tmp_path) == []


def test_a_foreign_folder_or_a_file_is_refused_before_staging(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match=r"mine exists and is not an `test` output \(no "
                                        r"marker\.json\); choose another --out or empty it"):
        staged(mine).begin()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(DataError, match="is a file; pass a folder with --out"):
        staged(a_file).begin()
    assert hidden(tmp_path) == [] and tree(mine) == {"thesis.tex": "precious"}
    write_run(mine, {"result.txt": "r"}, allow_foreign=True)  # --force
    assert tree(mine)["thesis.tex"] == "precious" and tree(mine)["result.txt"] == "r"
    empty = tmp_path / "empty"
    empty.mkdir()
    write_run(empty, {"result.txt": "r"})  # an empty folder is anyone's
    assert sorted(tree(empty)) == ["marker.json", "result.txt"]


def test_an_interrupted_run_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with staged(out) as s:
            (s.tmp / "result.txt").write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    write_run(out, {"result.txt": "old"})
    before = tree(out)
    with pytest.raises(RuntimeError):
        with staged(out) as s:
            (s.tmp / "result.txt").write_text("half")
            raise RuntimeError("model failed")
    assert tree(out) == before and hidden(tmp_path) == []
    with staged(out) as s:  # leaving without publish() discards too
        (s.tmp / "result.txt").write_text("never published")
    assert tree(out) == before and hidden(tmp_path) == []


def test_without_a_list_an_interrupted_publication_leaves_no_marker(tmp_path, monkeypatch):
    """``listed_key=None`` (the synthetic generator): the old marker goes before the old files,
    so a publication that fails half-way never leaves a folder that looks complete; with a list
    the old marker stays (it still says which files were ours)."""
    import acga.staging

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    for listed_key, kept in ((None, {"notes.md"}), ("files", {"notes.md", "marker.json"})):
        out = tmp_path / f"out-{listed_key}"
        write_run(out, {"result.txt": "old"}, listed_key=listed_key)
        (out / "notes.md").write_text("the user's")
        with pytest.raises(OSError, match="No space"):
            with staged(out, listed_key=listed_key) as s:
                (s.tmp / "result.txt").write_text("new")
                (s.tmp / "marker.json").write_text("{}")
                with monkeypatch.context() as patch:
                    patch.setattr(acga.staging.os, "replace", full_disk)
                    s.publish()
        assert set(tree(out)) == kept and hidden(tmp_path) == []


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".out.tmp-{dead}-0123abcd"
    (stale / "parts").mkdir(parents=True)
    (stale / "parts" / "0.txt").write_text("from a SIGKILLed run")
    live = tmp_path / f".out.tmp-{os.getpid()}-0123abcd"  # a run in progress: untouched
    live.mkdir()
    other = tmp_path / f".other.tmp-{dead}-0123abcd"  # another output's: untouched
    other.mkdir()
    write_run(tmp_path / "out", {"result.txt": "r"})
    assert hidden(tmp_path) == sorted([live.name, other.name])


def test_first_rename_wins(tmp_path):
    root = tmp_path / "data"
    first = StagedFolder(root, marker="meta.json", what="`test`", replace="first",
                         allow_foreign=True)
    second = StagedFolder(root, marker="meta.json", what="`test`", replace="first",
                          allow_foreign=True)
    with first, second:  # two processes building the same data at once
        assert first.tmp != second.tmp
        for s, text in ((first, "first"), (second, "second")):
            (s.tmp / "frames.txt").write_text(text)
            (s.tmp / "meta.json").write_text("{}")
        first.publish()
        second.publish()  # finds a finished folder: discards its own copy
    assert tree(root) == {"frames.txt": "first", "meta.json": "{}"}
    assert hidden(tmp_path) == []
    # an unfinished folder in the way (no meta) is an error, and the temporary is removed
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "half.txt").write_text("x")
    with pytest.raises(OSError):
        with StagedFolder(blocked, marker="meta.json", what="`test`", replace="first",
                          allow_foreign=True) as s:
            (s.tmp / "meta.json").write_text("{}")
            s.publish()
    assert tree(blocked) == {"half.txt": "x"} and hidden(tmp_path) == []
