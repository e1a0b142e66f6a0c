"""Tokenisation and query embedding (acga.data.text)."""

from __future__ import annotations

import numpy as np
import pytest

from acga.data.text import candidate_words, check_word_dim, embed_queries, tokenize
from acga.data.word_vectors import WordVectors
from acga.errors import DataError

WORDS = ["the", "man", "'s", "dog", "is", "running", "t-shirt", "red", "left", "on", "#", "shirt",
         "a", "in"]
DIM = 4


def _matrix(n: int = len(WORDS), dim: int = DIM) -> np.ndarray:
    # Distinct, exactly representable values so embeddings can be compared exactly.
    return (np.arange(n * dim, dtype=np.float32).reshape(n, dim) / 4.0) - 3.0


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


# -- queries -------------------------------------------------------------------------------


def test_embed_queries_pads_truncates_and_reports(vectors):
    long_query = " ".join(["dog"] * 25 + ["zebra"])
    e = embed_queries(["The man's dog, in a zebra t-shirt", long_query, "red"], vectors, num_words=20)
    assert e.words.shape == (3, 20, DIM) and e.words.dtype == np.float32
    assert e.mask.shape == (3, 20) and e.mask.dtype == bool
    mat = _matrix()
    first = e.reports[0]
    assert first.tokens == ["the", "man", "'s", "dog", "in", "a", "zebra", "t-shirt"]
    assert (first.n_tokens, first.oov, first.dropped) == (8, ["zebra"], [])
    np.testing.assert_array_equal(e.words[0, 2], mat[WORDS.index("'s")])
    np.testing.assert_array_equal(e.words[0, 6], 0.0)         # zebra: zero vector
    np.testing.assert_array_equal(e.words[0, 7], mat[WORDS.index("t-shirt")])
    np.testing.assert_array_equal(e.words[0, 8:], 0.0)        # padding
    assert e.mask[0].tolist() == [True] * 8 + [False] * 12     # zebra is a real (masked-in) word
    second = e.reports[1]
    assert (second.n_tokens, second.oov, second.dropped) == (26, [], ["dog"] * 5 + ["zebra"])
    np.testing.assert_array_equal(e.words[1], np.tile(mat[WORDS.index("dog")], (20, 1)))
    assert e.mask[1].all() and e.mask[2].tolist() == [True] + [False] * 19


def test_embed_queries_rows_are_the_lookup_of_the_tokens(vectors):
    # An independent computation: tokenise, look up, zero-pad.
    queries = ["a red t-shirt on the left", "2 dogs", "isn't it", "", "the man's red-shirt " * 4]
    e = embed_queries(queries, vectors, num_words=6)
    for i, q in enumerate(queries):
        tokens = tokenize(q, vectors)[:6]
        expected = np.zeros((6, DIM), np.float32)
        expected[:len(tokens)] = vectors.lookup(tokens) if tokens else 0
        np.testing.assert_allclose(e.words[i], expected, atol=1e-7)
        assert e.mask[i].sum() == len(tokens)


def test_embed_queries_warnings_per_query(vectors):
    e = embed_queries(["the dog", "zyxw qqqq", "the red zebra", "the dog running left the ball dog"],
                      vectors, num_words=5)
    assert e.warnings == [
        f"query 1 'zyxw qqqq': none of its words has a word vector ({vectors!r}); the model sees an "
        "empty sentence and the result is MEANINGLESS: rephrase it with common English words",
        "query 2 'the red zebra': no word vector for 'zebra' (treated as zero vectors)",
        "query 3 'the dog running left the ball dog' has 7 words; the model reads 5: truncated after "
        "'the' (dropped: ball dog)",  # 'ball' has no vector but is not embedded: not listed
    ]


def test_embed_queries_summary_counts_all_queries(vectors):
    queries = ["the dog", "a zebra and a zebra", " ".join(["dog"] * 21)]
    e = embed_queries(queries, vectors, num_words=20)
    assert e.summary() == ("3 queries: 1 longer than 20 words (truncated, longest 21); 3 of 27 words "
                           "(2 distinct) have no vector: 'zebra' x2, 'and' x1")
    assert embed_queries(["the dog"], vectors, num_words=20).summary() == ""


def test_embed_queries_refuses_empty_queries_only_when_asked(vectors):
    for queries, message in [([], "no query given"), (["dog", "  "], "query 1 is empty"),
                             (["?!"], r"query 0 '\?!' has no words")]:
        with pytest.raises(DataError, match=message):
            embed_queries(queries, vectors, 5, require_words=True)
    e = embed_queries(["?!"], vectors, 5)  # a dataset's query is embedded as it is
    assert not e.mask.any() and e.reports[0].n_tokens == 0


def test_one_word_dimension_check_and_message(vectors):
    check_word_dim(vectors, DIM)
    message = (r"word vectors '<memory>' have 4 dimensions but model.word_dim = 6: pass the word "
               r"vectors the model was trained with \(--word-vectors, data.word_vectors\), or set "
               r"model.word_dim=4 to train a new model")
    with pytest.raises(DataError, match=message):
        check_word_dim(vectors, 6)
    with pytest.raises(DataError, match=message):
        embed_queries(["the dog"], vectors, 5, word_dim=6)
