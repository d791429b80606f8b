"""Reading ahead of an ingest: the inputs after the one in turn read, and parsed on one
thread of their own, so that parsing the next file overlaps storing this one
(`IngestDocuments`, use_cases/knowledge/ingest.py, takes each input's read in turn)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import AlmanacError


class Input(Protocol):
    """What is read ahead: an ingest's source (`IngestSource`), by its name and its bytes."""

    @property
    def name(self) -> str: ...

    def read(self) -> bytes: ...


Source = TypeVar("Source", bound=Input)


@dataclass(frozen=True)
class ReadAhead:
    """An input read (and parsed, or refused by its parser) ahead of its turn."""

    data: bytes
    parsed: ParsedDocument | None = None
    error: AlmanacError | None = None


@dataclass
class _Ahead:
    data: bytes | None = None
    read_error: OSError | None = None
    parse: Future[ParsedDocument] | None = None


class ParseAhead(Generic[Source]):
    """Keeps up to `depth` inputs ahead of the one in turn read and parsing: the bytes are
    read and looked up (`unchanged`) on the run's own thread, in input order, and only the
    parse (`parse(name, data)`, which touches no store) runs on the one parse-ahead thread.
    `take` answers an input's read, raising its read error (an `OSError`) as reading in
    turn would. Closing cancels the parses not started and waits for the one in flight (a
    parse is bounded by the loader's budgets)."""

    def __init__(
        self,
        sources: Sequence[Source],
        unchanged: Callable[[Source, bytes], bool],
        parse: Callable[[str, bytes], ParsedDocument],
        depth: int,
    ) -> None:
        self._sources = list(sources)
        self._unchanged = unchanged
        self._parse = parse
        self._depth = depth
        self._next = 0
        self._ahead: dict[int, _Ahead] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parse-ahead") if depth else None

    def __enter__(self) -> ParseAhead[Source]:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def take(self, source: Source) -> ReadAhead | None:
        """The read of `source` (None when it was not read ahead: read it in turn). The
        inputs after it are read and their parses queued meanwhile."""
        index = next((i for i in self._ahead if self._sources[i] is source), None)
        in_turn = self._next < len(self._sources) and self._sources[self._next] is source
        if index is None and self._pool is not None and in_turn:
            index = self._next
            self._read(index)
        if index is None:
            return None
        ahead = self._ahead.pop(index)
        self._fill()
        if ahead.read_error is not None:
            raise ahead.read_error
        assert ahead.data is not None
        if ahead.parse is None:
            return ReadAhead(ahead.data)
        try:
            return ReadAhead(ahead.data, ahead.parse.result())
        except AlmanacError as exc:
            return ReadAhead(ahead.data, error=exc)

    def _fill(self) -> None:
        while self._next < len(self._sources) and len(self._ahead) < self._depth:
            self._read(self._next)

    def _read(self, index: int) -> None:
        assert self._pool is not None and index == self._next
        source = self._sources[index]
        self._next += 1
        try:
            data = source.read()
        except OSError as exc:
            self._ahead[index] = _Ahead(read_error=exc)
            return
        parse = None
        if not self._unchanged(source, data):
            parse = self._pool.submit(self._parse, source.name, data)
        self._ahead[index] = _Ahead(data, parse=parse)
