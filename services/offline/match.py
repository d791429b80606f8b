"""How far a sentence's word holds a question word (`match`): the stem itself, a shared start,
a typo, an abbreviation, a synonym (English ones from `data/synonyms.txt`, the knowledge
base's from its lexicon). The credits are `ScoreTuning`'s.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from services.knowledge.spelling import within_edits
from services.offline import tuning as offline_tuning
from services.offline.data import entries
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.text import stem
from services.offline.tuning import ScoreTuning


def _synonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for group in entries("synonyms"):
        stems = {stem(w) for w in group.split()}
        for s in stems:
            table.setdefault(s, set()).update(stems - {s})
    return {s: frozenset(others) for s, others in table.items()}


#: Each English word's synonyms, by stem (`data/synonyms.txt`).
SYNONYMS = _synonyms()


def match(
    term: str,
    stems: set[str] | frozenset[str],
    *,
    typos: bool = True,
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
) -> float:
    """1 for the stem itself; `shared_start_credit` for a word sharing its first
    `shared_start_letters` letters ("rotat" and "rotation"); `typo_credit` for a typo of it
    (one edit, or two in long words: "pasword", "lenght"); `abbreviation_credit` when it
    starts a word at least three letters longer ("ack"); `synonym_credit` for a word people
    use interchangeably (`SYNONYMS`: "kept", "retention"; and the `lexicon`'s synonyms);
    `code_credit` for a code it starts ("sev" and "SEV2"). `typos=False`: no typo credit
    (for a correctly spelt word: "paternity" is no "pattern").

    The first of these rules that any stem satisfies decides (a synonym before a typo), so
    the credit is that of the lowest rule over the stems, each pair's rule cached: scoring
    asks this for every question word against every candidate sentence. `tuning`: the
    answer context's; without one, `tuning.DEFAULT_TUNING`'s as they are now."""
    if term in stems:
        return 1.0
    knobs = offline_tuning.DEFAULT_TUNING.score if tuning is None else tuning
    if len(term) < knobs.min_match_letters or not term.isalpha():
        return 0.0
    if not lexicon.synonyms_of(term).isdisjoint(stems):
        return knobs.synonym_credit  # the knowledge base's own synonyms, as English ones
    best = _NO_RULE
    credits, lengths = _credits(knobs)
    for other in stems:
        rule = _rule(term, other, typos, lengths)
        if rule < best:
            best = rule
            if rule == 0:
                break
    return credits[best]


class _Lengths(NamedTuple):
    """The word lengths `_rule` reads (`ScoreTuning`'s): a small hashable key of its cache."""

    shared_start: int
    min_match: int
    abbreviation_extra: int
    typo_two_edits: int
    typo_min: int


#: The last knobs `_credits` was asked about, and their credits: the same object on every
#: call of an answer, so the tuple is built once per answer context, not once per word.
_last_credits: tuple[ScoreTuning | None, tuple[tuple[float, ...], _Lengths] | None] = (None, None)


def _credits(tuning: ScoreTuning) -> tuple[tuple[float, ...], _Lengths]:
    """The credit of each rule of `match` after the exact stem, in the order they are tried
    (`_rule`'s numbers), and the word lengths the rules read."""
    global _last_credits
    last = _last_credits  # one read: another thread may swap the pair meanwhile
    if last[0] is tuning and last[1] is not None:
        return last[1]
    credits = (
        tuning.synonym_credit,
        tuning.code_credit,
        tuning.abbreviation_credit,
        tuning.shared_start_credit,
        tuning.typo_credit,
        tuning.abbreviation_credit,
        0.0,
    )
    lengths = _Lengths(
        tuning.shared_start_letters,
        tuning.min_match_letters,
        tuning.abbreviation_extra_letters,
        tuning.typo_two_edit_letters,
        tuning.typo_min_letters,
    )
    _last_credits = (tuning, (credits, lengths))
    return credits, lengths


#: `_rule`'s number for no rule (the last credit, 0).
_NO_RULE = 6


@functools.lru_cache(maxsize=500_000)
def _rule(term: str, other: str, typos: bool, lengths: _Lengths) -> int:
    """The first rule of `match` that `other` satisfies for `term` (`_NO_RULE` for none)."""
    if other in SYNONYMS.get(term, frozenset()):
        return 0
    if other.startswith(term) and other[len(term) :].isdigit() and len(other) > len(term):
        return 1  # "sev" for "SEV2", "tier" for "tier1"
    extra = lengths.abbreviation_extra
    if len(term) == lengths.min_match:  # too short for typos: only an abbreviation ("ack")
        return 2 if len(other) >= len(term) + extra and other.startswith(term) else _NO_RULE
    letters = lengths.shared_start
    if (
        len(term) >= letters
        and len(other) >= letters
        and other.startswith(term[:letters])
        and term.startswith(other[:letters])
    ):
        return 3
    if typos and _typo(term, other, lengths.typo_two_edits, lengths.typo_min):
        return 4
    if len(other) >= len(term) + extra and other.startswith(term):
        return 5
    return _NO_RULE


@functools.lru_cache(maxsize=200_000)
def _typo(term: str, other: str, two_edits: int, shortest: int) -> bool:
    budget = 1 if len(term) < two_edits else 2
    return (
        len(other) >= shortest
        and abs(len(other) - len(term)) <= budget
        and other[:1] == term[:1]
        and other.isalpha()
        and within_edits(term, other, budget)
    )
