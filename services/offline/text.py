"""Words: the light stemmer, content stems and the stopword sets every other module shares.

Rules: question and passage text always go through the same `words` (the full-text index's
tokenizer rule, from `services.knowledge.fts_query`) -> `stem` pipeline, so consistency matters more
than linguistic accuracy; `STOP` (stopwords plus words that only say what kind of answer is
wanted) never counts as content.
"""

from __future__ import annotations

import functools
import threading

import snowballstemmer

from services.knowledge.fts_query import STOPWORDS, words


def wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that say what kind of answer is wanted rather than what it is about.
_QUESTION_WORDS = wordset(
    """
    often long many much quickly soon fast frequently frequent tell please exactly current
    currently according say says get gets got need needs anyone someone something thing things
    know kind sort do does
    hey hi hello quick q actually like just really pls plz thanks thank wondering anybody guys
    thx cheers sorry bother question idea
    ok okay im basically still now currently these days particular specific whats hows wheres
    who's what's tho though bit ever someone us we our i my me you your
    want wants wanted wanna
    dont doesnt didnt cant cannot wont isnt arent wasnt werent shouldnt wouldnt couldnt
    havent hasnt hadnt
    """
)

STOP = STOPWORDS | _QUESTION_WORDS


class _Stemmers(threading.local):
    """One Snowball stemmer per thread: a stemmer keeps its working word in the object, so
    two threads sharing one corrupt each other's state (the offline model runs in a thread pool).
    """

    def __init__(self) -> None:
        self.english = snowballstemmer.stemmer("english")


_STEMMERS = _Stemmers()


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem, with agent nouns folded into their verb.

    Both sides (question and passage) go through it, so consistency matters more than
    linguistic accuracy ("rotation"/"rotated" -> "rotat", "owner"/"owns" -> "own").
    """
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    w = _STEMMERS.english.stemWord(w)
    if w.endswith("er") and len(w) >= 5:
        w = w[:-2]
    return w


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in words(text):
        if word in STOP or (len(word) < 2 and not word.isdigit()):
            continue
        seen.setdefault(stem(word), None)
    return list(seen)


def stem_set(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS}


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def has_digit(term: str) -> bool:
    """Numbers and amounts ("15", "40k", "q2"): matched when present, never required."""
    return any(ch.isdigit() for ch in term)
