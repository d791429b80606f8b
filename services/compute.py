"""A bounded pool of worker threads for CPU-heavy answering (the offline model's planning and
composing), so it never runs on the event loop.

Rules:
- At most `workers` calls run at once; at most `max_waiting` more wait for a worker. A call
  beyond that is refused at once with `ServiceBusy` (503) and a `Retry-After` estimated from
  the measured service time, instead of slowing every other request down.
- A caller that stops waiting (its turn timed out, its client went away) does not free its
  worker before the call ends: the pool counts the call until its thread returns, so its
  figures stay honest.
- The caller's context variables (log context, the lexicon in force) go with the call.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from use_cases.errors import ServiceBusy

P = ParamSpec("P")
T = TypeVar("T")

#: Weight of the latest call in the running mean of the service time.
_SMOOTHING = 0.2


class WorkerPool:
    """`await pool.run(fn, *args)`: `fn(*args)` on a worker thread; `admit()` checks, without
    queueing anything, that a call would be accepted now."""

    def __init__(self, workers: int, max_waiting: int, *, name: str = "answer") -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("a pool needs at least one worker and a non-negative queue")
        self.workers = workers
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._mean_s = 0.5  # a first guess, replaced by measurements

    @property
    def in_flight(self) -> int:
        """Calls running or waiting for a worker."""
        with self._lock:
            return self._in_flight

    def admit(self) -> None:
        """Raise `ServiceBusy` if a call made now would be refused."""
        with self._lock:
            if self._in_flight >= self.workers + self.max_waiting:
                raise self._busy(self._in_flight)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            if self._in_flight >= self.workers + self.max_waiting:
                raise self._busy(self._in_flight)
            self._in_flight += 1
        context = contextvars.copy_context()
        try:
            future: Future[T] = self._executor.submit(self._timed, context, fn, *args, **kwargs)
        except RuntimeError:  # shut down
            self._done()
            raise ServiceBusy("The server is shutting down; ask again after it restarts.") from None
        future.add_done_callback(lambda _: self._done())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- internals -------------------------------------------------------------------------

    def _timed(
        self,
        context: contextvars.Context,
        fn: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        started = time.perf_counter()
        try:
            return context.run(fn, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._mean_s += _SMOOTHING * (elapsed - self._mean_s)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _busy(self, in_flight: int) -> ServiceBusy:
        """The refusal, with the seconds after which the queue ahead should have drained."""
        seconds = max(1, math.ceil(self._mean_s * in_flight / self.workers))
        return ServiceBusy(
            f"The server is answering {in_flight} questions and cannot take more right now; "
            f"ask again in {seconds} s.",
            retry_after_s=seconds,
        )
