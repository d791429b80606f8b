"""A connection cap that one party cannot fill (backend/http_server.py,
backend/http_connections.py): real sockets against a real server on loopback.

The probe that found it: ~1,000 idle sockets that never sent a byte, from 11 loopback
addresses (100 each, the per-client cap), made every new client, `/health` included, get 503,
and reopening them as they timed out kept it so; a client with a key, from the flooding
address or any other, got 503 too. Now a full cap closes a connection waiting for a request
(the flooding client's oldest) and admits the newcomer; only when every connection has a
request in progress is the newcomer answered 503.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, Request

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from backend.config import HttpSettings
from backend.http_server import AUTHENTICATED_STATE, HeadLimits
from tests.conftest import FixedClock, make_settings
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN

#: A safety net on every socket read (a server that never answers fails, it does not hang).
SAFETY_NET_S = 60
#: Small caps, so that filling them is cheap; no head time limit, so that nothing the flood
#: holds is closed by a timer while the test runs (only a cap may close it).
LIMITS = replace(
    HeadLimits.of(HttpSettings()),
    max_connections=40,
    max_connections_per_client=10,
    header_timeout_s=0,
    keep_alive_timeout_s=600,
)


def _connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", port), timeout=SAFETY_NET_S, source_address=(source, 0)
    )


def _send(sock: socket.socket, path: str, headers: str = "") -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())


def _status(sock: socket.socket) -> int:
    """The status of the response `sock` receives next, read whole (the connection may stay
    open); 0 if the server closed it first."""
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return 0
        if not chunk:
            return 0
        head += chunk
    head, _, body = head.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ", 2)[1])


def _ask(sock: socket.socket, path: str, headers: str = "") -> int:
    _send(sock, path, headers)
    return _status(sock)


def _whole_answer(sock: socket.socket) -> bytes:
    """Everything the server sends on `sock` until it closes it."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _closed(sock: socket.socket) -> bool:
    """Whether the server closed `sock` without a word (waits for it: the safety net)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def _untouched(socks: list[socket.socket]) -> list[socket.socket]:
    """Those of `socks` on which the server has sent nothing so far, not even a close."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    readable = {fd for fd, _ in poller.poll(0)}
    return [sock for sock in socks if sock.fileno() not in readable]


@pytest.fixture
def keyed_app(data_dir: Path) -> Iterator[tuple[FastAPI, str]]:
    """The app with authentication on, and a user's key header."""
    built = bootstrap(make_settings(data_dir, auth_enabled=True), clock=FixedClock())
    try:
        key = asyncio.run(built.access.create_key.execute(CLI_ADMIN, user_id="ana", role="user"))
        yield create_app(container=built), f"Authorization: Bearer {key.secret}\r\n"
    finally:
        built.close()


@pytest.fixture
def keyed_server(keyed_app: tuple[FastAPI, str]) -> Iterator[tuple[int, str]]:
    """The app with authentication on, under `LIMITS`: its port and a user's key header."""
    app, key = keyed_app
    with serve(app, LIMITS) as url:
        yield int(url.rsplit(":", 1)[1]), key


def test_idle_keyless_sockets_filling_both_caps_lock_no_one_out(
    keyed_server: tuple[int, str],
) -> None:
    """40 sockets that never send a byte hold both caps (127.0.0.2 its 10, five more
    addresses 6 each): a client with a key (from another address, and from the flooding one)
    and a keyless one are served, each admitted by closing the oldest socket of the address
    holding the most; a second wave of the flood closes only flood sockets."""
    port, key = keyed_server
    with ExitStack() as held:
        first = [held.enter_context(_connect(port, "127.0.0.2")) for _ in range(10)]
        rest = [held.enter_context(_connect(port, f"127.0.0.{3 + n // 6}")) for n in range(5 * 6)]

        keyed = held.enter_context(_connect(port, "127.0.0.1"))
        assert _ask(keyed, "/health") == 200
        assert _ask(keyed, "/chats", key) == 200
        assert _ask(keyed, "/chats") == 401  # the route needs the key
        flooder_keyed = held.enter_context(_connect(port, "127.0.0.2"))
        assert _ask(flooder_keyed, "/chats", key) == 200
        keyless = held.enter_context(_connect(port, "127.0.0.20"))
        assert _ask(keyless, "/health") == 200

        # 127.0.0.2 held the most each time: its three oldest gave way, no one else's.
        assert all(_closed(sock) for sock in first[:3])
        assert _untouched(first[3:] + rest) == first[3:] + rest

        # The flood comes back (a second wave of 30): each displaces one flood socket, never
        # the clients' kept-alive connections.
        wave = [held.enter_context(_connect(port, f"127.0.0.{2 + n % 6}")) for n in range(30)]
        assert _ask(wave[-1], "/health") == 200  # the whole wave is in (admitted in order)
        flood = first[3:] + rest + wave
        assert len(flood) - len(_untouched(flood)) == len(wave)
        assert _ask(keyed, "/chats", key) == 200
        assert _ask(flooder_keyed, "/chats", key) == 200
        assert _ask(keyless, "/health") == 200


