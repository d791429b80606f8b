"""Typo tolerance shared by the lexical leg and the offline composer.

Rules: a word is only corrected when the index does not know it; the correction is the known
term within `edit_budget(word)` edits (insertions, deletions, substitutions or swapped
neighbours) that starts with the same letter, the most frequent one on ties of distance.
Words shorter than `MIN_CORRECTED_LENGTH` are never corrected (too many near neighbours).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_CORRECTED_LENGTH = 5


@functools.cache
def english_words() -> dict[str, int]:
    """Every English word pyspellchecker's bundled list holds, with its frequency (loaded
    once per process, on first use)."""
    from spellchecker import SpellChecker

    frequencies = SpellChecker(language="en").word_frequency.dictionary
    return {word: int(count) for word, count in frequencies.items() if word.isalpha()}


def edit_budget(word: str) -> int:
    """One edit for words under eight letters, two from eight on ("lenght", "pasword")."""
    return 1 if len(word) < 8 else 2


def within_edits(a: str, b: str, budget: int) -> bool:
    """Whether `a` becomes `b` in at most `budget` insertions, deletions, substitutions or
    swaps of neighbours (optimal string alignment distance)."""
    return edit_distance(a, b, budget) <= budget


def edit_distance(a: str, b: str, budget: int) -> int:
    """The optimal string alignment distance of `a` and `b`, or `budget + 1` once it is
    certain to exceed `budget` (rapidfuzz, in C)."""
    return OSA.distance(a, b, score_cutoff=budget)


def closest_term(word: str, known: Iterable[tuple[str, int]]) -> str | None:
    """The correction of `word` among `known` (term, frequency) pairs, or None; on a tie of
    distance and frequency, the first one listed."""
    if len(word) < MIN_CORRECTED_LENGTH or not word.isalpha():
        return None
    candidates = [(term, frequency) for term, frequency in known if term[:1] == word[:1]]
    found = process.extract(
        word,
        [term for term, _ in candidates],
        scorer=OSA.distance,
        score_cutoff=edit_budget(word),
        limit=None,
    )
    ranked = [(distance, -candidates[at][1], at) for term, distance, at in found if term != word]
    return candidates[min(ranked)[2]][0] if ranked else None
