"""Answering never stalls the server: the offline model plans on a bounded worker pool, off
the event loop; question analysis is linear in the message's length; a full pool answers 503
with `Retry-After` before anything is written."""

from __future__ import annotations

import asyncio
import random
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backend.bootstrap import Container, bootstrap
from services.compute import WorkerPool
from services.offline.lexicon import EMPTY
from services.offline.model import _Planner
from services.offline.sql_plan import plan_sql
from tests.conftest import FixedClock, asgi_client, make_settings
from use_cases.shared.errors import ServiceBusy
from use_cases.tables.domain import TableColumn, TableSchema

MAX_MESSAGE = 8_000

PEOPLE = TableSchema(
    name="people",
    columns=(
        TableColumn("name", "TEXT", ("Annelies Verbeek", "Ifeoma Adeyemi", "Fleur Janssen")),
        TableColumn("title", "TEXT", ("Chief Executive Officer", "Support Engineer")),
        TableColumn("team", "TEXT", ("Customer Success", "Site Reliability", "Finance")),
        TableColumn("office", "TEXT", ("Remote - Ireland (Cork)", "Lisbon")),
    ),
    row_count=3,
)


def _message(chars: int, seed: int = 7) -> str:
    """Words people type, capitalised now and then, up to `chars` characters; no table value
    in full, so every word is checked as a possible part of a name."""
    rng = random.Random(seed)
    vocabulary = [
        "who",
        "what",
        "the",
        "team",
        "lead",
        "reliability",
        "office",
        "title",
        "password",
        "rotation",
        "Annelies",
        "Support",
        "Customer",
        "travel",
        "Expenses",
        "approval",
        "manager",
        "quarterly",
        "budget",
        "Officer",
    ]
    out: list[str] = []
    length = 0
    while length < chars:
        out.append(rng.choice(vocabulary))
        length += len(out[-1]) + 1
    return " ".join(out)[:chars]


