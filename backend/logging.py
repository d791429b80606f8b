"""Loguru for everything: stdlib loggers (uvicorn, httpx, openai, ...) are routed into it.

Every message is scrubbed of credentials by their shape, whatever carried them (a query
parameter of any name, a header, an echoed error): Almanac API keys (`alm_` + URL-safe
characters, see `use_cases/access/auth.py`) and `Bearer` tokens become `REDACTED`. Redacting by
parameter name alone let `?foo=alm_...` through, and uvicorn at `LOG_LEVEL=TRACE` logs each
request's raw query string. Session secrets (`ses_` + URL-safe characters) are redacted the
same way, whatever the parameter or cookie name that carried them.

What people ask, search for and upload is not logged (`use_cases/shared/content_log.py`):
LOG_REQUEST_CONTENT, a debugging aid and off by default, turns on the lines that quote it. Off,
the libraries' own DEBUG and TRACE lines are dropped as well, since they quote requests whole
(uvicorn's ASGI messages with the query string, the OpenAI client's request payloads, the MCP
SDK's messages); their INFO lines and above are kept.

Nothing a client sends can start a line of its own: control characters (newlines, carriage
returns, escapes, Unicode line separators) in any message are written as escapes (`\\n`,
`\\x1b`, `\\u2028`), so a path like `/chats/x%0a2026-11-27 04:00:01 | WARNING | ...` stays
on its request's line.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
from typing import Any

from loguru import logger

from use_cases.access.auth import KEY_PREFIX, SESSION_PREFIX
from use_cases.shared.content_log import content_logged, log_content

#: A key is `alm_` + 43 URL-safe characters; 12 or more already look like (part of) one.
_ALMANAC_KEY = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]{{12,}}")
#: A browser session's secret is `ses_` + 43 URL-safe characters (`use_cases/access/auth.py`).
_SESSION_SECRET = re.compile(rf"{SESSION_PREFIX}[A-Za-z0-9_-]{{12,}}")
#: Characters that would break a log line or drive a terminal: C0 and C1 controls, DEL and
#: the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: `Bearer TOKEN`, also URL-encoded (`Bearer%20TOKEN`, `Bearer+TOKEN`) in a logged URL.
_BEARER_TOKEN = re.compile(r"\b(Bearer)(?:\s|%20|\+)+[^\s&'\",;]+", re.I)


def redact_secrets(text: str) -> str:
    """`text` with every Almanac API key, session secret and Bearer token replaced by
    `REDACTED`."""
    text = _SESSION_SECRET.sub(f"{SESSION_PREFIX}REDACTED", text)
    return _BEARER_TOKEN.sub(r"\1 REDACTED", _ALMANAC_KEY.sub(f"{KEY_PREFIX}REDACTED", text))


def escape_controls(text: str) -> str:
    """`text` on one line: each control character written as its escape (`\\n`, `\\x1b`)."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _redact_record(record: Any) -> None:
    record["message"] = escape_controls(redact_secrets(record["message"]))


class InterceptHandler(logging.Handler):
    """Send stdlib log records to loguru, keeping the caller's location (loguru's recipe)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO and not content_logged():
            return  # a library's DEBUG or TRACE line may quote a request (module docstring)
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        message = redact_secrets(record.getMessage())
        logger.opt(depth=depth, exception=record.exc_info).log(level, message)


#: Every line names the request it was written for (`-` outside any request: start-up, jobs);
#: the same id is the `X-Request-ID` response header and the `almanac.request_id` span attribute.
_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
    "{extra[request_id]} | <cyan>{name}</cyan> | {message}"
)


def configure_logging(level: str = "INFO", *, content: bool = False) -> None:
    """Idempotent: safe to call from the CLI, the app factory and tests. `content`: write the
    lines that quote what people ask and search for (LOG_REQUEST_CONTENT, module docstring)."""
    log_content(content)
    logger.remove()
    logger.configure(patcher=_redact_record, extra={"request_id": "-"})
    logger.add(sys.stderr, level=level, format=_FORMAT, backtrace=False, diagnose=False)
    # The root level follows ours: level 0 would make uvicorn and openai emit (and us walk the
    # stack for) debug records on every request only to drop them. Without `content`, their
    # DEBUG and TRACE records are dropped (`InterceptHandler`): not made at all.
    std_level = logging.getLevelName(level) if level != "TRACE" else 5
    if not content:
        std_level = max(std_level, logging.INFO)
    logging.basicConfig(handlers=[InterceptHandler()], level=std_level, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "httpx", "openai"):
        std = logging.getLogger(name)
        std.handlers = [InterceptHandler()]
        std.propagate = False
    # One line per request comes from our middleware; uvicorn's access log would double it.
    logging.getLogger("uvicorn.access").disabled = True
    # Libraries that log every HTTP call at INFO are noise at our default level.
    for name in ("httpx", "httpcore", "httpx2", "httpcore2"):
        logging.getLogger(name).setLevel(logging.WARNING)
