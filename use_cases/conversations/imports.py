"""Importing conversations into a user's chats: from a share link, an export file, a Slack
thread (the model and ports are in `import_domain.py`).

Rules:
- A share link is fetched by the `PageFetcher` (allow-listed hosts, size and time limits,
  checked redirects) and read by what the page embeds. Bad input (a host off the list, a page
  with no conversation, too large, too slow) is a domain error and writes nothing.
- A streamed import reports its stages, in order: `fetching`, `parsing`, `saving`, then
  `summarising` when a summariser is wired in (`summarise(chat_id)`); a summariser that
  fails does not undo the import (the chat is there; its summary can be made again).
- An export file is parsed in the request, so a broken one is refused (422) before anything
  is queued or written; then a background job (`conversation_import`) stores one
  conversation per transaction and reports `conversations_done`/`conversations_total`.
  The job may run again from the start (a dead server's job is taken over): the conversations
  already stored are skipped as duplicates, so a re-run and a second upload add nothing.
- A Slack thread is imported by an admin key (the service integration): into the chats of
  the user it names (audited, like any admin acting for a user), or of the key's own user.
- Import jobs are shown to the user who uploaded and to admins; to anyone else they do not
  exist (404).
- A conversation of more than `max_messages` messages (the `max_chat_messages` budget) is
  refused with a 413 (`InputTooCostly`) naming it and the cap, before anything is stored: an
  export file's is refused in the request, before its job is queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from loguru import logger

from use_cases.access.domain import Caller, require_admin
from use_cases.conversations.import_domain import (
    ConversationFormats,
    ImportedChats,
    ImportedConversation,
    ImportJobs,
    ImportJobView,
    ImportOutcome,
    PageFetcher,
    Summarise,
)
from use_cases.jobs.queue import ChunkProgress, JobRun, run_blocking
from use_cases.shared.errors import InputTooCostly, InvalidRequest, NotFound, PayloadTooLarge

#: The job kind of an export import.
CONVERSATION_IMPORT = "conversation_import"
#: Longest share link accepted.
MAX_URL_CHARS = 2048
#: Conversations stored between two progress reports of an import job.
PROGRESS_EVERY = 10


@dataclass(frozen=True)
class ImportEvent:
    """One step of a streamed import: a `stage` starting, or `done` with the outcome."""

    kind: str
    stage: str | None = None
    outcome: ImportOutcome | None = None


class ImportFromUrl:
    def __init__(
        self,
        fetcher: PageFetcher,
        formats: ConversationFormats,
        chats: ImportedChats,
        *,
        summarise: Summarise | None = None,
        max_messages: int | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._formats = formats
        self._chats = chats
        self._summarise = summarise
        self._max_messages = max_messages

    async def execute(self, user_id: str, url: str) -> ImportOutcome:
        """Import the conversation of a share link into `user_id`'s chats."""
        outcome = None
        async for event in self.stream(user_id, url):
            outcome = event.outcome or outcome
        assert outcome is not None
        return outcome

    async def stream(self, user_id: str, url: str) -> AsyncGenerator[ImportEvent, None]:
        """The same import, reporting each stage as it starts, then `done`. The link is
        checked before the first event, so a refused link fails before anything streams."""
        url = _checked_url(url)
        await asyncio.to_thread(self._fetcher.check, url)
        yield ImportEvent("stage", "fetching")
        final_url, page = await asyncio.to_thread(self._fetcher.fetch, url)
        yield ImportEvent("stage", "parsing")
        conversation = await asyncio.to_thread(self._formats.parse_page, final_url, page)
        check_chat_size(conversation, self._max_messages, "The shared conversation")
        if final_url != url:  # keep the link the user gave, not where it redirected
            conversation = _with_url(conversation, url)
        yield ImportEvent("stage", "saving")
        outcome = await asyncio.to_thread(self._chats.import_conversation, user_id, conversation)
        if self._summarise is not None and outcome.created:
            yield ImportEvent("stage", "summarising")
            try:
                await self._summarise(outcome.chat.id)
            except Exception:  # the chat is imported; a summary can be made again later
                logger.exception("Summarising imported chat {} failed", outcome.chat.id)
        yield ImportEvent("done", outcome=outcome)


