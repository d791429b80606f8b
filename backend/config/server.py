"""Where the API server listens and what it serves."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup


class ServerSettings(SettingsGroup):
    """Where the API server listens and what it serves."""

    model_config = ConfigDict(title="Server")

    host: str = Field("127.0.0.1", description="Interface the API server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API server listens on.")
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level (loguru); stdlib loggers are routed into it."
    )
    log_request_content: bool = Field(
        False,
        description="A debugging aid that writes what people search for and ask into the "
        "logs: each request's full query string (search terms, filter values) in its log "
        "line and, at LOG_LEVEL=DEBUG or TRACE, the lines that quote questions and document "
        "text (the offline model's reasoning) and the libraries' own DEBUG and TRACE lines, "
        "which quote requests whole. Off, a request's line has its method, path, status, "
        "duration and the query string's length only. Leave it off wherever logs are kept or "
        "shipped (docs/operations.md).",
    )
    compat_routes: bool = Field(
        True,
        description="Serve the five source documents' APIs (backend/api/compat/, docs/seeds.md) "
        "beside Almanac's own; false leaves Almanac's own API, the web app and the docs.",
    )
