"""An answer's fields, written out in one place for every reply that shows an answer.

`AnswerFields` is what an answer says besides its text: the model, the sources, the tool
calls, its response-log entry and confidence, and whether it is the can't-find answer. It is
read from a finished turn (`of_turn`) or from a stored message and its response-log entry
(`of_message`), and `as_dict` writes it out. Its three readers:

- the JSON reply of `POST /chat` (`ChatOut.of`, through `turn_data`),
- the streams' data part (`turn_data`: the v4 `2:` part and the UI stream's `data-almanac`),
- the history (`MessageOut.of`: `GET /chats/{id}/messages` and the conversation views).

To add a field to the answer: give it to `AnswerFields` (and to `of_turn` / `of_message`,
from the use case's `ChatResult` and stored `Message`), write it in `as_dict`, and declare
it on `ChatOut` and `MessageOut` (backend/api/chat_schemas.py), the OpenAPI schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from use_cases.chat.chat_turns import ChatResult
from use_cases.chat.domain import Message, Source, ToolCall
from use_cases.confidence.domain import LoggedResponse


@dataclass(frozen=True)
class AnswerFields:
    """What an answer says besides its text, however it is written out."""

    model: str | None
    sources: tuple[Source, ...]
    tool_calls: tuple[ToolCall, ...]
    response_id: str | None
    confidence: float | None
    confidence_phrase: str | None
    not_found: bool

    @classmethod
    def of_turn(cls, result: ChatResult) -> AnswerFields:
        """The fields of a turn just answered."""
        return cls(
            model=result.model,
            sources=result.sources,
            tool_calls=result.tool_calls,
            response_id=result.response_id,
            confidence=result.confidence,
            confidence_phrase=result.confidence_phrase,
            not_found=result.not_found,
        )

    @classmethod
    def of_message(cls, message: Message, logged: LoggedResponse | None) -> AnswerFields:
        """The fields of a stored message (a question has no log entry and is never the
        can't-find answer). `not_found` is the value its turn decided and stored with it
        (older answers got theirs from their text when the column was added)."""
        return cls(
            model=message.model,
            sources=message.sources,
            tool_calls=message.tool_calls,
            response_id=logged.response_id if logged else None,
            confidence=logged.confidence if logged else None,
            confidence_phrase=logged.confidence_phrase if logged else None,
            not_found=message.role == "assistant" and message.not_found,
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON values, in the order the streams send them."""
        return {
            "model": self.model,
            "sources": [source.as_dict() for source in self.sources],
            "tool_calls": [call.as_dict() for call in self.tool_calls],
            "response_id": self.response_id,
            "confidence": self.confidence,
            "confidence_phrase": self.confidence_phrase,
            "not_found": self.not_found,
        }


def turn_data(result: ChatResult) -> dict[str, Any]:
    """A finished turn's answer: the JSON reply's fields, and the streams' data part.
    `answer` is the answer as stored: the streamed text can differ from it when a draft was
    sent back to the model (an answer made before a required search, whose text had already
    streamed), so a client settles on `answer` once it arrives."""
    return {
        "chat_id": result.chat_id,
        "message_id": result.message_id,
        "answer": result.answer,
        **AnswerFields.of_turn(result).as_dict(),
    }
