"""How far a sentence's word holds a question word (`match`): the stem itself, a shared start,
a typo, an abbreviation, a synonym (English ones from `data/synonyms.txt`, the knowledge
base's from its lexicon). The credits are `ScoreTuning`'s.
"""

from __future__ import annotations

import functools

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
    if len(term) < 3 or not term.isalpha():
        return 0.0
    knobs = offline_tuning.DEFAULT_TUNING.score if tuning is None else tuning
    if not lexicon.synonyms_of(term).isdisjoint(stems):
        return knobs.synonym_credit  # the knowledge base's own synonyms, as English ones
    best = _NO_RULE
    letters = knobs.shared_start_letters
    for other in stems:
        rule = _rule(term, other, typos, letters)
        if rule < best:
            best = rule
            if rule == 0:
                break
    return _credits(knobs)[best]


#: The last knobs `_credits` was asked about, and their credits: the same object on every
#: call of an answer, so the tuple is built once per answer context, not once per word.
_last_credits: tuple[ScoreTuning | None, tuple[float, ...]] = (None, ())


def _credits(tuning: ScoreTuning) -> tuple[float, ...]:
    """The credit of each rule of `match` after the exact stem, in the order they are tried
    (`_rule`'s numbers)."""
    global _last_credits
    last = _last_credits  # one read: another thread may swap the pair meanwhile
    if last[0] is tuning:
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
    _last_credits = (tuning, credits)
    return credits


#: `_rule`'s number for no rule (the last credit, 0).
_NO_RULE = 6


@functools.lru_cache(maxsize=500_000)
def _rule(term: str, other: str, typos: bool, letters: int) -> int:
    """The first rule of `match` that `other` satisfies for `term` (`_NO_RULE` for none)."""
    if other in SYNONYMS.get(term, frozenset()):
        return 0
    if other.startswith(term) and other[len(term) :].isdigit() and len(other) > len(term):
        return 1  # "sev" for "SEV2", "tier" for "tier1"
    if len(term) == 3:  # too short for typos: only an abbreviation ("ack")
        return 2 if len(other) >= 6 and other.startswith(term) else _NO_RULE
    if (
        len(term) >= letters
        and len(other) >= letters
        and other.startswith(term[:letters])
        and term.startswith(other[:letters])
    ):
        return 3
    if typos and _typo(term, other):
        return 4
    if len(other) >= len(term) + 3 and other.startswith(term):
        return 5
    return _NO_RULE


@functools.lru_cache(maxsize=200_000)
def _typo(term: str, other: str) -> bool:
    budget = 1 if len(term) < 8 else 2
    return (
        len(other) >= 4
        and abs(len(other) - len(term)) <= budget
        and other[:1] == term[:1]
        and other.isalpha()
        and within_edits(term, other, budget)
    )
