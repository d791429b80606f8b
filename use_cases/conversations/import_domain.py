"""Importing conversations: the one model of a conversation had elsewhere, the errors an import
can end with, and the ports the import use cases need (`use_cases/conversations/imports.py`).

Rules:
- An imported conversation becomes an ordinary Almanac chat of its importer: its `source`
  (where it came from), `source_url` (the share link or permalink, if any) and `external_id`
  (the id the source gave it) are kept on the chat. A user has at most one chat per
  `(source, external_id)`: importing it again finds that chat and writes nothing.
- Only `user` and `assistant` messages with text are kept, in their original order and with
  their original times when the source has them; tool output, system prompts and hidden
  messages are dropped by the parsers.
- An import writes the chat and all its messages in one transaction, or nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from use_cases.chat.domain import Chat
from use_cases.shared.errors import InvalidRequest

#: Where an imported conversation came from (`chats.source`).
ImportSource = Literal["chatgpt", "claude", "grok", "slack", "chatgpt-export", "claude-export"]
IMPORT_SOURCES: tuple[str, ...] = (
    "chatgpt",
    "claude",
    "grok",
    "slack",
    "chatgpt-export",
    "claude-export",
)

#: The stages a streamed URL import reports, in order (`summarising` only when a summariser is
#: wired in).
STAGES = ("fetching", "parsing", "saving", "summarising")

#: Longest title kept (longer ones are cut, like a renamed chat's).
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class ImportedMessage:
    role: Literal["user", "assistant"]
    text: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class ImportedConversation:
    """A conversation as a parser read it, before it is an Almanac chat."""

    source: str
    external_id: str
    title: str
    messages: tuple[ImportedMessage, ...]
    source_url: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ImportOutcome:
    """The chat an imported conversation is, and whether this import created it (False: the
    user had already imported it, and nothing was written)."""

    chat: Chat
    created: bool
    messages: int


# -- errors ------------------------------------------------------------------------------------


class HostNotAllowed(InvalidRequest):
    """A share link (or a redirect of it) names a host off the allow-list, a scheme other than
    https, or an address that is private."""

    type = "host_not_allowed"


class UnsupportedPage(InvalidRequest):
    """The page holds none of the embedded data shapes the parsers know."""

    type = "unsupported_page"


class NoConversation(InvalidRequest):
    """The page or file has a known shape but no conversation with messages in it."""

    type = "no_conversation"


class InvalidExport(InvalidRequest):
    """An export file that is not JSON, not a known export, or a ZIP without one."""

    type = "invalid_export"


# -- ports -------------------------------------------------------------------------------------


class PageFetcher(Protocol):
    """Fetches a share page within the configured limits (hosts, size, time, redirects).
    Raises `HostNotAllowed`, `PayloadTooLarge`, `UpstreamTimeout` or `UpstreamBadResponse`."""

    def check(self, url: str) -> None:
        """Refuse a link the fetcher would not fetch (scheme, host, address), without I/O
        beyond resolving the host."""
        ...

    def fetch(self, url: str) -> tuple[str, str]:
        """The final URL (after allowed redirects) and the page's text."""
        ...


class ConversationFormats(Protocol):
    """Readers of the formats conversations come in (share pages, export files, Slack)."""

    def parse_page(self, url: str, html: str) -> ImportedConversation:
        """The conversation a share page embeds; `UnsupportedPage` / `NoConversation`."""
        ...

    def parse_export(self, filename: str, data: bytes) -> list[ImportedConversation]:
        """Every conversation of an export file (JSON or ZIP); `InvalidExport`."""
        ...

    def parse_slack(self, payload: dict[str, object]) -> ImportedConversation:
        """A Slack thread (`conversations.replies` shape); `InvalidRequest`."""
        ...


class ImportedChats(Protocol):
    """Where imported conversations are stored: the chat history (`chats` + `messages`)."""

    def import_conversation(
        self, user_id: str, conversation: ImportedConversation
    ) -> ImportOutcome:
        """Store the conversation as a chat of `user_id` in one transaction, unless the user
        already has a chat with its `(source, external_id)`: then that chat, `created=False`."""
        ...


@dataclass(frozen=True)
class ImportJobView:
    id: str
    name: str
    status: str
    created_at: datetime
    created_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    conversations_done: int
    conversations_total: int | None
    result: dict[str, object] | None
    error_type: str | None
    error_detail: str | None


class ImportJobs(Protocol):
    """The job queue, for export imports (kind `conversation_import`)."""

    def submit(self, name: str, data: bytes, *, created_by: str) -> ImportJobView: ...

    def get(self, job_id: str) -> ImportJobView | None: ...


#: What a streamed import reports: the stage it starts.
StageCallback = Callable[[str], None]
#: The summariser a URL import runs last (`ManageSummaries.summarise`), when there is one.
Summarise = Callable[[str], Awaitable[object]]


def clean_title(title: str, messages: Sequence[ImportedMessage]) -> str:
    """The conversation's title on one line, else its first message's start; never empty."""
    text = " ".join(title.split())
    if not text:
        first = next((m.text for m in messages if m.text.strip()), "")
        text = " ".join(first.split())[:80] or "Imported conversation"
    if len(text) > MAX_TITLE_CHARS:
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return text
