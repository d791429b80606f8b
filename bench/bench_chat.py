"""Chat overhead: Almanac's added latency over a fake OpenAI-compatible model, and its throughput.

    .venv/bin/python -m bench.bench_chat                   # defaults below, a readable table
    .venv/bin/python -m bench.bench_chat --samples 100 --turns 400 --json

Starts two subprocesses on free loopback ports: `bench/fake_openai.py` (answers plain text,
`--tokens` chunks `--interval-ms` apart) and `almanac serve` pointed at it (DATA_DIR = a fresh
temp dir, LOAD_SAMPLE_DATA=false, DEFAULT_MODEL=openai:fake-model, LOG_LEVEL=WARNING,
PROVIDER_MAX_RETRIES=0 so no failure is hidden by a retry, RATE_LIMIT_PER_MINUTE=0 as one client
address makes every turn). The agent keeps its tools; the fake
model never calls them, so every turn is exactly one model request over an empty knowledge base.
The question is one the search discipline leaves to the model (`DEFAULT_YES`: the search tool is
offered, an answer without a search is accepted); a question it requires a search for (a policy
or an organisation fact) would have each plain-text answer sent back once (`ModelRetry`), two
model requests per turn. `check_question` refuses to start if the rules ever change that.

After a warm-up, with one httpx AsyncClient (the same client stack for both sides):

1. latency, sequential and interleaved (direct, Almanac, PydanticAI alone, ...), `--samples`
   of each:
   - total: `POST /v1/chat/completions` (not streamed) vs `POST /chat`;
   - time to first token: the first SSE chunk with content from the fake server vs the first
     `0:` line of `POST /chat/stream` (both streams are then read to the end);
   - added = median(Almanac) - median(direct), and the same for p95 (target: median < 5 ms);
   - a third side, interleaved with the two: a bare PydanticAI agent (no tools, instructions,
     history or storage) streaming from the same fake in this process through the same OpenAI
     client stack, read with `run_stream_events` as Almanac reads its runs. Its added time is
     the floor any PydanticAI server pays; Almanac's own share is what it adds above that.
2. throughput: `--turns` turns by `--concurrency` concurrent `/chat/stream` clients, each turn
   on a new chat; turns/s, and nothing lost: every stream is HTTP 200, carries the full answer
   and ends with a `d:` line with finishReason "stop", and the app DB then holds exactly
   2 x turns messages for those chats, all `complete`, each answer stored whole.

The ceiling for throughput is concurrency / (tokens x interval): what a zero-overhead server
would reach. CPU time per turn of each process is read from /proc (Linux) during phase 2.
Progress goes to stderr; `--json` prints one JSON object on stdout. Exit code: 0 nothing lost,
1 turns lost, 2 a server did not start, 130 interrupted (the subprocesses are always stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fake_openai import FakeConfig  # noqa: E402

MODEL = "openai:fake-model"
#: A general question: the search discipline offers the tool and does not force a search.
QUESTION = "Explain what a hash function is."
USER_WARMUP, USER_LATENCY, USER_LOAD = "bench-warmup", "bench-latency", "bench-load"
NOTE = (
    "LOAD_SAMPLE_DATA=false: empty knowledge base. The agent still has its tools "
    "(knowledge-base search, SQL lookup); the fake model never calls them, so each turn is "
    "one model request with plain-text output. The question is a general one (search "
    "discipline DEFAULT_YES: search offered, not required)."
)


def check_question(question: str) -> None:
    """Refuse a question the search discipline would make the model search for: the fake model
    never searches, so each turn would cost two model requests and stream a rejected draft."""
    from use_cases.chat.search_discipline import decide

    decision = decide(question)
    policy = decision.policy
    if policy.require_search or not policy.allow_search:
        raise SystemExit(
            f"bench_chat: the search discipline decides {decision.decision} for {question!r} "
            "(search required or the tool removed); pick a question it leaves to the model."
        )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- subprocesses ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float | None:
        """utime + stime of the process, from /proc (None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM to the child's whole process group (its own session: the server and any
        process it started), SIGKILL to what is left after 8 s."""
        self._signal_group(signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
        try:
            self.process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=5)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)  # the group's id is the child's (a new session)


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Child:
    """`argv` started in its own session (its process group is what `Child.stop` signals),
    with no input and its output in `log_path`."""
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, process, log_path)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def almanac_executable() -> list[str]:
    script = Path(sys.executable).parent / "almanac"
    if script.exists():
        return [str(script)]
    found = shutil.which("almanac")
    if found:
        return [found]
    return [sys.executable, "-m", "backend.cli.main"]


def fake_openai_command(port: int, tokens: int, interval_ms: float) -> list[str]:
    """`bench/fake_openai.py` on `port`, streaming each answer in `tokens` chunks
    `interval_ms` apart."""
    return [
        sys.executable,
        "-m",
        "bench.fake_openai",
        *("--port", str(port), "--tokens", str(tokens), "--interval-ms", str(interval_ms)),
    ]


@contextlib.contextmanager
def servers(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Child, Child, str, str]]:
    """The fake model and Almanac, each in its own session (Ctrl-C reaches only us; we stop
    each one's process group in order on every way out: the end of the run, an error, Ctrl-C
    or SIGTERM). A benchmark killed with SIGKILL cannot stop them: the first line it logs
    names their pids, and `kill -- -PID` stops one's group."""
    children: list[Child] = []

    def start(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Child:
        child = spawn(name, argv, env, cwd, workdir / f"{name}.log")
        children.append(child)
        return child

    try:
        fake_port = free_port()
        fake = start(
            "fake_openai",
            fake_openai_command(fake_port, args.tokens, args.interval_ms),
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            ROOT,
        )
        almanac_port = free_port()
        data_dir = workdir / "data"
        env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(almanac_port),
            "DATA_DIR": str(data_dir),
            "LOAD_SAMPLE_DATA": "false",
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
            "DEFAULT_MODEL": MODEL,
            "ALLOWED_MODELS": MODEL,
            "LOG_LEVEL": "WARNING",
            "PROVIDER_MAX_RETRIES": "0",
            "RATE_LIMIT_PER_MINUTE": "0",  # one client address makes every turn
            "AGENT_TIMEOUT": "60",
            "EMBEDDING_PROVIDER": "local",
            "RERANKER_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
        # cwd = the temp dir, so a developer's `.env` in the repo does not leak in.
        almanac = start("almanac", [*almanac_executable(), "serve"], env, workdir)
        yield (
            fake,
            almanac,
            f"http://127.0.0.1:{fake_port}",
            f"http://127.0.0.1:{almanac_port}",
        )
    finally:
        for child in reversed(children):
            child.stop()


async def wait_ready(client: httpx.AsyncClient, child: Child, url: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        if child.process.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited with code {child.process.returncode}:\n{child.tail()}"
            )
        with contextlib.suppress(httpx.TransportError):
            response = await client.get(url, timeout=2)
            if response.status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{child.name} not ready after {within_s:.0f} s:\n{child.tail()}")
        await asyncio.sleep(0.1)


# --- one call each -----------------------------------------------------------------------------


@dataclass
class StreamResult:
    ttft: float | None = None
    total: float = 0.0
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    chat_id: str | None = None
    errors: list[str] = field(default_factory=list)
    status: int = 0


def _lines(buffer: bytearray, chunk: bytes) -> list[bytearray]:
    buffer += chunk
    *complete, rest = buffer.split(b"\n")
    buffer[:] = rest
    return complete


def direct_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": QUESTION}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


async def direct_total(client: httpx.AsyncClient, fake: str) -> float:
    started = time.perf_counter()
    response = await client.post(f"{fake}/v1/chat/completions", json=direct_body(False))
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


async def direct_stream(client: httpx.AsyncClient, fake: str) -> StreamResult:
    result = StreamResult()
    buffer = bytearray()
    started = time.perf_counter()
    async with client.stream(
        "POST", f"{fake}/v1/chat/completions", json=direct_body(True)
    ) as response:
        result.status = response.status_code
        async for chunk in response.aiter_raw():
            for line in _lines(buffer, chunk):
                if not line.startswith(b"data: "):
                    continue
                payload = line[6:]
                if payload == b"[DONE]":
                    result.finish_reason = result.finish_reason or "missing"
                    continue
                event = json.loads(payload)
                for choice in event.get("choices", []):
                    content = choice.get("delta", {}).get("content")
                    if content:
                        if result.ttft is None:
                            result.ttft = time.perf_counter() - started
                        result.text.append(content)
                    if choice.get("finish_reason"):
                        result.finish_reason = choice["finish_reason"]
    result.total = time.perf_counter() - started
    return result


async def almanac_total(client: httpx.AsyncClient, almanac: str, user: str) -> float:
    started = time.perf_counter()
    response = await client.post(
        f"{almanac}/chat", json={"message": QUESTION}, headers={"x-user-id": user}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


async def almanac_stream(client: httpx.AsyncClient, almanac: str, user: str) -> StreamResult:
    result = StreamResult()
    buffer = bytearray()
    started = time.perf_counter()
    async with client.stream(
        "POST", f"{almanac}/chat/stream", json={"message": QUESTION}, headers={"x-user-id": user}
    ) as response:
        result.status = response.status_code
        async for chunk in response.aiter_raw():
            for line in _lines(buffer, chunk):
                if line.startswith(b"0:"):
                    if result.ttft is None:
                        result.ttft = time.perf_counter() - started
                    result.text.append(json.loads(line[2:]))
                elif line.startswith(b"d:"):
                    result.finish_reason = json.loads(line[2:]).get("finishReason")
                elif line.startswith(b"2:"):
                    for item in json.loads(line[2:]):
                        result.chat_id = item.get("chat_id") or result.chat_id
                elif line.startswith(b"3:"):
                    result.errors.append(json.loads(line[2:]))
    result.total = time.perf_counter() - started
    if buffer.strip():
        result.errors.append(f"unterminated line {bytes(buffer[:80])!r}")
    return result


def bare_agent(fake: str) -> Any:
    """A PydanticAI agent alone (no tools, instructions, history or storage) on the fake model,
    built as Almanac builds its OpenAI models (`services/chat/models.py`). It runs in this
    process: what any server built on PydanticAI pays per turn, the floor under Almanac's own
    share."""
    from openai import AsyncOpenAI
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = AsyncOpenAI(api_key="sk-bench", base_url=f"{fake}/v1", timeout=60, max_retries=0)
    return Agent(OpenAIChatModel("fake-model", provider=OpenAIProvider(openai_client=client)))


async def bare_stream(agent: Any) -> StreamResult:
    """One streamed run of `bare_agent`, read as Almanac reads its runs (`run_stream_events`)."""
    from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta
    from pydantic_ai.run import AgentRunResultEvent

    result = StreamResult()
    started = time.perf_counter()
    async with agent.run_stream_events(QUESTION) as events:
        async for event in events:
            text = None
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                text = event.part.content
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                text = event.delta.content_delta
            elif isinstance(event, AgentRunResultEvent):
                result.finish_reason = "stop"
            if text:
                if result.ttft is None:
                    result.ttft = time.perf_counter() - started
                result.text.append(text)
    result.total = time.perf_counter() - started
    return result


# --- statistics ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(pct(ms, 0.95), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
        "n": len(ms),
    }


def compare(direct: list[float], almanac: list[float]) -> dict[str, Any]:
    d, a = summary(direct), summary(almanac)
    return {
        "direct": d,
        "almanac": a,
        "added_median_ms": round(a["median_ms"] - d["median_ms"], 3),
        "added_p95_ms": round(a["p95_ms"] - d["p95_ms"], 3),
    }


# --- phases ----------------------------------------------------------------------------------


async def warm_up(client: httpx.AsyncClient, fake: str, almanac: str, rounds: int) -> None:
    for _ in range(rounds):
        await direct_total(client, fake)
        await direct_stream(client, fake)
        await almanac_total(client, almanac, USER_WARMUP)
        await almanac_stream(client, almanac, USER_WARMUP)
    # A few concurrent streams too, so the server's thread pool and connections exist.
    await asyncio.gather(*(almanac_stream(client, almanac, USER_WARMUP) for _ in range(10)))


async def latency(
    client: httpx.AsyncClient, fake: str, almanac: str, samples: int, expected: str
) -> dict[str, Any]:
    totals: dict[str, list[float]] = {"direct": [], "almanac": []}
    ttfts: dict[str, list[float]] = {"direct": [], "almanac": [], "pydantic_ai": []}
    stream_totals: dict[str, list[float]] = {"direct": [], "almanac": [], "pydantic_ai": []}
    agent = bare_agent(fake)
    for _ in range(3):  # its first runs build schemas and open connections
        await bare_stream(agent)
    sides = ("direct", "almanac", "pydantic_ai")
    for index in range(samples):
        # Rotate who goes first, so any drift hits every side alike.
        order = sides[index % 3 :] + sides[: index % 3]
        for side in order:
            if side == "direct":
                totals[side].append(await direct_total(client, fake))
                streamed = await direct_stream(client, fake)
            elif side == "almanac":
                totals[side].append(await almanac_total(client, almanac, USER_LATENCY))
                streamed = await almanac_stream(client, almanac, USER_LATENCY)
            else:
                streamed = await bare_stream(agent)
            if streamed.ttft is None or "".join(streamed.text) != expected:
                raise RuntimeError(f"{side} stream returned no or a wrong answer: {streamed}")
            ttfts[side].append(streamed.ttft)
            stream_totals[side].append(streamed.total)
    return {
        "chat_total": compare(totals["direct"], totals["almanac"]),
        "stream_ttft": compare(ttfts["direct"], ttfts["almanac"]),
        "stream_total": compare(stream_totals["direct"], stream_totals["almanac"]),
        # PydanticAI alone over the same fake: its own share of the added latency, and
        # Almanac's share (HTTP, validation, history, search discipline, storage) above it.
        "pydantic_ai_ttft": compare(ttfts["direct"], ttfts["pydantic_ai"]),
        "pydantic_ai_stream_total": compare(stream_totals["direct"], stream_totals["pydantic_ai"]),
    }


def lost_reason(result: StreamResult | BaseException, expected: str) -> str | None:
    if isinstance(result, BaseException):
        return f"{type(result).__name__}: {result}"
    if result.status != 200:
        return f"HTTP {result.status}"
    if result.errors:
        return f"error line: {result.errors[0]}"
    if result.finish_reason != "stop":
        return f"finishReason {result.finish_reason!r}"
    if "".join(result.text) != expected:
        return "answer incomplete"
    if not result.chat_id:
        return "no chat id"
    return None


async def throughput(
    client: httpx.AsyncClient,
    almanac: str,
    turns: int,
    concurrency: int,
    expected: str,
    children: list[Child],
) -> dict[str, Any]:
    results: list[StreamResult | BaseException] = []
    next_turn = 0

    async def worker() -> None:
        nonlocal next_turn
        while next_turn < turns:
            next_turn += 1
            try:
                results.append(await almanac_stream(client, almanac, USER_LOAD))
            except Exception as exc:
                results.append(exc)

    cpu_before = {child.name: child.cpu_seconds() for child in children}
    own_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    own_cpu = time.process_time() - own_before
    cpu_ms_per_turn: dict[str, float | None] = {"bench_client": round(own_cpu / turns * 1000, 3)}
    for child in children:
        before, after = cpu_before[child.name], child.cpu_seconds()
        cpu_ms_per_turn[child.name] = (
            round((after - before) / turns * 1000, 3)
            if before is not None and after is not None
            else None
        )

    reasons: dict[str, int] = {}
    ok = [r for r in results if isinstance(r, StreamResult) and lost_reason(r, expected) is None]
    for result in results:
        reason = lost_reason(result, expected)
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + 1
    chat_ids = [r.chat_id for r in ok]
    return {
        "turns": turns,
        "concurrency": concurrency,
        "wall_s": round(wall, 3),
        "turns_per_s": round(turns / wall, 2),
        "lost": turns - len(ok),
        "lost_reasons": reasons,
        "distinct_chats": len(set(chat_ids)),
        "ttft_under_load": summary([r.ttft for r in ok if r.ttft is not None]) if ok else None,
        "stream_total_under_load": summary([r.total for r in ok]) if ok else None,
        "cpu_ms_per_turn": cpu_ms_per_turn,
        "_chat_ids": chat_ids,
    }


def check_db(db_path: Path, chat_ids: list[str], turns: int, expected: str) -> dict[str, Any]:
    """The stored state of the streamed chats, found by the ids their streams announced (every
    request of the bench acts as the one development user, so the user id tells nothing)."""
    import sqlean as sqlite3

    ids = json.dumps(chat_ids)
    these = "c.id IN (SELECT value FROM json_each(?))"
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT m.role, m.status, count(*) FROM messages m JOIN chats c ON c.id = m.chat_id "
            f"WHERE {these} GROUP BY m.role, m.status",
            (ids,),
        ).fetchall()
        chats = conn.execute(f"SELECT count(*) FROM chats c WHERE {these}", (ids,)).fetchone()[0]
        whole = conn.execute(
            "SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id "
            f"WHERE {these} AND m.role = 'assistant' AND m.content = ?",
            (ids, expected),
        ).fetchone()[0]
        all_messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        not_complete_anywhere = conn.execute(
            "SELECT count(*) FROM messages WHERE status != 'complete'"
        ).fetchone()[0]
        known = set(chat_ids)
        stored = {row[0] for row in conn.execute(f"SELECT id FROM chats c WHERE {these}", (ids,))}
    finally:
        conn.close()
    by_status: dict[str, int] = {}
    messages = 0
    for role, status, count in rows:
        by_status[f"{role}/{status}"] = count
        messages += count
    complete = sum(count for role, status, count in rows if status == "complete")
    return {
        "messages": messages,
        "expected_messages": 2 * turns,
        "by_role_status": by_status,
        "chats": chats,
        "assistant_answers_whole": whole,
        "streamed_chats_missing_in_db": len(known - stored),
        "all_messages_in_db": all_messages,
        "not_complete_in_whole_db": not_complete_anywhere,
        "ok": messages == 2 * turns
        and complete == messages
        and chats == turns
        and whole == turns
        and not (known - stored),
    }


