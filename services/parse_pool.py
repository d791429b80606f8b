"""`BudgetedLoader`: a `DocumentLoader` that parses each document in a child process under a
CPU-time budget (`InputBudget.parse_cpu_s`) and a memory budget
(`InputBudget.parse_memory_bytes`, services/budgets.py), so one hostile file (a PDF whose
pages all inflate the same stream, a deeply nested HTML page, a stream PDFium inflates to
gigabytes) costs at most those budgets and never stalls the server's own threads.

Rules:
- Each `load` runs the inner loader in a fresh process started by a fork server (a clean
  copy of the loaders, never of the server's threads and locks), with `RLIMIT_CPU` set to the
  CPU budget: the kernel stops it past the budget, even inside C code. Past it, or past a
  wall-clock limit of `wall_factor` times the budget (a child that waits on nothing should not
  wait forever), the parse is `InputTooCostly` (413) naming the budget and its setting
  (`cpu_setting`, `memory_setting`).
- The child's address space is limited to the memory budget (`RLIMIT_AS`: a child with the
  loaders and PDFium maps ~90 MiB, ~130 MiB at most reading a 70-page PDF, so the limit
  bounds what a document's parse allocates, C code's included; numpy's OpenBLAS, loaded for
  OCR, runs one thread there, `OPENBLAS_NUM_THREADS=1`: its thread per core reserved more
  than a chat attachment's limit and OpenBLAS stopped the process). An allocation past it
  fails: a `MemoryError` (also one a loader turned into another error), or a child that dies of it
  (PDFium stops the process when an allocation fails; the kernel's OOM killer), is
  `InputTooCostly` (413) naming the memory budget.
- At most `workers` parses run at once; later ones wait for a free slot.
- A loader whose document takes many slow steps (OCR, a few seconds of CPU a page, in a
  command of its own with the same limits) calls `allow_another_step` before each: the
  parse's wall-clock limit grows by one `wall_factor` times the budget per step, for at most
  `max_steps` steps (the OCR page cap), so a 300-page scan is read where a 2-page one would
  have been the limit; the CPU budget grows with it. This growth is a backstop: OCR's own
  CPU budget (OCR_CPU_SECONDS, `OcrOptions.cpu_s`, Tesseract's runs included) binds first.
- The pages announced so come back to the caller as they start (`load_reporting`'s
  `on_page(page, pages)`): the progress of a long scan's OCR, which `almanac ingest` shows.
- The loader's own refusals (`UnsupportedDocument`, `InvalidDocument`, ...) come back as
  they were raised; `check` (the cheap checks) runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from multiprocessing.connection import Connection
from typing import Any

from services.budgets import BUDGET, MiB
from use_cases.knowledge.domain import ParsedDocument
from use_cases.knowledge.ports import DocumentLoader
from use_cases.shared.errors import AlmanacError, InputTooCostly, InvalidDocument

__all__ = ["BudgetedLoader", "PageProgress", "allow_another_step"]

#: How a child stopped by `RLIMIT_CPU` ends: SIGXCPU at the soft limit, SIGKILL at the hard.
_KILLED_AT_BUDGET = (-signal.SIGXCPU, -signal.SIGKILL)
#: How a child whose allocation failed under `RLIMIT_AS` ends when no `MemoryError` could be
#: raised: PDFium's out-of-memory stop (SIGABRT with pypdfium2's build, a trap in others),
#: C++'s `std::bad_alloc` left uncaught (abort), a failed allocation used as it was. A
#: parser that stops so for another reason is refused the same way (its document was not read
#: either).
_DIED_OF_MEMORY = tuple(
    -sig for sig in (signal.SIGTRAP, signal.SIGILL, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS)
)
_TIMED_OUT = ("timed out", None)
_OUT_OF_MEMORY = ("memory", None)
#: The kind of a child's message that a slow step starts: ("step", (step, steps)).
_STEP = "step"
#: In a parse child: tells the parent a slow step starts (`allow_another_step`).
_step_signal: Callable[[int, int], None] | None = None
#: `on_page(page, pages)`: the slow step (OCR page) `page` of `pages` of a document starts.
PageProgress = Callable[[int, int], None]


def allow_another_step(step: int = 0, steps: int = 0) -> None:
    """A loader starts another slow step of one document (an OCR page: `step` of `steps`,
    0 where not known): in a parse child the parent allows the parse more wall-clock time
    (the module docstring says how much) and tells its caller; anywhere else, nothing
    happens."""
    if _step_signal is not None:
        _step_signal(step, steps)


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
        memory_bytes: int = BUDGET.parse_memory_bytes,
        workers: int = 2,
        wall_factor: float = 3.0,
        max_steps: int = BUDGET.max_ocr_pages,
        cpu_setting: str = "PARSE_CPU_SECONDS",
        memory_setting: str = "PARSE_MEMORY_MB",
    ) -> None:
        self._make_inner = make_inner
        self._inner = make_inner()
        self._cpu_s = max(1, round(cpu_s))
        self._wall_s = self._cpu_s * wall_factor + 5  # the child's start included
        self._step_s = self._cpu_s * wall_factor
        self._max_steps = max_steps
        self._memory_bytes = memory_bytes
        self._slots = threading.BoundedSemaphore(workers)
        self._cpu_setting = cpu_setting
        self._memory_setting = memory_setting

    @property
    def extensions(self) -> tuple[str, ...]:
        return getattr(self._inner, "extensions", ())

    def supports(self, name: str) -> bool:
        return self._inner.supports(name)

    def check(self, name: str, data: bytes) -> None:
        self._inner.check(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        return self.load_reporting(name, data, None)

    def load_reporting(
        self, name: str, data: bytes, on_page: PageProgress | None
    ) -> ParsedDocument:
        """`load`, calling `on_page(page, pages)` as each slow page starts (a scan's OCR)."""
        with self._slots:
            return self._load_in_child(name, data, on_page)

    def _load_in_child(
        self, name: str, data: bytes, on_page: PageProgress | None = None
    ) -> ParsedDocument:
        receive, send = _CONTEXT.Pipe(duplex=False)
        child = _CONTEXT.Process(
            target=_parse,
            args=(
                send,
                self._make_inner,
                name,
                data,
                self._cpu_s,
                self._memory_bytes,
                self._max_steps,
            ),
            daemon=True,
        )
        _start_without_main(child)
        send.close()
        try:
            outcome = self._outcome(receive, on_page)
        except EOFError:  # the child died without an answer
            outcome = None
        finally:
            receive.close()
            child.join(0.5 if outcome is not None else 5)
            if child.is_alive():
                child.kill()
                child.join()
        if outcome == _OUT_OF_MEMORY or (outcome is None and child.exitcode in _DIED_OF_MEMORY):
            raise InputTooCostly(
                f"{name} takes more than {self._memory_bytes / MiB:,.0f} MiB of memory to read "
                f"({self._memory_setting}): refused (a document's parse has a memory budget)."
            )
        if outcome == _TIMED_OUT or child.exitcode == -signal.SIGXCPU:
            raise InputTooCostly(
                f"{name} takes more than {self._cpu_s} s of CPU to read "
                f"({self._cpu_setting}): refused (a document's parse has a time budget)."
            )
        if child.exitcode in _KILLED_AT_BUDGET:  # the CPU limit's SIGKILL, or the OOM killer's
            raise InputTooCostly(
                f"{name} takes more than {self._cpu_s} s of CPU or "
                f"{self._memory_bytes / MiB:,.0f} MiB of memory to read "
                f"({self._cpu_setting}, {self._memory_setting}): refused "
                "(a document's parse has a time and a memory budget)."
            )
        if outcome is None:
            raise InvalidDocument(f"{name} could not be read (its parser stopped).")
        kind, value = outcome
        if kind == "ok":
            return value
        raise value

    def _outcome(self, receive: Connection, on_page: PageProgress | None = None) -> Any:
        """The child's outcome, or `_TIMED_OUT` past the wall-clock limit (grown by the
        steps it announced, each told to `on_page`)."""
        deadline = time.monotonic() + self._wall_s
        steps = 0
        while receive.poll(max(0.0, deadline - time.monotonic())):
            message = receive.recv()
            if message[0] != _STEP:
                return message
            if steps < self._max_steps:
                steps += 1
                deadline += self._step_s
            if on_page is not None:
                on_page(*message[1])
        return _TIMED_OUT


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
    memory_bytes: int,
    max_steps: int = 0,
) -> None:
    """In the child: the parse under `RLIMIT_CPU` (SIGXCPU at the budget, raised by one
    budget per announced step; SIGKILL at a hard limit past the most steps) and `RLIMIT_AS`
    (an allocation past the budget fails), its outcome sent back as ("ok", document),
    ("error", domain error) or `_OUT_OF_MEMORY`."""
    global _step_signal
    hard = cpu_s * (max_steps + 1) + 1
    steps = 0

    def another_step(step: int, of: int) -> None:  # the CPU budget grows with the wall clock
        nonlocal steps
        if steps < max_steps:
            steps += 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_s * (steps + 1), hard))
        send.send((_STEP, (step, of)))

    _step_signal = another_step
    # OpenBLAS (numpy's, loaded for OCR) starts a thread per core, each reserving memory: under
    # the address-space limit the first one fails and OpenBLAS stops the process (SIGINT).
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, hard))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", make_inner().load(name, data))
    except MemoryError:
        outcome = _OUT_OF_MEMORY
    except AlmanacError as exc:
        outcome = _OUT_OF_MEMORY if _out_of_memory(exc) else ("error", exc)
    except RecursionError:
        outcome = ("error", InvalidDocument(f"{name} is nested too deeply to be read."))
    except Exception as exc:  # a loader's bug: no traceback reaches the client
        outcome = (
            _OUT_OF_MEMORY
            if _out_of_memory(exc)
            else ("error", InvalidDocument(f"{name} could not be read ({type(exc).__name__})."))
        )
    try:
        send.send(outcome)
    except MemoryError:  # the document is too large to send back within the budget
        send.send(_OUT_OF_MEMORY)
    send.close()


def _out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` was raised while handling a `MemoryError` (a loader that turns what its
    library raised into `InvalidDocument` "from None" keeps it as the context)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, MemoryError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
