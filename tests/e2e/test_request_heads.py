"""Request heads and connections are bounded for everyone, before authentication, by the server
`almanac serve` runs (backend/http_server.py): real sockets against a real `almanac serve`
with authentication on and no key sent.

The probe that found it (uvicorn's defaults, httptools): a 64 MiB header line was answered
200; 20 connections each sending 32 MiB of a header that never ends raised the server by
700 MB until the client closed; 105 connections sending one header line a minute were never
closed. Here a head line or a head past its limit is 431 at once, a trickled or silent head
is 408 at the head time limit, one client address may hold only so many connections, and so
may everyone together (one more closes the oldest idle connection of the client holding the
most).
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.almanac_serve import ServeChild, start_almanac_serve
from tests.memory_peak import MiB, tree_peak

HEADER_TIMEOUT_S = 2
PER_CLIENT = 4
CONNECTIONS = 7
#: A safety net on every socket read (a server that never answers fails, it does not hang).
SAFETY_NET_S = 60

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads the server's memory from /proc (Linux)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeChild]:
    tmp_path = tmp_path_factory.mktemp("heads")
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        "AUTH_ENABLED": "true",
        "LOAD_SAMPLE_DATA": "false",
        "ANSWER_PROCESSES": "false",
        "HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
        "MAX_CONNECTIONS": str(CONNECTIONS),
        "KEEP_ALIVE_TIMEOUT_S": "60",  # kept-alive connections hold their place in the caps
    }
    for name in ("OPENAI_API_KEY", "DEFAULT_MODEL", "CORS_ORIGINS"):
        env.pop(name, None)
    child = start_almanac_serve(
        [str(Path(sys.executable).parent / "almanac"), "serve"],
        env=env,
        cwd=tmp_path,
        log=tmp_path / "serve.log",
    )
    try:
        yield child
    finally:
        child.stop()


def _connect(server: ServeChild, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", server.port), timeout=SAFETY_NET_S, source_address=(source, 0)
    )
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or the safety net)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _send_until_answered(sock: socket.socket, data: bytes, piece: int = 64 * 1024) -> bytes:
    """Send `data` a piece at a time until the server answers (then stop sending, as a client
    that reads would), and read the answer to its end."""
    answer = b""
    try:
        for start in range(0, len(data), piece):
            sock.sendall(data[start : start + piece])
            readable, _, _ = select.select([sock], [], [], 0.02)
            if readable:
                break
        answer = _answer(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return answer


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def _served(sock: socket.socket) -> int:
    """GET /health on a kept-alive connection: the status (the connection stays open)."""
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        assert chunk, head
        head += chunk
    length = int(
        next(
            line.split(b":", 1)[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        body += sock.recv(65536)
    return _status(head)


def _until_free(server: ServeChild) -> None:
    """Until a new connection from 127.0.0.1 is served: the connections an earlier test
    closed are gone from the server's counts."""
    for _ in range(200):
        with _connect(server) as sock:
            try:
                if _served(sock) == 200:
                    return
            except (AssertionError, OSError):
                pass
        time.sleep(0.1)
    pytest.fail("the server kept refusing connections from 127.0.0.1")


def test_a_header_line_past_the_limit_is_431_and_the_connection_closed(
    server: ServeChild,
) -> None:
    _until_free(server)
    with _connect(server) as sock:
        answer = _send_until_answered(
            sock,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            + b"a" * (64 * 1024 + 1)
            + b"\r\n\r\n",
        )
    assert _status(answer) == 431, answer[:300]
    assert b"connection: close" in answer.lower()
    assert b"longer than 16,384 bytes" in answer


def test_a_head_past_its_total_is_431_though_each_line_is_short(server: ServeChild) -> None:
    _until_free(server)
    lines = b"".join(b"X-Part-%d: %s\r\n" % (n, b"b" * 10_000) for n in range(8))
    with _connect(server) as sock:
        answer = _send_until_answered(
            sock, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + b"\r\n"
        )
    assert _status(answer) == 431, answer[:300]
    assert b"larger than 65,536 bytes" in answer