def _calls(fn: Callable[[], object]) -> int:
    """Python and C function calls made by `fn()`: a count of operations, not a time."""
    count = 0

    def profiler(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def test_planning_a_table_lookup_is_linear_in_the_message_length() -> None:
    """Doubling the message (up to the allowed maximum) at most about doubles the work; the
    quadratic scan it replaced (every word re-read the whole message) quadrupled it."""
    short, long = _message(MAX_MESSAGE // 2), _message(MAX_MESSAGE)
    half = _calls(lambda: plan_sql(short, [PEOPLE], EMPTY))
    full = _calls(lambda: plan_sql(long, [PEOPLE], EMPTY))
    assert full / half < 2.6, (half, full)


# --- the worker pool -------------------------------------------------------------------------


async def test_the_pool_runs_work_on_its_threads_and_refuses_beyond_its_queue() -> None:
    pool = WorkerPool(workers=1, max_waiting=1)
    release = threading.Event()
    threads: list[str] = []

    def hold() -> None:
        threads.append(threading.current_thread().name)
        release.wait(10)

    try:
        running = asyncio.ensure_future(pool.run(hold))
        waiting = asyncio.ensure_future(pool.run(hold))
        await asyncio.sleep(0.05)
        assert pool.in_flight == 2
        with pytest.raises(ServiceBusy) as refused:
            await pool.run(hold)
        assert refused.value.retry_after_s is not None and refused.value.retry_after_s >= 1
        with pytest.raises(ServiceBusy):
            pool.admit()
        release.set()
        await asyncio.gather(running, waiting)
        assert pool.in_flight == 0
        pool.admit()  # accepted again
        assert threads and all(name != threading.main_thread().name for name in threads)
    finally:
        release.set()
        pool.close()


async def test_a_caller_that_stops_waiting_keeps_its_worker_counted_until_it_returns() -> None:
    pool = WorkerPool(workers=1, max_waiting=0)
    release = threading.Event()
    try:
        task = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.in_flight == 1  # the thread still works: the pool says so
        with pytest.raises(ServiceBusy):
            pool.admit()
        release.set()
        for _ in range(100):
            if pool.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.in_flight == 0
    finally:
        release.set()
        pool.close()


async def test_a_short_call_waiting_behind_a_long_one_goes_first() -> None:
    """Served by expected finish: the short question does not wait for the pasted page."""
    pool = WorkerPool(workers=1, max_waiting=4)
    release = threading.Event()
    order: list[str] = []
    try:
        busy = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.05)
        long = asyncio.ensure_future(pool.run(order.append, "long", size=8_000))
        await asyncio.sleep(0.01)
        short = asyncio.ensure_future(pool.run(order.append, "short", size=60))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(busy, long, short)
        assert order == ["short", "long"]
    finally:
        release.set()
        pool.close()


async def test_a_waiting_call_whose_caller_left_is_never_run() -> None:
    pool = WorkerPool(workers=1, max_waiting=4)
    release = threading.Event()
    ran: list[str] = []
    try:
        busy = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(pool.run(ran.append, "gone"))
        await asyncio.sleep(0.01)
        gone.cancel()
        kept = asyncio.ensure_future(pool.run(ran.append, "kept"))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(busy, kept)
        assert ran == ["kept"]
        assert pool.in_flight == 0
    finally:
        release.set()
        pool.close()


# --- through the app -------------------------------------------------------------------------


@pytest.fixture
def small_pool_container(data_dir: Path) -> Iterator[Container]:
    built = bootstrap(make_settings(data_dir, answer_workers=1, answer_queue=0), clock=FixedClock())
    yield built
    built.close()


async def test_offline_planning_runs_off_the_event_loop(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a long message is being answered, the event loop keeps serving: the loop thread
    never runs the planner."""
    loop_thread = threading.current_thread()
    seen: list[threading.Thread] = []
    original = _Planner.decide

    def recording_decide(self, messages, tool_names, tables=None):
        seen.append(threading.current_thread())
        return original(self, messages, tool_names, tables)

    monkeypatch.setattr(_Planner, "decide", recording_decide)
    async with asgi_client(container) as client:
        response = await client.post("/chat", json={"message": _message(MAX_MESSAGE)})
        streamed = await client.post("/chat/stream", json={"message": "Who leads Finance?"})
    assert response.status_code == 200, response.text
    assert streamed.status_code == 200, streamed.text
    assert len(seen) >= 4, "each turn plans at least twice (its search, then its answer)"
    assert all(thread is not loop_thread for thread in seen)


async def test_the_search_tool_runs_on_the_answer_pool_not_the_shared_threads(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searching (embedding, ranking) is answering work: it runs on the bounded answer pool,
    so it cannot fill the threads quick requests (a health check, a chat list) wait for."""
    retriever = container.adapters.retriever
    original = retriever.search
    threads: list[str] = []

    def recording_search(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(retriever, "search", recording_search)
    async with asgi_client(container) as client:
        response = await client.post("/chat", json={"message": "How long are raw pings kept?"})
    assert response.status_code == 200, response.text
    assert threads and all(name.startswith("answer") for name in threads), threads


async def test_a_full_answer_pool_is_503_with_retry_after_and_writes_nothing(
    small_pool_container: Container,
) -> None:
    pool = small_pool_container.adapters.answer_pool
    assert pool is not None
    release = threading.Event()
    holding = asyncio.ensure_future(pool.run(release.wait, 10))
    await asyncio.sleep(0.05)
    try:
        async with asgi_client(small_pool_container) as client:
            before = (await client.get("/chats")).json()
            for path, body in (
                ("/chat", {"message": "How often must passwords be rotated?"}),
                ("/chat/stream", {"message": "How often must passwords be rotated?"}),
                (
                    "/advice",
                    {"conversation": [{"role": "user", "content": "Is Friday deploy ok?"}]},
                ),
            ):
                response = await client.post(path, json=body)
                assert response.status_code == 503, (path, response.text)
                assert int(response.headers["retry-after"]) >= 1
                problem = response.json()
                assert problem["code"] == "service_busy"
                assert "ask again" in problem["detail"]
            assert (await client.get("/chats")).json() == before
            release.set()
            await holding
            response = await client.post(
                "/chat", json={"message": "How often must passwords be rotated?"}
            )
            assert response.status_code == 200, response.text
    finally:
        release.set()
        if not holding.done():
            await holding


async def test_many_parallel_short_questions_are_answered_not_refused(
    container: Container,
) -> None:
    """The queue holds a burst of ordinary questions (the default pool), each answered."""
    async with asgi_client(container) as client:
        responses = await asyncio.gather(
            *(
                client.post("/chat", json={"message": f"How long are raw pings kept? ({i})"})
                for i in range(30)
            )
        )
    assert [r.status_code for r in responses] == [200] * 30
