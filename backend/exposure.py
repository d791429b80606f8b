"""Where the server may listen, and what it says about authentication when it starts.

With authentication off (AUTH_ENABLED=false, the development default) every request acts as
the local admin, so the server only listens on loopback (127.0.0.0/8, ::1, localhost) unless
forced with `almanac serve --insecure-bind` or ALLOW_UNAUTHENTICATED_NETWORK=true.
"""

from __future__ import annotations

import ipaddress

from loguru import logger

from backend.config import Settings
from use_cases.shared.errors import ConfigurationError

CREATE_KEY_HINT = "almanac keys create --user YOUR_ID --role admin"


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings, *, insecure_bind: bool = False) -> None:
    """Raise `ConfigurationError` rather than serve without authentication beyond loopback;
    when forced, say loudly what that means."""
    if settings.auth.enabled or is_loopback(host):
        return
    if insecure_bind or settings.auth.allow_unauthenticated_network:
        logger.warning(
            "Serving on {} with authentication OFF (forced): anyone who can reach this port "
            "acts as admin {!r}. Only the host names {} are answered (ALLOWED_HOSTS): add "
            "those clients use.",
            host,
            settings.auth.default_user_id,
            ", ".join(settings.auth.allowed_host_list),
        )
        return
    raise ConfigurationError(
        f"Refusing to listen on {host} with authentication off (AUTH_ENABLED=false): anyone "
        "who can reach it would act as admin. Set AUTH_ENABLED=true and create a key "
        f"(`{CREATE_KEY_HINT}`), or listen on 127.0.0.1, or force it with --insecure-bind "
        "or ALLOW_UNAUTHENTICATED_NETWORK=true."
    )


def check_cors(settings: Settings) -> None:
    """Raise `ConfigurationError` rather than let any web site read a development server:
    with authentication off every request acts as the admin, so `CORS_ORIGINS=*` would let
    any page the local user visits read every chat and document through their browser. With
    authentication on, `*` is allowed: a key is needed, and a wildcard never carries
    credentials (`CORS_ALLOW_CREDENTIALS` is refused with it)."""
    if settings.auth.enabled or "*" not in settings.http.cors_origin_list:
        return
    raise ConfigurationError(
        "Refusing CORS_ORIGINS='*' with authentication off (AUTH_ENABLED=false): every "
        "request acts as the admin, so any web site the local user visits could read every "
        "chat and document. List the origins that may call the API (e.g. "
        "CORS_ORIGINS=http://localhost:3000), or set AUTH_ENABLED=true and use API keys."
    )


def log_auth_status(settings: Settings, usable_keys: int) -> None:
    """One start-up line on how requests are authenticated, and what to do if none can be."""
    if not settings.auth.enabled:
        logger.warning(
            "Authentication is OFF (AUTH_ENABLED=false): every request acts as {!r} with the "
            "admin role, and `almanac serve` listens on loopback only. Set AUTH_ENABLED=true "
            "and create API keys before exposing Almanac.",
            settings.auth.default_user_id,
        )
    elif usable_keys == 0:
        logger.warning(
            "Authentication is on, but no API key exists yet: every request except /health "
            "and /docs will get 401. Create one with `{}`.",
            CREATE_KEY_HINT,
        )
    else:
        logger.info("Authentication is on: {} active API key(s).", usable_keys)
