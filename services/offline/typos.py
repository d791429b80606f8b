"""Typo correction of the question, before the offline model plans its searches and lookups.

People type "who does kwane mnsah report to" and "how many ppl are baseed in lisbon"; the
search's lexical leg forgives such words, but the table planner (names, cities, teams) and the
answer composer (which words the evidence must hold) read the question word by word.

Rules (deliberately conservative: a wrong correction is worse than none):
- Only a word of `MIN_CORRECTED_LENGTH`+ letters is corrected, and only when nobody knows it:
  not an English word (pyspellchecker's bundled frequency list), not a word of the knowledge
  base (its index terms, `KnownWords.exactly`), not a word of the tables (column names and
  listed values). "guest" or "parental" stay as typed even when the knowledge base lacks them:
  an absent topic must stay absent, so the composer can refuse.
- The correction is the closest word within `spelling.edit_budget` edits that starts with the
  same letter: first among the tables' words, then (for a word not written with a capital,
  which would say it is a name: "Fleur" never becomes "flour") among the English words the
  knowledge base holds; on ties, one of the same letters ("cuase" is "cause"), then the most
  frequent. Never into an English word the knowledge base lacks: that finds nothing and
  loses the word typed ("conda" is no "condo", "params" no "prams", "helpdesk" no
  "helpless"; every such correction of the corpora's dev questions was wrong). Only without
  the knowledge base's words are all English words candidates.
- Words glued to digits ("sev2") and codes in capitals are never touched; the parts of an
  identifier ("notiffy-service") are checked one by one; the case of the first letter is kept.
- A shorter unknown word is corrected only when swapping two neighbouring letters makes exactly
  one of the words that say what is asked ("lnog" -> "long", "waht" -> "what", `text.STOP`): a
  typed question word must not count as a topic the knowledge base lacks.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

from services.knowledge.spelling import MIN_CORRECTED_LENGTH, edit_budget, english_words
from services.offline import tuning as offline_tuning
from services.offline.text import STOP, stem

_WORD = re.compile(r"(?<!\d)[^\W\d_]+(?!\d)")
_LETTERS = re.compile(r"[^\W\d_]+")

#: (word, frequency) grouped by (first letter, length).
_Index = dict[tuple[str, int], list[tuple[str, int]]]


class _English:
    """The English word list (`spelling.english_words`) indexed for corrections, once per
    process on first use."""

    _lock = threading.Lock()
    _index: _Index | None = None

    @classmethod
    def load(cls) -> tuple[dict[str, int], _Index]:
        words = english_words()
        with cls._lock:
            if cls._index is None:
                cls._index = _index(words.items())
            return words, cls._index


def _index(pairs: Iterable[tuple[str, int]]) -> _Index:
    grouped: _Index = {}
    for word, frequency in pairs:
        grouped.setdefault((word[:1], len(word)), []).append((word, frequency))
    return grouped


class TypoCorrector:
    """`correct(text, known, table_words)`: `text` with its unknown words corrected."""

    def correct(
        self,
        text: str,
        known: Callable[[str], bool] | None,
        table_words: Counter[str],
    ) -> str:
        words, index = _English.load()
        exactly = getattr(known, "exactly", known)
        preferred = _index(table_words.items())

        def fix(found: re.Match[str]) -> str:
            word = found.group(0)
            lower = word.lower()
            if (
                (word.isupper() and len(word) > 1)
                or lower in words
                or lower in STOP  # "hasnt", "isnt": typed without the apostrophe
                or lower in table_words
                or (exactly is not None and exactly(stem(lower)))
            ):
                return word  # a code, or a word somebody knows
            if len(lower) < MIN_CORRECTED_LENGTH:
                swapped = _swapped_question_word(lower)
                return word if swapped is None else _cased(swapped, word)
            corrected = _closest(lower, preferred)
            if corrected is None and not word[:1].isupper():  # a capital says: a name
                corrected = _closest(lower, index, _held(exactly))
            return word if corrected is None else _cased(corrected, word)

        return _WORD.sub(fix, text)


def is_foreign(
    word: str, known: Callable[[str], bool] | None = None, shortest: int | None = None
) -> bool:
    """Whether `word` is no English word, no typo of one (within the edit budget) and no two
    glued together ("eachother"): a name of something ("pyinstaller", "kubernetes").
    `known(stem)`: the knowledge base's words; then only a typo of a word it holds is a typo
    (the words it can be corrected into): "conda" names a tool where no "condo" is written.
    `shortest`: the fewest letters of a name (`ChooseTuning.foreign_min_letters`; the
    `tuning.DEFAULT_TUNING`'s as it is now, without one)."""
    if shortest is None:
        shortest = offline_tuning.DEFAULT_TUNING.choose.foreign_min_letters
    lower = word.lower()
    words, index = _English.load()
    if len(lower) < shortest or lower in words or lower in STOP:
        return False
    if any(lower[:i] in words and lower[i:] in words for i in range(2, len(lower) - 1)):
        return False
    return _closest(lower, index, _held(known)) is None


def _held(known: Callable[[str], bool] | None) -> Callable[[str], bool] | None:
    """Accepts an English word whose stem the knowledge base holds (`known`); None (every word)
    without the knowledge base's words."""
    return None if known is None else lambda word: known(stem(word))


def _cased(corrected: str, typed: str) -> str:
    """`corrected` with the typed word's capital first letter, if it had one."""
    return corrected[:1].upper() + corrected[1:] if typed[:1].isupper() else corrected


def _swapped_question_word(word: str) -> str | None:
    """The one word of `STOP` that swapping two neighbouring letters of `word` makes, if
    exactly one ("lnog" -> "long"; "hwo" makes "who" only)."""
    found = {
        swapped
        for i in range(len(word) - 1)
        if (swapped := word[:i] + word[i + 1] + word[i] + word[i + 2 :]) in STOP and swapped != word
    }
    return found.pop() if len(found) == 1 else None


def _closest(word: str, index: _Index, accept: Callable[[str], bool] | None = None) -> str | None:
    """The closest word of `index` within the edit budget, same first letter; on ties, one of
    the same letters (two swapped: "cuase" is "cause", not "case"), then the most frequent;
    only words `accept` takes (all without it). Distances by rapidfuzz's optimal string
    alignment (the metric of `spelling.edit_distance`), in C: ~1 ms over thousands of words."""
    budget = edit_budget(word)
    pool: list[tuple[str, int]] = []
    for length in range(len(word) - budget, len(word) + budget + 1):
        pool.extend(index.get((word[:1], length), ()))
    if not pool:
        return None
    found = process.extract(
        word,
        [candidate for candidate, _ in pool],
        scorer=OSA.distance,
        score_cutoff=budget,
        limit=None,
    )
    letters = sorted(word)
    ranked = sorted(
        (distance, sorted(candidate) != letters, -pool[at][1], candidate)
        for candidate, distance, at in found
    )
    for *_, candidate in ranked:
        if candidate != word and (accept is None or accept(candidate)):
            return candidate
    return None


def table_vocabulary(values: Iterable[str]) -> Counter[str]:
    """The words of the tables' names, column names and listed values, counted."""
    return Counter(w.lower() for value in values for w in _LETTERS.findall(value))
