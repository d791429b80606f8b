"""One HTTP exchange of a crawl: a GET within a time and size budget, redirects not followed.

Rules:
- Every request goes through `GuardedTransport` (guard.py: only http(s), only checked
  addresses), with no proxy from the environment and no redirects followed by httpx: the
  crawl follows them itself, each hop checked against its scope and robots.txt.
- The whole exchange, from connecting to the last byte, slow headers and a body that never
  ends included, has one deadline (`asyncio.timeout`, which cancels the read that is waiting):
  a slow server costs at most the page time limit.
- A body is read as it streams in and refused past its byte cap (a declared Content-Length
  over it before reading). Compressed bodies (gzip, deflate) are inflated here in bounded
  steps, so the cap counts inflated bytes and a small compressed body cannot blow up memory.
- One request at a time per site, across every crawl in this process (`host_turn`), with the
  delay asked for between two of them.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

__all__ = ["Answer", "BodyTooLarge", "FetchTimeout", "Unreadable", "exchange", "host_turn"]

_STEP = 64 * 1024


class BodyTooLarge(Exception):
    """A body over its byte cap."""


class FetchTimeout(Exception):
    """An exchange that did not end within its time limit."""


class Unreadable(Exception):
    """A body in an encoding that is not read here (br, zstd, ...)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes


class _Inflater:
    """A Content-Encoding undone chunk by chunk, no step producing more than `_STEP` bytes."""

    def __init__(self, encoding: str) -> None:
        coding = encoding.strip().lower()
        if coding in ("", "identity"):
            self._inflater = None
        elif coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
        else:
            raise Unreadable(f"the body's Content-Encoding {coding!r} is not read")

    def parts(self, chunk: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            yield chunk
            return
        try:
            while chunk:
                yield self._inflater.decompress(chunk, _STEP)
                chunk = self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise Unreadable(f"the compressed body is corrupt ({exc})") from None


async def exchange(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    timeout_s: float,
    max_bytes: int,
    sink: Callable[[bytes], bool] | None = None,
    wanted: Callable[[httpx.Headers], bool] | None = None,
) -> Answer:
    """GET `url`; a 2xx body is read (into the answer, or given to `sink`, which returns
    False once it has what it needs) within `max_bytes` and `timeout_s` for the whole.
    `wanted(headers)` False: the body is not read at all (the answer's body is empty)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("GET", url, headers=headers) as response:
                body = bytearray()
                if 200 <= response.status_code < 300 and (
                    wanted is None or wanted(response.headers)
                ):
                    declared = response.headers.get("content-length", "")
                    encoding = response.headers.get("content-encoding", "")
                    too_long = declared.isdigit() and int(declared) > max_bytes
                    if sink is None and not encoding and too_long:
                        raise BodyTooLarge(f"its Content-Length is {int(declared):,} bytes")
                    inflater = _Inflater(encoding)
                    read = 0
                    async for chunk in response.aiter_raw():
                        for part in inflater.parts(chunk):
                            read += len(part)
                            if read > max_bytes:
                                raise BodyTooLarge(f"it is larger than {max_bytes:,} bytes")
                            if sink is None:
                                body.extend(part)
                            elif sink(part) is False:
                                return Answer(response.status_code, response.headers, b"")
                return Answer(response.status_code, response.headers, bytes(body))
    except TimeoutError:
        raise FetchTimeout(f"it did not arrive within {timeout_s:g} s") from None


class _Pacer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = float("-inf")


_PACERS: dict[tuple[str, int], _Pacer] = {}
_PACERS_LOCK = threading.Lock()


@contextmanager
def host_turn(
    site: tuple[str, int],
    delay_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """This process's one turn at `site` (host, port): waits for the turn, then until
    `delay_s` has passed since the site's last request ended, and holds the turn while the
    request runs."""
    with _PACERS_LOCK:
        pacer = _PACERS.setdefault(site, _Pacer())
    with pacer.lock:
        wait = pacer.last + delay_s - clock()
        if wait > 0:
            sleep(wait)
        try:
            yield
        finally:
            pacer.last = clock()
