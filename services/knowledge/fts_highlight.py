"""FTS5's highlight() without a table: the index's own tokenizer, called through apsw.

A hit's highlight marks the words of its text that match the query, exactly as the index
matches them (stemming, diacritics, case). That used to be FTS5's highlight() over a scratch
table: five statements a search (empty the table, write the texts, index them, then
highlight), ~0.4 ms of a ~4 ms hybrid search at 100k chunks. Here the same tokenizer
(`FTS_TOKENIZER`: Porter over unicode61, in the SQLite that apsw bundles, kept at the store's
release by pyproject.toml's pins) splits the texts and the query's words through apsw's FTS5
tokenizer API, and the matches are marked the way highlight() marks them (fts5_aux.c): every
instance of a query phrase (one word may be several tokens, "COVID-19"), instances that
overlap merged into one marked range from the first token's start to the last token's end,
everything else copied as it is. A 700-character text is tokenised in ~15 µs.
tests/unit/test_fts_highlight.py checks it against the store's own highlight() on the bundled
corpora, so the two SQLite builds cannot drift apart unnoticed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import apsw

from services.knowledge.schema import FTS_TOKENIZER

__all__ = ["highlight"]

_local = threading.local()


def _tokenizer() -> Any:
    """This thread's tokenizer (an apsw connection is not shared between threads)."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        connection = apsw.Connection(":memory:")
        name, *arguments = FTS_TOKENIZER.split()
        tokenizer = connection.fts5_tokenizer(name, arguments)
        _local.connection, _local.tokenizer = connection, tokenizer
    return tokenizer


def highlight(words: Sequence[str], texts: Sequence[str], start: str, end: str) -> list[str]:
    """Each text with every match of the query `words` (an OR of one phrase per word, as
    `AnalyzedQuery.match` has them) between `start` and `end`; '' for a text without any,
    as a row the MATCH query does not match has no highlight."""
    tokenize = _tokenizer()
    phrases = {
        tuple(
            tokenize(
                word.encode(),
                apsw.FTS5_TOKENIZE_QUERY,
                None,
                include_offsets=False,
                include_colocated=False,
            )
        )
        for word in words
    }
    phrases.discard(())
    single = {phrase[0] for phrase in phrases if len(phrase) == 1}
    longer = [phrase for phrase in phrases if len(phrase) > 1]
    return [_marked(tokenize, text, single, longer, start, end) for text in texts]


def _marked(
    tokenize: Any,
    text: str,
    single: set[str],
    longer: list[tuple[str, ...]],
    start: str,
    end: str,
) -> str:
    utf8 = text.encode()
    tokens = tokenize(utf8, apsw.FTS5_TOKENIZE_DOCUMENT, None, include_colocated=False)
    # Each phrase instance as (first token, last token), in order of position.
    instances = [(i, i) for i, token in enumerate(tokens) if token[2] in single]
    if longer:
        terms = [token[2] for token in tokens]
        for phrase in longer:
            size = len(phrase)
            instances.extend(
                (i, i + size - 1)
                for i in range(len(terms) - size + 1)
                if tuple(terms[i : i + size]) == phrase
            )
        instances.sort()
    if not instances:
        return ""
    opening, closing = start.encode(), end.encode()
    out: list[bytes] = []
    copied = 0
    first, last = instances[0]
    for begin, finish in [*instances[1:], (len(tokens), len(tokens))]:
        if begin <= last:  # overlaps the range being marked: extend it
            last = max(last, finish)
            continue
        range_start, range_end = tokens[first][0], tokens[last][1]
        out += [utf8[copied:range_start], opening, utf8[range_start:range_end], closing]
        copied = range_end
        first, last = begin, finish
    out.append(utf8[copied:])
    return b"".join(out).decode()
