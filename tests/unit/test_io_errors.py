"""The helpers behind the CLI's error lines: umask-honouring atomic writes, errno in words,
what a file is, which devices are accepted."""

from __future__ import annotations

import errno
import os
import stat

import pytest
import torch

from acga.checkpoint import save_checkpoint
from acga.config import config_to_dict, load_config
from acga.errors import ConfigError, describe_os_error
from acga.models import build_model
from acga.utils import atomic_write_json, file_kind, new_file_mode, resolve_device


@pytest.fixture
def umask_027():
    before = os.umask(0o027)
    yield
    os.umask(before)


def test_atomic_writes_honour_the_umask(tmp_path, umask_027):
    assert new_file_mode() == 0o640
    atomic_write_json(tmp_path / "config.json", {"a": 1})
    assert stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == 0o640
    cfg = load_config("demo", ["model.backbone=small3d", "model.small3d_widths=[4,8]",
                               "model.visual_dim=8", "model.head_widths=[4,4,4]",
                               "model.deconv_dims=[4,4]", "model.input_size=32",
                               "model.resolutions=[2,8,32]"])
    path = save_checkpoint(tmp_path / "m.safetensors", build_model(cfg), config=config_to_dict(cfg))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("code, words", [
    (errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system"),
    (errno.ENOSPC, "no space left on device"), (errno.EISDIR, "is a directory"),
    (errno.ENOTDIR, "not a directory")])
def test_errno_in_words(code, words):
    line = describe_os_error(OSError(code, os.strerror(code), "/x/out.json"))
    assert line.startswith(f"/x/out.json: {words}; ")


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "f").write_text("")
    exc = NotADirectoryError(errno.ENOTDIR, "Not a directory", str(tmp_path / "f" / "a" / "b"))
    assert f"not a directory ({tmp_path / 'f'} is a file)" in describe_os_error(exc)
    exists = FileExistsError(errno.EEXIST, "File exists", str(tmp_path / "f"))
    assert "not a directory (it is a file)" in describe_os_error(exists)


def test_file_kind(tmp_path):
    cases = {"t": b"hello\n", "e": b"", "z": b"PK\x03\x04rest", "n": b"\x93NUMPY\x01\x00",
             "p": b"\x80\x02}q\x00.", "b": bytes(range(1, 200))}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    assert [file_kind(tmp_path / n) for n in cases] == [
        "a text file", "an empty file", "a zip archive", "a NumPy .npy array", "a pickle",
        "unrecognised binary data"]


@pytest.mark.parametrize("name", ["tpu", "gpu", "meta", "cuda:", "cuda:-1", "xla"])
def test_unknown_devices_are_refused(name):
    with pytest.raises(ConfigError, match="use auto, cpu, cuda, cuda:N"):
        resolve_device(name)


def test_known_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA GPU"):
            resolve_device("cuda:0")


def test_auto_device_per_rank_is_this_ranks_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto", per_rank=True) == torch.device("cuda", 3)
    assert resolve_device("auto") == torch.device("cuda")  # commands: the current GPU
    monkeypatch.delenv("LOCAL_RANK")
    assert resolve_device("AUTO", per_rank=True) == torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", per_rank=True) == torch.device("cpu")


def test_train_device_errors_name_the_config_key():
    from acga.engine import local_processes

    import dataclasses

    cfg = load_config("configs/demo_quick.yaml")  # the loader refuses tpu itself: bypass it
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, device="tpu"))
    with pytest.raises(ConfigError, match="train.device 'tpu'"):
        local_processes(cfg)
