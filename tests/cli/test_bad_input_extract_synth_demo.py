"""`acga extract`, `acga synth` and `acga demo` on bad input: output folders the file system
refuses (checked before any work), a disk that fills while writing (no partial output), devices
this machine lacks, I3D weights that are not weights."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from bad_input import CAUSES, error_line, inject, needs_non_root, places, tree  # noqa: F401
from fixtures_release import make_a2d_release


@pytest.fixture(scope="module")
def a2d_root(tmp_path_factory):
    return make_a2d_release(tmp_path_factory.mktemp("a2d_extract_bad"))


def _extract(root, out, *extra):
    return ["extract", "--dataset", "a2d", "--root", str(root), "--out", str(out), "--size", "32",
            "--clip-len", "8", "--workers", "0", "--device", "cpu", "--no-progress", "-q", *extra]


# --------------------------------------------------------------- extract --out (5 cases)

@pytest.mark.parametrize("where", ["under_file", "file"])
def test_extract_out_refused_before_any_work(a2d_root, places, capsys, where):
    error_line(capsys, _extract(a2d_root, getattr(places, where)), str(places.file),
               "not a directory")
    assert places.untouched()


@needs_non_root
def test_extract_out_in_a_readonly_folder(a2d_root, places, capsys):
    error_line(capsys, _extract(a2d_root, places.readonly / "cache"), "permission denied")
    assert places.untouched()


def test_extract_out_on_a_readonly_file_system(a2d_root, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.EROFS, "mkstemp")
    error_line(capsys, _extract(a2d_root, tmp_path / "cache"), str(tmp_path / "cache"),
               "read-only file system")
    assert not (tmp_path / "cache").exists()


def test_extract_disk_full_leaves_no_partial_feature(a2d_root, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.ENOSPC)
    error_line(capsys, _extract(a2d_root, tmp_path / "cache"), "no space left on device")
    left = tree(tmp_path)
    assert not [p for p in left if p.endswith((".tmp", ".npy"))], left


# ------------------------------------------------------ extract: device, weights (4 cases)

@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x"])
def test_extract_unknown_device(a2d_root, tmp_path, capsys, device):
    argv = _extract(a2d_root, tmp_path / "cache")
    argv[argv.index("--device") + 1] = device
    error_line(capsys, argv, f"--device {device!r} is not a device", "cpu, cuda, cuda:N")
    assert not (tmp_path / "cache").exists()


def test_extract_weights_of_random_bytes(a2d_root, tmp_path, capsys):
    weights = tmp_path / "rgb_imagenet.pt"
    weights.write_bytes(bytes(np.random.default_rng(2).integers(0, 256, 3000, np.uint8)))
    line = error_line(capsys, _extract(a2d_root, tmp_path / "cache", "--weights", str(weights)),
                      str(weights), "is not a PyTorch file")
    assert "weights_only" not in line and not (tmp_path / "cache").exists()


# ------------------------------------------------------------- synth --out (5 cases)

def _synth(out, *extra):
    return ["synth", "a2d", "--out", str(out), "--videos", "2", "--size", "32", "--no-mp4", *extra]


@pytest.mark.parametrize("where", ["under_file", "file"])
def test_synth_out_refused(places, capsys, where):
    error_line(capsys, _synth(getattr(places, where)), str(places.file), "not a directory")
    assert places.untouched()


@needs_non_root
def test_synth_out_in_a_readonly_folder(places, capsys):
    error_line(capsys, _synth(places.readonly / "s"), "permission denied")
    assert places.untouched()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_synth_refused_writes_leave_nothing(tmp_path, monkeypatch, capsys, code):
    work = tmp_path / "work"
    work.mkdir()
    inject(monkeypatch, code, "fsync" if code == errno.ENOSPC else "mkstemp")
    error_line(capsys, _synth(work / "s"), CAUSES[code])
    assert tree(work) == set()  # the staging folder is gone too


# -------------------------------------------------------------- demo --out (4 cases)

@pytest.mark.parametrize("where", ["under_file", "file"])
def test_demo_out_refused_before_any_work(places, capsys, where):
    error_line(capsys, ["demo", "--quick", "--out", str(getattr(places, where)), "--no-progress"],
               str(places.file), "not a directory")
    assert places.untouched()


@needs_non_root
def test_demo_out_in_a_readonly_folder(places, capsys):
    error_line(capsys, ["demo", "--quick", "--out", str(places.readonly / "d")],
               "permission denied")


def test_demo_on_a_readonly_file_system(tmp_path, monkeypatch, capsys):
    inject(monkeypatch, errno.EROFS, "mkstemp")
    error_line(capsys, ["demo", "--quick", "--out", str(tmp_path / "d")], str(tmp_path / "d"),
               "read-only file system")
    assert not (tmp_path / "d").exists()


def test_demo_refuses_a_nan_learning_rate(tmp_path, capsys):
    error_line(capsys, ["demo", "--quick", "--out", str(tmp_path / "d"), "train.lr=nan"],
               "train.lr = nan must be finite and > 0")
    assert not (tmp_path / "d").exists()
