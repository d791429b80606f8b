"""Where a text's sentences end: the one splitter every part of Almanac uses.

A sentence ends at ".", "!", "?", "…" or a CJK full stop ("。", "！", "？"), with any closing
quotes or brackets after it ('He said "stop." Then ...', "(in SQLite.) The ..."), where
whitespace follows and the next sentence starts:

- with a capital, a digit, an opening bracket or quote, or a mark of code or emphasis; before
  anything else the text goes on: "e.g. the", "3.5 in", "os.path", "#! followed by", "{ ... }
  both", "(?!...) — Negative" and ".. |H2O| replace::" (code and markup) are one sentence;
- in text as people type it into a chat (`typed`), where a sentence may start in lower case
  ("done with it now. how do i remove it? it's got"), with anything;
- after a CJK full stop, at once: CJK text puts no space between sentences.

A known abbreviation ("e.g.", "i.e.", "etc.", "vs.", "cf." ...) never ends a sentence. Lines are
not sentences: a caller that reads line by line (lists, chat messages) splits its lines first.

A maintained library was measured for this: `sentencex` 1.0.32 splits as well, but its time
grows faster than the text (5 ms for 1 KB, 3.1 s for 63 KB), which chunking a manual cannot
afford; these rules run in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: A possible end: the terminal mark, closing quotes and brackets, then the whitespace after it
#: (none needed after a CJK full stop).
_END = re.compile(r"([.!?…。！？])[\"'”’)\]」』]*(\s+|(?<=[。！？」』])\s*)")

_CJK_STOPS = frozenset("。！？")
#: What besides a capital or a digit may start a sentence after a full stop: an opening bracket
#: or quote, or a mark of code or emphasis ("`make` runs.", "*Note*: ...").
_OPENERS = frozenset("([{\"“‘'`*_¿¡")

#: Abbreviations that end with a full stop but not a sentence (lower case, with the stop).
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "no.", "cf.", "min.")
_ABBREVIATION = re.compile(
    r"(?<![\w.])(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")$", re.IGNORECASE
)
_LONGEST = max(map(len, ABBREVIATIONS))


def sentence_breaks(
    text: str, start: int = 0, end: int | None = None, *, typed: bool = False
) -> Iterator[tuple[int, int]]:
    """Each sentence end in `text[start:end]` as (where the sentence ends, where the next one
    starts): the first index is just past its closing marks, the second past the whitespace.
    A break whose next sentence would start at `end` (or the text's end) is not one. `typed`:
    the text was typed into a chat, so a sentence may start in lower case."""
    stop = len(text) if end is None else end
    for match in _END.finditer(text, start, stop):
        after = match.end()
        if after >= stop:
            return
        mark = match.group(1)
        if mark not in _CJK_STOPS and not match.group(2):
            continue
        if not (typed or mark in _CJK_STOPS or _starts_sentence(text[after])):
            continue
        stopped = match.start(1) + 1
        if mark == "." and _ABBREVIATION.search(text, max(start, stopped - _LONGEST), stopped):
            continue
        yield match.start(2), after


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS


def split_sentences(text: str, *, typed: bool = False) -> list[str]:
    """The text's sentences, each stripped; empty pieces are dropped."""
    pieces: list[str] = []
    begin = 0
    for finish, following in sentence_breaks(text, typed=typed):
        pieces.append(text[begin:finish])
        begin = following
    pieces.append(text[begin:])
    return [piece.strip() for piece in pieces if piece.strip()]
