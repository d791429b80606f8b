"""A bounded pool of worker threads for CPU-heavy answering (the offline model's planning and
composing), so it never runs on the event loop.

Rules:
- At most `workers` calls run at once; at most `max_waiting` more wait for a worker. A call
  beyond that is refused at once with `ServiceBusy` (503) and a `Retry-After` estimated from
  the measured service time, instead of slowing every other request down.
- Waiting calls are served by expected finish, not by arrival alone: each call says its `size`
  (for a turn, the characters it has to read), the pool learns the seconds per unit of size
  from the calls it has run, and a call's turn comes at its arrival time plus its expected
  service time. A short question that arrives while long messages wait goes first; a long one
  is never starved, since every later arrival is ranked later too.
- A caller that stops waiting (its turn timed out, its client went away) takes its call out
  of the queue; a call already running counts until its thread returns, so the pool's figures
  stay honest.
- The caller's context variables (log context, the lexicon in force) go with the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from use_cases.shared.errors import ServiceBusy

T = TypeVar("T")

#: Weight of the latest call in the running means of the service time.
_SMOOTHING = 0.2


@dataclass(order=True)
class _Call:
    due: float
    seq: int
    run: Callable[[], Any] = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    loop: asyncio.AbstractEventLoop = field(compare=False)
    size: float = field(compare=False, default=1.0)


class WorkerPool:
    """`await pool.run(fn, *args, size=n)`: `fn(*args)` on a worker thread; `admit()` checks,
    without queueing anything, that a call would be accepted now."""

    def __init__(self, workers: int, max_waiting: int, *, name: str = "answer") -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("a pool needs at least one worker and a non-negative queue")
        self.workers = workers
        self.max_waiting = max_waiting
        self._name = name
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._queue: list[_Call] = []
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0
        self._closed = False
        self._mean_s = 0.5  # first guesses, replaced by measurements
        self._seconds_per_unit = 0.0005

    @property
    def in_flight(self) -> int:
        """Calls running or waiting for a worker."""
        with self._lock:
            return self._in_flight

    def admit(self) -> None:
        """Raise `ServiceBusy` if a call made now would be refused."""
        with self._lock:
            self._check_room()

    async def run(self, fn: Callable[..., T], *args: Any, size: float = 1.0) -> T:
        """`fn(*args)` on a worker; `size`: how much it has to read (any unit, the same for
        every call of this pool)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()
        size = max(float(size), 1.0)
        with self._lock:
            if self._closed:
                raise ServiceBusy("The server is shutting down; ask again after it restarts.")
            self._check_room()
            self._in_flight += 1
            call = _Call(
                due=time.monotonic() + size * self._seconds_per_unit,
                seq=next(self._seq),
                run=lambda: context.run(fn, *args),
                future=future,
                loop=loop,
                size=size,
            )
            heapq.heappush(self._queue, call)
            self._start_workers()
            self._ready.notify()
        return await future

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiting, self._queue = self._queue, []
            self._in_flight -= len(waiting)
            self._ready.notify_all()
        for call in waiting:
            _settle(call, error=ServiceBusy("The server is shutting down."))

    # --- internals -------------------------------------------------------------------------

    def _check_room(self) -> None:
        if self._in_flight >= self.workers + self.max_waiting:
            raise self._busy(self._in_flight)

    def _start_workers(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                call = heapq.heappop(self._queue)
                if call.future.done():  # its caller stopped waiting: drop it
                    self._in_flight -= 1
                    continue
            started = time.perf_counter()
            try:
                result, error = call.run(), None
            except BaseException as exc:  # handed to the caller, whatever it is
                result, error = None, exc
            elapsed = time.perf_counter() - started
            with self._lock:
                self._in_flight -= 1
                self._mean_s += _SMOOTHING * (elapsed - self._mean_s)
                self._seconds_per_unit += _SMOOTHING * (
                    elapsed / call.size - self._seconds_per_unit
                )
            _settle(call, result=result, error=error)

    def _busy(self, in_flight: int) -> ServiceBusy:
        """The refusal, with the seconds after which the queue ahead should have drained."""
        seconds = max(1, math.ceil(self._mean_s * in_flight / self.workers))
        return ServiceBusy(
            f"The server is answering {in_flight} questions and cannot take more right now; "
            f"ask again in {seconds} s.",
            retry_after_s=seconds,
        )


def _settle(call: _Call, *, result: Any = None, error: BaseException | None = None) -> None:
    """Hand the outcome to the caller's loop (nothing, if the caller is gone)."""

    def settle() -> None:
        if call.future.done():
            return
        if error is not None:
            call.future.set_exception(error)
        else:
            call.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the caller's loop is closed
        call.loop.call_soon_threadsafe(settle)
