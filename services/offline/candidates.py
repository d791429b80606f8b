"""The candidate sentences of a documents answer: the retrieved passages' units, shortlisted
when there are many, and how close each is in meaning to the question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from services.offline import tuning as offline_tuning
from services.offline.abbreviations import Abbreviation, defined_abbreviations, stemmed
from services.offline.asked import Asked, own_words
from services.offline.boilerplate import content_units
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.match import match
from services.offline.question import asking_clauses, with_topic
from services.offline.read import Unit, units_of
from services.offline.render import heading_parts, is_question, meaning_label
from services.offline.score import Scored, asked_codes, focus_on
from services.offline.semantic import SentenceSimilarity
from services.offline.text import stem_set
from services.offline.tuning import ChooseTuning, ScoreTuning, Tuning
from use_cases.shared.content_log import content_log


def sentence_texts(hit: dict[str, Any], tuning: Tuning | None = None) -> list[str]:
    """The texts a passage's sentences are scored by meaning as (`compose_documents`), to
    embed them ahead (`prepared.py`): the same units, the same labels; and its section's
    heading when that asks a question (`_answered_headings`). `tuning`: the knobs answers
    are read with (`tuning.DEFAULT_TUNING` as it is now without one: no answer's context
    reaches the preparing of a document)."""
    knobs = offline_tuning.DEFAULT_TUNING if tuning is None else tuning
    label = meaning_label(hit)
    units = units_of(str(hit.get("text") or ""), set(), 0, 0, knobs.read)
    asking = _asking_heading(hit)
    with_label = knobs.choose.embed_with_label
    return [_as_embedded(label, u.read, with_label) for u in units] + ([asking] if asking else [])


def reader_text(label: str, unit: Unit) -> str:
    """A candidate sentence as the reader reads it: its section's label, then the sentence
    as an answer would quote it."""
    return f"{label}: {unit.shown}"


def reader_question(question: str, borrowed: Sequence[str] = ()) -> str:
    """The question as the reader reads it: a follow-up with the words it borrowed."""
    return f"{question} ({' '.join(borrowed)})" if borrowed else question


def _as_embedded(label: str, text: str, with_label: bool) -> str:
    """A sentence as it is embedded: after its section's label (`ChooseTuning.embed_with_label`)."""
    return f"{label}: {text}" if with_label else text


#: A listener to `observing_candidates`: (question as read, ranked candidates, retrieved
#: passages, each candidate as the reader reads it).
CandidateObserver = Callable[[str, Sequence[Scored], Sequence[str], Sequence[str]], None]


#: Who is told each question's ranked candidate sentences (`observing_candidates`): the
#: bench that finds where the expected fact stood when an answer missed it.
CANDIDATE_OBSERVERS: list[CandidateObserver] = []


@contextmanager
def observing_candidates(callback: CandidateObserver) -> Iterator[None]:
    """Within the block, `callback(question, scored, passages, texts)` hears of every
    question's candidate sentences as ranked (best first), before the answer is composed or
    refused, with the text of every passage they were taken from and each candidate as the
    reader reads it (`reader_text`); `question` is the question as the reader reads it
    (`reader_question`)."""
    CANDIDATE_OBSERVERS.append(callback)
    try:
        yield
    finally:
        CANDIDATE_OBSERVERS.remove(callback)


def _shortlist(
    units: list[Unit],
    labels: list[str],
    terms: Sequence[str],
    choose: ChooseTuning,
    lexicon: Lexicon = EMPTY,
    score: ScoreTuning | None = None,
) -> tuple[list[Unit], list[str]]:
    """The `most` sentences most worth scoring (`ChooseTuning.max_candidates`), in their
    original order: those sharing most of the question's words, with the sentence after each
    of the best (it may complete them, `_with_neighbours`) and the one before each of the
    very best (a sentence opening "That means ..." needs it); the shares of each are
    `ChooseTuning.shortlist_*`."""
    most = choose.max_candidates
    credit = choose.shortlist_context_credit

    def overlap(unit: Unit) -> float:
        return sum(
            max(
                match(t, unit.stems, lexicon=lexicon, tuning=score),
                credit * match(t, unit.context, lexicon=lexicon, tuning=score),
            )
            for t in terms
        )

    order = sorted(
        range(len(units)),
        key=lambda i: (-overlap(units[i]), units[i].rank, units[i].hit_index, units[i].position),
    )
    keep = set(order[: int(most * choose.shortlist_overlap_share)])
    for rank, i in enumerate(order[: int(most * choose.shortlist_next_share)]):
        # `units` runs hit by hit in reading order: the next sentence is the next unit, and
        # the one before the best what a sentence opening "That means ..." points back to
        if i + 1 < len(units) and units[i + 1].hit_index == units[i].hit_index:
            keep.add(i + 1)
        if (
            rank < int(most * choose.shortlist_previous_share)
            and i > 0
            and units[i - 1].hit_index == units[i].hit_index
        ):
            keep.add(i - 1)
    for i in order:
        if len(keep) >= most:
            break
        keep.add(i)
    kept = sorted(keep)
    return [units[i] for i in kept], [labels[i] for i in kept]


def _read_abbreviations(
    units: Sequence[Unit], kept: Sequence[dict[str, Any]], known: Sequence[Abbreviation]
) -> None:
    """A sentence holding an abbreviation the knowledge base (`known`) or a retrieved passage
    defines holds its long form too, and the other way round: "To convert to WAL mode, use
    the following pragma" answers "switch to write-ahead logging" where a document says
    "Write-Ahead Log (WAL)" (`abbreviations.defined_abbreviations`)."""
    defined: dict[str, str] = {}
    for hit in kept:
        defined.update(defined_abbreviations(str(hit.get("text") or "")))
    pairs = {*known, *stemmed(defined)}
    for unit in units:
        for short, long in pairs:
            if short in unit.stems:
                unit.stems.update(long)
            elif long and long <= unit.stems:
                unit.stems.add(short)