# --- report ----------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    print(
        f"\nAlmanac chat overhead: fake model = {cfg['tokens']} tokens x "
        f"{cfg['interval_ms']:g} ms, {cfg['samples']} sequential samples per row, loopback, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"note: {NOTE}")
    load, cpus = cfg["load_avg_1m_at_start"], cfg["cpus"] or 1
    if load is not None and load > 0.5 * cpus:
        print(f"warning: load average {load:g} on {cpus} CPUs at start; figures are inflated")
    print()
    header = (
        f"{'measure':<34}{'direct p50':>11}{'p95':>9}{'Almanac p50':>13}{'p95':>9}"
        f"{'added p50':>11}{'p95':>9}"
    )
    print(header)
    print("-" * len(header))
    rows = (
        ("POST /chat, total", "chat_total"),
        ("POST /chat/stream, first token", "stream_ttft"),
        ("POST /chat/stream, whole stream", "stream_total"),
    )
    for label, key in rows:
        row = report["latency"][key]
        d, a = row["direct"], row["almanac"]
        print(
            f"{label:<34}{d['median_ms']:>11.2f}{d['p95_ms']:>9.2f}{a['median_ms']:>13.2f}"
            f"{a['p95_ms']:>9.2f}{row['added_median_ms']:>11.2f}{row['added_p95_ms']:>9.2f}"
        )
    print("(ms; direct = the same request shape straight to the fake server with httpx)")
    floor = report["latency"].get("pydantic_ai_ttft")
    if floor is not None:
        whole = report["latency"]["pydantic_ai_stream_total"]
        own_ttft = row_added(report, "stream_ttft") - floor["added_median_ms"]
        own_total = row_added(report, "stream_total") - whole["added_median_ms"]
        print(
            f"PydanticAI alone (a bare agent on the same fake, in this process): first token "
            f"+{floor['added_median_ms']:.2f} ms, whole stream +{whole['added_median_ms']:.2f} ms "
            f"over direct (p50); Almanac's own share above it: first token {own_ttft:+.2f} ms, "
            f"whole stream {own_total:+.2f} ms"
        )
    target = report["target_added_median_ms"]
    verdicts = [
        f"{key}: {'OK' if report['latency'][key]['added_median_ms'] < target else 'OVER'}"
        for key in ("chat_total", "stream_ttft")
    ]
    print(f"target: added median < {target:g} ms -> " + ", ".join(verdicts))

    t = report["throughput"]
    db = report["db"]
    print(
        f"\nthroughput: {t['turns']} turns, {t['concurrency']} concurrent /chat/stream, "
        f"a new chat each"
    )
    print(
        f"  {t['turns_per_s']:.1f} turns/s in {t['wall_s']:.2f} s "
        f"(ceiling {report['throughput_ceiling']:.0f} turns/s with zero overhead)"
    )
    if t["ttft_under_load"]:
        load, whole = t["ttft_under_load"], t["stream_total_under_load"]
        print(
            f"  first token under load p50 {load['median_ms']:.1f} ms, p95 {load['p95_ms']:.1f} ms;"
            f" whole stream p50 {whole['median_ms']:.1f} ms, p95 {whole['p95_ms']:.1f} ms"
        )
    cpu = ", ".join(
        f"{name} {value:.2f}" for name, value in t["cpu_ms_per_turn"].items() if value is not None
    )
    print(f"  CPU ms per turn: {cpu}")
    print(
        f"  lost: {t['lost']} {t['lost_reasons'] or ''}".rstrip()
        + f"; distinct chats {t['distinct_chats']}"
    )
    print(
        f"  DB: {db['messages']} messages for these chats (expected {db['expected_messages']}), "
        f"{db['by_role_status']}, {db['chats']} chats, {db['assistant_answers_whole']} answers "
        f"stored whole -> {'OK' if db['ok'] else 'MISMATCH'}"
    )
    print(f"\nresult: {'PASS' if report['nothing_lost'] else 'LOST TURNS'} (nothing lost check)")


