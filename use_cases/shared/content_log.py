"""Log lines that quote what people ask, search for and upload, written only on request.

Rules:
- Content is what a person wrote or what the documents say: a question, an answer, a search
  query, a filter's value, a document's or a table's text, a heading, SQL a user wrote, and
  any word or number taken from them. Names are not content: a document's source or title, a
  table's or a collection's name, a chat's or a job's id, a model's name, a route.
- A log line that quotes content is written through `content_log`, never `logger`: it reaches
  the log only while content logging is on (LOG_REQUEST_CONTENT, a debugging aid; the server
  turns it on or off with its logging, `backend/logging.py`). Off, the line is not written at
  all, whatever the level and whatever the sink. A line that only needs to say how much was
  there logs a length instead, through `logger`.
- Off by default: a process that never configured its logging writes no content.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

__all__ = ["content_log", "content_logged", "log_content"]


class _ContentLog:
    """`logger` for lines that quote content: each writes only while content logging is on,
    under the caller's module name (as `logger` would). The offline model's reasoning is all
    that needs it so far, at DEBUG; add a level where a line of another level needs one."""

    def __init__(self) -> None:
        self.enabled = False

    def debug(self, message: str, *args: Any, lazy: bool = False) -> None:
        """`logger.debug(message, *args)`; `lazy`: each arg is a function called only when the
        line is written (`logger.opt(lazy=True)`)."""
        if self.enabled:
            logger.opt(depth=1, lazy=lazy).debug(message, *args)


#: The one gate of this process (see the module rules).
content_log = _ContentLog()


def log_content(enabled: bool) -> None:
    """Turn content logging on or off for this process (the logging set-up calls it)."""
    content_log.enabled = enabled


def content_logged() -> bool:
    """Whether lines that quote content are written in this process."""
    return content_log.enabled
