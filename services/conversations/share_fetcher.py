"""The `PageFetcher` port on httpx: fetch a share page within the import limits.

Rules (settings `IMPORT_*`, see backend/config/conversations.py):
- Only hosts on the allow-list (the host itself or a subdomain of an entry) on the entry's
  port (`host:port`; an entry without a port allows the scheme's default port only), only
  `https` unless `http` is allowed; every redirect hop is checked the same way before it is
  followed (redirects are followed here, at most `MAX_REDIRECTS`, never by httpx).
- A host whose address is private, loopback, link-local or otherwise not public is refused
  unless private hosts are allowed (a test server on 127.0.0.1 needs that). The address is
  checked when the name is resolved here; httpx resolves it again to connect, so a name whose
  address changes in between (DNS rebinding) is not caught: the allow-list is the boundary.
- A page larger than the byte limit is refused while it streams in (`PayloadTooLarge`); the
  whole fetch, from the first connection to the last byte, redirects and slowly sent headers
  included, has one time budget (`UpstreamTimeout`): it runs on an event loop of its own
  under `asyncio.timeout`, which cancels whatever read is waiting. Any answer other than 200
  is `UpstreamBadResponse`, which does not repeat the upstream's status (the upstream's
  answers are not relayed to the caller).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from use_cases.conversations.import_domain import HostNotAllowed
from use_cases.shared.errors import PayloadTooLarge, UpstreamBadResponse, UpstreamTimeout

__all__ = ["MAX_REDIRECTS", "ShareFetcher", "host_allowed"]

MAX_REDIRECTS = 5
_USER_AGENT = "Almanac conversation import (+https://github.com/)"


_DEFAULT_PORTS = {"https": 443, "http": 80}


def host_allowed(host: str, port: int, scheme: str, allowed: Sequence[str]) -> bool:
    """Whether `host:port` is on the allow-list: an entry's host or one of its subdomains,
    on the entry's port, or on the scheme's default port for an entry without one."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry_host, entry_port = _entry(entry)
        wanted = entry_port if entry_port is not None else _DEFAULT_PORTS.get(scheme)
        if port == wanted and (host == entry_host or host.endswith("." + entry_host)):
            return True
    return False


def _entry(entry: str) -> tuple[str, int | None]:
    parts = urlsplit("//" + entry.strip().lower())
    try:
        return (parts.hostname or "").rstrip("."), parts.port
    except ValueError:  # not a port: an entry that allows nothing
        return "", None


class ShareFetcher:
    def __init__(
        self,
        allowed_hosts: Sequence[str],
        *,
        max_bytes: int,
        timeout_s: float,
        allow_http: bool = False,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allowed = tuple(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip())
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._schemes = ("https", "http") if allow_http else ("https",)
        self._allow_private = allow_private
        self._transport = transport

    def fetch(self, url: str) -> tuple[str, str]:
        """The final URL and the page's text (called on a worker thread: it runs its own
        event loop, so the deadline can cancel a read that is still waiting)."""
        return asyncio.run(self._fetch_in_time(url))

    async def _fetch_in_time(self, url: str) -> tuple[str, str]:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._fetch(url)
        except TimeoutError:
            raise self._timed_out(url) from None

    async def _fetch(self, url: str) -> tuple[str, str]:
        async with httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            timeout=self._timeout_s,
            headers={"User-Agent": _USER_AGENT, "Accept": "text/html,application/json"},
            trust_env=False,
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                await asyncio.to_thread(self.check, url)
                try:
                    page = await self._get(client, url)
                except httpx.TimeoutException:
                    raise self._timed_out(url) from None
                except httpx.HTTPError as exc:
                    raise UpstreamBadResponse(
                        f"Could not fetch {_host(url)}: {type(exc).__name__}."
                    ) from None
                if isinstance(page, str):
                    return url, page
                url = page[0]
        raise UpstreamBadResponse(f"More than {MAX_REDIRECTS} redirects; not followed.")

    async def _get(self, client: httpx.AsyncClient, url: str) -> str | tuple[str]:
        """The page's text, or (the redirect's target,)."""
        async with client.stream("GET", url) as response:
            if response.is_redirect:
                location = response.headers.get("location", "")
                if not location:
                    raise UpstreamBadResponse("A redirect without a Location.")
                return (urljoin(url, location),)
            if response.status_code != 200:
                raise UpstreamBadResponse(
                    f"{_host(url)} did not answer with the shared page (the link may be "
                    "wrong, expired or private)."
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self._max_bytes:
                    raise self._too_large()
            return body.decode(response.encoding or "utf-8", errors="replace")

    def check(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            raise HostNotAllowed("This is not a link that can be fetched.") from None
        if parts.scheme not in self._schemes:
            raise HostNotAllowed(
                f"Only {' or '.join(self._schemes)} links are imported, not {parts.scheme!r}."
            )
        if not host or not host_allowed(host, port, parts.scheme, self._allowed):
            raise HostNotAllowed(
                f"{host or 'This link'}:{port} is not a host conversations are imported "
                f"from (allowed: {', '.join(self._allowed) or 'none'}; IMPORT_ALLOWED_HOSTS)."
            )
        if not self._allow_private and not _public(host, port):
            raise HostNotAllowed(f"{host} has a private or local address; not fetched.")

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The share page is larger than {self._max_bytes:,} bytes (IMPORT_MAX_PAGE_BYTES)."
        )

    def _timed_out(self, url: str) -> UpstreamTimeout:
        return UpstreamTimeout(
            f"{_host(url)} did not send the page within {self._timeout_s:g} s (IMPORT_TIMEOUT_S)."
        )


def _host(url: str) -> str:
    return urlsplit(url).hostname or "The host"


def _public(host: str, port: int) -> bool:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise UpstreamBadResponse(f"{host} could not be resolved.") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return False
    return bool(infos)
