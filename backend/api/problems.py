"""RFC 9457 problem details: the one shape of every error response of the HTTP API.

An error answers `Content-Type: application/problem+json` with

- `type`: `https://almanac.dev/problems/<code with hyphens>`, a URI naming the kind of problem.
  It identifies; it is not fetched (RFC 9457 allows that), and clients need not parse it.
- `code`: the same kind as a stable machine-readable slug (`not_found`, `invalid_request`,
  `rate_limited`, ...): what clients branch on. An extension member, as RFC 9457 permits.
- `title`: a short summary of the kind, the same for every occurrence.
- `status`: the HTTP status code, repeated for clients that only keep the body.
- `detail`: what went wrong this time, written for a person; never a traceback or a secret.
- `instance`: the request path.
- `errors` (validation problems only): one entry per field, `loc` (where: `["query", "limit"]`),
  `field` (the dotted name without its source: `limit`) and `msg`.

Streamed chat responses report failures after the stream has started in their own protocol's
error part instead (see `backend/api/streams.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://almanac.dev/problems/"

TITLES: dict[str, str] = {
    "invalid_request": "Invalid request",
    "invalid_document": "Invalid document",
    "unsupported_document": "Unsupported document (type or binary content)",
    "payload_too_large": "Request too large",
    "unauthorized": "Not authenticated",
    "forbidden": "Not allowed",
    "tool_rejected": "Tool input rejected",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "conflict": "Conflict",
    "embedding_model_mismatch": "Index built with another embedding model",
    "document_exists": "Document already exists",
    "duplicate_document": "Duplicate document",
    "title_taken": "Title already used",
    "future_date": "Document dated in the future",
    "rate_limited": "Too many requests",
    "service_busy": "Service busy",
    "too_much_in_flight": "Too much of your work in flight",
    "job_cancelled": "Job cancelled",
    "configuration_error": "Server mis-configured",
    "upstream_unavailable": "Model provider unavailable",
    "upstream_timeout": "Model provider timed out",
    "upstream_error": "Model provider failed",
    "database_unavailable": "Database unavailable",
    "internal_error": "Internal server error",
}


class FieldError(BaseModel):
    loc: list[str] = Field(examples=[["query", "limit"]])
    field: str = Field(examples=["limit"])
    msg: str = Field(examples=["Input should be less than or equal to 50"])


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://almanac.dev/problems/not-found",
                    "code": "not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No document with id 42.",
                    "instance": "/api/documents/42",
                }
            ]
        },
    )

    type: str = Field(description="URI naming the kind of problem.")
    code: str = Field(description="Stable machine-readable kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(ge=100, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time, for a person.")
    instance: str | None = Field(None, description="The request path.")
    errors: list[FieldError] | None = Field(
        None, description="Validation problems only: one entry per invalid field."
    )


def problem_type(code: str) -> str:
    return PROBLEM_TYPE_BASE + code.replace("_", "-")


def problem_title(code: str, status: int) -> str:
    if code in TITLES:
        return TITLES[code]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "code": code,
        "title": problem_title(code, status),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, instance=instance, errors=errors),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_MEDIA_TYPE,
    )
