"""The draft chat: a conversation about its project draft, turn by turn, streamed as events
and stored; and the project an outside tracker makes from the draft, which locks the
conversation.

Rules:
- Only the conversation's owner reaches its draft chat and project (anyone else is told
  the chat does not exist), as for the draft itself (`drafts.py`).
- A turn (`DraftChat.stream`) checks its message (not blank, at most `max_message_chars`)
  and the conversation before its first event, so bad input is an error, not a stream. Its
  events, in order: `status` (`analyzing_request`), and when the conversation has no draft
  yet, `status` (`drafting_project`) and `project_updated` with the draft made from the
  conversation (`DraftProject`); then `status` (`generating_response`), the update turn
  (`UpdateDraftByTurn`: each change the model applies is a new version), `project_updated`
  when it changed the draft, `content` with the model's reply, and `done` with the stored
  exchange. The user's message and the reply are stored together, once the reply exists.
- What a turn shows (its reply, the version it changed) is withheld while that version is,
  and the stored replies while any version of the draft is (`drafts.py`); what a turn
  stores is as it ran.
- A failure after the stream began is an `error` event (the domain error's detail) and ends
  it; nothing of the turn is stored (a version already added by the drafting step stays:
  it is a version like any other).
- A locked conversation (its project exists) has a final draft: a turn answers
  `conversation_locked`, then an `error` event saying why, and stores nothing.
- Creating the project (`TrackProject.create`) needs a tracker (`NotConfigured` without
  one) and a draft; it sends the active version to the tracker and records the project,
  which locks the conversation; a second is a `Conflict`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from use_cases.chat.manage_chats import chat_not_found
from use_cases.chat.ports import HistoryStore
from use_cases.conversations.draft_domain import (
    DraftChatMessage,
    DraftState,
    NewDraftChatMessage,
    TrackedProject,
)
from use_cases.conversations.draft_ports import DraftChatStore, ProjectDraftStore, ProjectTracker
from use_cases.conversations.drafts import (
    WITHHELD_DRAFT_REPLY,
    DraftProject,
    DraftRequest,
    DraftTurnRequest,
    ManageDraftVersions,
    UpdateDraftByTurn,
    locked,
    withheld_turn,
)
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import AlmanacError, InvalidRequest, NotConfigured, NotFound

EventKind = Literal["status", "content", "project_updated", "conversation_locked", "error", "done"]

ANALYZING = "analyzing_request"
DRAFTING = "drafting_project"
GENERATING = "generating_response"


@dataclass(frozen=True)
class DraftChatReply:
    """A finished turn: the stored messages, the reply's model and the draft after."""

    user_message: DraftChatMessage
    message: DraftChatMessage
    model: str
    versions_added: list[int]
    state: DraftState


@dataclass(frozen=True)
class DraftChatEvent:
    kind: EventKind
    status: str | None = None
    content: str | None = None
    state: DraftState | None = None
    error: AlmanacError | None = None
    reply: DraftChatReply | None = None


