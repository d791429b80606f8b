"""`content_log` writes a line that quotes content only while content logging is on
(LOG_REQUEST_CONTENT), to any sink, under the module that wrote it; the logging set-up turns it
on and off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from loguru import logger

from backend.api.middleware import logged_query
from backend.logging import configure_logging
from use_cases.shared.content_log import content_log, content_logged


@contextmanager
def logging_set_up(*, content: bool) -> Iterator[list[str]]:
    """The server's logging at DEBUG, and what reaches a sink of our own meanwhile."""
    configure_logging("DEBUG", content=content)
    kept: list[str] = []
    sink = logger.add(kept.append, level="DEBUG", format="{name} {message}")
    try:
        yield kept
    finally:
        logger.remove(sink)
        configure_logging("WARNING")


def _quote_content() -> None:
    content_log.debug("Asked about {!r}", "the CFO's salary")
    content_log.debug("Runners-up: {}", lambda: ["a sentence"], lazy=True)


def test_a_line_that_quotes_content_is_written_only_with_content_logging() -> None:
    with logging_set_up(content=False) as lines:
        assert not content_logged()
        _quote_content()
    assert lines == []

    with logging_set_up(content=True) as lines:
        _quote_content()
    assert lines == [
        f'{__name__} Asked about "the CFO\'s salary"\n',
        f"{__name__} Runners-up: ['a sentence']\n",
    ]
    assert not content_logged()  # off again with the next set-up that does not ask for it


def test_a_query_string_is_logged_by_its_length_without_content_logging() -> None:
    with logging_set_up(content=False):
        assert logged_query("q=hiv+test+results&meta=owner%3Ahr") == "?[34 chars]"
        assert logged_query("") == ""
    with logging_set_up(content=True):
        assert logged_query("q=hiv+test+results&api_key=x") == (
            "?q=hiv+test+results&api_key=REDACTED"
        )
