"""Bad input for the file-writing options of the quick commands (`score --json`, `params --json`,
`convert-official --out`, `--logfile` of any command) and for the files they read: exit 2, one
error line naming the path and the cause in words, no traceback, nothing left behind."""

from __future__ import annotations

import argparse
import errno
import zipfile

import numpy as np
import pytest
import torch

from bad_input import CAUSES, error_line, inject, needs_non_root, places, tree  # noqa: F401

GT = np.zeros((2, 4, 4), dtype=bool)
GT[0, :2, :2] = True


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "masks.npz"
    np.savez(path, pred=GT, gt=GT)
    return path


# --------------------------------------------------------------------- score --json (6 cases)

def test_score_json_under_a_file(npz, places, capsys):
    error_line(capsys, ["score", str(npz), str(npz), "--json", str(places.under_file / "s.json")],
               str(places.file), "not a directory", "is a file")
    assert places.untouched()


def test_score_json_is_a_folder(npz, places, capsys):
    error_line(capsys, ["score", str(npz), str(npz), "--json", str(places.folder)],
               str(places.folder), "is a directory")
    assert places.untouched()


@needs_non_root
def test_score_json_in_a_readonly_folder(npz, places, capsys):
    error_line(capsys, ["score", str(npz), str(npz), "--json", str(places.readonly / "s.json")],
               str(places.readonly / "s.json"), "permission denied")
    assert places.untouched()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_score_json_refused_by_the_file_system(npz, tmp_path, monkeypatch, capsys, code):
    out = tmp_path / "out" / "s.json"
    out.parent.mkdir()
    inject(monkeypatch, code, "fsync" if code == errno.ENOSPC else "mkstemp")
    error_line(capsys, ["score", str(npz), str(npz), "--json", str(out)], str(out), CAUSES[code])
    assert tree(out.parent) == set()  # no JSON, no temporary file


# ------------------------------------------------------------- score: files it reads (5 cases)

def _pickled_npz(path):
    np.savez(path, pred=np.array([{"a": 1}, None], dtype=object), gt=GT)


@pytest.mark.parametrize("content, expect", [
    (lambda p: p.write_text("pred,gt\n1,0\n"), "is not an .npz file: it is a text file"),
    (lambda p: p.write_bytes(bytes(range(7, 250)) * 3), "is not an .npz file: it is unrecognised binary data"),
    (lambda p: (np.savez(p, pred=GT, gt=GT), p.write_bytes(p.read_bytes()[:60])), "damaged or truncated .npz"),
    (_pickled_npz, "holds Python objects, which acga does not load"),
    (lambda p: np.save(p.with_suffix(".npy"), GT) or p.with_suffix(".npy").rename(p), "it is a NumPy .npy array"),
])
def test_score_names_what_a_bad_npz_is(tmp_path, capsys, content, expect):
    bad = tmp_path / "bad.npz"
    content(bad)
    line = error_line(capsys, ["score", str(bad), str(bad)], str(bad), expect)
    assert "unsafe" not in line and "allow_pickle" not in line


# -------------------------------------------------------------------- params --json (3 cases)

def test_params_json_under_a_file_is_refused_before_counting(places, capsys):
    error_line(capsys, ["params", "ablations/baseline", "--json", str(places.under_file)],
               str(places.file), "not a directory")
    assert capsys.readouterr().out == ""  # refused before the table is printed
    assert places.untouched()


def test_params_json_is_a_folder(places, capsys):
    error_line(capsys, ["params", "ablations/baseline", "--json", str(places.folder)],
               "is a directory")
    assert places.untouched()


def test_params_json_disk_full(tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.ENOSPC)
    error_line(capsys, ["params", "ablations/baseline", "--json", str(tmp_path / "p.json")],
               str(tmp_path / "p.json"), "no space left on device")
    assert tree(tmp_path) == set()


# ------------------------------------------------------ --logfile, any command (4 cases)

@pytest.mark.parametrize("where", ["under_file", "folder"])
def test_logfile_that_cannot_be_opened(npz, places, capsys, where):
    target = getattr(places, where)
    error_line(capsys, ["score", str(npz), str(npz), "--logfile", str(target)],
               "not a directory" if where == "under_file" else "is a directory")
    assert places.untouched()


@needs_non_root
def test_logfile_in_a_readonly_folder(places, capsys):
    error_line(capsys, ["params", "ablations/baseline", "--logfile", str(places.readonly / "l")],
               "permission denied")


def test_logfile_after_the_command_line(tmp_path, places, capsys):
    # acga data accepts the logging flags after its positionals too
    error_line(capsys, ["data", "samples", "a2d", str(tmp_path), "--logfile", str(places.folder)],
               str(places.folder), "is a directory")


# ----------------------------------------------------- convert-official (4 + 6 cases)

@pytest.fixture
def legacy_pth(tmp_path):
    path = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 1, "state_dict": {"w": torch.zeros(1)}}, path)
    return path


@pytest.mark.parametrize("where, cause", [("under_file", "not a directory"),
                                          ("folder", "is a directory")])
def test_convert_out_path_refused_before_reading(legacy_pth, places, capsys, where, cause):
    error_line(capsys, ["convert-official", str(legacy_pth), "--out", str(getattr(places, where))],
               cause)
    assert places.untouched()


@needs_non_root
def test_convert_out_in_a_readonly_folder(legacy_pth, places, capsys):
    error_line(capsys, ["convert-official", str(legacy_pth), "--out",
                        str(places.readonly / "o.safetensors")], "permission denied")


def test_convert_out_on_a_readonly_file_system(legacy_pth, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.EROFS, "mkstemp")
    error_line(capsys, ["convert-official", str(legacy_pth), "--out", str(tmp_path / "o.st")],
               str(tmp_path / "o.st"), "read-only file system")
    assert not (tmp_path / "o.st").exists()


def _zip_of_other_things(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")


def _pickle_with_an_object(path):
    torch.save({"epoch": 1, "state_dict": {}, "args": argparse.Namespace(lr=1)}, path)


def _truncated_zip(path):
    torch.save({"epoch": 1, "state_dict": {"w": torch.zeros(100)}}, path)
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("content, expect", [
    (lambda p: p.write_bytes(bytes(range(1, 256)) * 16), "is not a PyTorch file: it is unrecognised binary data"),
    (lambda p: p.write_text("epoch: 9\n"), "is not a PyTorch file: it is a text file"),
    (lambda p: p.write_bytes(b""), "is not a PyTorch file: it is an empty file"),
    (_truncated_zip, "is a damaged or truncated PyTorch checkpoint"),
    (_zip_of_other_things, "is a zip archive but not a PyTorch checkpoint (it holds notes.txt)"),
    (_pickle_with_an_object, "holds a Python object of type argparse.Namespace"),
])
def test_convert_says_what_a_bad_checkpoint_is(tmp_path, capsys, content, expect):
    bad = tmp_path / "model_best.pth.tar"
    content(bad)
    line = error_line(capsys, ["convert-official", str(bad), "--out", str(tmp_path / "o.st")],
                      str(bad), expect)
    assert "weights_only" not in line and "trust" not in line  # never advise an unsafe load
    assert not (tmp_path / "o.st").exists()
