"""Limits on requests, and the origins browsers may call from."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from backend.config.base import SettingsGroup


class HttpSettings(SettingsGroup):
    """Limits on requests (heads, bodies, connections, rates) and which other origins browsers
    may call from. The head and connection limits are kept by the HTTP server `almanac serve`
    runs (backend/http_server.py), before any authentication."""

    model_config = ConfigDict(title="HTTP limits and security")

    max_json_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body that is not a multipart upload (chat, rename), in "
        "bytes. A larger Content-Length is refused with 413 before the body is read; a body "
        "that grows past it while streaming in is cut off with 413.",
    )
    request_body_timeout_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Seconds a request body may go without a byte arriving (from the first "
        "read, between two reads, as nginx's client_body_timeout) before the request is "
        "answered 408 and its connection closed. 0 disables.",
    )
    max_header_line_bytes: int = Field(
        16 * 1024,
        ge=0,
        le=1024 * 1024,
        description="Longest line of a request head (the request line or one header, as "
        "nginx's large_client_header_buffers), in bytes, counted as it arrives and before "
        "any authentication: past it the request is answered 431 and its connection closed. "
        "0 disables.",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=0,
        le=16 * 1024 * 1024,
        description="Largest request head in all (request line and every header), in bytes: "
        "past it, 431 and the connection closed. 0 disables.",
    )
    header_timeout_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Seconds the whole request head may take to arrive, from the connection "
        "(or a kept-alive request's first byte) to its blank line, however slowly it is sent "
        "(nginx's client_header_timeout): past it, 408 and the connection closed. A "
        "connection that sends nothing is closed then, without an answer. 0 disables.",
    )
    max_connections: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Connections one server process holds open at once. One more closes a "
        "connection waiting for a request (one that has not sent a whole request head, then "
        "an idle kept-alive one, those that made an authenticated request last; of the client "
        "holding the most connections, its oldest) and is admitted; only when every "
        "connection has a request in progress is it answered 503 and closed. 0 disables.",
    )
    max_connections_per_client: int = Field(
        100,
        ge=0,
        le=1_000_000,
        description="Connections one client address may hold open at once (nginx's "
        "limit_conn). One more closes that client's oldest connection waiting for a request "
        "(as MAX_CONNECTIONS does) and is admitted; only when all of them have a request in "
        "progress is it answered 503 and closed. Behind a reverse proxy every connection "
        "comes from the proxy's address: raise it, or set 0 and limit at the proxy "
        "(docs/deployment.md). 0 disables.",
    )
    keep_alive_timeout_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Seconds an idle kept-alive connection stays open for its next request.",
    )
    rate_limit_per_minute: int = Field(
        60,
        ge=0,
        le=100_000,
        description="Chat, advice, playground and evaluation-run requests (POST /chat, "
        "/chat/stream, /api/chat, /v1/chat/completions, /advice, /advice-non-streaming, "
        "/api/playground/run, /api/v1/benchmark-runs, /api/v1/eval-runs, /api/cleaning/runs, "
        "/api/benchmark/run, and the MCP tools ask and get_advice) one caller may make per "
        "minute: a token bucket, this many at once, refilled at this rate. The caller is the "
        "API key, else (AUTH_ENABLED=false) the client address. Over it: 429 with "
        "Retry-After. 0 disables. Counted in the server process on SQLite, and shared by every "
        "replica on PostgreSQL or with REDIS_URL.",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated origins browsers may call the API from, e.g. "
        "https://chat.example.com; `*` for any (refused with AUTH_ENABLED=false: every "
        "request would act as the admin for any web site). Empty: no CORS headers "
        "(same-origin only).",
    )
    cors_allow_credentials: bool = Field(
        False,
        description="Let browsers send cookies and HTTP auth cross-origin; needs explicit "
        "CORS_ORIGINS (refused together with `*`).",
    )

    @model_validator(mode="after")
    def _no_credentials_for_any_origin(self) -> HttpSettings:
        if self.cors_allow_credentials and "*" in self.cors_origin_list:
            raise ValueError(
                "CORS_ORIGINS='*' together with CORS_ALLOW_CREDENTIALS=true would let any web "
                "site act with a visitor's credentials; list the allowed origins explicitly "
                "or turn credentials off."
            )
        return self

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())
