"""Structured advice: streamed as Server-Sent Events (`POST /advice`) or whole."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.api.advice_schemas import SSE_HEADERS, AdviceIn, encode_advice_sse
from backend.api.deps import ContainerDep, UserDep
from backend.api.openapi import problem_responses
from backend.api.rate_limit import RateLimited
from backend.api.routes.chat import _started
from backend.api.streams import ClosingStreamingResponse
from use_cases.advice_domain import StructuredAdvice

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
async def advice(body: AdviceIn, container: ContainerDep, user: UserDep) -> Response:
    events = await _started(container.advice.stream(body.to_request(user)))
    return ClosingStreamingResponse(
        encode_advice_sse(events), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.post(
    "/advice-non-streaming",
    response_model=StructuredAdvice,
    responses={**_BEFORE_THE_RUN, **problem_responses(502, 503, 504)},
    dependencies=[RateLimited],
    summary="Ask for advice; get the whole StructuredAdvice",
)
async def advice_non_streaming(
    body: AdviceIn, container: ContainerDep, user: UserDep
) -> StructuredAdvice:
    return await container.advice.execute(body.to_request(user))
