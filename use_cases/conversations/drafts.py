"""Project drafts of a conversation: drafting, updating by turn or edit, versions, export.

Rules:
- Only the conversation's owner reaches its draft (an admin acts for a user the way the chat
  routes do, before these run); anyone else is told the chat does not exist.
- Drafting (`DraftProject`) reads the conversation (the first message and as many of the
  latest as fit `max_conversation_chars`) and adds a version written by the model. With a
  semantic memory service configured (`memory.py`), what it recalls about the user for the
  conversation's title and first message goes to the model beside it, as context; a failed
  recall fails the drafting as a failed run does. A source
  naming a message the conversation does not hold is dropped (a model's invented id). The
  conversation is read as its reader is shown it: an answer withheld from them (a source it
  cited is no longer readable to them, `use_cases/chat/withholding.py`) reaches the model as
  `WITHHELD_ANSWER`, never as its text.
- An update turn (`UpdateDraftByTurn`) runs the update agent on the active version; each
  `update_project_draft` call it made becomes one version, all added in one transaction and
  only if the active version is still the one the turn started from (else `Conflict`). A turn
  whose model changed nothing adds nothing.
- An edit (`EditDraft`) replaces the fields it names, as a version by the user.
- Activating (`ManageDraftVersions.activate`) moves the active pointer to an existing version
  and records the move; it copies nothing, so version numbers keep meaning one text.
- A version is shown as its reader may see what it was made from: each records what the
  answers it was drafted from cited (`drafted_from`: a drafting reads the conversation as
  its reader is shown it, so a withheld answer's sources are not among them; an edit or a
  turn keeps its base version's). While one of those documents or tables is one the reader
  may no longer read, the version, its export and what an edit or a turn returns read
  `WITHHELD_DRAFT`, and the draft chat's replies (which may quote any version)
  `WITHHELD_DRAFT_REPLY`. A version made before this was recorded is withheld while the
  conversation holds a withheld answer, as its summary is. Only the output is withheld: what
  is stored, and what an edit or a turn builds on, is never changed; granted again, the
  draft reads as it did. Admins see everything.
- Every write is bounded: at most `max_versions` versions per draft (`Conflict` past it).
- A locked conversation (its project was created, `TrackedProject`) keeps its draft as it
  is: adding a version or activating one is `ConversationLocked` (409).
- Drafting and update turns run under the agent limits (request budget, timeout); a failed
  run writes nothing and raises the domain error of `to_domain_error`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic_ai import Agent
from pydantic_ai.usage import UsageLimits

from use_cases.access.domain import Caller
from use_cases.chat.agent import AgentLimits
from use_cases.chat.domain import Chat, Message
from use_cases.chat.manage_chats import MAX_PAGE, chat_not_found
from use_cases.chat.ports import HistoryStore
from use_cases.chat.recent import PAGE, first_messages, latest_messages
from use_cases.chat.responses import logged_sources
from use_cases.chat.turn_runner import to_domain_error
from use_cases.chat.withholding import StoredAnswers
from use_cases.conversations.draft_agent import (
    UpdateDeps,
    conversation_prompt,
    patch_summary,
    update_prompt,
)
from use_cases.conversations.draft_domain import (
    MAX_NOTE_CHARS,
    DraftActivation,
    DraftState,
    DraftVersion,
    NewDraftVersion,
    ProjectDraft,
    ProjectDraftContent,
)
from use_cases.conversations.draft_export import render_json, render_markdown
from use_cases.conversations.draft_ports import DraftChatStore, DraftModels, ProjectDraftStore
from use_cases.conversations.memory import RecallMemories
from use_cases.shared.errors import (
    AlmanacError,
    Conflict,
    ConversationLocked,
    InvalidRequest,
    NotFound,
)

ExportFormat = Literal["markdown", "json"]

#: What a draft (each of its versions) reads while an answer of its conversation is withheld.
WITHHELD_DRAFT = (
    "This draft is withheld: an answer of its conversation cited a source that is no longer "
    "available to you."
)

#: What a reply of the draft chat reads while its draft is withheld (it may quote the draft).
WITHHELD_DRAFT_REPLY = (
    "This reply is withheld: an answer of this conversation cited a source that is no longer "
    "available to you."
)


#: Characters of the conversation (its title and first message) a memory recall searches by.
MEMORY_QUERY_CHARS = 1000


@dataclass(frozen=True)
class DraftSettings:
    max_conversation_chars: int = 60_000
    max_versions: int = 500
    max_message_chars: int = 8_000


def locked(chat_id: str) -> ConversationLocked:
    return ConversationLocked(
        f"Chat {chat_id} is locked: its project was created from the draft, which no longer "
        "changes."
    )


def no_draft(chat_id: str) -> NotFound:
    return NotFound(f"Chat {chat_id} has no project draft yet: POST to its project-draft first.")


class _DraftAccess:
    """What every draft use case shares: the owner check and the reads."""

    def __init__(
        self,
        history: HistoryStore,
        drafts: ProjectDraftStore,
        settings: DraftSettings = DraftSettings(),
        *,
        locks: DraftChatStore | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        self._history = history
        self._drafts = drafts
        self._settings = settings
        self._locks = locks
        """Where a conversation's project (its lock) is found; None: never locked."""
        self._answers = answers or StoredAnswers()

    async def hidden(
        self,
        user_id: str,
        chat_id: str,
        versions: Sequence[DraftVersion],
        reader: Caller | None = None,
    ) -> set[int]:
        """The numbers of `versions` (of the draft of `chat_id`, owned by `user_id`) withheld
        from their reader: a version cites what its answers cited (`drafted_from`); one made
        before that was recorded is withheld while the conversation holds a withheld answer
        (module rules)."""
        shown = await self._answers.for_reader(user_id, reader)
        if not shown.restricted or not versions:
            return set()
        conversation = False
        if any(v.drafted_from is None for v in versions):
            cited = await asyncio.to_thread(self._history.cited_answers, user_id, chat_id)
            conversation = bool(await asyncio.to_thread(shown.withheld, cited))

        def hides(version: DraftVersion) -> bool:
            read = version.drafted_from
            return conversation if read is None else shown.hides(read.documents, read.tables)

        return await asyncio.to_thread(lambda: {v.number for v in versions if hides(v)})

    async def withheld(self, user_id: str, chat_id: str, reader: Caller | None = None) -> bool:
        """Whether the draft chat's replies are withheld: a version of the draft is (a reply
        may quote whichever version was active when it was made)."""
        versions = await asyncio.to_thread(
            self._drafts.list_versions, chat_id, limit=self._settings.max_versions
        )
        return bool(await self.hidden(user_id, chat_id, versions, reader))

    async def _shown(
        self, user_id: str, chat_id: str, state: DraftState, reader: Caller | None = None
    ) -> DraftState:
        """`state` as its reader may see it (its version withheld or not)."""
        hidden = await self.hidden(user_id, chat_id, [state.version], reader)
        return withheld_state(state) if hidden else state

    async def _check_unlocked(self, chat_id: str) -> None:
        locks = self._locks
        if locks is None:
            return
        if await asyncio.to_thread(locks.get_project, chat_id) is not None:
            raise locked(chat_id)

    async def _owned(self, user_id: str, chat_id: str) -> Chat:
        chat = await asyncio.to_thread(self._history.get_chat, chat_id)
        if chat is None or chat.user_id != user_id:
            raise chat_not_found(chat_id)
        return chat

    async def _state(self, chat_id: str) -> DraftState:
        draft = await asyncio.to_thread(self._drafts.get_draft, chat_id)
        if draft is None:
            raise no_draft(chat_id)
        version = await asyncio.to_thread(self._drafts.get_version, chat_id, draft.active_version)
        assert version is not None  # the active pointer names a stored version
        return DraftState(draft, version)

    async def _add(
        self,
        chat_id: str,
        versions: Sequence[NewDraftVersion],
        draft: ProjectDraft | None,
        *,
        check_active: bool = True,
    ) -> tuple[list[DraftVersion], DraftState]:
        """Add `versions` to the draft as it was read (`draft`, None when there is none yet);
        with `check_active`, only if its active version is still the one read. The versions
        added, and the draft after."""
        await self._check_unlocked(chat_id)
        latest = draft.latest_version if draft is not None else 0
        if latest + len(versions) > self._settings.max_versions:
            raise Conflict(
                f"The project draft has {latest} versions; at most "
                f"{self._settings.max_versions} are kept per conversation."
            )
        based_on = draft.active_version if draft is not None and check_active else None
        added = await asyncio.to_thread(
            self._drafts.add_versions, chat_id, versions, based_on=based_on
        )
        return added, await self._state(chat_id)