class DraftChat:
    """A conversation's draft chat: its stored messages, and a streamed turn (module rules)."""

    def __init__(
        self,
        history: HistoryStore,
        chats: DraftChatStore,
        drafts: ProjectDraftStore,
        drafting: DraftProject,
        updating: UpdateDraftByTurn,
        *,
        max_message_chars: int,
    ) -> None:
        self._history = history
        self._chats = chats
        self._drafts = drafts
        self._drafting = drafting
        self._updating = updating
        self._max_chars = max_message_chars

    async def locked(self, chat_ids: Sequence[str]) -> set[str]:
        """Which of these conversations are locked (for a list the caller already owns)."""

        def run() -> set[str]:
            return {c for c in chat_ids if self._chats.get_project(c) is not None}

        return await asyncio.to_thread(run)

    async def messages(self, user_id: str, chat_id: str) -> list[DraftChatMessage]:
        """The stored messages, the replies withheld while the draft is (`drafts.py`)."""
        await _owned(self._history, user_id, chat_id)
        messages = await asyncio.to_thread(self._chats.list_messages, chat_id)
        if not await self._updating.withheld(user_id, chat_id):
            return messages
        return [
            replace(m, content=WITHHELD_DRAFT_REPLY) if m.role == "assistant" else m
            for m in messages
        ]

    async def stream(self, request: DraftTurnRequest) -> AsyncGenerator[DraftChatEvent, None]:
        text = request.message.strip()
        if not text:
            raise InvalidRequest("message must not be blank.")
        if len(text) > self._max_chars:
            raise InvalidRequest(f"message has {len(text)} characters; at most {self._max_chars}.")
        await _owned(self._history, request.user_id, request.chat_id)
        yield DraftChatEvent("status", status=ANALYZING)
        if await asyncio.to_thread(self._chats.get_project, request.chat_id) is not None:
            yield DraftChatEvent("conversation_locked")
            yield DraftChatEvent("error", error=locked(request.chat_id))
            return
        try:
            async for event in self._turn(request, text):
                yield event
        except AlmanacError as exc:
            yield DraftChatEvent("error", error=exc)

    async def _turn(self, request: DraftTurnRequest, text: str) -> AsyncIterator[DraftChatEvent]:
        user, chat_id = request.user_id, request.chat_id
        # What the turn stores is as it ran; what it shows, as the reader may see the draft
        # (a draft made now reads only what they may read; the version changed, its sources).
        if await asyncio.to_thread(self._drafts.get_draft, chat_id) is None:
            yield DraftChatEvent("status", status=DRAFTING)
            state = await self._drafting.execute(DraftRequest(user, chat_id, model=request.model))
            yield DraftChatEvent("project_updated", state=state)
        yield DraftChatEvent("status", status=GENERATING)
        result = await self._updating.run(DraftTurnRequest(user, chat_id, text, request.model))
        withheld = bool(await self._updating.hidden(user, chat_id, [result.state.version]))
        shown = withheld_turn(result) if withheld else result
        if result.versions:
            yield DraftChatEvent("project_updated", state=shown.state)
        yield DraftChatEvent("content", content=shown.reply)
        asked, answered = await asyncio.to_thread(
            self._chats.add_messages,
            chat_id,
            [
                NewDraftChatMessage("user", text, user),
                NewDraftChatMessage("assistant", result.reply, user, result.model),
            ],
        )
        if withheld:
            answered = replace(answered, content=WITHHELD_DRAFT_REPLY)
        versions = [v.number for v in result.versions]
        reply = DraftChatReply(asked, answered, result.model, versions, shown.state)
        yield DraftChatEvent("done", reply=reply)


NO_TRACKER = (
    "No project tracker is configured on this server (the conversation backend's Linear): a "
    "conversation's draft stays a draft (export it with GET .../project-draft/export)."
)


class TrackProject:
    """The project an outside tracker makes from a conversation's draft (module rules)."""

    def __init__(
        self,
        history: HistoryStore,
        chats: DraftChatStore,
        versions: ManageDraftVersions,
        tracker: ProjectTracker | None,
        clock: Clock,
    ) -> None:
        self._history = history
        self._chats = chats
        self._versions = versions
        self._tracker = tracker
        self._clock = clock

    async def create(self, user_id: str, chat_id: str) -> TrackedProject:
        tracker = self._configured()
        state = await self._versions.active(user_id, chat_id)  # owner check; no draft: 404
        if await asyncio.to_thread(self._chats.get_project, chat_id) is not None:
            raise locked(chat_id)
        link = await tracker.create(state.version)
        content = state.version.content
        project = TrackedProject(
            chat_id=chat_id,
            tracker_id=link.id,
            url=link.url,
            title=content.title,
            description=content.description,
            draft_version=state.version.number,
            created_by=user_id,
            created_at=utc(self._clock.now()),
        )
        return await asyncio.to_thread(self._chats.add_project, project)

    async def get(self, user_id: str, chat_id: str) -> TrackedProject:
        self._configured()
        await _owned(self._history, user_id, chat_id)
        found = await asyncio.to_thread(self._chats.get_project, chat_id)
        if found is None:
            raise NotFound(f"Chat {chat_id} has no project yet: POST to create it.")
        return found

    def _configured(self) -> ProjectTracker:
        if self._tracker is None:
            raise NotConfigured(NO_TRACKER)
        return self._tracker


async def _owned(history: HistoryStore, user_id: str, chat_id: str) -> None:
    chat = await asyncio.to_thread(history.get_chat, chat_id)
    if chat is None or chat.user_id != user_id:
        raise chat_not_found(chat_id)
