"""A chat as a Markdown document, for its owner to keep or share: the title, then each
message under a heading naming who wrote it and when, the answers as stored (their `[n]`
markers and their own **Sources** list), and an answer's sources listed when its text has no
such list. An answer that did not complete says so. Nothing else of the chat's records
(feedback, earlier versions, tool calls) is in it.

The document is written as the chat is read, a page of messages at a time
(`markdown_chunks`), so exporting a 500,000-message chat holds one page, not the chat.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

from use_cases.chat.domain import Chat, Message, Source
from use_cases.chat.manage_chats import ChatTranscript
from use_cases.knowledge.domain import web_link
from use_cases.shared.clock import utc

__all__ = ["chat_as_markdown", "export_file_name", "markdown_chunks"]

#: A stored answer that already ends with its own list of sources (the offline answerer's).
_SOURCES_BLOCK = re.compile(r"(^|\n)\*\*Sources\*\*[ \t]*(\n|$)")
_STATUS_NOTE = {
    "interrupted": "*This answer was stopped before it was complete.*",
    "failed": "*This answer failed before it was complete.*",
    "streaming": "*This answer was still being written when the chat was exported.*",
}


def chat_as_markdown(transcript: ChatTranscript) -> str:
    """The document of a chat whose messages are all in `transcript`."""
    return (_head(transcript.chat) + _messages(transcript.messages)).rstrip() + "\n"


async def markdown_chunks(chat: Chat, pages: AsyncIterator[list[Message]]) -> AsyncIterator[str]:
    """The same document as `chat_as_markdown`, a page of messages at a time (`pages`, as
    `ManageChats.pages` reads them)."""
    yield _head(chat)
    async for messages in pages:
        yield _messages(messages)
    yield "\n"  # every line ends in text, so this is `chat_as_markdown`'s ending


def _head(chat: Chat) -> str:
    lines = [f"# {_one_line(chat.title) or 'Untitled chat'}", ""]
    lines.append(f"A chat with Almanac, started {_when(chat.created_at)}.")
    if chat.source:
        lines.append(
            f"Imported from {chat.source}" + (f": <{chat.source_url}>" if chat.source_url else ".")
        )
    return "\n".join(lines)


def _messages(messages: list[Message]) -> str:
    """Each message with a blank line before its heading (so the text follows `_head`)."""
    lines: list[str] = []
    for message in messages:
        lines += ["", _heading(message), "", message.content.strip() or "*(empty)*"]
        if message.role == "assistant":
            lines += _sources(message)
            if message.status in _STATUS_NOTE:
                lines += ["", _STATUS_NOTE[message.status]]
    return "".join("\n" + line for line in lines)


def export_file_name(title: str) -> str:
    """A file name for the export: the title's words, ASCII, at most 60 characters."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60].rstrip("-")
    return f"{slug or 'chat'}.md"


def _heading(message: Message) -> str:
    who = "You" if message.role == "user" else "Almanac"
    model = f" · {message.model}" if message.role == "assistant" and message.model else ""
    return f"## {who} · {_when(message.created_at)}{model}"


def _sources(message: Message) -> list[str]:
    """The cited sources (unless the text lists its own), then the passages the answer was
    given but did not cite, under their own heading."""
    cited = [s for s in message.sources if s.cited]
    given = [s for s in message.sources if not s.cited]
    lines: list[str] = []
    if cited and not _SOURCES_BLOCK.search(message.content):
        lines += ["", "**Sources**", "", *(_source_line(s) for s in cited)]
    if given:
        lines += [
            "",
            "**Passages it was given (not cited)**",
            "",
            *(_source_line(s) for s in given),
        ]
    return lines


def _source_line(source: Source) -> str:
    if source.kind == "table":
        return f"- [table: {source.title}]"
    parts = [source.title]
    if source.section:
        parts.append(source.section)
    line = f"{source.number}. " + ", ".join(_one_line(p) for p in parts)
    if source.updated_at:
        line += f" ({source.updated_at[:10]})"
    line += f": `{source.source}`"
    return line + (f" <{link}>" if (link := web_link(source.link)) else "")


def _when(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _one_line(text: str) -> str:
    return " ".join(text.split())
