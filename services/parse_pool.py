"""`BudgetedLoader`: a `DocumentLoader` that parses each document in a child process under a
CPU-time budget (`InputBudget.parse_cpu_s`, services/budgets.py), so one hostile file (a PDF
whose pages all inflate the same stream, a deeply nested HTML page) costs at most that budget
and never stalls the server's own threads.

Rules:
- Each `load` runs the inner loader in a fresh process started by a fork server (a clean
  copy of the loaders, never of the server's threads and locks), with `RLIMIT_CPU` set to the
  budget: the kernel stops it past the budget, even inside C code. Past it, or past a
  wall-clock limit of `wall_factor` times the budget (a child that waits on nothing should not
  wait forever), the parse is `InputTooCostly` (413) naming the budget.
- At most `workers` parses run at once; later ones wait for a free slot.
- The loader's own refusals (`UnsupportedDocument`, `InvalidDocument`, ...) come back as
  they were raised; `check` (the cheap checks) runs in this process.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import sys
import threading
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from multiprocessing.connection import Connection
from typing import Any

from services.budgets import BUDGET
from use_cases.knowledge.domain import ParsedDocument
from use_cases.knowledge.ports import DocumentLoader
from use_cases.shared.errors import AlmanacError, InputTooCostly, InvalidDocument

__all__ = ["BudgetedLoader"]

#: How a child stopped by `RLIMIT_CPU` ends: SIGXCPU at the soft limit, SIGKILL at the hard.
_KILLED_AT_BUDGET = (-signal.SIGXCPU, -signal.SIGKILL)
_TIMED_OUT = ("timed out", None)

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["services.knowledge.loaders"])
#: Held while a child is started with the main module marked as not to be imported again.
_STARTING = threading.Lock()


class BudgetedLoader:
    """`DocumentLoader` over `make_inner()` (built in the child: loaders need not pickle)."""

    def __init__(
        self,
        make_inner: Callable[[], DocumentLoader],
        *,
        cpu_s: float = BUDGET.parse_cpu_s,
        workers: int = 2,
        wall_factor: float = 3.0,
    ) -> None:
        self._make_inner = make_inner
        self._inner = make_inner()
        self._cpu_s = max(1, round(cpu_s))
        self._wall_s = self._cpu_s * wall_factor + 5  # the child's start included
        self._slots = threading.BoundedSemaphore(workers)

    @property
    def extensions(self) -> tuple[str, ...]:
        return getattr(self._inner, "extensions", ())

    def supports(self, name: str) -> bool:
        return self._inner.supports(name)

    def check(self, name: str, data: bytes) -> None:
        self._inner.check(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        with self._slots:
            return self._load_in_child(name, data)

    def _load_in_child(self, name: str, data: bytes) -> ParsedDocument:
        receive, send = _CONTEXT.Pipe(duplex=False)
        child = _CONTEXT.Process(
            target=_parse,
            args=(send, self._make_inner, name, data, self._cpu_s),
            daemon=True,
        )
        _start_without_main(child)
        send.close()
        try:
            outcome = receive.recv() if receive.poll(self._wall_s) else _TIMED_OUT
        except EOFError:  # the child died without an answer
            outcome = None
        finally:
            receive.close()
            child.join(0.5 if outcome is not None else 5)
            if child.is_alive():
                child.kill()
                child.join()
        if outcome is _TIMED_OUT or child.exitcode in _KILLED_AT_BUDGET:
            raise InputTooCostly(
                f"{name} takes more than {self._cpu_s} s of CPU to read: refused "
                "(a document's parse has a time budget)."
            )
        if outcome is None:
            raise InvalidDocument(f"{name} could not be read (its parser stopped).")
        kind, value = outcome
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        raise value


def _start_without_main(child: Any) -> None:
    """`child.start()`, without the child importing the main module again: a script's main
    module (the `almanac` console script's imports the whole backend), or a module run with
    `python -m` (a benchmark's), is imported again in each child unless the main module's
    `__spec__` is named "__main__" (Python 3.11's fork server never preloads it), which cost
    ~3-6 s of each parse's wall time and of its CPU budget. The parse needs nothing from the
    main module (`_parse` and the loader are importable)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is None or (spec is not None and spec.name.rpartition(".")[2] == "__main__"):
        child.start()  # a package's __main__ (`python -m pytest`) is never imported again
        return
    with _STARTING:
        main.__spec__ = ModuleSpec("__main__", None)
        try:
            child.start()
        finally:
            main.__spec__ = spec


def _parse(
    send: Connection,
    make_inner: Callable[[], DocumentLoader],
    name: str,
    data: bytes,
    cpu_s: int,
) -> None:
    """In the child: the parse under `RLIMIT_CPU` (SIGXCPU at the budget, SIGKILL a second
    later), its outcome sent back as ("ok", document) or ("error", domain error)."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", make_inner().load(name, data))
    except AlmanacError as exc:
        outcome = ("error", exc)
    except RecursionError:
        outcome = ("error", InvalidDocument(f"{name} is nested too deeply to be read."))
    except Exception as exc:  # a loader's bug: no traceback reaches the client
        outcome = ("error", InvalidDocument(f"{name} could not be read ({type(exc).__name__})."))
    send.send(outcome)
    send.close()
