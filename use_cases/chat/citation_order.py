"""Citation numbers a reader can follow: 1..n in the order an answer first cites them.

The tools number what they return as they return it ([1] .. [k] across the searches of one
turn), and an answer cites what it uses in whatever order it writes: [3], then [1], then [5].
What a reader gets is renumbered, so that every client (the web app, the CLI, a script
reading the JSON) sees the same tidy numbers:

- the first passage the text cites is [1], the next new one [2], and so on, without gaps;
  a passage cited again keeps its number;
- the sources are renumbered alike and listed in that order; a source cited otherwise (a
  table by `[table: name]`, an advice's `cited_passages`) comes after those cited by number,
  in the order the tools returned it;
- a Sources list in the text (`[2] Title, Section`) is renumbered and put in order too.

The numbers the model saw are used inside a turn only: to check for invented citations and
to weigh the evidence for the confidence, both before renumbering. Streamed text is
renumbered as it arrives (`NumberedStream`), with the same rule, so the common answer streams
with the numbers it is stored with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from pydantic_ai.messages import (
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.run import AgentRunResultEvent

from use_cases.chat.agent import CITATION_MARKER

__all__ = ["CitationOrder", "Numbered", "NumberedStream", "NumberedText", "numbered_answer"]


class Numbered(Protocol):
    """A citation or source: a frozen dataclass with a `number`."""

    @property
    def number(self) -> int: ...


NumberedT = TypeVar("NumberedT", bound=Numbered)

#: A line of a Sources list naming one passage: "[2] Title" or "- [2] Title" (matched at the
#: start of a line).
_SOURCES_ENTRY = re.compile(r"[^\S\n]*(?:[-*][^\S\n]+)?\[(\d{1,3})\]")
#: The start of a line that may still become a Sources line.
_ENTRY_START = re.compile(r"[^\S\n]*(?:[-*](?:[^\S\n]+(?:\[\d{0,3})?)?|\[\d{0,3})?")
#: What may still become a marker (an unfinished `[n`), with the spaces before it: a marker
#: dropped by `NumberedStream` takes the space before it.
_UNFINISHED = re.compile(r"[ \t]*(?:\[\d{0,3})?\Z")
_SPACED_MARKER = re.compile(r"([ \t]?)\[(\d{1,3})\]")


class CitationOrder:
    """The reader's number of each cited passage, given in the order the text cites them."""

    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}

    @classmethod
    def of(cls, texts: Iterable[str]) -> CitationOrder:
        """The order of `texts` read one after the other."""
        order = cls()
        for text in texts:
            order.read(text)
        return order

    def number(self, cited: int) -> int:
        """The reader's number for the passage the model cited as `cited` (the next free
        number when it is cited for the first time)."""
        return self._numbers.setdefault(cited, len(self._numbers) + 1)

    def read(self, text: str) -> None:
        for match in CITATION_MARKER.finditer(text):
            self.number(int(match.group(1)))

    def marked(self, text: str) -> str:
        """`text` with each `[n]` as the reader numbers it."""
        return CITATION_MARKER.sub(lambda m: f"[{self.number(int(m.group(1)))}]", text)

    def renumbered(self, text: str) -> str:
        """`text` marked as the reader numbers it, and each run of Sources lines in the new
        order."""
        return _sorted_sources_lines(self.marked(text))

    def sources(self, items: Iterable[NumberedT]) -> list[NumberedT]:
        """`items` (citations or sources) renumbered and in the reader's order: those the text
        cites by number first, then the others in their order, numbered after them."""
        items = list(items)
        cited = sorted(
            (item for item in items if item.number in self._numbers),
            key=lambda item: self._numbers[item.number],
        )
        rest = [item for item in items if item.number not in self._numbers]
        first_free = len(self._numbers) + 1
        return [_renumbered(item, self._numbers[item.number]) for item in cited] + [
            _renumbered(item, first_free + i) for i, item in enumerate(rest)
        ]


def _renumbered(item: NumberedT, number: int) -> NumberedT:
    changed: Any = replace(item, number=number)  # type: ignore[type-var]
    return changed  # type: ignore[no-any-return]


def _sorted_sources_lines(text: str) -> str:
    """Each run of consecutive Sources lines sorted by the number it names."""
    lines = text.split("\n")
    out: list[str] = []
    run: list[tuple[int, str]] = []
    for line in [*lines, None]:
        entry = _SOURCES_ENTRY.match(line) if line is not None else None
        if entry:
            run.append((int(entry.group(1)), line))  # type: ignore[arg-type]
            continue
        out.extend(line for _, line in sorted(run, key=lambda pair: pair[0]))
        run = []
        if line is not None:
            out.append(line)
    return "\n".join(out)


