"""Abbreviations a knowledge base defines in its own text: "a write-ahead log (WAL)", "the
global interpreter lock (GIL)", "NFSS (New Font Selection Scheme)".

A document that defines an abbreviation then mostly writes the short form ("convert to WAL
mode"), while people ask in the long one ("switch to write-ahead logging"), or the other way
round. The offline composer reads the definitions of the whole knowledge base (cached with
its vocabulary until the next write: `vocabulary.KnowledgeVocabulary`) and of each retrieved
passage, and lets a sentence holding one form count as holding the other
(`candidates._read_abbreviations`), so no knowledge base's abbreviations live in code or need a
lexicon entry.

Rules (after Schwartz & Hearst, "A simple algorithm for identifying abbreviation definitions
in biomedical text", 2003, made stricter): the short form is one word of 2 to 10 characters
with at least two capitals ("WAL", "ToC", "ABCs"), written in parentheses after its long form
(in the same clause) or right before a long form in parentheses; the initials of the long
form's words, with or without its minor words ("table of contents", "out-of-memory"), are the
short form's capitals in order, and hyphenated parts count as words ("write-ahead log").
Anything else, code included ("class Shape(IntEnum)"), defines nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from services.offline import data
from services.offline.text import stem, stem_set

#: An abbreviation as the composer reads it: the short form's stem and the long form's stems
#: ("wal", {"write", "ahead", "log"}).
Abbreviation = tuple[str, frozenset[str]]

#: Words a long form may hold without a capital of the short form standing for them
#: (`data/abbreviation_minor_words.txt`).
_MINOR = data.words("abbreviation_minor_words")

_SHORT = r"[A-Za-z][A-Za-z0-9]{1,9}"
#: "long form (SF)": the short form in parentheses.
_AFTER_LONG = re.compile(rf"\(\s*({_SHORT})\s*\)")
#: "SF (long form)": words in parentheses (found first: a scan for "(" is fast) ...
_LONG_IN_PARENTHESES = re.compile(r"\(\s*([A-Za-z][A-Za-z -]{2,80}?)\s*\)")
#: ... right after one word, the short form.
_SHORT_BEFORE = re.compile(rf"(?<![\w-])({_SHORT})\s+$")

_PART = re.compile(r"[A-Za-z0-9]+")


def _capitals(short: str) -> list[str]:
    return [c.lower() for c in short if c.isupper()]


def _stands_for(capitals: list[str], parts: list[str]) -> bool:
    """Whether the parts' initials, with or without the minor words ("out-of-memory" for OOM,
    "table of contents" for ToC), are the capitals in order, and the first part is no minor
    word."""
    if not parts or parts[0].lower() in _MINOR:
        return False
    every = [p[0].lower() for p in parts]
    major = [p[0].lower() for p in parts if p.lower() not in _MINOR]
    return capitals in (every, major)


def defined_abbreviations(text: str) -> dict[str, str]:
    """The abbreviations `text` defines: short form (as written) -> long form (as written)."""
    found: dict[str, str] = {}
    for match in _AFTER_LONG.finditer(text):
        short = match.group(1)
        capitals = _capitals(short)
        if len(capitals) < 2:
            continue
        before = text[max(0, match.start() - 200) : match.start()]
        before = re.split(r"[.;:!?()]|\n\s*\n", before)[-1]  # the same clause and paragraph
        spans = list(_PART.finditer(before))
        for size in range(len(capitals), min(len(spans), len(capitals) + 2) + 1):
            parts = [s.group(0) for s in spans[-size:]]
            if _stands_for(capitals, parts) and short.lower() not in (p.lower() for p in parts):
                long = before[spans[-size].start() : spans[-1].end()]
                found.setdefault(short, " ".join(long.split()))
                break
    for match in _LONG_IN_PARENTHESES.finditer(text):
        word = _SHORT_BEFORE.search(text, max(0, match.start() - 16), match.start())
        if word is None:
            continue
        short, long = word.group(1), match.group(1).strip()
        capitals = _capitals(short)
        if len(capitals) < 2 or short in found:
            continue
        parts = _PART.findall(long)
        if 2 <= len(parts) <= len(capitals) + 2 and _stands_for(capitals, parts):
            found[short] = " ".join(long.split())
    return found


def stemmed(defined: Mapping[str, str]) -> tuple[Abbreviation, ...]:
    """The abbreviations as the composer matches them (`Abbreviation`), long forms of at least
    two words only."""
    pairs = ((stem(short), frozenset(stem_set(long))) for short, long in defined.items())
    return tuple((short, long) for short, long in pairs if len(long) >= 2 and short not in long)
