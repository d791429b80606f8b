"""Who or what a follow-up's pronoun stands for: the person ("what's their email") or the
team, office or service ("that team") a recent answer named.

Rules: read from the earlier questions and answers alone; unchanged when no answer names one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.offline.question import INTENT_WHO
from services.offline.text import STOP, stem

_PERSONAL_PRONOUN = re.compile(
    r"\b(?:(?P<possessive>their|his|her|hers)|they|them|he|she|him)\b", re.IGNORECASE
)

_NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+\b")


def resolve_person(
    question: str,
    previous_questions: Sequence[str],
    previous_answers: Sequence[str],
    known_names: Sequence[str] = (),
) -> str:
    """The question with a personal pronoun replaced by the person a recent answer named.

    Walking back over the last three turns while they were about a person (a "who"
    question, or one with a personal pronoun), the latest answer that names someone its
    question did not: a person from `known_names` (a table's names; "when did they start" ->
    "The start date of Mateus Oliveira is ..." + "who do they report to"), or any
    capitalised name in the answer to a "who" question ("who is Chen Wei's manager?" ->
    "... is Mateus Oliveira" + "what's their email" -> "what's Mateus Oliveira's email").
    Otherwise the question is returned unchanged.
    """
    if not _PERSONAL_PRONOUN.search(question):
        return question
    pairs = list(zip(previous_questions, previous_answers, strict=False))[-3:]
    for previous_question, previous_answer in reversed(pairs):
        about_person = INTENT_WHO.search(previous_question) or _PERSONAL_PRONOUN.search(
            previous_question
        )
        if not about_person:
            break  # the conversation moved on to something other than a person
        name = _person_named(previous_question, previous_answer, known_names)
        if name is not None:

            def replace(match: re.Match[str], name: str = name) -> str:
                return f"{name}'s" if match.group("possessive") else name

            return _PERSONAL_PRONOUN.sub(replace, question, count=1)
    return question


def _answer_body(answer: str) -> str:
    """An earlier answer without its Sources list and its [n] / [table: t] markers."""
    return re.sub(r"\[[^\]]*\]", " ", answer.split("**Sources**")[0])


_DEMONSTRATIVE = re.compile(
    r"\b(?:that|this|the\s+same)\s+(?P<noun>team|office|service|department|group|location|"
    r"city|system|kpi|metric)\b",
    re.IGNORECASE,
)

#: Nouns that stand for a column of another name ("that office": a location).
_NOUN_COLUMNS = {"office": "location", "city": "location"}


def resolve_reference(
    question: str, previous_answers: Sequence[str], values: Sequence[tuple[str, str]]
) -> str:
    """The question with "that team" (this office, the same service, ...) replaced by the
    value of that kind the latest of the last two answers named: "which other services does
    that team own?" after "The owner team of shipment-api is Tracking Core" -> "... does
    Tracking Core own?". `values`: (value, "table.column") of the tables; a value is of the
    kind when the noun is a word of its column ("owner_team") or names its table
    ("service": services.name). Otherwise the question is returned unchanged."""
    found = _DEMONSTRATIVE.search(question)
    if found is None:
        return question
    noun = found.group("noun").lower()
    wanted = {stem(noun), stem(_NOUN_COLUMNS.get(noun, noun))}

    def of_kind(column: str) -> bool:
        table, _, name = column.partition(".")
        return bool(wanted & {stem(w) for w in re.split(r"[_\W]+", name.lower()) if w}) or (
            stem(table.lower()) in wanted
        )

    for answer in reversed(previous_answers[-2:]):
        body = _answer_body(answer)
        named = [
            (at.start(), value)
            for value, column in values
            if of_kind(column)
            and (at := re.search(rf"(?<!\w){re.escape(value)}(?!\w)", body)) is not None
        ]
        if named:
            value = min(named)[1]
            return question[: found.start()] + value + question[found.end() :]
    return question


def _person_named(question: str, answer: str, known_names: Sequence[str]) -> str | None:
    body = _answer_body(answer)
    asked = question.lower()
    known = sorted((n for n in known_names if n.lower() not in asked and n in body), key=body.index)
    if known:
        return known[0]
    if not INTENT_WHO.search(question):
        return None
    names = [
        m.group(0)
        for m in _NAME.finditer(body)
        if m.group(0).lower() not in asked and m.group(0).split()[0].lower() not in STOP
    ]
    return names[0] if names else None
