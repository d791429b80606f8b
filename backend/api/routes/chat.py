from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from pydantic_ai.ui.vercel_ai import VercelAIAdapter

from backend.api.chat_schemas import (
    ChatIn,
    ChatListItemOut,
    ChatMessagesOut,
    ChatOut,
    ChatRenameIn,
    ChatSummaryOut,
    DefaultCandidateOut,
    ModelOut,
)
from backend.api.conversation_search_schemas import SummaryOut
from backend.api.deps import (
    ActingUserDep,
    CallerDep,
    ChatReaderDep,
    ContainerDep,
    PageLimit,
    PageOffset,
)
from backend.api.message_pages import (
    DEFAULT_MESSAGE_PAGE,
    MessageAfter,
    MessageBefore,
    MessageLimit,
    link_header,
    messages_out,
)
from backend.api.openapi import problem_responses
from backend.api.rate_limit import RateLimited
from backend.api.streams import (
    UI_HEADERS,
    V4_HEADERS,
    ClosingStreamingResponse,
    Pacer,
    encode_data_stream_v4,
    encode_ui_message_stream,
    paced_chat,
    started,
)
from backend.bootstrap import Container
from backend.config import Settings
from use_cases.chat.chat_turns import checked_client_conversation
from use_cases.chat.domain import ConversationMessage
from use_cases.chat.export import export_file_name, markdown_chunks
from use_cases.chat.manage_chats import MAX_SEARCH_CHARS, MAX_SEARCH_TERMS
from use_cases.prompts.domain import CHAT
from use_cases.shared.errors import InvalidRequest, NotFound

router = APIRouter(tags=["chat"])
# 401 (the caller) and 429 (RateLimited) come from dependencies; 403: a user_id not yours.
_TURN_ERRORS = problem_responses(403, 404, 409, 413, 422, 502, 503, 504)


@router.post(
    "/chat",
    response_model=ChatOut,
    responses=_TURN_ERRORS,
    dependencies=[RateLimited],
    summary="Ask; get a cited answer",
)
async def chat(body: ChatIn, container: ContainerDep, caller: CallerDep) -> ChatOut:
    user = await container.access.act_for.execute(caller, body.user_id, via="POST /chat")
    return ChatOut.of(await container.chat.chat.execute(body.to_request(user, reader=caller)))


@router.post(
    "/chat/stream",
    responses={200: {"content": {"text/plain": {}}}, **_TURN_ERRORS},
    dependencies=[RateLimited],
    summary="Ask; stream the answer (Vercel AI data stream protocol v4)",
)
async def chat_stream(body: ChatIn, container: ContainerDep, caller: CallerDep) -> Response:
    user = await container.access.act_for.execute(caller, body.user_id, via="POST /chat/stream")
    events = await started(container.chat.chat.stream(body.to_request(user, reader=caller)))
    paced = paced_chat(events, Pacer.from_ms(container.settings.chat.stream_word_delay_ms))
    return ClosingStreamingResponse(
        encode_data_stream_v4(paced), media_type="text/plain; charset=utf-8", headers=V4_HEADERS
    )


@router.post(
    "/api/chat",
    responses={200: {"content": {"text/event-stream": {}}}, **_TURN_ERRORS},
    dependencies=[RateLimited],
    summary="useChat endpoint (Vercel AI UI message stream, v5+)",
)
async def ui_chat(request: Request, container: ContainerDep, caller: CallerDep) -> Response:
    try:
        run_input = VercelAIAdapter.build_run_input(await request.body())
    except ValidationError as exc:
        raise InvalidRequest(f"Not a useChat request: {exc.errors()[0]['msg']}") from None
    turn = ChatIn.of_use_chat(run_input, _checked_conversation(run_input, container.settings))
    user = await container.access.act_for.execute(caller, turn.user_id, via="POST /api/chat")
    events = await started(
        container.chat.chat.stream(turn.to_request(user, start_if_missing=True, reader=caller))
    )
    return ClosingStreamingResponse(
        encode_ui_message_stream(
            paced_chat(events, Pacer.from_ms(container.settings.chat.stream_word_delay_ms)),
            run_input,
        ),
        media_type="text/event-stream",
        headers=UI_HEADERS,
    )


def _checked_conversation(run_input: Any, settings: Settings) -> str:
    """useChat sends the whole conversation each time: it is checked as advice's is
    (`checked_client_conversation`); the question is the text of its last (user) message."""
    return checked_client_conversation(
        [
            ConversationMessage(m.role, "".join(getattr(p, "text", "") or "" for p in m.parts))
            for m in run_input.messages
        ],
        max_message_chars=settings.chat.max_message_chars,
        max_messages=settings.chat.max_conversation_messages,
        max_chars=settings.chat.max_conversation_chars,
    )


