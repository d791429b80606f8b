"""The confidence estimator's promised properties, and the confidence phrases."""

from __future__ import annotations

import random

import pytest

from use_cases.chat.citations import Citation
from use_cases.confidence.estimator import (
    DEFAULT_PHRASES,
    INVENTED_CITATION_FACTOR,
    NOT_FOUND_BASE,
    NOT_FOUND_SPAN,
    REFUSAL_CONFIDENCE,
    Evidence,
    PhraseThresholds,
    as_evidence,
    estimate_confidence,
    rrf_score_ceiling,
)


def doc(score: float) -> Evidence:
    return Evidence("document", score)


TABLE = Evidence("table")
rng = random.Random(7)
CASES = [[doc(rng.random()) for _ in range(rng.randint(0, 4))] for _ in range(200)]


@pytest.mark.parametrize("cited", CASES[:50])
def test_is_always_between_zero_and_one(cited: list[Evidence]) -> None:
    for not_found in (False, True):
        value = estimate_confidence(cited, [doc(0.9)], not_found=not_found, model_confidence=0.7)
        assert 0.0 <= value <= 1.0


def test_citing_one_more_piece_of_evidence_never_lowers_it() -> None:
    for cited in CASES:
        retrieved = [*cited, doc(rng.random())]
        before = estimate_confidence(cited, retrieved)
        for extra in (doc(rng.random()), TABLE):
            assert estimate_confidence([*cited, extra], [*retrieved, extra]) >= before


def test_a_cited_passage_scoring_higher_never_lowers_it() -> None:
    for cited in CASES:
        if not cited:
            continue
        retrieved = [*cited, doc(0.5)]
        before = estimate_confidence(cited, retrieved)
        raised = [doc(min(1.0, (cited[0].score or 0) + 0.2)), *cited[1:]]
        assert estimate_confidence(raised, [*raised, doc(0.5)]) >= before


def test_a_stronger_passage_left_uncited_never_raises_it() -> None:
    for cited in CASES:
        before = estimate_confidence(cited, [*cited, doc(0.3)])
        assert estimate_confidence(cited, [*cited, doc(0.3), doc(0.95)]) <= before


def test_cited_evidence_beats_an_uncited_answer() -> None:
    assert estimate_confidence([doc(0.8)], [doc(0.8)]) > estimate_confidence([], [doc(0.8)])


def test_a_cant_find_answer_is_capped_and_falls_as_retrieval_gets_stronger() -> None:
    weak = estimate_confidence([], [doc(0.1)], not_found=True)
    strong = estimate_confidence([], [doc(0.9)], not_found=True)
    nothing = estimate_confidence([], [], not_found=True)
    assert nothing == pytest.approx(NOT_FOUND_BASE + NOT_FOUND_SPAN)
    assert nothing >= weak > strong >= NOT_FOUND_BASE


def test_a_refusal_has_the_refusal_confidence() -> None:
    assert estimate_confidence([doc(1.0)], [doc(1.0)], refused=True) == REFUSAL_CONFIDENCE


def test_a_higher_model_confidence_never_lowers_it() -> None:
    values = [estimate_confidence([doc(0.6)], [], model_confidence=m / 10) for m in range(11)]
    assert values == sorted(values)


@pytest.mark.parametrize("cited", [[], [doc(0.7)], [TABLE]])
def test_an_answer_that_invented_citations_is_less_sure_than_the_same_without(
    cited: list[Evidence],
) -> None:
    honest = estimate_confidence(cited, [doc(0.7)], model_confidence=0.8)
    invented = estimate_confidence(cited, [doc(0.7)], model_confidence=0.8, invented_citations=1)
    assert invented == pytest.approx(honest * INVENTED_CITATION_FACTOR, abs=2e-4)
    assert invented < honest


def test_the_formula_on_one_hand_computed_case() -> None:
    # support = 1 - (1 - .6*.5)(1 - .6*.9) = 1 - .7*.46 = .678; focus = .9/.9 = 1
    assert estimate_confidence([doc(0.5), TABLE], [doc(0.5), doc(0.2)]) == pytest.approx(
        round(0.1 + 0.85 * 0.678, 4)
    )


def test_rrf_scores_are_scaled_by_the_best_possible_score() -> None:
    ceiling = rrf_score_ceiling(60, reranked=False)
    assert ceiling == pytest.approx(2 / 61)
    assert estimate_confidence([doc(2 / 61)], [], score_ceiling=ceiling) == estimate_confidence(
        [doc(1.0)], []
    )
    assert rrf_score_ceiling(None, reranked=False) == rrf_score_ceiling(60, reranked=True) == 1


def test_reads_citations_and_source_dicts() -> None:
    citation = Citation(number=1, kind="document", title="t", source="s", score=0.4)
    assert as_evidence(citation) == Evidence("document", 0.4)
    assert as_evidence({"kind": "table", "score": None}) == Evidence("table", None)


@pytest.mark.parametrize(
    ("confidence", "phrase"),
    [
        (0.0, "very low"),
        (0.19, "very low"),
        (0.2, "low"),
        (0.5, "moderate"),
        (0.6, "high"),
        (0.8, "very high"),
        (1.0, "very high"),
    ],
)
def test_default_phrases_split_the_range_in_fifths(confidence: float, phrase: str) -> None:
    assert DEFAULT_PHRASES.phrase_for(confidence) == phrase


def test_thresholds_must_be_ascending_and_complete() -> None:
    with pytest.raises(ValueError):
        PhraseThresholds((0.5, 0.4, 0.6, 0.8))
    with pytest.raises(ValueError):
        PhraseThresholds((0.2, 0.4))
    assert PhraseThresholds((0.2, 0.5, 0.5, 0.8)).phrase_for(0.55) == "high"


@pytest.mark.parametrize("reported", [0.0, 0.35, 0.9, 1.0])
def test_a_model_reported_confidence_is_the_estimate_whatever_the_passage_scores(
    reported: float,
) -> None:
    # The offline model reads the sentences it quotes; averaging its figure with the
    # passages' retrieval scores separated right from wrong answers less well.
    for cited in ([doc(0.1)], [doc(0.95), doc(0.9)], [TABLE]):
        assert estimate_confidence(cited, [doc(0.5)], model_confidence=reported) == reported


def test_a_reported_confidence_outside_0_1_is_clipped() -> None:
    assert estimate_confidence([doc(0.5)], [], model_confidence=1.7) == 1.0
    assert estimate_confidence([doc(0.5)], [], model_confidence=-0.2) == 0.0
    # not a number: the passages decide, as without a report
    assert estimate_confidence([doc(0.5)], [], model_confidence=float("nan")) == (
        estimate_confidence([doc(0.5)], [])
    )
