"""The turn from the messages: the question, the earlier questions and answers, and this
turn's tool traffic, each user message read as the offline model reads it.

Rules: everything is recomputed from the messages (no state); the date anchor the agent adds
is stripped first; the knowledge base's own phrases and acronyms (its lexicon) are written as
its documents write them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from services.offline.lexicon import Lexicon
from services.offline.text import expand_shorthand, strip_pleasantries
from use_cases.chat.prompts import strip_date_anchor


@dataclass
class TurnView:
    """What the model needs from the message list: the question and this turn's tool traffic."""

    question: str
    previous_questions: list[str]
    previous_answers: list[str] = field(default_factory=list)  # last text of earlier turns
    calls: list[ToolCallPart] = field(default_factory=list)
    returns: list[ToolReturnPart] = field(default_factory=list)
    retries: int = 0


def _prompt_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return " ".join(item for item in part.content if isinstance(item, str))


def _plain(message: str, lexicon: Lexicon) -> str:
    """A user message as the offline model reads it: no date anchor, no pleasantries, chat
    shorthand written out, and the knowledge base's own phrases and acronyms as its documents
    write them (its lexicon)."""
    return lexicon.rewrite(expand_shorthand(strip_pleasantries(strip_date_anchor(message))))


def read_turn(messages: Sequence[ModelMessage], lexicon: Lexicon) -> TurnView:
    """The turn `messages` hold, its user messages read with the knowledge base's `lexicon`."""
    latest = -1
    for index, message in enumerate(messages):
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) for p in message.parts
        ):
            latest = index
    previous: list[str] = []
    answers: list[str] = []
    for message in messages[: max(latest, 0)]:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    previous.append(_plain(_prompt_text(part), lexicon))
        elif isinstance(message, ModelResponse):
            texts = [p.content for p in message.parts if isinstance(p, TextPart) and p.content]
            if texts:
                answers.append(" ".join(texts))
    question = ""
    if latest >= 0:
        request = messages[latest]
        assert isinstance(request, ModelRequest)
        texts = [_prompt_text(p) for p in request.parts if isinstance(p, UserPromptPart)]
        question = _plain("\n".join(texts), lexicon)
    view = TurnView(
        question=question,
        previous_questions=[q for q in previous if q],
        previous_answers=answers,
    )
    for message in messages[latest + 1 :]:
        if isinstance(message, ModelResponse):
            view.calls.extend(p for p in message.parts if isinstance(p, ToolCallPart))
        elif isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    if part.outcome == "success":
                        view.returns.append(part)
                    else:
                        view.retries += 1
                elif isinstance(part, RetryPromptPart):
                    view.retries += 1
    return view
