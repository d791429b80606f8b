"""An answer's fields are written out once (`backend/api/answers.py`) and every reply that
shows an answer declares them: a field added to `AnswerFields` but not to a schema would be
dropped from that reply without a word (pydantic ignores unknown fields)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from backend.api.answers import AnswerFields, turn_data
from backend.api.chat_schemas import ChatOut, MessageOut
from use_cases.chat.chat_turns import ChatResult
from use_cases.chat.domain import Message, Source, TokenUsage, ToolCall
from use_cases.confidence.domain import LoggedResponse

NOW = datetime(2026, 11, 27, tzinfo=UTC)
CANT_FIND = "I can't find this in the knowledge base."


def _result(answer: str = "Fourteen characters [1].", *, not_found: bool = False) -> ChatResult:
    return ChatResult(
        chat_id="c1",
        message_id="m2",
        user_message_id="m1",
        answer=answer,
        tool_calls=(ToolCall(id="t1", name="search_knowledge_base", args={"query": "length"}),),
        sources=(Source(1, "document", "Password policy", "policies/p.md"),),
        model="offline-extractive",
        usage=TokenUsage(input_tokens=10, output_tokens=5),
        latency_ms=12,
        response_id="resp_1",
        confidence=0.8,
        confidence_phrase="high",
        not_found=not_found,
    )


def _message(role: str, content: str, *, not_found: bool = False) -> Message:
    return Message(
        id="m2",
        chat_id="c1",
        role=role,  # type: ignore[arg-type]  # every role, the unknown one too
        content=content,
        tool_calls=(),
        sources=(Source(1, "document", "Password policy", "policies/p.md"),),
        model="offline-extractive" if role == "assistant" else None,
        latency_ms=None,
        usage=None,
        status="complete",
        created_at=NOW,
        not_found=not_found,
    )


def test_every_answer_field_is_declared_on_the_reply_and_the_history_schemas() -> None:
    names = {field.name for field in fields(AnswerFields)}
    assert names <= set(ChatOut.model_fields)
    assert names <= set(MessageOut.model_fields)
    assert set(turn_data(_result())) == set(ChatOut.model_fields)


def test_the_json_reply_says_what_the_streams_data_part_says() -> None:
    result = _result()
    assert ChatOut.of(result).model_dump(mode="json") == turn_data(result)
    assert turn_data(result)["sources"] == [result.sources[0].as_dict()]
    # The turn decided it (a typed fact), the text does not: the reply says what it decided.
    assert turn_data(_result(CANT_FIND, not_found=True))["not_found"] is True
    assert turn_data(_result(CANT_FIND))["not_found"] is False


def test_a_stored_answer_has_its_log_entry_and_a_question_has_none() -> None:
    logged = LoggedResponse(
        response_id="resp_1",
        user_id="ana",
        kind="chat",
        query="How long?",
        response_text=CANT_FIND,
        raw_confidence=0.3,
        confidence=0.25,
        confidence_phrase="low",
        model="offline-extractive",
        search_ran=True,
        latency_ms=12,
        created_at=NOW,
    )
    stored = _message("assistant", CANT_FIND, not_found=True)
    answer = AnswerFields.of_message(stored, logged).as_dict()
    assert answer["response_id"] == "resp_1" and answer["confidence_phrase"] == "low"
    assert answer["not_found"] is True
    question = AnswerFields.of_message(_message("user", CANT_FIND, not_found=True), None)
    assert question.response_id is None and question.not_found is False
    assert MessageOut.of(stored, logged).not_found is True


def test_a_stored_answer_shows_the_decision_stored_with_it_not_its_text() -> None:
    # The offline model decided this answer is not the can't-find answer, though it quotes
    # the sentence; and a hosted model's can't-find answer was marked when it was stored.
    quoted = _message("assistant", CANT_FIND + " Ask HR about parking.", not_found=False)
    assert AnswerFields.of_message(quoted, None).not_found is False
    marked = _message("assistant", "Nothing on that, sorry.", not_found=True)
    assert AnswerFields.of_message(marked, None).not_found is True