class ImportExportFile:
    def __init__(
        self,
        formats: ConversationFormats,
        chats: ImportedChats,
        jobs: ImportJobs,
        *,
        max_bytes: int,
        max_messages: int | None = None,
    ) -> None:
        self._formats = formats
        self._chats = chats
        self._jobs = jobs
        self.max_bytes = max_bytes
        self._max_messages = max_messages

    @property
    def read_limit(self) -> int:
        """Bytes the presentation layer reads of an upload: one past the limit."""
        return self.max_bytes + 1

    async def execute(self, user_id: str, filename: str, data: bytes) -> ImportJobView:
        """Check the export now (422 if broken, nothing queued), then queue its import."""
        name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            raise InvalidRequest("The export file needs a name.")
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"The export file is larger than {self.max_bytes:,} bytes (MAX_UPLOAD_BYTES)."
            )
        if not data:
            raise InvalidRequest(f"{name} is empty.")
        conversations = await asyncio.to_thread(self._formats.parse_export, name, data)
        self._check_sizes(name, conversations)
        return await asyncio.to_thread(self._jobs.submit, name, data, created_by=user_id)

    def _check_sizes(self, name: str, conversations: list[ImportedConversation]) -> None:
        for number, conversation in enumerate(conversations, start=1):
            check_chat_size(conversation, self._max_messages, f"Conversation {number} of {name}")

    async def run_job(self, job: JobRun) -> dict[str, Any]:
        """The `conversation_import` job handler."""
        user_id = str(job.payload["user_id"])
        if job.data is None:
            raise NotFound(f"The file of import job {job.id} is gone; upload it again.")
        data = job.data
        name = str(job.payload.get("filename") or "conversations.json")
        return await run_blocking(lambda: self.run_now(user_id, name, data, job.progress))

    def run_now(
        self, user_id: str, name: str, data: bytes, progress: ChunkProgress
    ) -> dict[str, Any]:
        """Import every conversation of the export now, reporting (done, total) as it goes
        (the job's handler, and the CLI, which has no worker to wait for)."""
        conversations = self._formats.parse_export(name, data)
        self._check_sizes(name, conversations)  # the CLI's file was not checked before
        total = len(conversations)
        progress(0, total)
        imported = skipped = messages = 0
        chat_ids: list[str] = []
        for done, conversation in enumerate(conversations, start=1):
            outcome = self._chats.import_conversation(user_id, conversation)
            if outcome.created:
                imported += 1
                messages += outcome.messages
            else:
                skipped += 1
            chat_ids.append(outcome.chat.id)
            if done % PROGRESS_EVERY == 0 or done == total:
                progress(done, total)
        return {
            "conversations_total": total,
            "imported": imported,
            "skipped_duplicates": skipped,
            "messages_imported": messages,
            "chat_ids": chat_ids,
        }


class ImportSlackThread:
    def __init__(
        self,
        formats: ConversationFormats,
        chats: ImportedChats,
        *,
        max_messages: int | None = None,
    ) -> None:
        self._formats = formats
        self._chats = chats
        self._max_messages = max_messages

    async def execute(
        self, caller: Caller, user_id: str, payload: Mapping[str, Any]
    ) -> ImportOutcome:
        """Import a Slack thread into `user_id`'s chats (the caller must be an admin key;
        `user_id` is already the acting user, see the module rules)."""
        require_admin(caller, "Importing a Slack thread")
        conversation = self._formats.parse_slack(dict(payload))
        check_chat_size(conversation, self._max_messages, "The Slack thread")
        return await asyncio.to_thread(self._chats.import_conversation, user_id, conversation)


class GetImportJob:
    def __init__(self, jobs: ImportJobs) -> None:
        self._jobs = jobs

    async def execute(self, caller: Caller, job_id: str) -> ImportJobView:
        job = await asyncio.to_thread(self._jobs.get, job_id)
        if job is None or not (caller.is_admin or job.created_by == caller.user_id):
            raise NotFound(f"No import job with id {job_id}.")
        return job


def check_chat_size(
    conversation: ImportedConversation, max_messages: int | None, what: str
) -> None:
    """Refuse a conversation longer than `max_messages` (None: no cap) with a 413 naming it."""
    count = len(conversation.messages)
    if max_messages is not None and count > max_messages:
        title = " ".join(conversation.title.split())[:80]
        raise InputTooCostly(
            f"{what}{f' ({title!r})' if title else ''} has {count:,} messages; a chat holds "
            f"at most {max_messages:,} (max_chat_messages): nothing was imported."
        )


def _checked_url(url: str) -> str:
    text = (url or "").strip()
    if not text:
        raise InvalidRequest("A share link is needed (`url`).")
    if len(text) > MAX_URL_CHARS:
        raise InvalidRequest(f"A share link may have at most {MAX_URL_CHARS} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidRequest("A share link must not contain spaces or control characters.")
    return text


def _with_url(conversation: ImportedConversation, url: str) -> ImportedConversation:
    return replace(conversation, source_url=url)
