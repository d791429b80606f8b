"""The question as the documents answer reads it: spelled for meaning, its own words, those it
sets aside and those a follow-up borrowed (`Asked`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.knowledge.spelling import closest_term
from services.offline import data
from services.offline.context import AnswerContext
from services.offline.text import STOP, content_stems, stem

WORD = re.compile(r"[^\W\d_]+")


def _spelled_for_meaning(
    question: str, hits: list[dict[str, Any]], known: Callable[[str], bool] | None
) -> str:
    """The question with its typos corrected against the retrieved passages' own words, for
    every rule below and above all the sentence embedder: "min pasword lenght" -> "min
    password length" (applied once, at the start of `compose_documents`). Word matching
    tolerates typos already (`match.match`); the embedder does not (a misspelt word
    becomes unrelated word pieces). Like the search's own correction, only a word the
    knowledge base does not know is corrected ("start" never becomes "starts"), so nothing is
    corrected without `known`."""
    if known is None:
        return question
    counts = Counter(
        w.lower()
        for hit in hits
        for w in WORD.findall(
            f"{hit.get('title', '')} {hit.get('section', '')} {hit.get('text', '')}"
        )
    )

    def fix(found: re.Match[str]) -> str:
        word = found.group(0)
        exactly = getattr(known, "exactly", known)
        if word.lower() in counts or word.lower() in STOP or exactly(stem(word.lower())):
            return word  # known, or a question word typed without its apostrophe ("hasnt")
        return closest_term(word.lower(), counts.items()) or word

    return WORD.sub(fix, question)


#: What a question sets aside ("as an html report instead of the terminal table?", "rather
#: than a plugin"): group 2, the thing it does not want, up to the clause's end; group 1, the
#: clause before it, which names what it wants instead.
_SET_ASIDE = re.compile(
    r"([^,.;:?!]*?)\b(?:instead\s+of|rather\s+than)\s+([^,.;:?!]+)", re.IGNORECASE
)


#: Verbs that ask for a replacement without naming one: "what do I use instead of X?" is
#: about X.
_REPLACING = frozenset(map(stem, data.words("replacing_verbs")))


def _set_aside(question: str) -> set[str]:
    """Stems of what the question sets aside (`_SET_ASIDE`) after naming what it wants: they
    are not what it asks, so they neither pick the answering sentence nor raise the bar by
    being absent or held elsewhere. "What do I use instead of assume-unchanged?" names
    nothing it wants: it is about assume-unchanged."""
    aside: set[str] = set()
    for wanted, rejected in _SET_ASIDE.findall(question):
        if set(content_stems(wanted)) - _REPLACING:
            aside |= set(content_stems(rejected))
    return aside


def own_words(question: str, borrowed: Sequence[str]) -> str:
    """The follow-up's own words: the query after the words it borrowed."""
    prefix = " ".join(borrowed)
    return question[len(prefix) :] if borrowed and question.startswith(prefix) else question


@dataclass
class Asked:
    """The question as `compose_documents` reads it, and what the answer must meet."""

    message: str  # as typed
    question: str  # spelled for meaning
    terms: list[str]
    background: set[str]  # words a follow-up borrowed, not its own
    borrowed: Sequence[str]
    context: AnswerContext  # the lexicon, the knobs, the knowledge base's helpers
    asked: set[str] = field(default_factory=set)  # the asking clauses' words
    needed: float = 0.0
    rare: str | None = None


def read_asked(
    message: str,
    kept: list[dict[str, Any]],
    borrowed: Sequence[str],
    context: AnswerContext,
) -> Asked:
    """The question's words: its own, those it sets aside, and those a follow-up borrowed."""
    question = _spelled_for_meaning(message, kept, context.known)
    terms = content_stems(question)
    aside = _set_aside(question)  # "... instead of the terminal table": not what it asks
    terms = [t for t in terms if t not in aside] or terms
    background = set(content_stems(" ".join(borrowed))) - set(
        content_stems(own_words(question, borrowed))
    )
    return Asked(message, question, terms, background, borrowed, context)


def own_terms(asked: Asked) -> list[str]:
    return [t for t in asked.terms if t not in asked.background]