@dataclass(frozen=True)
class DraftRequest:
    user_id: str
    chat_id: str
    model: str | None = None
    note: str | None = None
    reader: Caller | None = None
    """Who drafts (their rights decide which answers are withheld); None: the chat's owner."""


class DraftProject(_DraftAccess):
    """Turn the conversation into a project draft: a new version written by the model."""

    def __init__(
        self,
        history: HistoryStore,
        drafts: ProjectDraftStore,
        models: DraftModels,
        agent: Agent[None, ProjectDraftContent],
        limits: AgentLimits,
        settings: DraftSettings,
        *,
        locks: DraftChatStore | None = None,
        memories: RecallMemories | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        super().__init__(history, drafts, settings, locks=locks, answers=answers)
        self._models, self._agent, self._limits = models, agent, limits
        self._memories = memories

    async def execute(self, request: DraftRequest) -> DraftState:
        _check_note(request.note)
        chat = await self._owned(request.user_id, request.chat_id)
        stored = await asyncio.to_thread(
            window_messages, self._history, chat.id, self._settings.max_conversation_chars
        )
        shown = await self._answers.for_reader(request.user_id, request.reader)
        messages = await asyncio.to_thread(shown.messages, stored)
        used = conversation_window(messages, self._settings.max_conversation_chars)
        if not used:
            raise InvalidRequest("The conversation has no messages to draft a project from.")
        resolved = self._models.resolve(request.model)
        resolved.admit()
        try:
            remembered = await self._remembered(request.user_id, chat.title, used)
            result = await self._agent.run(
                conversation_prompt(chat.title, used, remembered),
                model=resolved.model,
                usage_limits=UsageLimits(request_limit=self._limits.request_limit),
                timeout=self._limits.timeout_s,
            )
        except AlmanacError:
            raise
        except Exception as exc:
            raise to_domain_error(exc) from exc
        content = with_known_sources(result.output, {m.id for m in messages})
        draft = await asyncio.to_thread(self._drafts.get_draft, chat.id)
        version = NewDraftVersion(
            content,
            "model",
            request.note or "Drafted from the conversation.",
            request.user_id,
            resolved.identifier,
            # What the answers it read cited (a withheld one's sources are no longer named).
            drafted_from=logged_sources([s for m in used for s in m.sources]),
        )
        # A draft from the conversation replaces whatever is active, whatever that is now.
        return (await self._add(chat.id, [version], draft, check_active=False))[1]

    async def _remembered(self, user_id: str, title: str, used: Sequence[Message]) -> list[str]:
        """What the memory service recalls about the user for this conversation (its title
        and first message), when one is configured."""
        if self._memories is None or not self._memories.configured:
            return []
        first = next((m.content for m in used if m.role == "user"), "")
        query = f"{title}\n{first}"[:MEMORY_QUERY_CHARS]
        return [m.text for m in await self._memories.execute(user_id, query)]


@dataclass(frozen=True)
class DraftTurnRequest:
    user_id: str
    chat_id: str
    message: str
    model: str | None = None


@dataclass(frozen=True)
class DraftTurnResult:
    reply: str
    model: str
    versions: list[DraftVersion]
    """The versions the turn added, oldest first (none when it changed nothing)."""
    state: DraftState


class UpdateDraftByTurn(_DraftAccess):
    """A chat-like turn about the draft: the update agent applies the changes it is asked
    for through `update_project_draft`; each applied call is one new version."""

    def __init__(
        self,
        history: HistoryStore,
        drafts: ProjectDraftStore,
        models: DraftModels,
        agent: Agent[UpdateDeps, str],
        limits: AgentLimits,
        settings: DraftSettings,
        *,
        locks: DraftChatStore | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        super().__init__(history, drafts, settings, locks=locks, answers=answers)
        self._models, self._agent, self._limits = models, agent, limits

    async def execute(self, request: DraftTurnRequest) -> DraftTurnResult:
        """`run`, its reply and draft shown as the reader may see them (module rules)."""
        result = await self.run(request)
        # The turn read the version it changed, which its versions take their sources from.
        if not await self.hidden(request.user_id, request.chat_id, [result.state.version]):
            return result
        return withheld_turn(result)

    async def run(self, request: DraftTurnRequest) -> DraftTurnResult:
        """The turn as it ran: what the draft chat stores (never withheld)."""
        text = request.message.strip()
        if not text:
            raise InvalidRequest("message must not be blank.")
        if len(text) > self._settings.max_message_chars:
            raise InvalidRequest(
                f"message has {len(text)} characters; at most {self._settings.max_message_chars}."
            )
        chat = await self._owned(request.user_id, request.chat_id)
        state = await self._state(chat.id)
        resolved = self._models.resolve(request.model)
        resolved.admit()
        deps = UpdateDeps(state.version.content)
        try:
            result = await self._agent.run(
                update_prompt(state.version.content, text),
                deps=deps,
                model=resolved.model,
                usage_limits=UsageLimits(request_limit=self._limits.request_limit),
                timeout=self._limits.timeout_s,
            )
        except AlmanacError:
            raise
        except Exception as exc:
            raise to_domain_error(exc) from exc
        versions = [
            NewDraftVersion(
                content,
                "model",
                _note(patch_summary(patch)),
                request.user_id,
                resolved.identifier,
                drafted_from=state.version.drafted_from,  # it builds on the version read
            )
            for patch, content in deps.applied
        ]
        if not versions:
            return DraftTurnResult(result.output, resolved.identifier, [], state)
        added, after = await self._add(chat.id, versions, state.draft)
        return DraftTurnResult(result.output, resolved.identifier, added, after)


@dataclass(frozen=True)
class EditDraftRequest:
    user_id: str
    chat_id: str
    changes: dict[str, Any]
    """The fields of `ProjectDraftContent` to replace, by name."""
    note: str | None = None


class EditDraft(_DraftAccess):
    """A person's edit: the named fields replace the active version's, as a new version."""

    async def execute(self, request: EditDraftRequest) -> DraftState:
        _check_note(request.note)
        if not request.changes:
            raise InvalidRequest("Name at least one field of the draft to change.")
        unknown = set(request.changes) - set(ProjectDraftContent.model_fields)
        if unknown:
            raise InvalidRequest(f"Unknown draft fields: {', '.join(sorted(unknown))}.")
        chat = await self._owned(request.user_id, request.chat_id)
        state = await self._state(chat.id)
        data = state.version.content.model_dump() | request.changes
        try:
            content = ProjectDraftContent.model_validate(data)
        except ValueError as exc:
            raise InvalidRequest(f"The edited draft is not valid: {exc}") from exc
        names = ", ".join(sorted(request.changes))
        version = NewDraftVersion(
            content,
            "user",
            request.note or f"Edited {names}.",
            request.user_id,
            drafted_from=state.version.drafted_from,  # it keeps what it did not change
        )
        after = (await self._add(chat.id, [version], state.draft))[1]
        return await self._shown(request.user_id, chat.id, after)


@dataclass(frozen=True)
class VersionPage:
    versions: list[DraftVersion]
    total: int
    active_version: int
    activations: list[DraftActivation]
    """Every recorded move of the active pointer to an older version, oldest first."""


@dataclass(frozen=True)
class DraftExport:
    filename: str
    media_type: str
    text: str


class ManageDraftVersions(_DraftAccess):
    """Read the draft and its versions, activate one, export one; each as its reader may
    see it (`reader`: who reads, None: the chat's owner; module rules)."""

    async def active(self, user_id: str, chat_id: str, reader: Caller | None = None) -> DraftState:
        await self._owned(user_id, chat_id)
        return await self._shown(user_id, chat_id, await self._state(chat_id), reader)

    async def versions(
        self,
        user_id: str,
        chat_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        reader: Caller | None = None,
    ) -> VersionPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        await self._owned(user_id, chat_id)
        state = await self._state(chat_id)
        page = await asyncio.to_thread(
            self._drafts.list_versions, chat_id, limit=limit, offset=offset
        )
        hidden = await self.hidden(user_id, chat_id, page, reader)
        page = [withheld_version(v) if v.number in hidden else v for v in page]
        moves = await asyncio.to_thread(self._drafts.list_activations, chat_id)
        return VersionPage(page, state.draft.latest_version, state.draft.active_version, moves)

    async def version(
        self, user_id: str, chat_id: str, number: int, reader: Caller | None = None
    ) -> DraftVersion:
        await self._owned(user_id, chat_id)
        found = await asyncio.to_thread(self._drafts.get_version, chat_id, number)
        if found is None:
            await self._state(chat_id)  # no draft at all says so
            raise NotFound(f"The project draft of chat {chat_id} has no version {number}.")
        hidden = await self.hidden(user_id, chat_id, [found], reader)
        return withheld_version(found) if hidden else found

    async def activate(
        self, user_id: str, chat_id: str, number: int, reader: Caller | None = None
    ) -> DraftState:
        await self._owned(user_id, chat_id)
        await self._state(chat_id)
        await self._check_unlocked(chat_id)
        await asyncio.to_thread(self._drafts.activate, chat_id, number, user_id)
        return await self._shown(user_id, chat_id, await self._state(chat_id), reader)

    async def export(
        self,
        user_id: str,
        chat_id: str,
        fmt: ExportFormat,
        number: int | None = None,
        reader: Caller | None = None,
    ) -> DraftExport:
        version = (
            (await self.active(user_id, chat_id, reader)).version
            if number is None
            else await self.version(user_id, chat_id, number, reader)
        )
        stem = f"project-draft-{chat_id[:12]}-v{version.number}"
        if fmt == "markdown":
            return DraftExport(f"{stem}.md", "text/markdown", render_markdown(version))
        if fmt == "json":
            return DraftExport(f"{stem}.json", "application/json", render_json(version))
        raise InvalidRequest("format must be markdown or json.")


def window_messages(history: HistoryStore, chat_id: str, max_chars: int) -> list[Message]:
    """What `conversation_window` needs of a chat, read a page at a time (an imported chat
    may hold hundreds of thousands of messages): its first page (the first message with text
    is there but in a chat that opens with 200 empty ones) and its latest messages, back
    until they hold `max_chars` (the window takes no more), in conversation order."""
    latest = latest_messages(
        history, chat_id, lambda read: sum(len(m.content) for m in read) > max_chars
    )
    kept = {m.id for m in latest}
    opening = [m for m in first_messages(history, chat_id, PAGE) if m.id not in kept]
    return [*opening, *latest]  # no opening when the latest reached the chat's start


def conversation_window(messages: Sequence[Message], max_chars: int) -> list[Message]:
    """The messages a draft is made from: those with text, the first one always (it usually
    states the project), then as many of the latest as fit `max_chars` (each message cut to
    the budget), in conversation order."""
    usable = [m for m in messages if m.content.strip()]
    if not usable:
        return []
    first, rest = usable[0], usable[1:]
    if len(first.content) > max_chars:
        first = replace(first, content=first.content[:max_chars])
    budget = max_chars - len(first.content)
    kept: list[Message] = []
    for message in reversed(rest):
        if len(message.content) > budget:
            break
        kept.append(message)
        budget -= len(message.content)
    return [first, *reversed(kept)]


def with_known_sources(content: ProjectDraftContent, message_ids: set[str]) -> ProjectDraftContent:
    """`content` without the sources naming a message the conversation does not hold."""
    sources = [s for s in content.sources if s.message_id is None or s.message_id in message_ids]
    return content.model_copy(update={"sources": sources})


def withheld_version(version: DraftVersion) -> DraftVersion:
    """`version` with nothing of its text: the withheld notice in its place (its number,
    author and times stay, so the list of versions reads as it did)."""
    content = ProjectDraftContent(title="Withheld", description=WITHHELD_DRAFT)
    return replace(version, content=content, note=WITHHELD_DRAFT)


def withheld_state(state: DraftState) -> DraftState:
    return DraftState(state.draft, withheld_version(state.version))


def withheld_turn(result: DraftTurnResult) -> DraftTurnResult:
    """A turn's reply, the versions it added and the draft after, withheld."""
    return DraftTurnResult(
        WITHHELD_DRAFT_REPLY,
        result.model,
        [withheld_version(v) for v in result.versions],
        withheld_state(result.state),
    )


def _note(text: str) -> str:
    return text if len(text) <= MAX_NOTE_CHARS else text[: MAX_NOTE_CHARS - 1] + "…"


def _check_note(note: str | None) -> None:
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidRequest(f"note has {len(note)} characters; at most {MAX_NOTE_CHARS}.")
