"""Progress of `almanac ingest`, always on stderr so stdout keeps only the result (`--json`).

On a terminal it is a live bar. Anywhere else (a pipe, a log file, CI) a bar cannot redraw, so
a plain line is written every `PROGRESS_INTERVAL` seconds while the run lasts, e.g.
`Ingested 12/33 documents, 410 chunks (85 chunks/s), 5 s`. Lines come from a timer, not from
the documents: ingestion stores documents in batches (about a thousand chunks embedded
together), so a long batch still shows the run is alive (the counts move once per batch) and a
finished batch does not print a burst of lines. While a scan is read by OCR (minutes for a
long one), the bar and the lines say which page: `..., 40 s; reading contract.pdf, OCR page
37/300`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from use_cases.knowledge.domain import IngestItem

PROGRESS_INTERVAL = 5.0
"""Seconds between two plain progress lines (read when a run starts)."""


class _LiveProgress:
    """A live bar on a terminal, else a plain `line()` every `PROGRESS_INTERVAL` seconds from a
    timer thread, for as long as the `with` block lasts. A subclass names its bar's columns,
    the task's first fields and its `line()`."""

    _name = "progress"

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def _columns(self) -> tuple[ProgressColumn, ...]:
        raise NotImplementedError

    def _first_task(self) -> dict[str, Any]:
        """`add_task`'s arguments for the bar's one task."""
        return {"total": None}

    def line(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._started = time.monotonic()
        if self._console.is_terminal:
            self._bar = Progress(*self._columns(), console=self._console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", **self._first_task())
        else:
            self._ticker = threading.Thread(
                target=self._print_lines, args=(PROGRESS_INTERVAL,), name=self._name, daemon=True
            )
            self._ticker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._bar is not None:
            self._bar.stop()

    def _print_lines(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._console.print(self.line(), highlight=False, soft_wrap=True, markup=False)


class IngestProgress(_LiveProgress):
    """The `on_progress` callback of an ingest run, as a context manager around the run."""

    _name = "ingest-progress"

    def __init__(self, console: Console, total: int) -> None:
        super().__init__(console)
        self._total = total
        self._documents = 0
        self._chunks = 0
        self._reading = ""  # the OCR page being read: "scan.pdf, OCR page 37/300"
        self._reading_name = ""

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            TextColumn("[bold]Ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[chunks]}"),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
        )

    def _first_task(self) -> dict[str, Any]:
        return {"total": self._total, "chunks": self._chunk_figures()}

    def __call__(self, item: IngestItem) -> None:
        if item.status == "removed":  # pruning is not one of the documents counted
            return
        self._documents += 1
        self._chunks += item.chunks
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                advance=1,
                description=Path(item.source).name,
                chunks=self._chunk_figures(),
            )
        if self._reading_name == Path(item.source).name:  # its pages are read
            self._reading = self._reading_name = ""

    def pages(self, name: str, page: int, pages: int) -> None:
        """The `on_pages` callback: `name`'s OCR page `page` of `pages` is being read (a
        long scan takes minutes: the bar and the lines show which page)."""
        of = f"/{pages:,}" if pages else ""
        self._reading_name = Path(name).name
        self._reading = f"{self._reading_name}, OCR page {page:,}{of}"
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=self._reading)

    def line(self) -> str:
        elapsed = time.monotonic() - self._started
        reading = f"; reading {self._reading}" if self._reading else ""
        return (
            f"Ingested {self._documents}/{self._total} documents, {self._chunk_figures()}, "
            f"{elapsed:.0f} s{reading}"
        )

    def _chunk_figures(self) -> str:
        elapsed = time.monotonic() - self._started
        rate = self._chunks / elapsed if elapsed > 0 else 0.0
        return f"{self._chunks} chunks ({rate:.0f} chunks/s)"


class AnswerProgress(_LiveProgress):
    """The `on_progress(chunks done, chunks)` of the wait for an answer preparation job: a
    live bar on a terminal, else a plain line every `PROGRESS_INTERVAL` seconds, e.g.
    `Preparing answers: 410/1,234 chunks, 5 s`."""

    _name = "answer-progress"

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._done = 0
        self._total: int | None = None

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            TextColumn("[bold]Preparing answers"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            TimeElapsedColumn(),
        )

    def __call__(self, done: int, total: int) -> None:
        self._done, self._total = done, total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def line(self) -> str:
        elapsed = time.monotonic() - self._started
        total = f"/{self._total:,}" if self._total is not None else ""
        return f"Preparing answers: {self._done:,}{total} chunks, {elapsed:.0f} s"
