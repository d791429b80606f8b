"""How a question's words name a table's columns: the words inside a header and the
shorthand headers use.

Rules:
- A header is split into its words at underscores, spaces, punctuation, digits and case
  changes ("unitPriceEUR" -> unit, price, eur; "Week No" -> week, no).
- A header word names a question word when both have the same stem, are English synonyms
  (`data/synonyms.txt`: "cost" ~ "price"), one stem begins the other and the shorter has five
  letters or more ("supplies" ~ "supplier"), the header word is a listed abbreviation of it
  (`data/column_abbreviations.txt`: "qty" ~ "quantity", "dob" ~ "date of birth"), begins it
  ("num" ~ "number", "eur" ~ "euros", three letters or more) or is begun by it (the
  question's shorthand: "lang" ~ "language", four letters or more), is the initials of the
  question's next words ("dob" ~ "date of birth"), or, being no English word, is its
  consonant skeleton ("dept" ~ "department": same first letter, the header's letters in
  order, at most one vowel after the first).
- Nothing here knows one knowledge base's words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from services.knowledge.spelling import english_words
from services.offline import data
from services.offline.text import stem

_CASE = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"
)
_VOWELS = frozenset("aeiou")


@functools.lru_cache(maxsize=4096)
def header_words(name: str) -> tuple[str, ...]:
    """The words of a column or table name, lower case, in order."""
    spaced = _CASE.sub(" ", name)
    return tuple(w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w)


@functools.cache
def _abbreviations() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for entry in data.entries("column_abbreviations"):
        short, *long = entry.split()
        table[short] = tuple(long)
    return table


@functools.cache
def _synonyms() -> dict[str, frozenset[str]]:
    groups: dict[str, frozenset[str]] = {}
    for entry in data.entries("synonyms"):
        stems = frozenset(stem(w) for w in entry.split())
        for s in stems:
            groups[s] = groups.get(s, frozenset()) | stems
    return groups


def _skeleton_of(short: str, word: str) -> bool:
    """Whether `short` (no English word) is `word`'s shorthand by its letters in order."""
    if len(short) < 3 or len(word) < len(short) + 2 or short[0] != word[0]:
        return False
    if sum(c in _VOWELS for c in short[1:]) > 1 or short in english_words():
        return False
    letters = iter(word)
    return all(c in letters for c in short)


def _same(header: str, word: str) -> bool:
    """Whether one header word names one question word (module rules, one word each)."""
    if header == word:
        return True
    h, w = stem(header), stem(word)
    if h == w or w in _synonyms().get(h, frozenset()):
        return True
    shorter, longer = sorted((h, w), key=len)
    if len(shorter) >= 5 and longer.startswith(shorter):
        return True
    if stem(word) in {stem(x) for x in _abbreviations().get(header, ())}:
        return True
    if (
        header.isalpha()
        and len(header) >= 3
        and word.startswith(header)
        and len(word) > len(header)
    ):
        return True
    if word.isalpha() and len(word) >= 4 and header.startswith(word):
        return True  # the question's shorthand: "lang" for a "language" column
    return header.isalpha() and word.isalpha() and _skeleton_of(header, word)


def matched_at(header: str, question_words: Sequence[str]) -> list[int]:
    """The positions of the question words a header word names (several for initials or a
    listed abbreviation of several words: "date of birth" for "dob")."""
    found = [i for i, w in enumerate(question_words) if w and _same(header, w)]
    if found:
        return found
    long = _abbreviations().get(header, ())
    if len(long) > 1:
        stems = [stem(w) for w in question_words]
        wanted = [stem(w) for w in long]
        at = [i for i, s in enumerate(stems) if s and s in wanted]
        if {stems[i] for i in at} == set(wanted):
            return at
    if 2 <= len(header) <= 4 and header.isalpha():
        n = len(header)
        for i in range(len(question_words) - n + 1):
            window = question_words[i : i + n]
            if all(w.isalpha() for w in window) and "".join(w[0] for w in window) == header:
                return list(range(i, i + n))
    return []
