"""Which hosts and origins are this server's own: no other site may drive it (plain ASGI).

Rules:
- Host (`ALLOWED_HOSTS`): a request whose `Host` is not an allowed host name (any port) is
  answered 421 Misdirected Request (`misdirected_request`) before anything runs, naming the
  setting to change. Unset, the allowed names are `localhost`, `127.0.0.1` and `[::1]` while
  AUTH_ENABLED=false, and any host with AUTH_ENABLED=true (keys and cookies protect it; a set
  ALLOWED_HOSTS is enforced there too). A DNS-rebinding page reaches a development server
  under its own host name, so its requests are refused here. A request without a `Host`
  (HTTP/1.0) does not come from a browser and passes.
- 421, not 400: the request is well formed, it is only sent to a host this server does not
  answer for, which is what RFC 9110 (section 15.5.20) gives 421 for.
- Cross-site changes with authentication off: a POST, PUT, PATCH or DELETE whose `Origin` is
  neither the request's own (scheme, host and port of the URL it was sent to) nor listed in
  `CORS_ORIGINS` (an explicit origin; `*` does not count), or whose `Sec-Fetch-Site` is
  `cross-site` without such a listed `Origin`, is refused with 403 `forbidden` before its body
  is read: another site's page cannot make a visitor's browser change anything. Requests
  without `Origin` (curl, the CLI, scripts) pass. With AUTH_ENABLED=true this is the session
  cookie's check instead (`deps.require_same_origin`): a key cannot be sent by another site.
- The server's own origin is the scheme and `Host` the request reached it with; never
  `X-Forwarded-Host`, which any client may send. `PUBLIC_URL` (else the origin of
  `OIDC_REDIRECT_URI`) names it when a proxy in front passes another Host
  (`public_origin`, used by the cookie check).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.problems import problem_response
from backend.config import Settings

#: Methods that change something (a cross-site one is refused with authentication off).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

#: (scheme, host, port) of an origin: `https://a.example` is ("https", "a.example", 443).
Origin = tuple[str, str, int]


def split_host(value: str) -> tuple[str, str]:
    """A `Host` value's lower-case name (IPv6 in brackets, no trailing dot) and port ("")."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        return f"{name}]", rest.removeprefix(":")
    name, _, port = value.partition(":")
    return name.rstrip("."), port


def host_allowed(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether host `name` is one of `patterns`: a name, `*.example.org` (its subdomains) or
    `*` (any)."""
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def parse_origin(value: str | None) -> Origin | None:
    """An `Origin` header (or a URL) as (scheme, host, port); None when it is missing, `null`
    or not an http(s) URL."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return None
    name, _ = split_host(parts.netloc.rpartition("@")[2])
    return scheme, name, port or DEFAULT_PORTS[scheme]


def request_origin(scope: Scope) -> Origin | None:
    """The origin the request was sent to: its scheme (https behind a proxy uvicorn trusts)
    and its `Host`; None without a Host."""
    host = Headers(scope=scope).get("host")
    if not host:
        return None
    scheme = str(scope.get("scheme", "http"))
    return parse_origin(f"{scheme}://{host}")


def public_origin(settings: Settings) -> Origin | None:
    """This server's public origin, when configured: PUBLIC_URL, else OIDC_REDIRECT_URI's."""
    return parse_origin(settings.auth.public_url or settings.auth.oidc_redirect_uri)


def show(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}" + ("" if DEFAULT_PORTS[scheme] == port else f":{port}")


class SiteGuardMiddleware:
    """Refuses other hosts (421) and, with authentication off, other sites' changes (403)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = settings.auth.allowed_host_list
        self.listed = {
            origin
            for origin in (parse_origin(o) for o in settings.http.cors_origin_list if o != "*")
            if origin is not None
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> ASGIApp | None:
        headers = Headers(scope=scope)
        path = scope.get("path")
        host = headers.get("host")
        if host is not None and not host_allowed(split_host(host)[0], self.hosts):
            return problem_response(
                421,
                "misdirected_request",
                f"This server does not answer for the host {host[:200]!r}; it answers for "
                f"{', '.join(self.hosts)} (any port). To reach it under this name, add the "
                "name to ALLOWED_HOSTS (comma-separated).",
                instance=path,
            )
        if self.settings.auth.enabled or scope.get("method") not in UNSAFE_METHODS:
            return None
        sent = headers.get("origin")
        origin = parse_origin(sent)
        if origin is not None and origin in self.listed:
            return None
        if sent is not None and origin != request_origin(scope):
            why = f"its Origin {sent[:200]!r} is another site"
        elif headers.get("sec-fetch-site", "").lower() == "cross-site":
            why = "the browser says it comes from another site (Sec-Fetch-Site: cross-site)"
        else:
            return None
        return problem_response(
            403,
            "forbidden",
            f"Refused a {scope.get('method')} from another site's page: {why}. With "
            "authentication off (AUTH_ENABLED=false) every request acts as the admin, so only "
            "this server's own pages and clients that send no Origin (curl, the CLI, scripts) "
            "may change anything; list a trusted web app's origin in CORS_ORIGINS.",
            instance=path,
        )