class NumberedStream:
    """Renumbers text as it streams in (`feed`, then `flush` at the end of the text), so that
    what streams is what `CitationOrder.renumbered` makes of the whole text.

    - A marker is renumbered once it is whole: an unfinished `[n` at the end of a chunk is held
      back until the next chunk shows what it is (with the spaces before it).
    - A marker that names no passage the tools returned (`known`, read as the text arrives) is
      left out with the space before it, and a Sources line naming one goes whole, as the
      stored answer leaves them out.
    - A run of Sources lines is held back until it ends (at the first other line, or the end
      of the text), then sent in the new order. A line start that may still become one (a
      bullet, a `[`) waits for the next character."""

    def __init__(self, order: CitationOrder, known: Callable[[], Collection[int]]) -> None:
        self.order = order
        self._known = known
        self._pending = ""
        self._line_start = True
        self._run: list[tuple[int, str]] = []
        self._run_ends_line = False

    def feed(self, chunk: str) -> str:
        self._pending += chunk
        return self._advance(final=False)

    def flush(self) -> str:
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> str:
        out: list[str] = []
        while self._pending:
            if self._line_start:
                entry = _SOURCES_ENTRY.match(self._pending)
                end = self._pending.find("\n")
                if entry and (end >= 0 or final):
                    line, self._pending = (
                        (self._pending[:end], self._pending[end + 1 :])
                        if end >= 0
                        else (self._pending, "")
                    )
                    self._add_entry(int(entry.group(1)), line, ends_line=end >= 0)
                    continue
                if not final and (entry or _ENTRY_START.fullmatch(self._pending)):
                    break
                out.append(self._end_run())
                self._line_start = False
            end = self._pending.find("\n")
            if end >= 0:
                out.append(self._numbered(self._pending[: end + 1]))
                self._pending = self._pending[end + 1 :]
                self._line_start = True
                continue
            tail = _UNFINISHED.search(self._pending)
            cut = len(self._pending) if final or tail is None else tail.start()
            out.append(self._numbered(self._pending[:cut]))
            self._pending = self._pending[cut:]
            break
        if final:
            out.append(self._end_run())
        return "".join(out)

    def _add_entry(self, cited: int, line: str, *, ends_line: bool) -> None:
        if cited not in self._known():
            return
        numbered = self._numbered(line)
        self._run.append((self.order.number(cited), numbered))
        self._run_ends_line = ends_line

    def _end_run(self) -> str:
        if not self._run:
            return ""
        lines = [line for _, line in sorted(self._run, key=lambda pair: pair[0])]
        text = "\n".join(lines) + ("\n" if self._run_ends_line else "")
        self._run = []
        return text

    def _numbered(self, text: str) -> str:
        known = self._known()

        def one(match: re.Match[str]) -> str:
            space, cited = match.group(1), int(match.group(2))
            if cited not in known:
                return ""
            return f"{space}[{self.order.number(cited)}]"

        return _SPACED_MARKER.sub(one, text)


def numbered_answer(answer: str, sources: Sequence[NumberedT]) -> tuple[str, tuple[NumberedT, ...]]:
    """An answer and the sources it cites as a reader gets them (see the module)."""
    order = CitationOrder.of([answer])
    return order.renumbered(answer), tuple(order.sources(sources))


class NumberedText:
    """Renumbers the text parts of a turn's stream events (`events`), for a chat turn whose
    answer is text. Each model response starts a new order (its first part has index 0): the
    answer is the last response's text, numbered on its own. Text held back at the end of a
    part (see `NumberedStream`) is sent as one more delta before the part ends."""

    def __init__(self, known: Callable[[], Collection[int]]) -> None:
        self._known = known
        self._order = CitationOrder()
        self._parts: dict[int, NumberedStream] = {}
        self._texts: dict[int, list[str]] = {}

    def events(self, event: object) -> list[Any]:
        """What to send for `event`: itself, renumbered when it carries text, possibly with
        held-back text before it; nothing for a delta that is all held back."""
        if isinstance(event, PartStartEvent):
            flushed = self._flush() if event.index == 0 else []
            if event.index == 0:
                self._order = CitationOrder()
            if not isinstance(event.part, TextPart):
                return [*flushed, event]
            self._parts[event.index] = NumberedStream(self._order, self._known)
            content = self._shown(event.index, event.part.content)
            return [*flushed, replace(event, part=replace(event.part, content=content))]
        if (
            isinstance(event, PartDeltaEvent)
            and isinstance(event.delta, TextPartDelta)
            and event.index in self._parts
        ):
            content = self._shown(event.index, event.delta.content_delta)
            if not content:
                return []
            return [replace(event, delta=replace(event.delta, content_delta=content))]
        if isinstance(event, PartEndEvent) and event.index in self._parts:
            flushed = self._flush(event.index)
            text = "".join(self._texts.pop(event.index, []))
            if isinstance(event.part, TextPart):
                event = replace(event, part=replace(event.part, content=text))
            return [*flushed, event]
        if isinstance(event, AgentRunResultEvent):
            return [*self._flush(), event]
        return [event]

    def _shown(self, index: int, text: str) -> str:
        shown = self._parts[index].feed(text)
        self._texts.setdefault(index, []).append(shown)
        return shown

    def _flush(self, only: int | None = None) -> list[PartDeltaEvent]:
        flushed: list[PartDeltaEvent] = []
        for index in [only] if only is not None else list(self._parts):
            stream = self._parts.pop(index, None)
            rest = stream.flush() if stream is not None else ""
            if rest:
                self._texts.setdefault(index, []).append(rest)
                flushed.append(PartDeltaEvent(index=index, delta=TextPartDelta(content_delta=rest)))
        return flushed
