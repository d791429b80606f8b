"""Loguru for everything: stdlib loggers (uvicorn, httpx, openai, ...) are routed into it."""

from __future__ import annotations

import inspect
import logging
import sys

from loguru import logger


class InterceptHandler(logging.Handler):
    """Send stdlib log records to loguru, keeping the caller's location (loguru's recipe)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
    "<cyan>{name}</cyan> | {message}"
)


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: safe to call from the CLI, the app factory and tests."""
    logger.remove()
    logger.add(sys.stderr, level=level, format=_FORMAT, backtrace=False, diagnose=False)
    # The root level follows ours: level 0 would make uvicorn and openai emit (and us walk the
    # stack for) debug records on every request only to drop them.
    std_level = logging.getLevelName(level) if level != "TRACE" else 5
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
