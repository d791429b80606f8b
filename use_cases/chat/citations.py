"""The whole life of a citation, from the tool that returns a passage to the number a reader sees.

A tool numbers what it returns as it returns it ([1] .. [k] across the searches of one turn), as
`Citation`s; an answer cites them inline as `[n]` (`CITATION_MARKER`) or `[table: name]`
(`TABLE_CITATION_MARKER`), in whatever order it writes. A chat answer citing a passage number no
tool returned in this turn goes back to the model once (`invented_citations`,
`invented_citations_retry`, used by the agent's output validator in `use_cases/chat/agent.py`);
what it still invents on its last attempt is removed by the turn (`checked_citations`, through
`without_citations`), and the sources of an answer are the citations it refers to
(`cited_sources`). What a reader gets is then renumbered, so that every client (the web app, the
CLI, a script reading the JSON) sees the same tidy numbers:

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
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol, TypeVar

from loguru import logger
from pydantic_ai.messages import (
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.run import AgentRunResultEvent

from use_cases.chat.domain import Source
from use_cases.knowledge.domain import DocumentRef

# --- markers ------------------------------------------------------------------------------

#: How a table lookup's source is titled: "table: " and the tables its SQL named.
TABLE_TITLE = "table: "


def table_title(names: Sequence[str]) -> str:
    """The title of a table lookup's source, naming the tables its SQL read."""
    return TABLE_TITLE + (", ".join(names) or "query")


def titled_tables(source: Source) -> tuple[str, ...]:
    """The tables a stored table lookup's source names (lower case; none for a document)."""
    if source.kind != "table" or not source.title.startswith(TABLE_TITLE):
        return ()
    return tuple(n.strip().lower() for n in source.title.removeprefix(TABLE_TITLE).split(","))


#: An inline citation of a passage ([3]) or of a table lookup ([table: staff]).
CITATION_MARKER = re.compile(r"\[(\d{1,3})\]")
TABLE_CITATION_MARKER = re.compile(r"\[(table: [^\]]+)\]")

#: What `without_citations` removes: a line of a Sources list naming one passage ("[2] Title,
#: Section (date)" or "- [2] ..."), an inline marker with the space before it, and a Sources
#: heading left with no entry.
_SOURCES_LINE = re.compile(r"^\s*(?:[-*]\s+)?\[(\d{1,3})\]")
_MARKER_WITH_SPACE = re.compile(r"[ \t]?\[(\d{1,3})\]")
_SOURCES_HEADING = re.compile(r"^\s*(?:#+\s*)?\**\s*sources\s*:?\s*\**\s*:?\s*$", re.IGNORECASE)


def citation_markers(texts: Iterable[str]) -> tuple[set[int], set[str]]:
    """The passage numbers ([n]) and table names ([table: name]) the texts cite."""
    numbers: set[int] = set()
    tables: set[str] = set()
    for text in texts:
        numbers.update(int(n) for n in CITATION_MARKER.findall(text))
        tables.update(TABLE_CITATION_MARKER.findall(text))
    return numbers, tables


# --- what may be cited ----------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    """One numbered passage or table lookup the model may cite."""

    number: int
    kind: str  # "document" | "table"
    title: str
    source: str
    section: str = ""
    category: str | None = None
    updated_at: str | None = None
    score: float | None = None
    document_id: int | None = None
    text: str = ""
    superseded_by: DocumentRef | None = None
    supersedes: tuple[DocumentRef, ...] = ()
    document_version: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    truncated: bool = False
    extraction: str | None = None
    link: str | None = None

    @property
    def version_note(self) -> str:
        """How the answer names this passage's version: "current version, supersedes X of
        2023-06-12", "superseded by X of 2025-09-15", or "" for a document without versions."""
        if self.superseded_by is not None:
            return f"superseded by {_named(self.superseded_by)}"
        if self.supersedes:
            return "current version, supersedes " + "; ".join(map(_named, self.supersedes))
        return ""

    def to_source(self) -> Source:
        """The passage as an answer cites it (`Source`, the one JSON shape of a citation)."""
        return Source(
            number=self.number,
            kind="table" if self.kind == "table" else "document",
            title=self.title,
            source=self.source,
            section=self.section,
            category=self.category,
            updated_at=self.updated_at,
            score=self.score,
            document_id=self.document_id,
            superseded_by=self.superseded_by,
            supersedes=self.supersedes,
            version_note=self.version_note,
            document_version=self.document_version or None,
            columns=self.columns,
            rows=self.rows,
            truncated=self.truncated,
            extraction=self.extraction,
            link=self.link,
        )

    def as_dict(self) -> dict[str, Any]:
        return self.to_source().as_dict()


def _named(ref: DocumentRef) -> str:
    return f"{ref.title} of {ref.updated_at.isoformat()}" if ref.updated_at else ref.title


