"""`acga segment` through the real `main()`: outputs, the demo-model default, errors (exit 2,
one line, no partial output)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from acga.checkpoint import save_checkpoint
from acga.cli.main import main
from acga.config import config_to_dict, load_config
from acga.models import build_model

TINY = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
        "model.word_dim=6", "model.num_words=5", "model.clip_len=4", "model.input_size=32",
        "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
        "data.source=video"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny checkpoint, 6-d GloVe-format word vectors and a 12-frame 48x64 video."""
    root = tmp_path_factory.mktemp("segcli")
    torch.manual_seed(0)
    cfg = load_config("demo", TINY)
    ckpt = save_checkpoint(root / "tiny.safetensors", build_model(cfg), config=config_to_dict(cfg))
    rng = np.random.default_rng(0)
    lines = [w + " " + " ".join(f"{v:.4f}" for v in rng.standard_normal(6))
             for w in ("the", "dog", "running", "ball", "left")]
    (root / "vectors.txt").write_text("\n".join(lines) + "\n")
    video = root / "clip.mp4"
    c = av.open(str(video), "w")
    s = c.add_stream("libx264", rate=10)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    for i in range(12):
        a = np.zeros((48, 64, 3), np.uint8)
        a[10:22, 3 * i:3 * i + 12] = 255
        for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return {"ckpt": ckpt, "vectors": root / "vectors.txt", "video": video}


def _args(files, out: Path, *extra: str) -> list[str]:
    return ["segment", str(files["video"]), "the dog running", "--checkpoint", str(files["ckpt"]),
            "--word-vectors", str(files["vectors"]), "--out", str(out), "--no-progress", *extra]


def test_segment_cli_writes_everything(files, tmp_path, capsys):
    out = tmp_path / "seg"
    rc = main(_args(files, out, "--query", "the ball", "--every", "4", "--attention"))
    assert rc == 0
    printed = capsys.readouterr().out
    assert "12 frames (64x48)" in printed and "3 model windows" in printed
    for q in ("0", "1"):
        assert len(list((out / "masks" / q).glob("*.png"))) == 12
    with av.open(str(out / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12
    assert (out / "contact_sheet.png").is_file()
    assert sorted(p.name for p in (out / "attention").iterdir()) == [
        "q0_pixels.png", "q0_words.png", "q1_pixels.png", "q1_words.png"]
    summary = json.loads((out / "segment.json").read_text())
    assert [q["text"] for q in summary["queries"]] == ["the dog running", "the ball"]


def test_segment_cli_uses_demo_model(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACGA_DEMO_DIR", str(tmp_path / "demo"))
    args = [a for a in _args(files, tmp_path / "seg") if a not in ("--checkpoint", str(files["ckpt"]))]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "acga demo" in err and "--checkpoint" in err and "Traceback" not in err
    assert not (tmp_path / "seg").exists()
    (tmp_path / "demo" / "run").mkdir(parents=True)
    (tmp_path / "demo" / "run" / "last.safetensors").write_bytes(files["ckpt"].read_bytes())
    assert main(args) == 0
    assert "using the `acga demo` model" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["not_video", "empty_query", "bad_checkpoint", "bad_every"])
def test_segment_cli_errors_leave_nothing(files, tmp_path, capsys, case):
    out = tmp_path / "seg"
    args = _args(files, out)
    if case == "not_video":
        bad = tmp_path / "x.mp4"
        bad.write_bytes(b"\x00garbage" * 100)
        args[1] = str(bad)
        expect = "x.mp4"
    elif case == "empty_query":
        args[2] = " "
        expect = "empty"
    elif case == "bad_checkpoint":
        bad = tmp_path / "half.safetensors"
        bad.write_bytes(files["ckpt"].read_bytes()[:100])
        args[args.index("--checkpoint") + 1] = str(bad)
        expect = "half.safetensors"
    else:
        args += ["--every", "0"]
        expect = "--every 0"
    assert main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("acga segment: error:") and expect in last
    assert "Traceback" not in err
    assert [p for p in tmp_path.iterdir() if p.name.startswith((".seg", "seg"))] == []


def test_segment_help_has_example(capsys):
    with pytest.raises(SystemExit):
        main(["segment", "--help"])
    text = capsys.readouterr().out
    assert "acga segment walk.mp4" in text and "--every" in text and "--attention" in text