def test_a_head_within_the_limits_is_served(server: ServeChild) -> None:
    _until_free(server)
    big_cookie = "c" * 12_000
    reply = httpx.get(f"{server.url}/health", headers={"Cookie": f"x={big_cookie}"}, timeout=30)
    assert reply.status_code == 200


def test_a_head_trickled_slowly_is_cut_off_at_the_head_time_limit(server: ServeChild) -> None:
    """One byte every 0.1 s of a head that would take 30 s to send: the server answers 408
    and closes long before it is sent."""
    _until_free(server)
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 300 + b"\r\n\r\n"
    sent = 0
    with _connect(server) as sock:
        sock.settimeout(0.1)
        answer = b""
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                sent += 1
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                answer += chunk
                if not chunk or answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(SAFETY_NET_S)
        answer += _answer(sock)
    assert _status(answer) == 408, answer[:300]
    assert sent < len(head) / 2, f"{sent} of {len(head)} bytes sent before the cut"
    assert f"within {HEADER_TIMEOUT_S} s".encode() in answer


def test_a_connection_that_sends_nothing_is_closed_at_the_head_time_limit(
    server: ServeChild,
) -> None:
    """Closed without an answer (no request was made: a browser's unused preconnection must
    not read a 408); uvicorn's defaults never closed it (the safety net would fail it)."""
    _until_free(server)
    with _connect(server) as sock:
        assert _answer(sock) == b""


def _untouched(socks: list[socket.socket]) -> bool:
    """Whether the server has sent nothing on any of `socks`, not even a close."""
    readable, _, _ = select.select(socks, [], [], 0)
    return not readable


def test_one_address_may_hold_only_so_many_connections_and_the_oldest_idle_one_gives_way(
    server: ServeChild,
) -> None:
    """A full cap admits the newcomer by closing a connection waiting for a request: the
    client's own oldest idle one at its cap, the busiest client's at the process's cap
    (tests/e2e/test_connection_flood.py: which one, and the 503 once all are busy)."""
    _until_free(server)
    with ExitStack() as held:
        kept = [held.enter_context(_connect(server)) for _ in range(PER_CLIENT)]
        assert [_served(sock) for sock in kept] == [200] * PER_CLIENT  # kept alive, counted
        extra = held.enter_context(_connect(server))
        assert _served(extra) == 200
        assert _answer(kept[0]) == b""  # closed without an answer, as at its idle timeout
        assert _untouched(kept[1:])
        # Everyone together: the process's cap (127.0.0.1 holds 4, 127.0.0.2 brings it to 7);
        # one more closes the oldest idle connection of 127.0.0.1, which holds the most.
        others = [held.enter_context(_connect(server, "127.0.0.2")) for _ in range(3)]
        assert [_served(sock) for sock in others] == [200] * 3
        newcomer = held.enter_context(_connect(server, "127.0.0.3"))
        assert _served(newcomer) == 200
        assert _answer(kept[1]) == b""
        assert _untouched([*kept[2:], extra, *others])
    _until_free(server)


def test_many_unfinished_huge_heads_cost_the_server_little_and_health_stays_up(
    server: ServeChild,
) -> None:
    """50 connections (from 7 addresses, within the caps' reach) each sending 4 MiB of one
    header line: each is refused 431 once its line passes the limit, and the server's process
    tree grows by far less than the 200 MiB they send."""
    _until_free(server)
    line = b"X-Endless: " + b"e" * (4 * MiB)
    statuses = []
    with tree_peak(server.process.pid) as peak:
        for _ in range(10):
            with ExitStack() as held:
                socks = [held.enter_context(_connect(server, f"127.0.0.{2 + n}")) for n in range(5)]
                for sock in socks:
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                for sock in socks:
                    statuses.append(_status(_send_until_answered(sock, line)))
            _until_free(server)
    assert statuses == [431] * 50
    assert peak.growth < 100 * MiB, peak