def _asking_heading(hit: dict[str, Any]) -> str | None:
    """The heading of a passage's own section when it asks a question, else None."""
    parts = heading_parts(hit)
    return parts[-1] if parts and is_question(parts[-1]) else None


def _answered_headings(
    question: str,
    hits: Sequence[dict[str, Any]],
    units: Sequence[Unit],
    similarity: SentenceSimilarity,
    bar: float,
) -> dict[int, float]:
    """{unit index: the question's similarity to its heading} for the first sentence of each
    section whose heading asks what the question asks (at least `bar` alike,
    `ChooseTuning.asking_heading_match`): a FAQ answers
    its question there, in words that often share little with it ("You need to do two
    things: the script file's mode must be executable and ...")."""
    asking = {i: h for i, hit in enumerate(hits) if (h := _asking_heading(hit)) is not None}
    firsts = [i for i, u in enumerate(units) if u.position == 0 and u.hit_index in asking]
    if not firsts:
        return {}
    indexes = sorted({units[i].hit_index for i in firsts})
    values = similarity.similarities(question, [asking[i] for i in indexes])
    alike = dict(zip(indexes, values, strict=True))
    answered = {i: alike[units[i].hit_index] for i in firsts}
    answered = {i: value for i, value in answered.items() if value >= bar}
    if answered:
        content_log.debug(
            "Headings asking this: {}",
            {asking[units[i].hit_index]: round(v, 3) for i, v in answered.items()},
        )
    return answered


def candidate_sentences(
    kept: list[dict[str, Any]], asked: Asked
) -> tuple[list[Unit], list[str], list[set[str]]]:
    """The passages' candidate sentences (less their boilerplate, `boilerplate.content_units`),
    each one's meaning label, and each passage's words."""
    units: list[Unit] = []
    labels: list[str] = []
    for index, hit in enumerate(kept):
        context = stem_set(f"{hit.get('title', '')} {hit.get('section', '')}")
        rank = int(hit.get("_rank", index))
        text = str(hit.get("text") or "")
        found = units_of(text, context, index, rank, asked.context.tuning.read)
        found = content_units(found, text, asked.context.boilerplate)
        units.extend(found)
        labels.extend([meaning_label(hit)] * len(found))
    _read_abbreviations(units, kept, asked.context.abbreviations)
    hit_texts = [stem_set(f"{h.get('title', '')} {h.get('text', '')}") for h in kept]
    choose = asked.context.tuning.choose
    if len(units) > choose.max_candidates:
        units, labels = _shortlist(
            units, labels, asked.terms, choose, asked.context.lexicon, asked.context.tuning.score
        )
    return units, labels, hit_texts


def meanings(
    asked: Asked,
    units: list[Unit],
    labels: list[str],
    kept: list[dict[str, Any]],
    whole: str | None,
) -> list[float] | None:
    """How close each candidate is in meaning to what is asked, read several ways (None
    without a sentence embedder)."""
    similarity, tuning = asked.context.similarity, asked.context.tuning.choose
    if similarity is None or not units:
        return None
    question, borrowed, with_label = asked.question, asked.borrowed, tuning.embed_with_label
    texts = [
        _as_embedded(label, u.read, with_label) for label, u in zip(labels, units, strict=True)
    ]
    semantic = similarity.similarities(question, texts)  # spelled for meaning above
    for clause in asking_clauses(question):
        # "what time do the kpi jobs run, my dashboard looks stale": the asking clause
        # alone may be closer in meaning to the answer than the whole chatty message.
        closer = similarity.similarities(clause, texts)
        semantic = [max(a, b) for a, b in zip(semantic, closer, strict=True)]
    codes = asked_codes(question)
    focused = [(i, f) for i, u in enumerate(units) if codes and (f := focus_on(u.text, codes))]
    if focused:
        # A code's entry in a long list means what the question asks, the list does not.
        closer = similarity.similarities(
            question, [_as_embedded(labels[i], f, with_label) for i, f in focused]
        )
        for (i, _), value in zip(focused, closer, strict=True):
            semantic[i] = max(semantic[i], value)
    if asked.background:
        # A follow-up means its own words most: "and shipment records?" after raw pings.
        # Its pronoun stands for the borrowed topic: "how long must passwords be?".
        own = with_topic(own_words(question, borrowed), borrowed)
        own_meaning = similarity.similarities(own, texts)
        semantic = [(a + b) / 2 for a, b in zip(semantic, own_meaning, strict=True)]
    if whole:
        meant = similarity.similarities(whole, texts)
        semantic = [max(a, b) for a, b in zip(semantic, meant, strict=True)]
    for i, value in _answered_headings(
        question, kept, units, similarity, tuning.asking_heading_match
    ).items():
        semantic[i] = max(semantic[i], value)  # the heading asks what the question asks
    return semantic


def as_read(
    asked_as: str,
    scored: list[Scored],
    units: list[Unit],
    labels: list[str],
    kept: list[dict[str, Any]],
) -> dict[int, str]:
    """Each candidate's text as the reader reads it, by `id` of its unit; the candidate
    observers see them."""
    label_of = {id(u): label for u, label in zip(units, labels, strict=True)}
    texts = [reader_text(label_of[id(s.unit)], s.unit) for s in scored]
    if CANDIDATE_OBSERVERS:
        passages = [str(hit.get("text") or "") for hit in kept]
        for observer in CANDIDATE_OBSERVERS:
            observer(asked_as, scored, passages, texts)
    return dict(zip([id(s.unit) for s in scored], texts, strict=True))
