"""A chat's messages a page at a time, as every route that lists them takes and answers it
(`GET /chats/{id}/messages`, `GET /api/conversations/{id}`): the query parameters, the page's
cursors in the body and the `Link` header (`ManageChats.page`).

Rules:
- `limit` is 1 to `MAX_MESSAGE_PAGE` (1,000), by default `DEFAULT_MESSAGE_PAGE` (100); past
  the maximum it is refused (422), never clamped, so a client never takes a short page for
  the chat's end.
- Cursors are message positions (`before`, `after`: 0 to 2^31-1), at most one of them; a
  cursor that is not such a number is a 422 problem naming it, never a 500.
- The body's `earlier` and `later` are the cursors to the pages beside this one (null: none;
  both null on an empty page), always positions a request may name (`ManageChats.page`);
  the `Link` header says the same as `rel="prev"` (earlier) and `rel="next"` (later) URLs,
  relative to the server, keeping the request's other parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from backend.api.chat_schemas import MessageOut, MessagePageFields
from use_cases.chat.domain import MAX_POSITION
from use_cases.chat.manage_chats import DEFAULT_MESSAGE_PAGE, MAX_MESSAGE_PAGE, ChatTranscript

__all__ = [
    "DEFAULT_MESSAGE_PAGE",
    "MAX_MESSAGE_PAGE",
    "MessageAfter",
    "MessageBefore",
    "MessageLimit",
    "MessagePageFields",
    "link_header",
    "messages_out",
]

MessageLimit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_MESSAGE_PAGE,
        description=f"Messages per page (1 to {MAX_MESSAGE_PAGE:,}; default "
        f"{DEFAULT_MESSAGE_PAGE}). Without `before` or `after`, the chat's last ones.",
    ),
]
MessageBefore = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="The page of messages before this position (a page's `earlier`).",
    ),
]
MessageAfter = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="The page of messages after this position (a page's `later`; 0: the "
        "chat's first page).",
    ),
]


def messages_out(transcript: ChatTranscript) -> list[MessageOut]:
    return [
        MessageOut.of(m, transcript.responses.get(m.id), transcript.versions.get(m.id, ()))
        for m in transcript.messages
    ]


def link_header(request: Request, transcript: ChatTranscript) -> dict[str, str]:
    """`Link` with the earlier (`prev`) and later (`next`) pages' URLs; none without either."""
    links = []
    for rel, name, cursor in (
        ("prev", "before", transcript.earlier),
        ("next", "after", transcript.later),
    ):
        if cursor is not None:
            url = request.url.remove_query_params(["before", "after"]).include_query_params(
                **{name: cursor}
            )
            links.append(f'<{url.path}?{url.query}>; rel="{rel}"')
    return {"Link": ", ".join(links)} if links else {}
