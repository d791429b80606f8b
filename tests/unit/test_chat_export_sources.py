"""A chat's Markdown export (`use_cases/chat/export.py`) keeps what an answer cites apart from
the passages it was given but did not cite."""

from __future__ import annotations

from datetime import UTC, datetime

from use_cases.chat.domain import Chat, Message, Source
from use_cases.chat.export import chat_as_markdown
from use_cases.chat.manage_chats import ChatTranscript

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CHAT = Chat("c1", "ana", "Passwords", NOW, NOW)


def _answer(text: str, *sources: Source) -> Message:
    return Message("m2", "c1", "assistant", text, (), sources, "m", 5, None, "complete", NOW)


def _source(number: int, title: str, *, cited: bool) -> Source:
    return Source(number, "document", title, f"{title.lower()}.md", cited=cited)


def _exported(*messages: Message) -> str:
    question = Message("m1", "c1", "user", "How often?", (), (), None, None, None, "complete", NOW)
    return chat_as_markdown(ChatTranscript(CHAT, [question, *messages], {}))


def test_passages_given_but_not_cited_are_listed_under_their_own_heading() -> None:
    text = _exported(
        _answer(
            "Only on compromise.",
            _source(1, "Policy", cited=False),
            _source(2, "Runbook", cited=False),
        )
    )
    assert "**Sources**" not in text
    given = text.split("**Passages it was given (not cited)**", 1)[1]
    assert "1. Policy: `policy.md`" in given and "2. Runbook: `runbook.md`" in given


def test_cited_sources_stay_the_sources() -> None:
    text = _exported(_answer("Only on compromise [1].", _source(1, "Policy", cited=True)))
    assert "**Sources**\n\n1. Policy: `policy.md`" in text
    assert "not cited" not in text
