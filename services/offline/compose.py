"""The documents answer: chosen sentences with [n] citations, a **Sources** list and a
confidence; or exactly `NOT_FOUND_ANSWER` plus one clarifying question when evidence is weak.

The stages, each in its own module: the question as read (`asked.py`), the candidate
sentences (`read.py`, `candidates.py`), their scores (`score.py`), the bar the best must reach
(`bar.py`), the sentences chosen (`choose.py`), the answer's text (`render.py`) and its
confidence (`confidence.py`). The knobs are `tuning.Tuning`'s, calibrated on the evaluation
set's dev split (`almanac eval answers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loguru import logger

from services.offline.asked import Asked, own_terms, read_asked
from services.offline.bar import answering_first, raise_the_bar
from services.offline.candidates import (
    CANDIDATE_OBSERVERS,
    as_read,
    candidate_sentences,
    meanings,
    reader_question,
)
from services.offline.choose import (
    answer_sentences,
    disagreeing_sources,
    from_one_place,
    led_by_the_contact_asked,
    with_the_quantity_asked,
)
from services.offline.confidence import (
    OBSERVERS,
    action_held,
    confidence_features,
    covered_share,
    passage_features,
    reader_belief,
    refused_confidence,
    said_share,
    shown_confidence,
)
from services.offline.context import DEFAULT_CONTEXT, AnswerContext
from services.offline.question import INTENT_HISTORY, as_of_date
from services.offline.render import Answer, cited_body, not_found
from services.offline.score import Scored, only_other_quarters, score_units
from services.offline.versions import resolve_versions


def compose_documents(
    question: str,
    hits: list[dict[str, Any]],
    context: AnswerContext = DEFAULT_CONTEXT,
    borrowed: Sequence[str] = (),
    whole: str | None = None,
) -> Answer:
    """The cited extractive answer, or the can't-find answer when the evidence is weak.

    Evidence is the best sentence's mix of lexical coverage and meaning (cosine similarity to
    the question under the context's sentence embedder); below `ChooseTuning.min_evidence` the
    question is not answered. `borrowed`: words a follow-up took from the previous question;
    they weigh less than the follow-up's own words and never raise the bar. `whole`: the whole
    question an elliptical follow-up stands for ("what's the default boundary for IntFlag" for
    "and for IntFlag?"); a sentence means the follow-up at least as much as it means that
    question. From the context: `known(stem)`, whether the knowledge base holds the word
    anywhere (a question word no retrieved passage holds raises the bar only if it is unknown;
    without `known`: always); the abbreviations it defines (`_read_abbreviations`); the trained
    reader, whose belief in the chosen sentences is `ConfidenceTuning.reader_share` of the
    confidence (`confidence.mixed`).
    """
    if not hits:
        return not_found(0.0, context)
    kept, replaced = resolve_versions(
        hits, keep_history=bool(INTENT_HISTORY.search(question)), as_of=as_of_date(question)
    )
    asked = read_asked(question, kept, borrowed, context)
    units, labels, hit_texts = candidate_sentences(kept, asked)
    semantic = meanings(asked, units, labels, kept, whole)
    scored = score_units(
        asked.question,
        asked.terms,
        units,
        hit_texts,
        semantic,
        asked.background,
        context.lexicon,
        context.tuning.score,
    )
    asked_as, read_as = "", {}
    if context.reader is not None or CANDIDATE_OBSERVERS:  # as the reader reads them
        asked_as = reader_question(whole or asked.question, borrowed)
        read_as = as_read(asked_as, scored, units, labels, kept)
    if not scored:
        return not_found(0.0, context)
    if only_other_quarters(asked.question, [u.text for u in units]):
        logger.debug("The quarter asked for is in no retrieved passage; others are")
        return not_found(0.0, context)
    raise_the_bar(asked, units, hit_texts, kept, scored[0], semantic is not None)
    scored = answering_first(scored, asked)
    best, best_hit = scored[0], kept[scored[0].unit.hit_index]
    if best.evidence < asked.needed:
        return _too_weak(asked, best, best_hit, scored, kept)
    led = led_by_the_contact_asked(asked, scored)
    if led is None:
        return not_found(refused_confidence(asked, best, best_hit, scored, kept), context)
    scored, best = led, led[0]
    chosen = with_the_quantity_asked(asked, answer_sentences(asked, scored, best))
    if chosen is None:
        return not_found(refused_confidence(asked, best, best_hit, scored, kept), context)
    # the confidence reads the passage of the sentence that was best before a contact led
    return _answer(asked, chosen, (best, best_hit), scored, kept, replaced, (asked_as, read_as))


def _answer(
    asked: Asked,
    chosen: list[Scored],
    best: tuple[Scored, dict[str, Any]],
    scored: list[Scored],
    kept: list[dict[str, Any]],
    replaced: dict[Any, list[dict[str, Any]]],
    reading: tuple[str, dict[int, str]],
) -> Answer:
    """The answer of the chosen sentences (with the one that disagrees with them, if any):
    its text and its confidence. `best`: the best sentence and the passage whose leg strength
    the confidence reads; `reading`: the question and each candidate as the reader reads them."""
    context, question = asked.context, asked.question
    (best_sentence, best_hit), (asked_as, read_as) = best, reading
    chosen, see_also = from_one_place(chosen)
    conflict = disagreeing_sources(
        chosen, scored, kept, asked.needed, context.similarity, context.tuning.confidence
    )
    if conflict is not None:
        # The disagreeing sentence is quoted beside the chosen ones, once: not again as
        # "see also" when it was chosen in another place.
        chosen = [*chosen, conflict[1]] if conflict[1] not in chosen else chosen
        see_also = [rest for p in see_also if (rest := [c for c in p if c is not conflict[1]])]
    body = cited_body(question, chosen, kept, replaced, conflict, see_also)
    read_whole = None
    if context.similarity is not None:
        read_whole = context.similarity.read_once(question, " ".join(c.unit.read for c in chosen))
    covered = covered_share(own_terms(asked), chosen, context.lexicon, context.tuning.score)
    features = confidence_features(
        best_sentence,
        best_hit,
        chosen,
        asked.needed,
        scored,
        kept,
        read_whole,
        covered,
        context.tuning.confidence,
    )
    features["said"] = said_share(own_terms(asked), chosen, context.lexicon, context.tuning.score)
    features["action"] = action_held(question, chosen, context.lexicon, context.tuning.score)
    features |= passage_features(asked, best_hit, kept, chosen)
    features["conflict"] = float(conflict is not None)
    if context.reader is not None and context.tuning.confidence.reader_share > 0:
        chosen_as_read = [read_as.get(id(c.unit)) for c in chosen]
        belief = reader_belief(context, asked_as, chosen_as_read)
        features["belief"] = -1.0 if belief is None else belief
    for observer in OBSERVERS:
        observer(asked.message, features)
    confidence = shown_confidence(features, context.tuning.confidence)
    return Answer(
        body, confidence, coverage=best_sentence.coverage, evidence=best_sentence.evidence
    )


def _too_weak(
    asked: Asked,
    best: Scored,
    best_hit: dict[str, Any],
    scored: list[Scored],
    kept: list[dict[str, Any]],
) -> Answer:
    """The can't-find answer when the best sentence's evidence is below the bar."""
    answer = not_found(refused_confidence(asked, best, best_hit, scored, kept), asked.context)
    answer.coverage = best.coverage
    answer.evidence = best.evidence
    return answer