def version_status(citation: Citation) -> str:
    """The `status` of a passage's tag: "SUPERSEDED by X of 2025-09-15; not in force" or
    "current version, supersedes X of 2023-06-12"."""
    if citation.superseded_by is not None:
        return f"SUPERSEDED by {_named(citation.superseded_by)}; not in force"
    return citation.version_note


# --- invented citations --------------------------------------------------------------------


def invented_citations(texts: Iterable[str], citations: Sequence[Citation]) -> list[int]:
    """The [n] the texts cite that name no passage a tool returned in this turn, in order."""
    known = {c.number for c in citations}
    return sorted(citation_markers(texts)[0] - known)


def invented_citations_retry(invented: Sequence[int], citations: Sequence[Citation]) -> str:
    """What the model is told when its answer cites passages no tool returned."""
    shown = ", ".join(f"[{n}]" for n in invented)
    returned = ", ".join(f"[{c.number}]" for c in citations if c.kind == "document")
    offered = f"the passages returned are {returned}" if returned else "no passage was returned"
    return (
        f"Your answer cites {shown}, but {offered} in this turn. Cite only passages your "
        "tools returned (and list only those under Sources); without a passage, cite nothing."
    )


def without_citations(text: str, numbers: Collection[int]) -> str:
    """`text` without the [n] markers of `numbers`: an inline marker goes with the space
    before it, a Sources line naming one of them goes whole, and a Sources heading left with
    no entry goes too."""
    if not numbers:
        return text
    kept: list[str] = []
    for line in text.splitlines():
        entry = _SOURCES_LINE.match(line)
        if entry and int(entry.group(1)) in numbers:
            continue
        kept.append(_MARKER_WITH_SPACE.sub(partial(_drop_marker, numbers), line))
    while kept and not kept[-1].strip():
        kept.pop()
    if kept and _SOURCES_HEADING.match(kept[-1]):
        kept.pop()
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def _drop_marker(numbers: Collection[int], match: re.Match[str]) -> str:
    if int(match.group(1)) not in numbers:
        return match.group(0)
    followed_by_marker = match.string.startswith("[", match.end())
    return " " if followed_by_marker and match.group(0).startswith((" ", "\t")) else ""


def cited_sources(
    answer: str, citations: Sequence[Citation], *, not_found: bool = False
) -> tuple[Source, ...]:
    """The citations the answer refers to by [n] or [table: name]; none for the can't-find
    answer (`not_found`, as the turn decided it)."""
    if not_found:
        return ()
    numbers, tables = citation_markers([answer])
    return tuple(
        c.to_source()
        for c in citations
        if c.number in numbers or (c.kind == "table" and c.title in tables)
    )


def given_passages(
    cited: Sequence[Source], citations: Sequence[Citation], *, not_found: bool = False
) -> tuple[Source, ...]:
    """What an answer rests on when it cites none of the passages it was given: those
    passages, in the order the tools returned them, each `cited=False` (a small model rarely
    writes [n]). None when it cites a passage, for the can't-find answer, and without a
    search."""
    if not_found or any(source.kind == "document" for source in cited):
        return ()
    return tuple(replace(c.to_source(), cited=False) for c in citations if c.kind == "document")


def answer_sources(
    answer: str, cited: Sequence[Source], given: Sequence[Source]
) -> tuple[str, tuple[Source, ...]]:
    """`numbered_answer` of the cited sources, then the passages given but not cited
    (`given_passages`), numbered after them: cited sources always come first."""
    answer, numbered = numbered_answer(answer, cited)
    after = len(numbered)
    return answer, numbered + tuple(
        replace(source, number=after + i) for i, source in enumerate(given, start=1)
    )


def checked_citations(answer: str, citations: Sequence[Citation]) -> tuple[str, tuple[int, ...]]:
    """The answer without the [n] markers that name no passage a tool returned in this turn
    (and their Sources lines), and those numbers: what is left of an answer that still
    invented citations after its retry (see `use_cases.chat.agent.build_agent`)."""
    invented = invented_citations([answer], citations)
    if invented:
        logger.warning("Removed invented citations {} from an answer", invented)
    return without_citations(answer, invented), tuple(invented)


# --- the reader's numbers --------------------------------------------------------------------


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
    changed: Any = replace(item, number=number)  # type: ignore[type-var]  # NumberedT is always a dataclass
    return changed  # type: ignore[no-any-return]  # replace() returns the type it was given


def _sorted_sources_lines(text: str) -> str:
    """Each run of consecutive Sources lines sorted by the number it names."""
    lines = text.split("\n")
    out: list[str] = []
    run: list[tuple[int, str]] = []
    for line in [*lines, None]:
        entry = _SOURCES_ENTRY.match(line) if line is not None else None
        if entry:
            run.append((int(entry.group(1)), line))  # type: ignore[arg-type]  # a matched line is never the None sentinel
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
