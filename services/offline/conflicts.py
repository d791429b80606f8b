"""Two current documents that answer the same question with different values disagree, and an
answer must say so rather than quote both as if they agreed.

Rules:
- Only sentences that answer the question on their own (evidence at the bar) are compared,
  and only across documents: versions of one document are one document here (the caller
  names each candidate by its current version), and a document's own sentences may state
  several values of one measure (a minimum and a maximum length).
- A document that states the other's value anywhere in what was retrieved of it does not
  disagree with it: it says more (a deadline and what happens after it).
- A sentence's *values* are its numbers with the unit written after them ("14 characters",
  "90 days", "4+ words"; not "5xx") or a currency or percent sign; two sentences disagree when
  they state the same unit, share none of its values ("4 characters" and "14 characters"; not
  "from 12 to 14 characters" and "14 characters"), and say the same thing once their numbers
  are masked (the caller decides how: meaning under the sentence embedder, shared words
  without it): "retried for 72 hours" and "counters reset every 24 hours" are about different
  things.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.offline.amounts import amounts
from services.offline.semantic import SentenceSimilarity
from services.offline.text import STOP, jaccard, stem, stem_set
from services.offline.tuning import ConfidenceTuning

_NUMBER_UNIT = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)*)\+?(?:\s+|\s*-\s*)([A-Za-z]{2,})\b",
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


#: Words after a number that are not what it counts ("€75 per person").
_NOT_UNITS = frozenset({"per", "to", "or", "and", "x"})


def same_subject_by(
    similarity: SentenceSimilarity | None, tuning: ConfidenceTuning
) -> Callable[[str, str], bool]:
    """Whether two (masked) sentences say the same thing: by meaning under the sentence
    embedder, by shared words without it (`ConfidenceTuning.same_subject_meaning`,
    `same_subject_overlap`)."""
    meaning, overlap = tuning.same_subject_meaning, tuning.same_subject_overlap

    def same_subject(a: str, b: str) -> bool:
        if similarity is None:
            return jaccard(stem_set(a), stem_set(b)) >= overlap
        return similarity.similarities(a, [b])[0] >= meaning

    return same_subject


@dataclass(frozen=True)
class Disagreement:
    """Two sentences (by their index in the answer's candidates) and the unit they differ on:
    `first_values` and `second_values` as written."""

    first: int
    second: int
    unit: str
    first_values: tuple[str, ...]
    second_values: tuple[str, ...]


def values(text: str) -> dict[str, dict[float, str]]:
    """Stated values by unit (stemmed word, or the sign): value -> as written."""
    found: dict[str, dict[float, str]] = {}
    for match in _NUMBER_UNIT.finditer(text):
        word = match.group(2).lower()
        if word in STOP or word in _NOT_UNITS:
            continue
        number = _number(match.group(1))
        if number is not None:
            found.setdefault(stem(word), {})[number] = match.group(0).strip()
    for amount in amounts(text):
        if amount.unit:
            found.setdefault(amount.unit, {})[amount.value] = text[
                amount.start : amount.end
            ].strip()
    return found


def disagreement(
    texts: Sequence[str],
    documents: Sequence[Any],
    answers: Callable[[int], bool],
    same_subject: Callable[[str, str], bool],
    document_texts: Mapping[Any, str] | None = None,
) -> Disagreement | None:
    """The first pair of candidates, from different documents, both answering (`answers(i)`),
    saying the same thing but for its values (`same_subject` of the two sentences with their
    numbers masked), that state different values of one unit, neither document stating the
    other's value anywhere in what was retrieved of it (`document_texts`, by document: "within
    10 business days ... after 15 business days" agrees with "10 business days"); None when
    they agree."""
    stated = [values(t) if answers(i) else {} for i, t in enumerate(texts)]
    whole = {d: values(t) for d, t in (document_texts or {}).items()}
    for a, b in itertools.combinations(range(len(texts)), 2):
        if documents[a] == documents[b] or not stated[a] or not stated[b]:
            continue
        for unit in sorted(stated[a].keys() & stated[b].keys()):
            mine, theirs = stated[a][unit], stated[b][unit]
            if not mine.keys().isdisjoint(theirs.keys()):
                continue
            if not mine.keys().isdisjoint(whole.get(documents[b], {}).get(unit, {})):
                continue  # the other document says this value too
            if not theirs.keys().isdisjoint(whole.get(documents[a], {}).get(unit, {})):
                continue
            if same_subject(masked(texts[a]), masked(texts[b])):
                return Disagreement(a, b, unit, tuple(mine.values()), tuple(theirs.values()))
    return None


def masked(text: str) -> str:
    """`text` with every number written as N: two statements of one rule with different
    values read alike."""
    return _DIGITS.sub("N", text)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None
