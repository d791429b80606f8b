"""The HTTP/1.1 protocol `almanac serve` runs: uvicorn's h11 protocol with the request head
bounded for everyone, before any authentication or application code sees the request.

uvicorn's defaults leave the head open: with `httptools` (what `uvicorn[standard]` picks)
no size limit at all (a 64 MiB header line was answered 200), with h11 one buffer limit
answered 400, and with either no time limit while a head arrives (200 connections each
trickling an endless 32 MiB header would hold ~7 GB until the client gave up). So the
protocol is pinned to h11 (`PROTOCOL`) and this subclass adds, per the `HTTP limits`
settings (`HeadLimits`):

- **Size**: a head line longer than `MAX_HEADER_LINE_BYTES`, or a head longer than
  `MAX_HEADER_BYTES` in all, is answered 431 and the connection closed, counted as the bytes
  arrive (before h11 buffers them), so a connection never holds more than that. A head
  pipelined behind a whole request, which h11 holds until that request's response is sent
  and uvicorn then parses without `data_received`, is counted as well, by a meter of its own
  (`_after_events`): 431 once the response in progress is sent, reading stopped meanwhile.
- **Time**: the whole head (from the connection, or from a kept-alive request's first byte, to
  its blank line) must arrive within `HEADER_TIMEOUT_S`, however it is trickled: past it, 408
  and close. A connection that sends nothing is closed at the same deadline, without an
  answer (no request was made).
- **Connections**: at most `MAX_CONNECTIONS` open at once in the process, and at most
  `MAX_CONNECTIONS_PER_CLIENT` from one client address. A full cap does not refuse the
  newcomer, or a thousand idle sockets would lock everyone out: it closes a connection that
  is waiting for a request and admits the newcomer (backend/http_connections.py says which:
  one already refused, then one that has not sent a whole head, then one kept alive between
  requests, those that made an authenticated request last; for the per-client cap that
  client's own, for the process's cap the client holding the most; the oldest first). A
  connection so closed gets no answer, as an idle kept-alive one closed at its timeout. Only
  when every connection has a request in progress is the newcomer answered 503 and closed.
  Behind a reverse proxy every connection comes from the proxy's address: raise the
  per-client cap or set it to 0 and let the proxy limit (docs/deployment.md).
- **Keep-alive**: an idle kept-alive connection is closed after `KEEP_ALIVE_TIMEOUT_S`
  (uvicorn's own timer, given the setting).

A refusal is written as a complete response with `Connection: close`, then the connection
lingers (reading and dropping at most `LINGER_BYTES` for at most `LINGER_S`) before it is
closed, as nginx's lingering close does: closing a socket with unread bytes resets it, and
the client could lose the answer it is about to read.

A request is authenticated when the app, answering it, left its caller in the ASGI scope's
`state` (`AUTHENTICATED_STATE`, as `request.state.caller`): the protocol checks no key
itself, and a made-up key earns nothing. With AUTH_ENABLED=false every request to a
protected route counts as authenticated (its caller is the local admin).

The counts are per server process (each of `--workers N` keeps its own).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from backend.config import HttpSettings, Settings
from backend.http_connections import ConnectionTable, Stand

__all__ = [
    "AUTHENTICATED_STATE",
    "LINGER_BYTES",
    "LINGER_S",
    "PROTOCOL",
    "BoundedH11Protocol",
    "HeadLimits",
]

#: How `uvicorn.run(http=...)` names the protocol: an import path, so that each process of
#: `--workers N` (started afresh) imports it too.
PROTOCOL = "backend.http_server:BoundedH11Protocol"
#: Seconds and bytes a refused connection is read (and what it sends dropped) before closing.
LINGER_S = 2.0
LINGER_BYTES = 1024 * 1024
#: What the app leaves in a request's ASGI scope `state` once it has authenticated the request
#: (`request.state.caller`, backend/api/deps.py): the connection then gives way after others.
AUTHENTICATED_STATE = "caller"


@dataclass(frozen=True)
class HeadLimits:
    """What one request head and one client may take (the `HTTP limits` settings); 0 turns a
    limit off."""

    max_header_line_bytes: int
    max_header_bytes: int
    header_timeout_s: float
    max_connections: int
    max_connections_per_client: int
    keep_alive_timeout_s: float

    @classmethod
    def of(cls, http: HttpSettings) -> HeadLimits:
        return cls(
            max_header_line_bytes=http.max_header_line_bytes,
            max_header_bytes=http.max_header_bytes,
            header_timeout_s=http.header_timeout_s,
            max_connections=http.max_connections,
            max_connections_per_client=http.max_connections_per_client,
            keep_alive_timeout_s=http.keep_alive_timeout_s,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """What `uvicorn.run` is given besides the app, the address and the logging."""
        return {
            "http": PROTOCOL,
            "ws": "none",  # no WebSocket route: an upgrade would leave these counts behind
            "timeout_keep_alive": self.keep_alive_timeout_s,
            # h11's own buffer limit, a net past ours (it answers 400, not 431).
            "h11_max_incomplete_event_size": 2 * max(self.max_header_bytes, 64 * 1024),
        }


class HeadMeter:
    """The size of one request head as its bytes arrive: `feed` returns why the head is too
    large (the 431's text), or None. Only the bytes up to the head's blank line are counted
    (what follows is its body); a line runs on from one piece into the next."""

    def __init__(self, max_line: int, max_total: int) -> None:
        self.max_line = max_line
        self.max_total = max_total
        self.total = 0
        self.line = 0
        self.done = False
        self._tail = b""

    def feed(self, data: bytes) -> str | None:
        if self.done:
            return None
        window = self._tail + data
        ends = [i for i in map(window.find, _BLANK_LINES) if i >= 0]
        if ends:  # the head ends in this piece: what follows its last line is not counted
            data, self.done = data[: max(min(ends) - len(self._tail), 0)], True
        self._tail = window[-3:]
        self.total += len(data)
        if self.max_total and self.total > self.max_total:
            return f"The request head is larger than {self.max_total:,} bytes."
        if not self.max_line:
            return None
        first = data.find(b"\n")
        if first < 0:
            self.line += len(data)
        else:
            last = data.rfind(b"\n")
            inner = data[first + 1 : last].split(b"\n") if last > first else []
            if self.line + first > self.max_line or max(map(len, inner), default=0) > self.max_line:
                return self._too_long()
            self.line = len(data) - last - 1
        return self._too_long() if self.line > self.max_line else None

    def _too_long(self) -> str:
        return f"A request head line is longer than {self.max_line:,} bytes."


#: What ends a head (h11 takes a bare "\n" for "\r\n").
_BLANK_LINES = (b"\r\n\r\n", b"\n\n", b"\n\r\n")
#: The connections each server counts (one `ServerState` each).
_TABLES: weakref.WeakKeyDictionary[ServerState, ConnectionTable[BoundedH11Protocol]] = (
    weakref.WeakKeyDictionary()
)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the head's size and time, and the connections, bounded
    (module docstring)."""

    #: The limits every connection of this process keeps; None: read from the settings
    #: (the environment) when the first connection is made, as a `--workers` process does.
    limits: ClassVar[HeadLimits | None] = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        cls = type(self)  # a subclass may keep limits of its own (tests/live_server.py)
        if cls.limits is None:
            cls.limits = HeadLimits.of(Settings().http)
        self._limits = cls.limits
        self._table = _TABLES.setdefault(server_state, ConnectionTable())
        #: Whether a request on this connection was authenticated (`AUTHENTICATED_STATE`).
        self._authenticated = False
        self._meter: HeadMeter | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._dropped = 0
        #: Whether `_meter` counts the head of a request pipelined behind the one in progress.
        self._next_head = False
        #: A 431 held until the response in progress is sent (a pipelined head too large).
        self._held_refusal: str | None = None

    # -- connections -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's h11 protocol gets a Transport
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        if not self._make_room(address):
            return
        self._table.admit(self, address, Stand.NEW)
        self._start_head_timer()

    def _make_room(self, address: str) -> bool:
        """Whether the caps take one more connection from `address`, once a connection waiting
        for a request (backend/http_connections.py) is shed where a cap is full; if none may
        be, 503 and False."""
        table, limits = self._table, self._limits
        per_client = limits.max_connections_per_client
        while per_client and table.count(address) >= per_client:
            victim = table.victim(address)
            if victim is None:
                text = f"Too many open connections from {address}: at most {per_client:,}."
                self._refuse(503, text)
                return False
            victim._shed()
        while limits.max_connections and table.count() >= limits.max_connections:
            victim = table.victim()
            if victim is None:
                text = "The server has too many open connections; try again shortly."
                self._refuse(503, text)
                return False
            victim._shed()
        return True

    def _shed(self) -> None:
        """Close this connection, waiting for a request, to make room: without an answer (no
        request is in progress), as an idle kept-alive connection is closed."""
        self._table.drop(self)
        self._unset_keepalive_if_required()
        for timer in (self._head_timer, self._linger):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._linger = None
        self.transport.close()

    def _settle(self) -> None:
        """Put this connection in the stand its state gives (backend/http_connections.py)."""
        self._table.move(self, self._stand())

    def _stand(self) -> Stand | None:
        if self._linger is not None:
            return Stand.CLOSING
        cycle = self.cycle
        if cycle is None:  # no whole request head yet
            return Stand.NEW
        if not cycle.response_complete:  # a request in progress
            return None
        return Stand.IDLE_AUTHENTICATED if self._authenticated else Stand.IDLE

    def connection_lost(self, exc: Exception | None) -> None:
        self._table.drop(self)
        for timer in (self._head_timer, self._linger):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    # -- the head ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:  # refused: read and dropped until it is closed
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self._held_refusal is not None:  # refused once the response is sent: dropped
            return
        state = self.conn.their_state
        if state is h11.IDLE or (state is h11.DONE and self._next_head):
            # a request head is arriving, or the next one pipelined behind a whole request
            if self._meter is None:
                limits = self._limits
                self._meter = HeadMeter(limits.max_header_line_bytes, limits.max_header_bytes)
                self._next_head = state is h11.DONE
                if self._head_timer is None and not self._next_head:
                    self._start_head_timer()
            too_large = self._meter.feed(data)
            if too_large is not None:
                self._too_large(too_large)
                return
        super().data_received(data)
        self._after_events()
        self._settle()

    def on_response_complete(self) -> None:
        """uvicorn starts the next cycle here and parses the head h11 held, if any, without
        `data_received`: the meter that counted it goes on counting what arrives of it, or
        starts on the request after it. A pipelined head found too large is refused here,
        unparsed. A request the app authenticated marks the connection (`_stand`)."""
        state = self.scope.get("state") if self.scope is not None else None
        if isinstance(state, dict) and state.get(AUTHENTICATED_STATE) is not None:
            self._authenticated = True
        if self._held_refusal is not None:
            held, self._held_refusal = self._held_refusal, None
            self.server_state.total_requests += 1
            self.flow.resume_reading()  # what the client sends meanwhile is read and dropped
            self._refuse(431, held)
            return
        super().on_response_complete()
        if self._next_head:
            self._next_head = False
            if self.conn.their_state is h11.IDLE:  # the head arriving: timed from here
                if self._head_timer is None and self._meter is not None and self._meter.total:
                    self._start_head_timer()
            else:  # h11 held it whole: read
                self._meter = None
        self._after_events()
        self._settle()

    def _after_events(self) -> None:
        """Once h11 has read what it was given: the head that was arriving is in (its meter
        and timer go), and when the whole request is in, what h11 holds past it and what
        arrives until the response is sent is the next request's head, pipelined: h11 keeps
        it (up to its own buffer's limit, twice ours, answered 400) until then, so it is
        counted by a meter of its own against the same limits (431)."""
        state = self.conn.their_state
        if state is h11.IDLE or self.transport.is_closing():
            return
        if not self._next_head:
            self._meter = None
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        if state is h11.DONE and not self._next_head:
            limits = self._limits
            self._meter = HeadMeter(limits.max_header_line_bytes, limits.max_header_bytes)
            self._next_head = True
            held = self.conn.trailing_data[0]
            too_large = self._meter.feed(held) if held else None
            if too_large is not None:
                self._too_large(too_large)

    def _too_large(self, text: str) -> None:
        """431 now, or, with a response in progress (a pipelined head), once it is sent:
        reading stops meanwhile, so no more of the head is taken in."""
        cycle = self.cycle
        in_progress = cycle is not None and not cycle.response_complete
        if self._next_head and in_progress and self.conn.their_state is h11.DONE:
            self._held_refusal = text
            self._meter = None
            self.flow.pause_reading()
            return
        self._refuse(431, text)

    def _start_head_timer(self) -> None:
        if self._limits.header_timeout_s:
            self._head_timer = self.loop.call_later(
                self._limits.header_timeout_s, self._head_timed_out
            )

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self._meter is None:  # not a byte of a head: an idle connection, closed quietly
            self.transport.close()  # (a browser's unused preconnection must not read a 408)
        else:
            self._refuse(
                408,
                f"The request head did not arrive within {self._limits.header_timeout_s:g} s.",
            )

    # -- refusing ----------------------------------------------------------------------

    def _refuse(self, status: int, text: str) -> None:
        """Answer `status` with `text` and close (lingering: module docstring)."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._unset_keepalive_if_required()
        self._meter = None
        self._next_head = False
        if self.transport.is_closing():
            return
        body = (text + "\n").encode()
        reason = {408: "Request Timeout", 431: "Request Header Fields Too Large"}.get(
            status, "Service Unavailable"
        )
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_S, self.transport.close)
        self._settle()
        if status != 503:  # a cap's refusals come in bursts: not logged one by one
            self.logger.info("Refused a request head from %s: %s %s", self._who(), status, text)

    def _who(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