def test_a_connection_the_app_authenticated_gives_way_after_keyless_and_made_up_keys(
    keyed_app: tuple[FastAPI, str],
) -> None:
    """At the per-client cap (3), among idle kept-alive connections, one that made a request
    the app authenticated stays while one that sent a made-up key (401) and a keyless one give
    way, the one idle longest first."""
    app, key = keyed_app
    with serve(app, replace(LIMITS, max_connections_per_client=3)) as url, ExitStack() as held:
        port = int(url.rsplit(":", 1)[1])

        def connect() -> socket.socket:
            return held.enter_context(_connect(port, "127.0.0.1"))

        keyed, made_up, keyless = connect(), connect(), connect()
        assert _ask(keyed, "/chats", key) == 200
        assert _ask(made_up, "/chats", "Authorization: Bearer alm_made-up\r\n") == 401
        assert _ask(keyless, "/health") == 200

        newcomer = connect()
        assert _ask(newcomer, "/health") == 200
        assert _closed(made_up)
        assert _untouched([keyed, keyless]) == [keyed, keyless]
        another = connect()
        assert _ask(another, "/health") == 200
        assert _closed(keyless)
        assert _untouched([keyed, newcomer]) == [keyed, newcomer]
        assert _ask(keyed, "/chats", key) == 200


def _ordering_app() -> tuple[FastAPI, threading.Event, threading.Semaphore]:
    """/health; /whoami, authenticated with `X-API-Key: k` (as the app's own dependency
    leaves its caller in the request's state); /slow, which holds its request until `release`
    is set and signals `started` as it begins."""
    app = FastAPI()
    release = threading.Event()
    started = threading.Semaphore(0)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        if request.headers.get("x-api-key") != "k":
            raise HTTPException(401)
        setattr(request.state, AUTHENTICATED_STATE, "ana")
        return {"caller": "ana"}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        started.release()
        await asyncio.to_thread(release.wait, SAFETY_NET_S)
        return {"status": "done"}

    return app, release, started


def test_a_full_cap_sheds_new_then_idle_then_authenticated_and_refuses_only_when_all_are_busy() -> (
    None
):
    """Per client (4): with one authenticated idle connection, one keyless idle one and two
    busy ones, newcomers displace the keyless idle one first, then the authenticated one, and
    one more while all four are busy is answered 503. The process's cap (6) likewise, once
    everything is busy. The busy requests are all answered in the end."""
    app, release, started = _ordering_app()
    limits = replace(LIMITS, max_connections=6, max_connections_per_client=4)
    with serve(app, limits) as url, ExitStack() as held:
        port = int(url.rsplit(":", 1)[1])

        def connect(source: str = "127.0.0.1") -> socket.socket:
            return held.enter_context(_connect(port, source))

        def start_slow(sock: socket.socket) -> socket.socket:
            _send(sock, "/slow")
            assert started.acquire(timeout=SAFETY_NET_S)
            return sock

        authenticated, idle = connect(), connect()
        assert _ask(authenticated, "/whoami", "X-API-Key: k\r\n") == 200
        assert _ask(idle, "/health") == 200
        busy = [start_slow(connect()), start_slow(connect())]

        newcomer = connect()  # the keyless idle connection gives way
        assert _ask(newcomer, "/health") == 200
        assert _closed(idle)
        assert _untouched([authenticated]) == [authenticated]

        second = connect()  # the newcomer, now keyless and idle, gives way before the key
        assert _closed(newcomer)
        busy.append(start_slow(second))
        assert _untouched([authenticated]) == [authenticated]

        third = connect()  # only the authenticated one is left to give way
        assert _closed(authenticated)
        busy.append(start_slow(third))

        refused = _whole_answer(connect())  # all four busy: refused
        assert refused.startswith(b"HTTP/1.1 503 "), refused[:200]
        assert b"Too many open connections from 127.0.0.1: at most 4." in refused

        # The process's cap: 127.0.0.2 brings it to 6, all busy; a seventh is refused.
        busy += [start_slow(connect("127.0.0.2")), start_slow(connect("127.0.0.2"))]
        refused_too = _whole_answer(connect("127.0.0.3"))
        assert refused_too.startswith(b"HTTP/1.1 503 "), refused_too[:200]
        assert b"The server has too many open connections" in refused_too

        release.set()
        assert [_status(sock) for sock in busy] == [200] * 6


def _slow_post(port: int, source: str, headers: str = "") -> socket.socket:
    """A `POST /chat` whose head is whole but whose body has sent 10 of its 1,000 bytes and
    then stops."""
    sock = _connect(port, source)
    head = (
        "POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000\r\n{headers}\r\n"
    )
    sock.sendall(head.encode() + b'{"message"')
    return sock


@pytest.mark.parametrize("credential", ["", "Authorization: Bearer alm_made_up\r\n"])
def test_a_request_without_a_usable_key_is_refused_before_its_body_arrives(
    keyed_server: tuple[int, str], credential: str
) -> None:
    """A body that stops arriving kept its connection "in progress" until the body timeout
    (60 s), out of reach of the caps' shedding: a flood of such keyless requests filled the
    caps again. The key is checked first (backend/api/key_before_body.py): 401 at once, the
    body never read; a request with a valid key waits for its body as before."""
    port, key = keyed_server
    refused = _slow_post(port, "127.0.0.2", credential)
    waiting = _slow_post(port, "127.0.0.3", key)
    try:
        answer = _whole_answer(refused)
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b'www-authenticate: bearer realm="almanac"' in answer.lower()
        waiting.settimeout(1.0)
        with pytest.raises(TimeoutError):  # the keyed request still reads its body, unanswered
            waiting.recv(1, socket.MSG_PEEK)
        waiting.settimeout(SAFETY_NET_S)
        waiting.sendall(b': "hi"}' + b" " * (1000 - len(b'{"message": "hi"}')))
        assert _status(waiting) == 200
    finally:
        refused.close()
        waiting.close()