@router.get(
    "/chats",
    response_model=list[ChatListItemOut],
    summary="The caller's chats, most recently active first; with q, those holding every word",
)
async def list_chats(
    container: ContainerDep,
    user: ActingUserDep,
    caller: CallerDep,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_SEARCH_CHARS,
            description=f"Search the chats' titles and messages (1 to {MAX_SEARCH_CHARS} "
            f"characters, at most {MAX_SEARCH_TERMS} words, each found case-insensitively "
            "as part of a word); each chat found has `match`, a passage holding a word.",
        ),
    ] = None,
) -> list[ChatListItemOut]:
    if q is not None:
        found = await container.chat.chats.search(
            user, q, limit=limit, offset=offset, reader=caller
        )
        return [ChatListItemOut.found(match) for match in found]
    chats = await container.chat.chats.list(user, limit=limit, offset=offset)
    return [ChatListItemOut(**ChatSummaryOut.of(chat).model_dump()) for chat in chats]


@router.get(
    "/chats/{chat_id}/messages",
    response_model=ChatMessagesOut,
    responses=problem_responses(404, 422),
    summary="A page of the chat's messages (its last ones unless `before`/`after` says)",
)
async def chat_messages(
    chat_id: str,
    request: Request,
    response: Response,
    container: ContainerDep,
    user: ChatReaderDep,
    caller: CallerDep,
    limit: MessageLimit = DEFAULT_MESSAGE_PAGE,
    before: MessageBefore = None,
    after: MessageAfter = None,
) -> ChatMessagesOut:
    transcript = await container.chat.chats.page(
        user, chat_id, limit=limit, before=before, after=after, reader=caller
    )
    response.headers.update(link_header(request, transcript))
    summary = None
    if before is None and after is None:  # the page a chat opens on (its staleness: a count)
        with suppress(NotFound):  # none made yet (the chat itself was found above)
            summaries = container.conversation_search.conversation_summaries
            summary = await summaries.get(user, chat_id, caller)
    return ChatMessagesOut(
        chat=ChatSummaryOut.of(transcript.chat),
        messages=messages_out(transcript),
        earlier=transcript.earlier,
        later=transcript.later,
        summary=None if summary is None else SummaryOut.of(summary),
    )


_MARKDOWN: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/markdown": {}}, "description": "The chat in Markdown"}
}


@router.get(
    "/chats/{chat_id}/export",
    response_class=Response,
    responses=_MARKDOWN | problem_responses(404),
    summary="The chat as a Markdown document, to download (streamed as it is read)",
)
async def export_chat(
    chat_id: str, container: ContainerDep, user: ActingUserDep, caller: CallerDep
) -> Response:
    chat, pages = await container.chat.chats.pages(user, chat_id, reader=caller)  # 404 first
    name = export_file_name(chat.title)
    return ClosingStreamingResponse(
        markdown_chunks(chat, pages),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.patch("/chats/{chat_id}", response_model=ChatSummaryOut, responses=problem_responses(404))
async def rename_chat(
    chat_id: str, body: ChatRenameIn, container: ContainerDep, user: ActingUserDep
) -> ChatSummaryOut:
    return ChatSummaryOut.of(await container.chat.chats.rename(user, chat_id, body.title))


@router.delete("/chats/{chat_id}", status_code=204, responses=problem_responses(404))
async def delete_chat(chat_id: str, container: ContainerDep, user: ActingUserDep) -> Response:
    await container.chat.chats.delete(user, chat_id)
    return Response(status_code=204)


@router.get("/model", response_model=ModelOut, tags=["models"], summary="Default model")
async def model(container: ContainerDep) -> ModelOut:
    """Also at the advice backend's `GET /api/v1/settings/default-model` (backend/api/compat/)."""
    return await _default_model(container)


async def _default_model(container: Container) -> ModelOut:
    defaults = container.prompts.model_defaults
    effective = await defaults.effective(CHAT)
    stored = effective.stored.model if effective.stored else None
    candidates = [DefaultCandidateOut(source="setting", model=stored)] + [
        DefaultCandidateOut.model_validate({"source": source, "model": model})
        for source, model in defaults.default_sources
    ]
    if effective.source == "setting":
        source = "setting"
    else:  # the first environment candidate with a model (a stale setting is passed over)
        source = next(c.source for c in candidates[1:] if c.model is not None)
    return ModelOut(
        model=effective.model,
        source=source,
        precedence=candidates,
        internal_default=defaults.internal_default,
        allowed=list(defaults.allowed),
    )
