"""Answer-evaluation scoring: what counts as correct, cited and refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from use_cases.chat.chat_turns import ChatResult
from use_cases.chat.domain import Source, TokenUsage
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.evaluation.answers import (
    AnswerCase,
    answer_body,
    matches_fact,
    parse_cases,
    score_case,
    summarise,
)
from use_cases.shared.errors import InvalidRequest


def _result(answer: str, sources: list[Source] | None = None) -> ChatResult:
    return ChatResult(
        chat_id="c",
        message_id="m",
        user_message_id="u",
        answer=answer,
        tool_calls=(),
        sources=tuple(sources or ()),
        model="offline-extractive",
        usage=TokenUsage(),
        latency_ms=12,
    )


def test_a_number_matches_only_as_a_whole_number() -> None:
    assert matches_fact("Acknowledge within 24 hours [1].", ["24 hours"])
    assert not matches_fact("Acknowledge within 24 hours [1].", ["4 hours"])
    assert not matches_fact("The cap is 1.5 days.", ["5 days"])
    # A citation marker is no number of the answer: "[4]" does not say "4 people".
    assert not matches_fact("Remote staff visit an office twice a year [4].", ["4"])
    assert not matches_fact("Listed in the staff table [table: directory].", ["directory"])
    assert matches_fact("4 people are remote [table: directory].", ["4"])
    assert not matches_fact("It costs 1800 euros.", ["180"])
    assert matches_fact("It costs €180 per night.", ["180"])
    # The same number with a zero decimal part; any other decimal part is another number.
    assert matches_fact("It is set to 478.0pt.", ["478"])
    assert matches_fact("The cap is 5.00 days.", ["5"])
    assert not matches_fact("The cap is 5.05 days.", ["5"])
    assert not matches_fact("It costs 1,800 euros.", ["1"])


def test_typographic_quotes_match_the_straight_ones_people_type() -> None:
    assert matches_fact("These shouldn\u2019t be used this way [1].", ["shouldn't be used"])
    assert matches_fact("Set it to \u201cauto\u201d [1].", ['"auto"'])
    assert matches_fact("These shouldn't be used [1].", ["shouldn\u2019t be used"])
    assert not matches_fact("These should be used [1].", ["shouldn't be used"])


def test_matching_ignores_case_and_spacing_but_not_the_sources_block() -> None:
    answer = "Minimum length is 14  Characters [1].\n\n**Sources**\n[1] Password Policy (2025)"
    assert matches_fact(answer, ["14 characters"])
    assert not matches_fact(answer, ["Password Policy"])
    assert answer_body(answer).strip() == "Minimum length is 14  Characters [1]."


def test_a_refusal_is_correct_only_for_cases_that_must_be_refused() -> None:
    refuse = AnswerCase("r1", "parental leave?", "refuse")
    answerable = AnswerCase("k1", "sev1 ack?", "kb", ("5 minutes",), ("runbooks/ir.md",))
    refusal = _result(f"{NOT_FOUND_ANSWER} Could you tell me more?")
    assert score_case(refuse, refusal).correct
    assert not score_case(answerable, refusal).correct
    assert score_case(answerable, refusal).refused


def test_cited_matches_document_paths_by_their_tail_and_tables_by_name() -> None:
    case = AnswerCase("k1", "q", "kb", ("5 minutes",), ("runbooks/ir.md", "table:services"))
    doc = Source(1, "document", "IR", "/srv/kb/runbooks/ir.md")
    other = Source(1, "document", "X", "/srv/kb/runbooks/xir.md")
    table = Source(1, "table", "table: directory, services", "SELECT ...")
    assert score_case(case, _result("5 minutes [1]", [doc])).cited
    assert not score_case(case, _result("5 minutes [1]", [other])).cited
    assert score_case(case, _result("5 minutes [table: services]", [table])).cited


def test_summary_counts_citations_only_over_answered_document_cases() -> None:
    cases = [
        AnswerCase("a", "q", "kb", ("5 minutes",), ("runbooks/ir.md",)),
        AnswerCase("b", "q", "kb", ("9 days",), ("runbooks/ir.md",)),
        AnswerCase("c", "q", "refuse"),
    ]
    doc = Source(1, "document", "", "kb/runbooks/ir.md")
    results = [
        score_case(cases[0], _result("5 minutes [1]", [doc])),
        score_case(cases[1], _result(NOT_FOUND_ANSWER)),
        score_case(cases[2], _result("It is 3 days [1]", [doc])),
    ]
    report = summarise("dev", "m", results)
    assert (report.correct, report.cases) == (1, 3)
    assert report.cited == 1.0  # the refused kb case is not counted as uncited
    assert report.refusal_accuracy == pytest.approx(1 / 3, abs=1e-3)
    assert [r.id for r in report.failures] == ["b", "c"]
    assert report.by_kind["kb"].cases == 2


def test_each_confidence_phrase_reports_its_share_of_answers_and_how_many_were_right() -> None:
    cases = [AnswerCase(str(i), "q", "kb", ("5 minutes",)) for i in range(5)]
    answers = ["5 minutes", "5 minutes", "9 days", "5 minutes", NOT_FOUND_ANSWER]
    confidences = [0.93, 0.85, 0.81, 0.65, 0.1]
    results = [
        replace(score_case(case, _result(answer)), confidence=confidence)
        for case, answer, confidence in zip(cases, answers, confidences, strict=True)
    ]
    labels = summarise("test", "m", results).by_label
    assert list(labels) == ["very low", "low", "moderate", "high", "very high"]
    very_high = labels["very high"]  # the refusal is not an answer at any level
    assert (very_high.answered, very_high.correct) == (3, 2)
    assert very_high.share == 0.75 and very_high.precision == pytest.approx(2 / 3, abs=1e-3)
    assert (labels["high"].answered, labels["high"].precision) == (1, 1.0)
    assert labels["very low"].answered == 0 and labels["very low"].precision is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: not valid JSON"),
        ('{"id": "x", "question": "q", "kind": "nope"}', "field 'kind'"),
        ('{"id": "x", "question": "", "kind": "kb"}', "field 'question'"),
        ('{"id": "x", "question": "q", "kind": "kb", "expect_any": []}', "field 'expect_any'"),
        ('{"id": "x", "question": "q", "kind": "kb", "expect_any": "5"}', "field 'expect_any'"),
        ('{"id": "x", "question": "q", "kind": "follow_up", "expect_any": ["a"]}', "'history'"),
    ],
)
def test_invalid_cases_name_the_line_and_field(line: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_cases([line], origin="cases.jsonl")


def test_duplicate_ids_are_rejected() -> None:
    line = '{"id": "x", "question": "q", "kind": "refuse"}'
    with pytest.raises(InvalidRequest, match="line 2: field 'id': duplicate"):
        parse_cases([line, line])
