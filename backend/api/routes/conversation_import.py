"""Importing conversations into your chats: share links (JSON or streamed progress), export
files (a background job) and Slack threads (admin keys only). See docs/conversation-import.md."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Response, UploadFile
from fastapi.responses import JSONResponse
from loguru import logger

from backend.api.conversation_import_schemas import (
    ImportedChatOut,
    ImportJobOut,
    ImportUrlIn,
    SlackThreadIn,
)
from backend.api.deps import CallerDep, ContainerDep, UserDep
from backend.api.errors import status_for
from backend.api.openapi import problem_responses
from backend.api.problems import problem_body
from backend.api.rate_limit import RateLimited
from backend.api.streams import SSE_HEADERS, ClosingStreamingResponse, started
from backend.bootstrap import Container
from use_cases.access.domain import Caller
from use_cases.conversations.imports import ImportEvent
from use_cases.shared.errors import AlmanacError

router = APIRouter(prefix="/api/conversations/import", tags=["conversations"])

_URL_ERRORS = problem_responses(413, 422, 502, 503, 504)
_CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "Imported: a new chat"}}

JobId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The job id from the file import's answer (its `Location`).",
    ),
]


def _answer(response: Response, outcome: ImportedChatOut) -> ImportedChatOut:
    response.status_code = 201 if outcome.created else 200
    return outcome


@router.post(
    "",
    response_model=ImportedChatOut,
    responses={**_CREATED, **_URL_ERRORS},
    dependencies=[RateLimited],
    summary="Import a share link's conversation as a chat (200 if imported before)",
)
async def import_url(
    body: ImportUrlIn, container: ContainerDep, user: UserDep, response: Response
) -> ImportedChatOut:
    outcome = await container.conversation_import.from_url.execute(user, body.url)
    return _answer(response, ImportedChatOut.of(outcome))


@router.post(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **_URL_ERRORS},
    dependencies=[RateLimited],
    summary="Import a share link, streaming its stages (SSE: stage events, then done or error)",
)
async def import_url_stream(body: ImportUrlIn, container: ContainerDep, user: UserDep) -> Response:
    # a refused link is a problem response, not a stream
    events = await started(container.conversation_import.from_url.stream(user, body.url))
    return ClosingStreamingResponse(
        _sse(events), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _sse(events: AsyncGenerator[ImportEvent, None]) -> AsyncGenerator[str, None]:
    try:
        async for event in events:
            if event.outcome is not None:
                yield _event("done", ImportedChatOut.of(event.outcome).model_dump(mode="json"))
            else:
                yield _event("stage", {"stage": event.stage})
    except AlmanacError as exc:
        status = status_for(exc)
        yield _event("error", problem_body(status, exc.type, exc.detail))
    except Exception:  # a bug: logged with its traceback, the client gets a 500 problem
        logger.exception("Streamed conversation import failed")
        yield _event(
            "error", problem_body(500, "internal_error", "The import failed unexpectedly.")
        )
    finally:
        await events.aclose()


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/file",
    status_code=202,
    response_model=ImportJobOut,
    responses={
        202: {
            "description": "Queued: poll the job at its `Location`.",
            "headers": {"Location": {"description": "The job: GET it for its progress."}},
        },
        **problem_responses(413, 422, 503),
    },
    dependencies=[RateLimited],
    summary="Import an export file (ChatGPT or Claude conversations.json, or its ZIP) as a job",
)
async def import_file(
    container: ContainerDep,
    user: UserDep,
    file: Annotated[UploadFile, File(description="conversations.json or the export's ZIP.")],
) -> JSONResponse:
    importer = container.conversation_import.from_file
    data = await file.read(importer.read_limit)
    job = await importer.execute(user, file.filename or "", data)
    return JSONResponse(
        ImportJobOut.of(job).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/conversations/import/jobs/{job.id}"},
    )


@router.get(
    "/jobs/{job_id}",
    response_model=ImportJobOut,
    responses=problem_responses(404),
    summary="An export import job: status, progress (conversations), result or error",
)
async def import_job(container: ContainerDep, caller: CallerDep, job_id: JobId) -> ImportJobOut:
    return ImportJobOut.of(await container.conversation_import.get_job.execute(caller, job_id))


@router.post(
    "/slack",
    response_model=ImportedChatOut,
    responses={**_CREATED, **problem_responses(403, 422)},
    summary="Import a Slack thread (conversations.replies) as a chat; admin (service) keys only",
)
async def import_slack(
    body: SlackThreadIn, container: ContainerDep, caller: CallerDep, response: Response
) -> ImportedChatOut:
    return await slack_import(body, container, caller, response, path=SLACK_PATH)


SLACK_PATH = "/api/conversations/import/slack"


async def slack_import(
    body: SlackThreadIn, container: Container, caller: Caller, response: Response, *, path: str
) -> ImportedChatOut:
    """A Slack thread imported for `body.user_id` (the caller's act-for, audited as `path`):
    201 with a new chat, 200 with the one imported before. Also behind the conversation backend's
    `POST /api/conversations/import-slack` (backend/api/compat/conversations_002.py)."""
    user = await container.access.act_for.execute(caller, body.user_id, via=f"POST {path}")
    outcome = await container.conversation_import.from_slack.execute(caller, user, body.payload())
    return _answer(response, ImportedChatOut.of(outcome))
