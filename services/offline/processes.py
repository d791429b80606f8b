"""The offline model's planning in worker processes, so that a long message cannot take the
server's interpreter away from everyone else.

The planner is pure Python: on threads of the server's own process it shares one interpreter
lock with the event loop, the tools and every other turn, and a pasted page slows a health
check down. In worker processes it runs beside them instead.

Rules:
- The `WorkerPool` still decides what runs, how much waits and in which order; each of its
  threads hands a step to a process and waits for it without holding the interpreter lock.
- A process builds its own planner once, from a picklable recipe (the composition root's
  `backend.answer_processes.worker_planner`): it reads the same stores, read-only, and keeps
  its own caches of them (the vocabulary is refreshed when the store's generation moves).
- Steps are handed over only once every process has started and answered a first call;
  until then, and after a process died, a step runs on the calling thread as before, and
  the processes are started again. A turn never waits for a start-up and is never lost to a
  crashed process.
- Processes are spawned, never forked (the server has threads that a fork would copy
  half-way), and each ends within a second of its server's death (kill -9 included).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from loguru import logger


class Stepper(Protocol):
    """What a worker process runs: the planner's `step`."""

    def step(self, messages: Any, tool_names: Any, output_tools: Any, tables: Any) -> Any: ...


#: Builds the planner in a worker process; must be picklable (a module-level function, or a
#: `functools.partial` of one with picklable arguments).
Recipe = Callable[[], Stepper]

# --- the worker process's side -------------------------------------------------------------

_PLANNER: Stepper | None = None


#: Seconds between a planning process's checks that its server is still alive.
_PARENT_CHECK_S = 1.0
#: Seconds the processes may take to start together (else planning stays on threads).
_START_TIMEOUT_S = 300.0


def _start_worker(recipe: Recipe, server: int, started: Any) -> None:
    """A process's first act: watch its server, build its planner and warm it up (its
    `warm_up()`, if it has one), then wait for the others (so "ready" means every process
    can take a step at full speed)."""
    global _PLANNER
    threading.Thread(
        target=_exit_with, args=(server,), name="exit-with-server", daemon=True
    ).start()
    _PLANNER = recipe()
    warm_up = getattr(_PLANNER, "warm_up", None)
    if callable(warm_up):
        warm_up()
    started.wait(_START_TIMEOUT_S)


def _exit_with(server: int) -> None:
    """End this process when its server is gone (killed: nobody else would stop it, since a
    worker holds both ends of the queue it waits on)."""
    while os.getppid() == server:
        time.sleep(_PARENT_CHECK_S)
    os._exit(0)


def _ready() -> None:
    """A first call: returns once the process has built its planner."""


def _step(messages: Any, tool_names: Any, output_tools: Any, tables: Any) -> Any:
    if _PLANNER is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("the planning process has no planner")
    return _PLANNER.step(messages, tool_names, output_tools, tables)


# --- the server's side ---------------------------------------------------------------------


class PlanningProcesses:
    """`step(...)`: the planner's step in a worker process, or None when the caller should
    run it itself (not started, still starting, or a process died)."""

    def __init__(self, processes: int, recipe: Recipe) -> None:
        if processes < 1:
            raise ValueError("planning needs at least one process")
        self.processes = processes
        self._recipe = recipe
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._ready = False
        self._enabled = False
        self._closed = False
        self._settled = threading.Event()  # the latest start succeeded or failed
        self.steps = 0
        """Steps the processes computed (a figure for tests and benchmarks)."""

    @property
    def ready(self) -> bool:
        return self._ready

    def enable(self, *, start_now: bool = True) -> None:
        """Let steps go to processes (a server; scripts and tests plan on their own threads).
        `start_now`: spawn them at once; else at the first step."""
        self._enabled = True
        if start_now:
            self.start()

    def start(self) -> None:
        """Spawn the processes without waiting for them; idempotent."""
        with self._lock:
            if self._executor is not None or self._closed:
                return
            self._ready = False
            self._settled.clear()
            context = multiprocessing.get_context("spawn")
            executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self._recipe, os.getpid(), context.Barrier(self.processes)),
            )
            self._executor = executor
            # Submitted together, so every process is spawned (one per waiting call).
            started = [executor.submit(_ready) for _ in range(self.processes)]
        threading.Thread(
            target=self._await_ready, args=(executor, started), name="planning-start", daemon=True
        ).start()

    def _await_ready(self, executor: ProcessPoolExecutor, started: list[Future[None]]) -> None:
        try:
            for future in started:
                future.result()
        except Exception as exc:  # a recipe that fails, a process that dies while starting
            logger.warning("Planning processes did not start ({}); planning on threads", exc)
            self._discard(executor)
            self._settled.set()
            return
        with self._lock:
            if self._executor is executor:
                self._ready = True
        self._settled.set()
        logger.info("Offline answers are planned in {} worker processes", self.processes)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) for a start under way to succeed or fail; whether the
        processes are ready."""
        with self._lock:
            starting = self._executor is not None and not self._ready
        if starting:
            self._settled.wait(timeout_s)
        return self._ready

    def step(
        self, messages: Any, tool_names: Any, output_tools: Any, tables: Any = None
    ) -> Any | None:
        """The step computed by a worker process; None: run it on the calling thread."""
        if not self._enabled:
            return None
        with self._lock:
            executor = self._executor if self._ready else None
        if executor is None:
            self.start()
            return None
        try:
            future = executor.submit(_step, messages, tool_names, output_tools, tables)
        except (BrokenProcessPool, RuntimeError) as exc:  # broken, or shut down meanwhile
            self._lost(executor, exc)
            return None
        try:
            step = future.result()
        except BrokenProcessPool as exc:
            self._lost(executor, exc)
            return None
        with self._lock:
            self.steps += 1
        return step

    def _lost(self, executor: ProcessPoolExecutor, exc: BaseException) -> None:
        logger.warning("A planning process was lost ({}); starting them again", exc)
        self._discard(executor)
        if self._enabled:
            self.start()

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
                self._ready = False
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes (a step running in one ends first)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            self._ready = False
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
