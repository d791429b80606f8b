"""Which addresses a website source may connect to, checked where the connection is made.

Rules:
- Only `http` and `https` URLs are fetched (`check_scheme`).
- A host's name is resolved here, once per connection, and every address it resolves to is
  checked (`public`): a loopback, private, link-local, multicast, reserved or otherwise not
  global address, or an IPv6 address carrying such an IPv4 one (mapped, NAT64, 6to4,
  Teredo), is refused unless the host is on the allow-list (`SOURCE_ALLOWED_HOSTS`, the
  name as written in the URL, or the IP literal). The connection is then made to an address that
  passed, never to the name: a name that resolves to a public address for the check and to a
  private one for the connection (DNS rebinding) cannot slip between the two.
- The check is in the transport's network backend, so it holds for every request the crawl
  makes (robots.txt, sitemaps, pages) and for every redirect hop, which the crawl follows
  itself, one request at a time.
- No proxy from the environment is used (`trust_env=False` where the client is built): a
  proxy would make the checked address the proxy's, not the site's.
- TLS is verified against the host's name (httpcore sends the URL's host as SNI and checks
  the certificate for it), although the socket was opened to the address.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

import anyio
import httpcore
import httpx

__all__ = [
    "AddressRefused",
    "GuardedTransport",
    "Resolver",
    "check_scheme",
    "normalise_host",
]

#: Resolves (host, port) to the IP addresses a connection may go to.
Resolver = Callable[[str, int], Sequence[str]]

SCHEMES = ("http", "https")


class AddressRefused(httpx.TransportError):
    """A URL's scheme or host's address is not one a website source may reach."""


def normalise_host(host: str) -> str:
    """A host as the allow-list compares it: lower case, no trailing dot, no IPv6 brackets,
    no port (`wiki.example:8080` allows `wiki.example`, on any port)."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def check_scheme(url: str) -> None:
    scheme = url.split(":", 1)[0].lower()
    if scheme not in SCHEMES:
        raise AddressRefused(f"Only http and https URLs are read, not {scheme!r} ({url}).")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for `host` (IPv6 scope ids dropped)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def public(address: str) -> bool:
    """Whether an IP address is one a website source may reach without being allowed:
    global and not multicast, and so is the IPv4 address an IPv6 one carries (IPv4-mapped,
    NAT64, 6to4, Teredo), which the network may deliver to."""
    ip = ipaddress.ip_address(address)
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        carried = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in _NAT64:
            carried.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(public(str(inner)) for inner in carried if inner is not None)
    return True


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """anyio's network backend, connecting only to checked addresses of the host."""

    def __init__(self, allowed_hosts: Iterable[str], resolve: Resolver) -> None:
        self._allowed = frozenset(normalise_host(h) for h in allowed_hosts if h.strip())
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.addresses(host, port, timeout)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def addresses(self, host: str, port: int, limit_s: float | None) -> list[str]:
        """The addresses of `host` a connection may go to, or `AddressRefused` saying why."""
        name = normalise_host(host)
        try:
            with anyio.fail_after(limit_s):
                found = await anyio.to_thread.run_sync(self._resolve, name, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{name} was not resolved in time.") from None
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{name} could not be resolved: {exc}") from None
        if not found:
            raise httpcore.ConnectError(f"{name} has no address.")
        if name in self._allowed:
            return list(found)
        refused = [a for a in found if not public(a)]
        if refused:
            raise AddressRefused(
                f"{name} resolves to {refused[0]}, a loopback, private, link-local or "
                "otherwise non-public address: not fetched (list the host in "
                "SOURCE_ALLOWED_HOSTS to read an intranet site)."
            )
        return list(found)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("Unix sockets are not reached by website sources.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over httpcore whose every connection goes through the address
    check (the module docstring says which). One connection per host, so the crawl's
    requests to a host are made one at a time."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        *,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=4,
            max_keepalive_connections=4,
            keepalive_expiry=30.0,
            network_backend=_GuardedBackend(allowed_hosts, resolve),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_scheme(str(request.url))
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped():
            response = await self._pool.handle_async_request(core_request)
        assert isinstance(response.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class _mapped:
    """httpcore's exceptions as httpx's (what the crawl catches); `AddressRefused` as is."""

    _MAP: typing.ClassVar[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
        (httpcore.ConnectTimeout, httpx.ConnectTimeout),
        (httpcore.ReadTimeout, httpx.ReadTimeout),
        (httpcore.WriteTimeout, httpx.WriteTimeout),
        (httpcore.PoolTimeout, httpx.PoolTimeout),
        (httpcore.TimeoutException, httpx.TimeoutException),
        (httpcore.ConnectError, httpx.ConnectError),
        (httpcore.ReadError, httpx.ReadError),
        (httpcore.WriteError, httpx.WriteError),
        (httpcore.NetworkError, httpx.NetworkError),
        (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
        (httpcore.ProtocolError, httpx.ProtocolError),
        (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    )

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or isinstance(exc, httpx.TransportError):
            return
        for core, mapped in self._MAP:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