def row_added(report: dict[str, Any], key: str) -> float:
    return float(report["latency"][key]["added_median_ms"])


# --- main ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    load_at_start = _load_average()
    main_task = asyncio.current_task()
    if main_task is not None:
        with contextlib.suppress(NotImplementedError):  # not on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    expected = FakeConfig(tokens=args.tokens, interval_s=args.interval_ms / 1000).answer
    limits = httpx.Limits(
        max_connections=args.concurrency + 10, max_keepalive_connections=args.concurrency + 10
    )
    with servers(args, workdir) as (fake_child, almanac_child, fake, almanac):
        async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:
            log(
                f"starting fake model ({fake}, pid {fake_child.process.pid}) and Almanac "
                f"({almanac}, pid {almanac_child.process.pid}) in {workdir} ..."
            )
            await wait_ready(client, fake_child, f"{fake}/v1/models", 20)
            await wait_ready(client, almanac_child, f"{almanac}/health", args.startup_timeout)
            log(f"warming up ({args.warmup} rounds) ...")
            await warm_up(client, fake, almanac, args.warmup)
            log(f"latency: {args.samples} interleaved samples of each measure ...")
            lat = await latency(client, fake, almanac, args.samples, expected)
            log(f"throughput: {args.turns} turns at {args.concurrency} concurrent streams ...")
            tput = await throughput(
                client,
                almanac,
                args.turns,
                args.concurrency,
                expected,
                [almanac_child, fake_child],
            )
            chat_ids = tput.pop("_chat_ids")
            db = check_db(workdir / "data" / "app.db", chat_ids, args.turns, expected)
    return {
        "config": {
            "tokens": args.tokens,
            "interval_ms": args.interval_ms,
            "samples": args.samples,
            "warmup_rounds": args.warmup,
            "turns": args.turns,
            "concurrency": args.concurrency,
            "model": MODEL,
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": load_at_start,
        },
        "note": NOTE,
        "target_added_median_ms": 5.0,
        "latency": lat,
        "throughput": tput,
        "throughput_ceiling": round(args.concurrency / (args.tokens * args.interval_ms / 1000), 1)
        if args.interval_ms > 0
        else None,
        "db": db,
        "nothing_lost": tput["lost"] == 0 and db["ok"],
    }


