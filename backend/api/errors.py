"""The one mapping from errors to HTTP responses: `{"type": ..., "detail": ...}`.

Domain errors carry a message safe to show; anything else is logged with its traceback and
answered with a generic 500 that names the request id, never the traceback.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException as StarletteHTTPException

from use_cases import errors

STATUS_BY_ERROR: list[tuple[type[errors.AlmanacError], int]] = [
    (errors.UnsupportedDocument, 415),
    (errors.PayloadTooLarge, 413),
    (errors.InvalidRequest, 422),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.UpstreamTimeout, 504),
    (errors.UpstreamBadResponse, 502),
    (errors.UpstreamUnavailable, 503),
    (errors.ConfigurationError, 500),
]


# RFC 6750: a 401 names the scheme the client should authenticate with.
HEADERS_BY_ERROR: list[tuple[type[errors.AlmanacError], dict[str, str]]] = [
    (errors.Unauthorized, {"WWW-Authenticate": 'Bearer realm="almanac"'}),
]


def headers_for(exc: errors.AlmanacError) -> dict[str, str] | None:
    for error_type, headers in HEADERS_BY_ERROR:
        if isinstance(exc, error_type):
            return headers
    return None


def status_for(exc: errors.AlmanacError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return 500


def error_body(type_: str, detail: object) -> dict[str, object]:
    return {"type": type_, "detail": detail}


def _validation_detail(exc: RequestValidationError) -> list[dict[str, object]]:
    details = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        details.append({"loc": location, "msg": error.get("msg", "invalid value")})
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.AlmanacError)
    async def _domain(request: Request, exc: errors.AlmanacError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            logger.error("{} on {}: {}", type(exc).__name__, request.url.path, exc.detail)
        return JSONResponse(
            error_body(exc.type, exc.detail), status_code=status, headers=headers_for(exc)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", _validation_detail(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "not_found" if exc.status_code == 404 else "http_error"
        return JSONResponse(
            error_body(type_, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        logger.opt(exception=exc).error(
            "Unhandled error on {} {}", request.method, request.url.path
        )
        return JSONResponse(
            error_body("internal_error", f"Internal server error (request id {request_id})."),
            status_code=500,
        )
