"""Request body limits, size and time, enforced while the body streams in (plain ASGI).

Rules:
- A `multipart/form-data` body (a document upload) may hold `MAX_UPLOAD_BYTES` plus
  `MULTIPART_OVERHEAD_BYTES` for boundaries and form fields (a file attached to a chat:
  `CHAT_FILE_MAX_BYTES` plus the same); any other body
  `MAX_JSON_BODY_BYTES`. The upload use case still checks the file itself against
  `MAX_UPLOAD_BYTES`.
- A `Content-Length` over the limit is answered 413 at once: the body is never read.
- A body without one (chunked) or longer than it claimed is counted as it arrives; the read
  that crosses the limit fails with 413, so at most one chunk past the limit is ever held.
- The limits are read from the settings on each request.
- Time (`BodyTimeoutMiddleware`): a body that sends no byte for `REQUEST_BODY_TIMEOUT_S` (from
  the app's first read, and between two reads) is answered 408 `request_timeout` with
  `Connection: close`, so the server closes the connection; what arrived is let go with the
  request. The wait for `http.disconnect` after the whole body arrived is not timed (a
  streamed answer listens for it).
"""

from __future__ import annotations

import re

import anyio
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.problems import problem_response
from backend.config import Settings

MULTIPART_OVERHEAD_BYTES = 64 * 1024
#: The upload of a file attached to a chat (CHAT_FILE_MAX_BYTES).
_CHAT_FILES = re.compile(r"/api/conversations/[^/]+/files/?")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, headers: Headers, path: str = "") -> tuple[int, str]:
        """The byte limit of a request with these headers (to this path), and the setting
        that sets it."""
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            if _CHAT_FILES.fullmatch(path):
                limit = self.settings.chat_files.max_bytes + MULTIPART_OVERHEAD_BYTES
                return limit, "CHAT_FILE_MAX_BYTES"
            return (
                self.settings.documents.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
                "MAX_UPLOAD_BYTES",
            )
        return self.settings.http.max_json_body_bytes, "MAX_JSON_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit, setting = self.limit_for(headers, scope.get("path", ""))
        detail = (
            f"The request body is larger than the {limit:,}-byte limit "
            f"({setting}) of {scope.get('method')} {scope.get('path')}."
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = problem_response(
                413, "payload_too_large", detail, instance=scope.get("path")
            )
            await response(scope, receive, send)
            return

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status_code=413, detail=detail)
            return message

        await self.app(scope, receive_within_limit, send)


class BodyTimeout(HTTPException):
    """A request body that stopped arriving: 408, and the connection is closed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"The request body stopped arriving: no byte came for {seconds:g} s "
            "(REQUEST_BODY_TIMEOUT_S). Send the whole body without pausing.",
            headers={"Connection": "close"},
        )


class BodyTimeoutMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = self.settings.http.request_body_timeout_s
        if scope["type"] != "http" or not seconds:
            await self.app(scope, receive, send)
            return
        body_done = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(seconds):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, receive_in_time, send)