def run_in_workdir(
    work: Callable[[Path], Coroutine[Any, Any, dict[str, Any]]], prefix: str, keep: bool = False
) -> dict[str, Any] | int:
    """`work(workdir)`'s report, run in a new temporary folder (removed after, unless
    `keep`); or the exit status of a run interrupted (130) or failed (2). Ctrl-C (even if a
    parent shell ignored SIGINT) and SIGTERM cancel the run, so the subprocesses are stopped
    on the way out (see `servers`)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return asyncio.run(work(workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; subprocesses stopped")
        return 130
    except RuntimeError as exc:
        log(f"error: {exc}")
        return 2
    finally:
        if keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50, help="sequential calls per measure")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up rounds before measuring")
    parser.add_argument("--turns", type=int, default=200, help="turns in the throughput phase")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent streams")
    parser.add_argument("--tokens", type=int, default=20, help="content chunks per answer")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="time between chunks")
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="seconds for /health")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (DB and logs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if min(args.samples, args.turns, args.concurrency, args.tokens) < 1 or args.interval_ms < 0:
        parser.error("counts must be >= 1 and --interval-ms >= 0")
    check_question(QUESTION)
    report = run_in_workdir(lambda workdir: run(args, workdir), "almanac-bench-chat-", args.keep)
    if isinstance(report, int):
        return report
    if args.json:
        print(json.dumps(report, indent=None))
    else:
        print_report(report)
    return 0 if report["nothing_lost"] else 1


if __name__ == "__main__":
    sys.exit(main())
