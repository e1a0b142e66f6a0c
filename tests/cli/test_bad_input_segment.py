"""`acga segment` on bad input: output paths the file system refuses, devices this machine lacks,
a frame past the end for --attention-frame (a warning, not silence)."""

from __future__ import annotations

import errno

import av
import numpy as np
import pytest
import torch

from acga.checkpoint import save_checkpoint
from acga.cli.main import main
from acga.config import config_to_dict, load_config
from acga.models import build_model
from bad_input import CAUSES, error_line, inject, needs_non_root, places, tree  # noqa: F401

TINY = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
        "model.word_dim=6", "model.num_words=5", "model.clip_len=4", "model.input_size=32",
        "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
        "data.source=video"]
FRAMES = 8


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny untrained checkpoint, 6-d GloVe-format vectors and an 8-frame 32x48 video."""
    root = tmp_path_factory.mktemp("segbad")
    torch.manual_seed(0)
    cfg = load_config("demo", TINY)
    ckpt = save_checkpoint(root / "tiny.safetensors", build_model(cfg), config=config_to_dict(cfg))
    rng = np.random.default_rng(1)
    (root / "vectors.txt").write_text("".join(
        w + " " + " ".join(f"{v:.3f}" for v in rng.standard_normal(6)) + "\n"
        for w in ("the", "dog", "running")))
    video = root / "clip.mp4"
    with av.open(str(video), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 48, 32, "yuv420p"
        for i in range(FRAMES):
            a = np.zeros((32, 48, 3), np.uint8)
            a[8:20, 4 * i:4 * i + 10] = 255
            for packet in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return {"ckpt": ckpt, "vectors": root / "vectors.txt", "video": video}


def _args(files, out, *extra):
    return ["segment", str(files["video"]), "the dog running", "--checkpoint", str(files["ckpt"]),
            "--word-vectors", str(files["vectors"]), "--out", str(out), "--no-progress",
            "--device", "cpu", *extra]


# ------------------------------------------------------------------ --out (5 cases)

def test_out_under_a_file(files, places, capsys):
    error_line(capsys, _args(files, places.under_file / "seg"), str(places.file), "not a directory")
    assert places.untouched()


def test_out_is_a_file(files, places, capsys):
    error_line(capsys, _args(files, places.file), str(places.file), "is a file")
    assert places.untouched()


@needs_non_root
def test_out_in_a_readonly_folder(files, places, capsys):
    error_line(capsys, _args(files, places.readonly / "seg"), "permission denied")
    assert places.untouched()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_out_refused_while_writing(files, tmp_path, monkeypatch, capsys, code):
    """The disk fills (or turns read-only) at the first mask: one line naming OUT, no folder."""
    from PIL import Image

    def refuse(self, fp, *args, **kwargs):
        raise OSError(code, "injected", None)

    monkeypatch.setattr(Image.Image, "save", refuse)
    out = tmp_path / "work" / "seg"
    out.parent.mkdir()
    error_line(capsys, _args(files, out), str(out), CAUSES[code])
    assert tree(out.parent) == set()  # neither OUT nor its temporary folder


# ------------------------------------------------------------------ --device (3 cases)

@pytest.mark.parametrize("device, expect", [
    ("tpu", "--device 'tpu' is not a device acga runs on; use auto, cpu, cuda, cuda:N"),
    ("meta", "--device 'meta' is not a device"),
    ("cuda:99", "--device cuda:99"),
])
def test_device_checked_before_any_work(files, tmp_path, capsys, device, expect):
    if device == "cuda:99" and torch.cuda.device_count() >= 100:
        pytest.skip("this machine has 100 GPUs")
    line = error_line(capsys, _args(files, tmp_path / "seg")[:-2] + ["--device", device], expect)
    if device == "cuda:99":
        assert ("sees no CUDA GPU" in line) != torch.cuda.is_available()
    assert not (tmp_path / "seg").exists()


def test_cuda_without_a_gpu_says_so(files, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    error_line(capsys, _args(files, tmp_path / "seg")[:-2] + ["--device", "cuda"],
               "--device cuda", "sees no CUDA GPU", "use --device cpu")


# ------------------------------------------------------- --attention-frame (1 case)

def test_attention_frame_past_the_end_warns(files, tmp_path, capsys):
    out = tmp_path / "seg"
    assert main(_args(files, out, "--attention", "--attention-frame", "999")) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "--attention-frame" in line]
    assert len(said) == 1 and said[0].startswith("WARNING ")
    assert "--attention-frame 999" in said[0] and f"the video has {FRAMES} frames" in said[0]
    assert f"drawn at frame {FRAMES}," in said[0]
    import json

    warnings = json.loads((out / "segment.json").read_text())["warnings"]
    assert [w for w in warnings if "--attention-frame 999" in w] == [said[0].split(": ", 1)[1]]


def test_attention_frame_that_exists_is_silent(files, tmp_path, capsys):
    assert main(_args(files, tmp_path / "seg", "--attention", "--attention-frame", "3")) == 0
    assert "--attention-frame" not in capsys.readouterr().err
