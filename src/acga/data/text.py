"""Queries -> tokens -> the model's word input (docs/data.md, "Preprocessing": text).

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
   (not the tokenizer) falls back to that spelling (``2`` -> ``#``), see
   :class:`~acga.data.word_vectors.WordVectors`.

With no vocabulary (``vocab=None``) rules 3 and 4 keep every candidate whole, except that clitics
are still split off and kept. Tokens are never filtered for stop words: the paper embeds every
word of the query.

Query embedding: :func:`embed_queries` is the one way queries become model input (the dataset, the
demo and ``acga segment`` all use it): the first ``num_words`` token vectors of each query,
zero-padded, a mask of the real words, a :class:`QueryReport` per query and the warnings
(truncation, words without a vector). Word-vector files are read by :mod:`acga.data.word_vectors`.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from dataclasses import dataclass
from typing import Container, Iterable, Sequence

import numpy as np

from ..errors import DataError
from .word_vectors import WordVectors, digit_spelling

__all__ = ["tokenize", "candidate_words", "embed_queries", "EmbeddedQueries", "QueryReport",
           "check_word_dim"]

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
    needed.update({digit_spelling(w) for w in needed if any(c.isdigit() for c in w)})
    needed.update(_CLITICS)
    return needed


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


# ----------------------------------------------------------------------------------------------
# Queries -> arrays


@dataclass
class QueryReport:
    """One query as the model sees it (what :func:`embed_queries` did with it)."""

    text: str
    tokens: list[str]
    """The tokens embedded (the first ``num_words``)."""
    n_tokens: int
    """Tokens before truncation."""
    oov: list[str]
    """Embedded tokens without a word vector (they got the vector store's ``oov`` treatment)."""
    dropped: list[str]
    """Tokens past ``num_words``, not embedded."""


@dataclass
class EmbeddedQueries:
    """The model input of N queries (:func:`embed_queries`)."""

    words: np.ndarray
    """(N, L, D) float32: the first L = ``num_words`` token vectors of each query, then zeros."""
    mask: np.ndarray
    """(N, L) bool: True at the real (embedded) words."""
    reports: list[QueryReport]
    warnings: list[str]
    """One line for each query that was truncated or has words without a vector, in order."""

    def summary(self) -> str:
        """Counts over all queries in one line, for a dataset's log ("" when nothing to warn)."""
        num_words = self.mask.shape[1]
        truncated = sum(bool(r.dropped) for r in self.reports)
        oov = collections.Counter(t for r in self.reports for t in r.oov)
        if not truncated and not oov:
            return ""
        longest = max(r.n_tokens for r in self.reports)
        tokens = sum(len(r.tokens) for r in self.reports)
        top = ", ".join(f"{w!r} x{c}" for w, c in oov.most_common(10))
        return (f"{len(self.reports)} queries: {truncated} longer than {num_words} words "
                f"(truncated, longest {longest}); {sum(oov.values())} of {tokens} words "
                f"({len(oov)} distinct) have no vector" + (f": {top}" if top else ""))


def check_word_dim(vectors: WordVectors, word_dim: int) -> None:
    """Refuse word vectors whose dimension D is not the model's ``word_dim``."""
    if vectors.dim != word_dim:
        raise DataError(f"word vectors {getattr(vectors, 'source', '')!r} have {vectors.dim} "
                        f"dimensions but model.word_dim = {word_dim}: pass the word vectors the "
                        f"model was trained with (--word-vectors, data.word_vectors), or set "
                        f"model.word_dim={vectors.dim} to train a new model")


def embed_queries(queries: Sequence[str], vectors: WordVectors, num_words: int, *,
                  word_dim: int | None = None, require_words: bool = False) -> EmbeddedQueries:
    """Tokenise and embed ``queries`` for the model. Nothing is logged: the caller logs
    :attr:`EmbeddedQueries.warnings` (one per query) or :meth:`EmbeddedQueries.summary`.

    Args:
        queries: N sentences.
        vectors: the word vectors (:func:`acga.data.word_vectors.load_word_vectors`).
        num_words: L, the words the model reads; longer queries are truncated.
        word_dim: the model's ``word_dim``; the vectors' dimension D must equal it.
        require_words: refuse no query, an empty query, or one without a single word (what a
            user typed); a dataset's queries are embedded as they are.

    Raises:
        DataError: ``vectors.dim != word_dim``, or (``require_words``) a query with no words.
    """
    if word_dim is not None:
        check_word_dim(vectors, word_dim)
    if require_words and not queries:
        raise DataError("no query given: pass the sentence to segment, e.g. \"the dog running\"")
    words = np.zeros((len(queries), num_words, vectors.dim), np.float32)  # (N, L, D)
    mask = np.zeros((len(queries), num_words), bool)  # (N, L)
    reports, warnings = [], []
    for i, query in enumerate(queries):
        if require_words and (not query or not query.strip()):
            raise DataError(f"query {i} is empty: give a sentence such as \"the dog running\"")
        tokens = tokenize(query, vectors)
        if require_words and not tokens:
            raise DataError(f"query {i} {query!r} has no words (only punctuation or symbols): "
                            "give a sentence such as \"the dog running\"")
        kept, dropped = tokens[:num_words], tokens[num_words:]
        if kept:
            words[i, :len(kept)] = vectors.lookup(kept)
        mask[i, :len(kept)] = True
        oov = [t for t in kept if t not in vectors]
        if dropped:
            warnings.append(f"query {i} {query!r} has {len(tokens)} words; the model reads "
                            f"{num_words}: truncated after {kept[-1]!r} (dropped: "
                            f"{' '.join(dropped)})")
        if oov and len(oov) == len(kept):
            warnings.append(f"query {i} {query!r}: none of its words has a word vector "
                            f"({vectors!r}); the model sees an empty sentence and the result is "
                            "MEANINGLESS: rephrase it with common English words")
        elif oov:
            warnings.append(f"query {i} {query!r}: no word vector for {', '.join(map(repr, oov))} "
                            "(treated as zero vectors)")
        reports.append(QueryReport(query, kept, len(tokens), oov, dropped))
    return EmbeddedQueries(words, mask, reports, warnings)
