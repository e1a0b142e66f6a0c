"""Release files -> dataset -> training -> evaluation at original size, on the fake release."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from acga.cli.main import main
from acga.config import load_config
from acga.data.dataset import build_dataset
from acga.data.transforms import letterbox_mask, unletterbox_mask
from acga.engine import evaluate, fit
from fixtures_release import make_a2d_release

WORDS = ["a", "man", "dog", "the", "left", "running", "woman", "walking", "on", "ball"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = make_a2d_release(tmp_path_factory.mktemp("a2d"))
    rng = np.random.default_rng(0)
    glove = root / "glove.txt"  # GloVe text format: word v1 ... vD, no header
    glove.write_text("".join(w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=6)) + "\n"
                             for w in WORDS))
    return root, glove


def _cfg(release, extra=()):
    root, glove = release
    return load_config("demo", [
        f"data.root={root}", f"data.word_vectors={glove}", "model.word_dim=6",
        "model.small3d_widths=[4,8]", "model.visual_dim=8", "model.clip_len=4",
        "model.input_size=32", "model.resolutions=[2,8,32]", "model.head_widths=[4,4,4]",
        "model.deconv_dims=[4,4]", "train.batch_size=2", "train.epochs=1", *extra])


def test_dataset_tensors_follow_the_release(release):
    cfg = _cfg(release)
    data = build_dataset(cfg, "train")
    item = data[0]
    assert item["visual"].shape == (3, 4, 32, 32)
    assert -1.0 <= float(item["visual"].min()) and float(item["visual"].max()) <= 1.0
    assert item["words"].shape == (20, 6) and item["mask"].shape == (1, 32, 32)
    sample = data.samples[0]
    # the training mask is the letterboxed original; mapping it back recovers the original
    from acga.data.dataset import load_mask

    original = load_mask(data.root, sample)
    back = unletterbox_mask(item["mask"][0].numpy().astype(np.uint8), sample.height, sample.width)
    assert original.shape == (sample.height, sample.width)
    if max(original.shape) <= 32:
        assert np.array_equal(back, original)
    assert np.array_equal(letterbox_mask(original, 32), item["mask"][0].numpy().astype(np.uint8))
    n_tokens = len(sample.query.split())
    assert bool(item["word_mask"][: min(n_tokens, 20)].all()) and not bool(item["word_mask"][n_tokens:].any())


def test_random_samples_have_the_real_datasets_keys_shapes_and_dtypes(release):
    from acga.data.dataset import RandomSamples

    cfg = _cfg(release)
    real = build_dataset(cfg, "train")[0]
    fake = RandomSamples(3, cfg, seed=5, foreground=0.25)
    assert set(fake[0]) == set(real)
    for key in real:
        assert fake[0][key].shape == real[key].shape and fake[0][key].dtype == real[key].dtype, key
    assert len(fake) == 3 and int(fake[2]["index"]) == 2
    assert torch.equal(RandomSamples(3, cfg, seed=5)[1]["visual"], fake[1]["visual"])  # seeded
    masks = torch.stack([fake[i]["mask"] for i in range(3)])
    assert 0.2 < float(masks.mean()) < 0.3


def test_train_then_evaluate_both_protocols(release, tmp_path):
    cfg = _cfg(release)
    train = build_dataset(cfg, "train")
    test = build_dataset(cfg, "test")
    model = fit(cfg, train, tmp_path / "run", progress=False)
    with torch.inference_mode():
        acc = evaluate(model, test)
    assert len(acc) == len(test)
    for protocol in ("acga", "coco"):
        result = acc.result(protocol)
        assert 0.0 <= result["mean_iou"] <= 1.0 and 0.0 <= result["overall_iou"] <= 1.0
    rows = acc.per_sample()
    assert [r["key"] for r in rows] == [s.key for s in test.samples]
    # acga eval on the checkpoint writes the metrics and per-sample IoUs; same numbers
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "last.safetensors"),
                 "--no-progress", "-q"]) == 0
    saved = json.loads((tmp_path / "run" / "metrics_a2d.json").read_text())
    assert saved["acga"]["mean_iou"] == pytest.approx(acc.result("acga")["mean_iou"])
    lines = (tmp_path / "run" / "per_sample_a2d.jsonl").read_text().splitlines()
    assert len(lines) == len(test)


def test_preloading_gives_the_same_tensors(release):
    cfg = _cfg(release)
    lazy = build_dataset(cfg, "train")
    eager = build_dataset(cfg, "train", preload=True)
    assert len(lazy) == len(eager) > 0
    for i in range(len(lazy)):
        a, b = lazy[i], eager[i]
        for key in ("visual", "words", "mask"):
            assert torch.equal(a[key], b[key]), (i, key)
