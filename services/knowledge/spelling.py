"""Typo tolerance shared by the lexical leg and the offline composer.

Rules: a word is only corrected when the index does not know it; the correction is the known
term within `edit_budget(word)` edits (insertions, deletions, substitutions or swapped
neighbours) that starts with the same letter, the most frequent one on ties of distance.
Words shorter than `MIN_CORRECTED_LENGTH` are never corrected (too many near neighbours).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

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
    certain to exceed `budget` (the rows are cut short)."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > budget:
        return budget + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > budget:
            return budget + 1
        previous2, previous = previous, current
    return min(previous[-1], budget + 1)


def closest_term(word: str, known: Iterable[tuple[str, int]]) -> str | None:
    """The correction of `word` among `known` (term, frequency) pairs, or None."""
    if len(word) < MIN_CORRECTED_LENGTH or not word.isalpha():
        return None
    budget = edit_budget(word)
    best: tuple[int, int, str] | None = None
    for term, frequency in known:
        if term[:1] != word[:1] or term == word:
            continue
        distance = edit_distance(word, term, budget)
        if distance <= budget and (best is None or (distance, -frequency) < best[:2]):
            best = (distance, -frequency, term)
    return best[2] if best else None