#: The issue's flood: this many connections, each sending this much of a header that never ends.
FLOOD_CONNECTIONS = 200
FLOOD_BYTES = 32 * MiB
#: A `/health` answer slower than this during the flood fails the test: far from both sides
#: (uvicorn's defaults kept it waiting 15.8 to 18.9 s; the bounded server answers within
#: 0.3 s in bench/bench_hostile_inputs.py, where the 0.5 s figure is measured).
HEALTH_DEADLINE_S = 5.0


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeChild]:
    """`almanac serve` with the default head and connection limits, auth on."""
    tmp_path = tmp_path_factory.mktemp("flood")
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_ENABLED": "true",
        "LOAD_SAMPLE_DATA": "false",
        "ANSWER_PROCESSES": "false",
    }
    for name in (
        "OPENAI_API_KEY",
        "DEFAULT_MODEL",
        "CORS_ORIGINS",
        "HEADER_TIMEOUT_S",
        "MAX_CONNECTIONS",
        "MAX_CONNECTIONS_PER_CLIENT",
        "MAX_HEADER_BYTES",
        "MAX_HEADER_LINE_BYTES",
    ):
        env.pop(name, None)
    child = start_almanac_serve(
        [str(Path(sys.executable).parent / "almanac"), "serve"],
        env=env,
        cwd=tmp_path,
        log=tmp_path / "serve.log",
    )
    try:
        yield child
    finally:
        child.stop()


def _endless_header(server: ServeChild, number: int) -> str:
    """One connection, from a loopback address of its own (the head limits are tested, not
    the per-client cap), sending `FLOOD_BYTES` of one header line that never ends, until the
    server answers or stops reading: the status line it answered (or what happened)."""
    source = f"127.0.{1 + number // 250}.{1 + number % 250}"
    piece = b"e" * (256 * 1024)
    with _connect(server, source) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
            for _ in range(FLOOD_BYTES // len(piece)):
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = _answer(sock)
        except OSError as exc:
            return type(exc).__name__
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"


def test_two_hundred_endless_32_mib_headers_cost_little_and_health_answers_meanwhile(
    default_server: ServeChild,
) -> None:
    """The issue's flood (uvicorn's defaults: 20 such connections raised the server by
    700 MB, held until the client closed, and /health waited 18.9 s): with the default
    limits every connection is answered 431 once its line passes 16 KiB, the server's process
    tree grows by far less than 100 MB, and /health, asked from another address all along,
    answers every time within its deadline."""
    slow: list[str] = []
    asked = 0
    done = threading.Event()

    def ask_health() -> None:
        nonlocal asked
        with httpx.Client(timeout=HEALTH_DEADLINE_S) as http:
            while not done.wait(0.1):
                try:
                    status = http.get(f"{default_server.url}/health").status_code
                except httpx.TimeoutException:
                    slow.append(f"no answer within {HEALTH_DEADLINE_S} s")
                    continue
                asked += 1
                if status != 200:
                    slow.append(f"answered {status}")

    statuses: list[str] = [""] * FLOOD_CONNECTIONS
    with tree_peak(default_server.process.pid) as peak:
        health = threading.Thread(target=ask_health, daemon=True)
        health.start()
        senders = [
            threading.Thread(
                target=lambda n=n: statuses.__setitem__(n, _endless_header(default_server, n)),
                daemon=True,
            )
            for n in range(FLOOD_CONNECTIONS)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(SAFETY_NET_S)
        done.set()
        health.join(SAFETY_NET_S)
    if slow:
        pytest.fail(f"/health during the flood: {slow[:5]} ({len(slow)} of {asked + len(slow)})")
    assert asked > 0
    assert statuses == ["HTTP/1.1 431 Request Header Fields Too Large"] * FLOOD_CONNECTIONS, {
        status: statuses.count(status) for status in set(statuses)
    }
    assert peak.growth < 100 * MiB, peak
