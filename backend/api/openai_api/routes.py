"""`/v1`: Almanac's assistants as OpenAI models, and a chat completion as a grounded answer.

Each route maps OpenAI's request onto the use case `/chat` calls (`ChatTurns`, through a
stateless turn) and its result back (`schemas.py`, `stream.py`); the keys, the rate limit,
the search policy, the audit of acting for a user and the per-user isolation are those of
`/chat`, because the use case and the dependencies are."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from backend.api.deps import CallerDep, ContainerDep
from backend.api.openai_api.errors import OpenAIError
from backend.api.openai_api.schemas import (
    DEFAULT_MODEL_ID,
    ChatCompletionIn,
    completion,
    model_object,
)
from backend.api.openai_api.stream import encode_chunks
from backend.api.rate_limit import RateLimited
from backend.api.streams import SSE_HEADERS, ClosingStreamingResponse, Pacer, paced_chat, started
from backend.bootstrap import Container
from use_cases.chat.chat_turns import checked_client_conversation
from use_cases.shared.errors import InvalidRequest

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible API"])

#: The `created` time of Almanac's models (a fixed moment: the ids are stable, and clients
#: that sort by it see the same order every time).
MODELS_CREATED = 1_764_288_000

ModelId = Annotated[str, Path(max_length=200, description="`almanac` or an allowed model.")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Bad request (OpenAI's error shape: `{error: {message, type, param, code}}`)"
    },
    404: {"description": "Unknown model (`code`: `model_not_found`)"},
}


def model_ids(container: Container) -> list[str]:
    """`almanac` (the default chat model), then every allowed model, each once."""
    return list(dict.fromkeys((DEFAULT_MODEL_ID, *container.prompts.model_defaults.allowed)))


def _requested(container: Container, model_id: str) -> str | None:
    """The chat turn's `model` for an OpenAI model id (None: the default); 404 otherwise."""
    if model_id == DEFAULT_MODEL_ID:
        return None
    try:
        container.chat.chat.model_identifier(model_id)
    except InvalidRequest:
        raise OpenAIError(
            404,
            f"The model {model_id!r} does not exist; GET /v1/models lists the models.",
            param="model",
            code="model_not_found",
        ) from None
    return model_id


@router.get("/models", summary="Almanac's assistants as OpenAI models")
async def list_models(container: ContainerDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [model_object(model, MODELS_CREATED) for model in model_ids(container)],
    }


@router.get("/models/{model_id:path}", responses=_ERRORS, summary="One model")
async def get_model(model_id: ModelId, container: ContainerDep) -> dict[str, Any]:
    _requested(container, model_id)
    return model_object(model_id, MODELS_CREATED)


@router.post(
    "/chat/completions",
    responses={200: {"content": {"text/event-stream": {}}}, **_ERRORS},
    dependencies=[RateLimited],
    summary="A grounded, cited answer as an OpenAI chat completion (streamed with `stream`)",
)
async def chat_completions(
    body: ChatCompletionIn, request: Request, container: ContainerDep, caller: CallerDep
) -> Response:
    body.checked_options()
    settings = container.settings.chat
    messages = body.conversation()
    question = checked_client_conversation(
        messages,
        max_message_chars=settings.max_message_chars,
        max_messages=settings.max_conversation_messages,
        max_chars=settings.max_conversation_chars,
    )
    model = _requested(container, body.model)
    user = await container.access.act_for.execute(caller, None, via="POST /v1/chat/completions")
    turn = replace(body.to_request(user, model, question, messages), reader=caller)
    created = int(time.time())
    link = str(request.base_url) + "api/documents/{id}"
    if not body.stream:
        result = await container.chat.chat.execute(turn)
        return JSONResponse(completion(result, body.model, created, link))
    events = await started(container.chat.chat.stream(turn))
    paced = paced_chat(events, Pacer.from_ms(settings.stream_word_delay_ms))
    return ClosingStreamingResponse(
        encode_chunks(
            paced,
            model_id=body.model,
            created=created,
            include_usage=body.include_usage,
            document_link=link,
        ),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
