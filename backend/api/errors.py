"""The one mapping from errors to HTTP responses, all RFC 9457 problems (see `problems.py`).

- Domain errors (`use_cases.shared.errors`) carry a message safe to show: `STATUS_BY_ERROR`
  gives the status (the first row the error is an instance of), the error's `type` is the problem
  `code`, `HEADERS_BY_ERROR` the headers it adds (a
  401 names the scheme to authenticate with in `WWW-Authenticate`, RFC 6750).
- HTTP errors from routing, the body-size and body-time limits, the rate limit and dependencies
  (`HTTPException`) get their code from `CODE_BY_STATUS`; Starlette's bare reason phrases are
  replaced by a sentence that says what to do.
- A 405 lists every method its path answers (`Allow` and the detail), gathered from all the
  routes of the path: Starlette's router names only those of the first route that matched.
- Validation errors are 422 `invalid_request` with one `errors` entry per field.
- Anything else is a bug: `UnhandledErrorMiddleware` logs it once with its traceback and answers
  a 500 that names the request id, never the traceback; it does not re-raise, so the server does
  not log the same traceback a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.problems import problem_response
from use_cases.shared import errors

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
    (errors.TooMuchInFlight, 429),
    (errors.RateLimited, 429),
    (errors.ServiceBusy, 503),
    (errors.ConfigurationError, 500),
    (errors.NotConfigured, 501),
]

CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
}


# RFC 6750: a 401 names the scheme the client should authenticate with.
HEADERS_BY_ERROR: list[tuple[type[errors.AlmanacError], dict[str, str]]] = [
    (errors.Unauthorized, {"WWW-Authenticate": 'Bearer realm="almanac"'}),
]


def headers_for(exc: errors.AlmanacError) -> dict[str, str] | None:
    """The headers the error's response adds: its class's (`HEADERS_BY_ERROR`), and
    `Retry-After` when a busy server knows when to come back."""
    headers: dict[str, str] = {}
    for error_type, fixed in HEADERS_BY_ERROR:
        if isinstance(exc, error_type):
            headers.update(fixed)
            break
    if isinstance(exc, errors.ServiceBusy) and exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return headers or None


def status_for(exc: errors.AlmanacError) -> int:
    return status_for_class(type(exc))


def status_for_class(error_class: type[errors.AlmanacError]) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if issubclass(error_class, error_type):
            return status
    return 500


def status_for_code(code: str) -> int:
    """The status of the domain error whose `type` is `code` (a background job's error, kept
    as its code); 500 for `internal_error` or a code no error class has."""
    pending: list[type[errors.AlmanacError]] = [errors.AlmanacError]
    while pending:
        error_class = pending.pop()
        if error_class.type == code:
            return status_for_class(error_class)
        pending.extend(error_class.__subclasses__())
    return 500


#: The methods a 405 may list, in the order it lists them (`Allow`, the detail).
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on the request's path (asked of each route
    through `matches`, which also sees into included routers; mounted apps answer for
    themselves)."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _http_headers(request: Request, exc: StarletteHTTPException) -> Mapping[str, str] | None:
    if exc.status_code != 405:
        return exc.headers
    allowed = allowed_methods(request)
    if not allowed:  # raised by an endpoint itself: its own header stands
        return exc.headers
    return {**(exc.headers or {}), "Allow": ", ".join(allowed)}


def _http_detail(request: Request, exc: StarletteHTTPException) -> str:
    """The exception's own message, unless it is only the reason phrase."""
    if exc.detail and exc.detail != _phrase(exc.status_code):
        return str(exc.detail)
    path, method = request.url.path, request.method
    if exc.status_code == 404:
        return f"Nothing is served at {path}; see /docs for the endpoints."
    if exc.status_code == 405:
        allowed = (_http_headers(request, exc) or {}).get("Allow", "")
        return f"{method} is not allowed on {path}; allowed: {allowed}."
    return _phrase(exc.status_code)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    entries = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        msg = str(error.get("msg", "invalid value"))
        if error.get("type") == "json_invalid":
            field = "body"
            msg = f"Invalid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
            loc = loc[:1]
        else:
            field = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "request")
        entries.append({"loc": loc, "field": field, "msg": msg})
    return entries


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.AlmanacError)
    async def _domain(request: Request, exc: errors.AlmanacError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            logger.error("{} on {}: {}", type(exc).__name__, request.url.path, exc.detail)
        return problem_response(
            status, exc.type, exc.detail, instance=request.url.path, headers=headers_for(exc)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        entries = _field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['msg']}" for e in entries) or "Invalid request."
        return problem_response(
            422, "invalid_request", detail, instance=request.url.path, errors=entries
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        return problem_response(
            status,
            CODE_BY_STATUS.get(status, "http_error"),
            _http_detail(request, exc),
            instance=request.url.path,
            headers=_http_headers(request, exc),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort for a failure outside UnhandledErrorMiddleware (in an outer middleware).
        logger.opt(exception=exc).error(
            "Unhandled error on {} {}", request.method, request.url.path
        )
        return _internal_error(request.scope)


def _too_deep(scope: Scope) -> JSONResponse:
    return problem_response(
        413,
        "input_too_costly",
        "The request nests arrays, objects or structures too deeply to be read: refused.",
        instance=scope.get("path"),
    )


def _internal_error(scope: Scope) -> JSONResponse:
    request_id = scope.get("state", {}).get("request_id", "-")
    return problem_response(
        500,
        "internal_error",
        f"Internal server error (request id {request_id}).",
        instance=scope.get("path"),
    )


class UnhandledErrorMiddleware:
    """Innermost middleware: an exception no handler took becomes one log entry with its
    traceback and, if the response has not started, a problem 500 naming the request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except RecursionError:
            # Every JSON reader bounds the nesting before it parses (services/budgets.py);
            # should one ever be missed, input nested past the interpreter's recursion is the
            # client's to fix, not a 500 with a 4 KB traceback per request.
            logger.warning(
                "Input nested too deeply on {} {}: refused", scope.get("method"), scope.get("path")
            )
            if not started:
                await _too_deep(scope)(scope, receive, send)
        except Exception as exc:
            logger.opt(exception=exc).error(
                "Unhandled error on {} {}", scope.get("method"), scope.get("path")
            )
            if not started:
                await _internal_error(scope)(scope, receive, send)
