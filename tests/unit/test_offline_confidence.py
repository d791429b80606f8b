"""The offline answer's confidence read from its features: the fitting bench scores exactly
what an answer reports, and the passage's signals it records say what they claim."""

from __future__ import annotations

from typing import Any

from bench.confidence_fit import score
from services.knowledge.repeated_lines import line_key
from services.offline.compose import compose_documents
from services.offline.confidence import observing_confidence, shown_confidence
from services.offline.context import DEFAULT_CONTEXT, AnswerContext
from services.offline.tuning import DEFAULT_TUNING

QUESTION = "how many host parameters can one statement hold?"
ANSWER = "One statement can hold at most 32766 host parameters."


def _hit(text: str, number: int = 1, **scores: Any) -> dict[str, Any]:
    return {
        "number": number,
        "document_id": number,
        "title": "Limits",
        "section": "Host parameters",
        "source": "limits.html",
        "text": text,
        "bm25_rank": 1,
        "vector_distance": 0.3,
        **scores,
    }


def _heard(
    hits: list[dict[str, Any]], context: AnswerContext = DEFAULT_CONTEXT
) -> tuple[float, dict[str, float]]:
    heard: list[dict[str, float]] = []
    with observing_confidence(lambda _q, features: heard.append(features)):
        answer = compose_documents(QUESTION, hits, context)
    assert answer.found and len(heard) == 1
    return answer.confidence, heard[0]


def test_the_confidence_reported_is_the_one_its_features_give() -> None:
    for hits in (
        [_hit(ANSWER)],
        [{**_hit(ANSWER), "_rank": 2}],  # a lower-ranked passage: less
        [_hit(ANSWER, bm25_rank=None)],  # found by meaning only
    ):
        confidence, features = _heard(hits)
        assert confidence == shown_confidence(features, DEFAULT_TUNING.confidence)
        # the bench refits on recorded rows through the same function
        row = {"corpus": "c", "id": "1", "correct": True, **features}
        model = DEFAULT_TUNING.confidence
        assert score(row, model.bias, model.weights) == confidence


def test_an_answer_no_sentence_of_which_holds_the_fact_asked_for_stays_below_high() -> None:
    features = {"passage": 1.0, "typed": 0.0, "conflict": 0.0, "belief": 1.0}
    features |= {name: 1.0 for name in DEFAULT_TUNING.confidence.weights}
    model = DEFAULT_TUNING.confidence
    assert shown_confidence(features, model) == model.untyped_cap
    assert shown_confidence(features | {"conflict": 1.0}, model) == model.conflict_cap
    assert shown_confidence(features | {"typed": 1.0}, model) <= model.ceiling


def test_a_passage_found_by_words_alone_or_lower_by_meaning_is_told_apart() -> None:
    other = "The page size is 4096 bytes by default."
    _, both = _heard([_hit(ANSWER), _hit(other, 2, vector_distance=0.6)])
    _, words_only = _heard([_hit(ANSWER, vector_distance=None), _hit(other, 2)])
    _, second_by_meaning = _heard([_hit(ANSWER, vector_distance=0.7), _hit(other, 2)])
    assert both["vector_place"] == 1.0
    assert words_only["vector_place"] == 0.0
    assert second_by_meaning["vector_place"] == 0.5
    assert both["lexical"] == 1.0


def test_a_short_passage_and_one_of_repeated_lines_are_recorded_as_such() -> None:
    _, short = _heard([_hit(ANSWER)])
    _, long = _heard([_hit(ANSWER + " " + "Other limits are listed below. " * 40)])
    assert short["short"] > 0.9 > long["short"] == 0.0
    assert short["boiler"] == 0.0  # no line of it repeated across documents
    footer = "Part of the SQLite documentation suite."
    key = line_key(footer)
    assert key is not None
    context = AnswerContext(boilerplate=frozenset({key}))
    _, footed = _heard([_hit(f"{ANSWER}\n{footer}")], context)
    assert footed["boiler"] == 0.5
