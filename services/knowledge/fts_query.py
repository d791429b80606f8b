"""Turning untrusted user text into a safe FTS5 OR query, and highlight snippets.

Why OR: FTS5 reads a bare question as an implicit AND, which almost never matches a whole
question (SciFact nDCG@10 0.02-0.05); OR of the terms ranked by BM25 is what works (0.68).

Why quoting everything: FTS5 query syntax (`"`, `*`, `^`, `:`, `NEAR(`, `AND`/`OR`/`NOT`,
parentheses, `+`, `-`) raises on malformed input. We keep only runs of letters and digits
(the same characters the `unicode61` tokenizer keeps), so no operator can survive, and still
wrap each term in double quotes so that even an upper-case `AND` is just a word.

Why drop stopwords: they match nearly every row and an FTS5 OR query costs time per matching
row; they carry almost no BM25 weight. If a query is *only* stopwords we keep them.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

__all__ = [
    "MARK_END",
    "MARK_START",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "STOPWORDS",
    "build_match_query",
    "match_expression",
    "query_terms",
    "quote_term",
    "snippet",
    "words",
]

#: Longer input is cut: nobody types more, and every term costs an index lookup.
MAX_QUERY_CHARS = 2_000
MAX_QUERY_TERMS = 32

#: Private-use sentinels FTS5's highlight() puts around matches; turned into <mark> after
#: HTML-escaping the text (so document text can never inject markup).
MARK_START = "\ue000"
MARK_END = "\ue001"

_WORD = re.compile(r"[^\W_]+")

STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren arent as at be because
    been before being below between both but by can cannot could couldn did didn do does doesn
    doing don down during each either else etc ever few for from further had hadn has hasn have
    haven having he her here hers herself him himself his how however i if in into is isn it
    its itself just let ll me might more most must mustn my myself neither no nor not now of
    off on once only or other otherwise ought our ours ourselves out over own re same shall
    shan she should shouldn so some such than that the their theirs them themselves then there
    thereby therefore these they this those though through thus to too under until up upon us
    very via was wasn we were weren what whatever when whenever where whereas whether which
    while who whom whose why will with within without won would wouldn yet you your yours
    yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads better as prose
)


def words(text: str) -> list[str]:
    """Lower-cased runs of letters/digits: the characters `unicode61` keeps as tokens."""
    return _WORD.findall(text.lower())


def query_terms(
    text: str, *, max_terms: int = MAX_QUERY_TERMS, drop_stopwords: bool = True
) -> list[str]:
    """Distinct search terms of `text`, in order, stopwords dropped (unless that is all)."""
    found = words(text[:MAX_QUERY_CHARS])
    kept = [w for w in found if w not in STOPWORDS] if drop_stopwords else found
    return list(dict.fromkeys(kept or found))[:max_terms]


def quote_term(term: str) -> str:
    """An FTS5 string literal: double quotes, inner quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


def match_expression(terms: Iterable[str]) -> str:
    """`"a" OR "b" OR ...`; empty string for no terms (the caller must not run it)."""
    return " OR ".join(quote_term(term) for term in terms if term)


def build_match_query(text: str) -> str:
    """The safe OR query for raw user text; empty string when nothing is searchable."""
    return match_expression(query_terms(text))


def snippet(marked: str, *, max_chars: int = 320) -> str:
    """HTML-safe excerpt of `marked` (text with MARK_START/MARK_END around matches).

    Picks the `max_chars` window holding the most matches, cuts it at word boundaries, adds
    an ellipsis where text was cut, escapes it, and wraps matches in <mark>...</mark>.
    """
    text, spans = _parse_marks(marked)
    if len(text) <= max_chars:
        start, end = 0, len(text)
    elif not spans:
        start, end = 0, _word_end(text, max_chars)
    else:
        start, end = _best_window(text, spans, max_chars)
    parts: list[str] = ["…"] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        parts.append(html.escape(text[cursor:span_start], quote=False))
        parts.append(f"<mark>{html.escape(text[span_start:span_end], quote=False)}</mark>")
        cursor = span_end
    parts.append(html.escape(text[cursor:end], quote=False))
    if end < len(text):
        parts.append("…")
    return "".join(parts).strip()


def _parse_marks(marked: str) -> tuple[str, list[tuple[int, int]]]:
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    open_at: int | None = None
    for piece in re.split(f"([{MARK_START}{MARK_END}])", marked):
        if piece == MARK_START:
            open_at = length
        elif piece == MARK_END:
            if open_at is not None and length > open_at:
                spans.append((open_at, length))
            open_at = None
        else:
            out.append(piece)
            length += len(piece)
    return "".join(out), spans


def _best_window(text: str, spans: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    """The window from which the most matches are shown whole. `spans` are in order and
    do not overlap, so a window's count is the spans starting at or after its start less
    those ending after its end (two binary searches a candidate window)."""
    lead = max_chars // 4  # some context before the first match in the window
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    best_start, best_count = 0, -1
    for span_start in starts:
        start = max(0, min(span_start - lead, len(text) - max_chars))
        count = max(0, bisect_right(ends, start + max_chars) - bisect_left(starts, start))
        if count > best_count:
            best_start, best_count = start, count
    start = _word_start(text, best_start)
    return start, _word_end(text, start + max_chars)


def _word_start(text: str, position: int) -> int:
    """Move `position` forward to the start of a word (never into the middle of one)."""
    if position <= 0:
        return 0
    if text[position - 1].isspace():
        return position
    nxt = text.find(" ", position)
    return nxt + 1 if 0 <= nxt < position + 40 else position


def _word_end(text: str, position: int) -> int:
    """Move `position` back to the end of a word."""
    if position >= len(text):
        return len(text)
    prev = text.rfind(" ", 0, position)
    return prev if prev > position - 40 and prev > 0 else position
