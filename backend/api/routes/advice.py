"""Structured advice: streamed as Server-Sent Events (`POST /advice`) or whole."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.api.advice_schemas import (
    AdviceEntryOut,
    AdviceIn,
    AdviceThreadOut,
    AdviceTranscriptOut,
    encode_advice_sse,
)
from backend.api.deps import CallerDep, ContainerDep, PageLimit, PageOffset, UserDep
from backend.api.openapi import problem_responses
from backend.api.rate_limit import RateLimited
from backend.api.streams import SSE_HEADERS, ClosingStreamingResponse, Pacer, started
from use_cases.advice.domain import StructuredAdvice

router = APIRouter(tags=["advice"])
_BEFORE_THE_RUN = problem_responses(413, 422, 503)


@router.post(
    "/advice",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Unnamed events whose data, concatenated, is one StructuredAdvice; "
            "then an `end` event with empty data (`fallback` in the object says whether it is "
            "the stand-in advice).",
        },
        **_BEFORE_THE_RUN,
    },
    dependencies=[RateLimited],
    summary="Ask for advice; stream it (SSE: the data add up to one StructuredAdvice)",
)
async def advice(body: AdviceIn, container: ContainerDep, caller: CallerDep) -> Response:
    request = body.to_request(caller.user_id, reader=caller)
    events = await started(container.advice.advice.stream(request))
    return ClosingStreamingResponse(
        encode_advice_sse(events, Pacer.from_ms(container.settings.chat.stream_word_delay_ms)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post(
    "/advice-non-streaming",
    response_model=StructuredAdvice,
    responses={**_BEFORE_THE_RUN, **problem_responses(502, 503, 504)},
    dependencies=[RateLimited],
    summary="Ask for advice; get the whole StructuredAdvice",
)
async def advice_non_streaming(
    body: AdviceIn, container: ContainerDep, caller: CallerDep
) -> StructuredAdvice:
    return await container.advice.advice.execute(body.to_request(caller.user_id, reader=caller))


@router.get(
    "/advice/threads",
    response_model=list[AdviceThreadOut],
    summary="Your advice threads, most recently active first",
)
async def list_advice_threads(
    container: ContainerDep, user: UserDep, limit: PageLimit = 50, offset: PageOffset = 0
) -> list[AdviceThreadOut]:
    threads = await container.advice.advice_threads.list(user, limit=limit, offset=offset)
    return [AdviceThreadOut.of(thread) for thread in threads]


@router.get(
    "/advice/threads/{thread_id}",
    response_model=AdviceTranscriptOut,
    responses=problem_responses(404),
    summary="One of your advice threads, with its advice oldest first",
)
async def advice_thread(
    thread_id: str, container: ContainerDep, user: UserDep, caller: CallerDep
) -> AdviceTranscriptOut:
    transcript = await container.advice.advice_threads.transcript(user, thread_id, caller)
    return AdviceTranscriptOut(
        thread=AdviceThreadOut.of(transcript.thread),
        entries=[
            AdviceEntryOut.of(entry, transcript.feedback.get(entry.id))
            for entry in transcript.entries
        ],
    )


@router.delete(
    "/advice/threads/{thread_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Delete one of your advice threads and its advice",
)
async def delete_advice_thread(thread_id: str, container: ContainerDep, user: UserDep) -> Response:
    await container.advice.advice_threads.delete(user, thread_id)
    return Response(status_code=204)
