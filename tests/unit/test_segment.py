"""`acga.segment.Segmenter.segment` on tiny videos with a tiny model: outputs, sizes, the --every
fill, streaming memory, rotation, variable frame rate, and every bad input leaving no output."""

from __future__ import annotations

import json
import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from acga.checkpoint import save_checkpoint
from acga.config import config_to_dict, load_config
from acga.data.word_vectors import WordVectors
from acga.errors import CheckpointError, DataError
from acga.models import build_model
from acga.segment import Segmenter, default_checkpoint, load_segment_model
from acga.sliding_window import nearest_centre
from acga.visualize_attention import pick_regions

TINY = ["model.backbone=small3d", "model.visual_dim=8", "model.small3d_widths=[4,8]",
        "model.word_dim=6", "model.num_words=5", "model.clip_len=4", "model.input_size=32",
        "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
        "data.source=video"]
WORDS = ["the", "dog", "running", "left", "ball"]


def write_video(path: Path, n: int = 20, h: int = 48, w: int = 64, *, rotation: int = 0,
                vfr: bool = False) -> Path:
    """A moving white square on black, H.264 (yuv444p when a side is odd)."""
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=10)
    s.width, s.height = w, h
    s.pix_fmt = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
    if rotation:
        s.set_display_rotation(rotation)
    if vfr:
        s.codec_context.time_base = s.time_base = Fraction(1, 1000)
    t = 0
    for i in range(n):
        a = np.zeros((h, w, 3), np.uint8)
        x = (3 * i) % max(1, w - 10)
        a[h // 4:h // 4 + 10, x:x + 10] = 255
        frame = av.VideoFrame.from_ndarray(a, format="rgb24")
        if vfr:
            frame.pts, frame.time_base = t, s.time_base
            t += 50 if i % 2 else 150
        for p in s.encode(frame):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return path


def decode_frames(path: Path) -> list:
    with av.open(str(path)) as c:
        return [(f.width, f.height, f.time) for f in c.decode(c.streams.video[0])]


def read_masks(folder: Path) -> dict[int, np.ndarray]:
    return {int(p.stem): np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def leftovers(parent: Path, name: str) -> list[Path]:
    return [p for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}.")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, cfg, vectors, checkpoint path) of a tiny random small3d model."""
    cfg = load_config("demo", TINY)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, model, config=config_to_dict(cfg))
    rng = np.random.default_rng(0)
    vectors = WordVectors(WORDS, rng.standard_normal((len(WORDS), 6)).astype(np.float32))
    return model, cfg, vectors, path


@pytest.fixture(scope="module")
def video20(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("vid") / "v20.mp4")


def test_nearest_centre():
    assert [nearest_centre(f, 4) for f in range(10)] == [0, 0, 0, 4, 4, 4, 4, 8, 8, 8]
    assert [nearest_centre(f, 3) for f in range(7)] == [0, 0, 3, 3, 3, 6, 6]
    # past the last centre of a 10-frame video (centres 0, 4, 8): 9 -> 8; with 9 frames: 8 -> 8
    assert nearest_centre(7, 4, num_frames=8) == 4
    assert nearest_centre(9, 4, num_frames=10) == 8
    assert [nearest_centre(f, 1) for f in range(4)] == [0, 1, 2, 3]


def test_segment_outputs_and_every_fill(tiny, video20, tmp_path):
    model, cfg, vectors, _ = tiny
    seg = Segmenter(model, cfg, vectors)
    full = seg.segment(video20, ["the dog running"], tmp_path / "k1", every=1, progress=False)
    res = seg.segment(video20, ["the dog running", "the ball"], tmp_path / "k3", every=3,
                      progress=False)
    assert (full.num_frames, full.windows) == (20, 20)
    assert (res.num_frames, res.height, res.width, res.windows) == (20, 48, 64, 7)
    for q in range(2):
        masks = read_masks(tmp_path / "k3" / "masks" / str(q))
        assert sorted(masks) == list(range(1, 21))
        assert all(m.shape == (48, 64) and m.dtype == np.uint8 for m in masks.values())
        assert set(np.unique(np.stack(list(masks.values())))) <= {0, 255}
    every1 = read_masks(tmp_path / "k1" / "masks" / "0")
    every3 = read_masks(tmp_path / "k3" / "masks" / "0")
    for f in range(20):  # frame f (0-based) copies the mask its nearest window computed
        c = nearest_centre(f, 3, 20)
        np.testing.assert_array_equal(every3[f + 1], every1[c + 1])
    decoded = decode_frames(tmp_path / "k3" / "overlay.mp4")
    assert len(decoded) == 20 and decoded[0][:2] == (64, 48)
    with Image.open(tmp_path / "k3" / "contact_sheet.png") as sheet:
        assert sheet.width > 64
    summary = json.loads((tmp_path / "k3" / "segment.json").read_text())
    assert summary["num_frames"] == 20 and summary["every"] == 3
    assert len((tmp_path / "k3" / "frames.csv").read_text().splitlines()) == 21
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # temp folders gone


def test_streaming_memory_is_bounded(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    short = write_video(tmp_path / "short.mp4", n=12, h=16, w=16)
    long = write_video(tmp_path / "long.mp4", n=90, h=16, w=16)
    peaks = []
    for video in (short, long):
        for every in (1, 4):
            r = Segmenter(model, cfg, vectors).segment(
                video, ["dog"], tmp_path / f"o{video.stem}{every}", every=every, progress=False)
            assert r.peak_frames_held <= cfg.model.clip_len + every + 1
            peaks.append(r.peak_frames_held)
    assert peaks[2:] == peaks[:2]  # 90 frames hold no more than 12


def test_rotation_and_odd_size(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    video = write_video(tmp_path / "phone.mp4", n=7, h=31, w=45, rotation=-90)
    r = Segmenter(model, cfg, vectors).segment(video, ["the dog"], tmp_path / "out", progress=False)
    assert (r.height, r.width, r.rotation) == (45, 31, -90)  # shown upright: portrait
    masks = read_masks(tmp_path / "out" / "masks" / "0")
    assert len(masks) == 7 and all(m.shape == (45, 31) for m in masks.values())
    decoded = decode_frames(tmp_path / "out" / "overlay.mp4")
    assert len(decoded) == 7 and decoded[0][:2] == (32, 46)  # padded to even sides


def test_variable_frame_rate_keeps_timestamps(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    video = write_video(tmp_path / "vfr.mp4", n=8, h=16, w=16, vfr=True)
    Segmenter(model, cfg, vectors).segment(video, ["dog"], tmp_path / "out", every=2, progress=False)
    times = [t for _, _, t in decode_frames(tmp_path / "out" / "overlay.mp4")]
    assert times == pytest.approx([0.0, 0.15, 0.2, 0.35, 0.4, 0.55, 0.6, 0.75], abs=2e-3)
    rows = (tmp_path / "out" / "frames.csv").read_text().splitlines()[1:]
    assert [float(r.split(",")[1]) for r in rows] == pytest.approx(times, abs=2e-3)


def test_attention_figures(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    video = write_video(tmp_path / "v.mp4", n=5, h=24, w=32)
    r = Segmenter(model, cfg, vectors).segment(video, ["the dog running"], tmp_path / "out",
                                               attention=True, progress=False, attention_frame=3)
    names = sorted(p.name for p in r.attention)
    assert names == ["q0_pixels.png", "q0_words.png"]
    for p in r.attention:
        with Image.open(p) as im:
            assert im.width > 200 and im.height > 200


def test_every_attention_warning_of_every_query_is_logged(tiny, tmp_path, caplog):
    # a model without VGLA and LGVA: two figures per query cannot be drawn, each one a warning
    _, _, vectors, _ = tiny
    cfg = load_config("demo", TINY + ["model.attention=none"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    video = write_video(tmp_path / "v.mp4", n=5, h=24, w=32)
    queries = ["the dog running", "the ball", "dog left"]
    with caplog.at_level(logging.WARNING, logger="acga.segment"):
        r = Segmenter(model, cfg, vectors).segment(video, queries, tmp_path / "out",
                                                   attention=True, progress=False)
    assert r.attention == []
    expected = [f"has no {kind} attention: q{q}_{name}.png not drawn"
                for q in range(3) for kind, name in (("VGLA word", "words"), ("LGVA pixel", "pixels"))]
    logged = [rec.getMessage() for rec in caplog.records if "not drawn" in rec.getMessage()]
    assert len(logged) == 6  # each once, none lost
    for want in expected:
        assert sum(want in m for m in logged) == 1, want
        assert sum(want in w for w in r.warnings) == 1, want
    summary = json.loads((tmp_path / "out" / "segment.json").read_text())
    assert sum("not drawn" in w for w in summary["warnings"]) == 6


def test_progress_into_a_file_is_one_line(tiny, video20, tmp_path, capfd, caplog):
    model, cfg, vectors, _ = tiny
    with caplog.at_level(logging.INFO, logger="acga.progress"):
        Segmenter(model, cfg, vectors).segment(video20, ["the dog"], tmp_path / "out",
                                               progress=True)
    err = capfd.readouterr().err
    assert "\r" not in err and len(err) < 500  # tqdm would redraw once per frame
    lines = [r.getMessage() for r in caplog.records if r.name == "acga.progress"]
    assert len(lines) == 1 and lines[0].startswith("segment: 20/20 frames in ")


def test_pick_regions_maps_cells_to_the_frame():
    prob = np.zeros((8, 8), np.float32)
    prob[4:6, 2:4] = 1.0  # cell (2, 1) of a 4x4 grid
    regions = pick_regions(prob, 4, height=4, width=8)  # letterbox: rows 2..5 of the 8-square
    assert (regions[0].row, regions[0].col) == (2, 1)
    assert regions[0].box == (2.0, 2.0, 4.0, 4.0)
    assert regions[-1].label.startswith("background")
    assert all(0 <= r.centre[1] < 4 for r in regions)  # never a padding cell


# ------------------------------------------------------------------------------ bad input


def _assert_no_output(parent: Path, name: str = "out") -> None:
    assert leftovers(parent, name) == []


@pytest.mark.parametrize("query, match", [("", "empty"), ("   ", "empty"), ("?!", "no words")])
def test_empty_queries_are_refused(tiny, video20, tmp_path, query, match):
    model, cfg, vectors, _ = tiny
    with pytest.raises(DataError, match=match):
        Segmenter(model, cfg, vectors).segment(video20, [query], tmp_path / "out", progress=False)
    _assert_no_output(tmp_path)


def test_not_a_video(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    with pytest.raises(DataError, match="notes.mp4"):
        Segmenter(model, cfg, vectors).segment(bad, ["dog"], tmp_path / "out", progress=False)
    with pytest.raises(DataError, match="does not exist"):
        Segmenter(model, cfg, vectors).segment(tmp_path / "missing.mp4", ["dog"],
                                               tmp_path / "out")
    _assert_no_output(tmp_path)


def test_zero_frame_video(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    video = tmp_path / "empty.avi"  # an AVI keeps its video stream with no frame in it
    c = av.open(str(video), "w")
    s = c.add_stream("mpeg4", rate=10)
    s.width, s.height, s.pix_fmt = 16, 16, "yuv420p"
    c.start_encoding()
    c.close()
    with pytest.raises(DataError, match="no frames"):
        Segmenter(model, cfg, vectors).segment(video, ["dog"], tmp_path / "out", progress=False)
    _assert_no_output(tmp_path)


def test_unknown_words_and_truncation_warn(tiny, video20, tmp_path, caplog):
    model, cfg, vectors, _ = tiny
    with caplog.at_level(logging.WARNING, logger="acga.segment"):
        r = Segmenter(model, cfg, vectors).segment(
            video20, ["zyxw qqqq", "the dog running left the ball dog"], tmp_path / "out",
            every=5, progress=False)
    text = caplog.text
    assert "MEANINGLESS" in text and "zyxw" in text
    assert "has 7 words" in text and "truncated" in text
    assert r.queries[1].tokens == ["the", "dog", "running", "left", "the"]
    assert len(r.warnings) == 2


def test_word_dim_mismatch_and_foreign_out_dir(tiny, video20, tmp_path):
    model, cfg, _, _ = tiny
    wrong = WordVectors(["dog"], np.ones((1, 3), np.float32))
    with pytest.raises(DataError, match="word_dim = 6"):
        Segmenter(model, cfg, wrong).segment(video20, ["dog"], tmp_path / "out", progress=False)
    _assert_no_output(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    _, _, vectors, _ = tiny
    with pytest.raises(DataError, match="not an `acga segment` output"):
        Segmenter(model, cfg, vectors).segment(video20, ["dog"], mine, progress=False)
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]


def test_rerun_replaces_previous_output(tiny, tmp_path):
    model, cfg, vectors, _ = tiny
    video = write_video(tmp_path / "v.mp4", n=4, h=16, w=16)
    seg = Segmenter(model, cfg, vectors)
    seg.segment(video, ["dog", "ball"], tmp_path / "out", progress=False)
    seg.segment(video, ["dog"], tmp_path / "out", progress=False)
    assert sorted(p.name for p in (tmp_path / "out" / "masks").iterdir()) == ["0"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_load_segment_model(tiny, tmp_path, monkeypatch):
    model, cfg, _, path = tiny
    loaded, cfg2, p = load_segment_model(path)
    assert cfg2 == cfg and p == path
    for a, b in zip(loaded.state_dict().values(), model.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert loaded.decoder.implementation == "fast"
    # trained with the reference decoder: segment still runs the fast one, with the same output
    ref_cfg = load_config("demo", TINY + ["model.decoder_impl=reference"])
    ref_path = save_checkpoint(tmp_path / "ref.safetensors", model, config=config_to_dict(ref_cfg))
    ref_loaded, ref_cfg2, _ = load_segment_model(ref_path)
    assert ref_loaded.decoder.implementation == "fast" and ref_cfg2.model.decoder_impl == "fast"
    torch.manual_seed(1)
    clip = torch.rand(1, 3, cfg.model.clip_len, cfg.model.input_size, cfg.model.input_size)
    words = torch.randn(1, cfg.model.num_words, cfg.model.word_dim)
    with torch.no_grad():
        fast = ref_loaded(clip, words)["final"]
        model.decoder.implementation = "reference"
        reference = model(clip, words)["final"]
        model.decoder.implementation = "fast"
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
    # a checkpoint whose stored config is another configuration than its tensors
    other = config_to_dict(load_config("demo", TINY + ["model.visual_dim=16"]))
    bad = save_checkpoint(tmp_path / "other.safetensors", model, config=other)
    with pytest.raises(CheckpointError, match="does not match"):
        load_segment_model(bad)
    # no checkpoint: the demo's, from $ACGA_DEMO_DIR; a clear error when there is none
    monkeypatch.setenv("ACGA_DEMO_DIR", str(tmp_path / "demo"))
    assert default_checkpoint() == tmp_path / "demo" / "run" / "last.safetensors"
    with pytest.raises(CheckpointError, match="acga demo"):
        load_segment_model(None)
    (tmp_path / "demo" / "run").mkdir(parents=True)
    (tmp_path / "demo" / "run" / "last.safetensors").write_bytes(path.read_bytes())
    assert load_segment_model(None)[2] == tmp_path / "demo" / "run" / "last.safetensors"


def test_segmenter_load_owns_model_vectors_and_i3d(tiny, video20, tmp_path, caplog):
    model, cfg, vectors, path = tiny
    # every digit of each float32, so the file's vectors are the fixture's exactly
    lines = [w + " " + " ".join(repr(float(v)) for v in vectors.vector(w)) for w in vectors.words]
    (tmp_path / "vectors.txt").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="acga.segment"):
        seg = Segmenter.load(path, tmp_path / "vectors.txt", tmp_path / "no_such_i3d.pt", "cpu",
                             queries=["the dog"])
    assert "--i3d-weights ignored: the model (backbone small3d) reads pixels directly" in caplog.text
    assert seg.checkpoint == path and seg.i3d is None and not seg.random_i3d
    assert sorted(seg.vectors.words) == ["dog", "the"]  # only the words the queries need
    for a, b in zip(seg.model.state_dict().values(), model.state_dict().values()):
        torch.testing.assert_close(a, b)
    # the loaded segmenter computes what the one built from the pieces computes
    seg.segment(video20, ["the dog"], tmp_path / "a", every=4, progress=False)
    Segmenter(model, cfg, vectors).segment(video20, ["the dog"], tmp_path / "b", every=4,
                                           progress=False)
    a, b = read_masks(tmp_path / "a" / "masks" / "0"), read_masks(tmp_path / "b" / "masks" / "0")
    assert sorted(a) == sorted(b) == list(range(1, 21))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_i3d_features_model_without_weights_uses_the_random_i3d_and_says_so(tiny, tmp_path,
                                                                           caplog):
    """A model on I3D features: each window goes through the random I3D (warned at every run);
    its masks are those of the model run by hand on each window's clip."""
    from acga.data.transforms import letterbox
    from acga.data.video import clip_indices
    from acga.models.i3d import preprocess_rgb
    from acga.postprocess import response_to_mask, undo_letterbox
    from acga.segment import _random_i3d

    _, _, vectors, _ = tiny
    cfg = load_config("demo", ["model.backbone=i3d_cached", "model.visual_dim=832",
                               "model.word_dim=6", "model.num_words=5", "model.clip_len=8",
                               "model.input_size=32", "model.resolutions=[2,8,32]",
                               "model.head_widths=[4,4,4]", "model.deconv_dims=[4,4]",
                               "data.source=video"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    video = write_video(tmp_path / "v.mp4", n=5, h=24, w=32)
    seg = Segmenter(model, cfg, vectors)
    assert seg.random_i3d
    for out in ("a", "b"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="acga.segment"):
            r = seg.segment(video, ["the dog"], tmp_path / out, every=2, progress=False)
        assert "RANDOMLY initialised I3D" in caplog.text and len(r.warnings) == 1
    masks = read_masks(tmp_path / "a" / "masks" / "0")
    assert masks.keys() == read_masks(tmp_path / "b" / "masks" / "0").keys()
    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    i3d = _random_i3d()
    words = torch.from_numpy(vectors.lookup(["the", "dog", "<pad>", "<pad>", "<pad>"]))[None]
    words[0, 2:] = 0
    mask = torch.tensor([[True, True, False, False, False]])
    for frame in range(5):
        centre = nearest_centre(frame, 2, 5)
        clip = np.stack([letterbox(frames[i][None], 32)[0] for i in clip_indices(centre + 1, 8, 5)])
        with torch.no_grad():
            response = model(i3d(preprocess_rgb(clip)[None]), words, mask)["final"]
        expected = undo_letterbox(response_to_mask(response)[:, 0].numpy(), 24, 32)[0]
        np.testing.assert_array_equal(masks[frame + 1], expected.astype(np.uint8) * 255)
