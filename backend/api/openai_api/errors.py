"""Errors under `/v1` in OpenAI's shape, so that OpenAI's SDKs raise their own exception
classes (`AuthenticationError`, `NotFoundError`, `BadRequestError`, `RateLimitError`, ...).

Almanac's errors are RFC 9457 problems everywhere else (`backend/api/errors.py`, the one
mapping of errors to statuses). Under `/v1` they are rewritten once, at the edge, by
`OpenAIErrorsMiddleware`, whatever raised them (the caller dependency, the rate limit, the
body limits, validation, the use cases):

- the body becomes `{"error": {"message", "type", "param", "code"}}`;
- 413 and 422 become 400 (OpenAI answers every bad request 400; `code` keeps Almanac's
  reason, `payload_too_large` or `invalid_request`), other statuses stay, headers too
  (`Retry-After` on a 429, `WWW-Authenticate` on a 401);
- `type` is OpenAI's for the status (`TYPE_BY_STATUS`); `param` names the field at fault
  when one is known (a validation error's field, or `OpenAIError.param`).

What the OpenAI routes refuse themselves (an unknown model, a role or a part they do not
take) they raise as `OpenAIError`, rendered in the same shape.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.problems import PROBLEM_MEDIA_TYPE

PREFIX = "/v1"

#: OpenAI's error `type` by status (their API's values; the SDKs branch on the status).
TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    429: "rate_limit_error",
}
#: Almanac's codes where OpenAI's clients know another name for the same thing.
CODE_BY_CODE: dict[str, str] = {
    "unauthorized": "invalid_api_key",
    "rate_limited": "rate_limit_exceeded",
}
#: Statuses OpenAI's API answers as a 400 (a request it will not take).
AS_BAD_REQUEST = frozenset({413, 422})


class OpenAIErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person.")
    type: str = Field(examples=["invalid_request_error"])
    param: str | None = Field(description="The request field at fault, when one is.")
    code: str | None = Field(examples=["model_not_found"])


class OpenAIErrorOut(BaseModel):
    """An error under `/v1`, in OpenAI's shape."""

    error: OpenAIErrorDetail


class OpenAIError(Exception):
    """A refusal of the OpenAI-compatible routes, in OpenAI's terms."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def error_body(status: int, message: str, *, param: str | None, code: str | None) -> dict[str, Any]:
    kind = TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def install_openai_errors(app: FastAPI) -> None:
    @app.exception_handler(OpenAIError)
    async def _openai(request: Request, exc: OpenAIError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status, exc.message, param=exc.param, code=exc.code),
            status_code=exc.status,
        )


def _openai_of_problem(problem: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status = int(problem.get("status") or 500)
    status = 400 if status in AS_BAD_REQUEST else status
    code = str(problem.get("code") or "") or None
    fields = problem.get("errors") or []
    param = problem.get("param") or (fields[0].get("field") if fields else None)
    return status, error_body(
        status,
        str(problem.get("detail") or problem.get("title") or "Error"),
        param=param,
        code=CODE_BY_CODE.get(code or "", code),
    )


class OpenAIErrorsMiddleware:
    """Rewrites the problem responses of `/v1` requests into OpenAI's error shape (see the
    module). Other responses, and every response outside `/v1`, pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()

        async def rewriting(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message["headers"]))
                if headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body"):
                    return
                await _send_rewritten(send, held, bytes(body))
                return
            await send(message)

        await self.app(scope, receive, rewriting)


async def _send_rewritten(send: Send, start: Message, body: bytes) -> None:
    try:
        problem = json.loads(body)
    except ValueError:
        problem = {"status": start["status"], "detail": body.decode("utf-8", "replace")}
    status, rewritten = _openai_of_problem({"status": start["status"], **problem})
    data = json.dumps(rewritten, ensure_ascii=False).encode()
    headers = MutableHeaders(raw=list(start["headers"]))
    headers["content-type"] = "application/json"
    headers["content-length"] = str(len(data))
    await send({**start, "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": data})
