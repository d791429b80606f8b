"""Helpers shared by the loaders: decoding, names, dates and heading-path bookkeeping."""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath

from use_cases.knowledge.domain import ParsedSection
from use_cases.shared.errors import InvalidDocument, UnsupportedDocument

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_SEPARATORS = re.compile(r"[-_\s]+")
_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d.%m.%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%Y%m%d",
)
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


def extension(name: str) -> str:
    """The lower-cased extension of `name` including the dot ("" when there is none)."""
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


#: An address that leads out of the documents: "https://...", "mailto:...", "www...".
_ABSOLUTE_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|www\.)", re.IGNORECASE)


def leads_out(address: str) -> bool:
    """Whether a link's address leads out of the documents (a scheme or "www."), rather than
    to another page of them ("../guide.html#top")."""
    return _ABSOLUTE_ADDRESS.match(address.strip()) is not None


#: Loads running with the cyclic garbage collector paused, and whether it ran before the first.
_PAUSE_LOCK = threading.Lock()
_pauses = 0
_collector_was_on = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a loader builds and reads a big tree.

    A parse tree grows by many small objects that all live until the load ends (bs4's tags
    and strings, a PDF's lines and pypdf's objects): the collector, which runs again each time
    the objects that survived grow by a quarter, traverses the whole growing tree every time,
    ~a quarter to a third of the HTML and PDF loaders' CPU on a page of list items or table
    rows, and finds nothing to free. Paused for the load's duration only (bounded by the parse
    budget: the server loads in a child process of its own, services/parse_pool.py), and
    restored as it was when the last load running at once ends; what a load leaves in
    cycles is collected on the collector's next run."""
    global _pauses, _collector_was_on
    with _PAUSE_LOCK:
        if _pauses == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pauses -= 1
            if _pauses == 0 and _collector_was_on:
                gc.enable()


def humanise_stem(name: str) -> str:
    """A readable title from a file name: "password-policy_v2.md" -> "Password policy v2"."""
    stem = PurePosixPath(name.replace("\\", "/")).stem
    words = _SEPARATORS.sub(" ", stem).strip()
    if not words:
        return "Untitled"
    if words.islower():
        words = words[0].upper() + words[1:]
    return words


def decode_text(data: bytes) -> str:
    """Bytes to text, never failing: UTF-8 (BOM aware), UTF-16 with a BOM, then cp1252/latin-1.

    Newlines are normalised to "\\n" and NUL characters removed.
    """
    if data.startswith(_UTF8_BOM):
        text = data[len(_UTF8_BOM) :].decode("utf-8", errors="replace")
    elif data.startswith(_UTF16_BOMS):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    return normalise_newlines(text).replace("\x00", "")


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tidy_text(text: str) -> str:
    """Strip trailing spaces on each line, squeeze runs of blank lines, strip the ends."""
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def ensure_not_empty(name: str, data: bytes) -> None:
    if not data or data.isspace():
        raise InvalidDocument(f"{name} is empty")


#: Bytes looked at to tell text from binary content (what `file` and git do, roughly).
SNIFF_BYTES = 64 * 1024
#: Share of control characters (other than tab, line breaks and form feed) and undecodable
#: bytes above which a "text" file is taken for binary content. Random bytes give ~25%;
#: real text, even a log with colour codes, stays under a few percent.
MAX_CONTROL_RATIO = 0.1
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")


def ensure_textual(name: str, data: bytes) -> None:
    """Reject binary content under a text extension (`UnsupportedDocument`, HTTP 415).

    The extension only says which loader to try; the bytes decide whether it is text. A NUL
    byte (outside UTF-16/32 text, which announces itself with a byte-order mark) or more than
    `MAX_CONTROL_RATIO` control characters / undecodable bytes in the first `SNIFF_BYTES`
    means binary: an image, archive or executable renamed `.md` is refused instead of being
    indexed as chunks of control characters.
    """
    sample = data[:SNIFF_BYTES]
    if sample.startswith(_UTF16_BOMS):
        text = sample.decode("utf-16", errors="replace")
    elif b"\x00" in data:
        raise UnsupportedDocument(
            f"{name} is not a text file: it contains NUL bytes (binary content under a "
            f"{extension(name) or 'text'} name?). Markdown, text and HTML files must be text; "
            "upload a PDF as .pdf."
        )
    else:
        text = _decode_sample(sample, truncated=len(data) > len(sample))
    if not text:
        return
    ratio = len(_CONTROL.findall(text)) / len(text)
    if ratio > MAX_CONTROL_RATIO:
        raise UnsupportedDocument(
            f"{name} is not a text file: {ratio:.0%} of its first characters are control "
            "characters or undecodable bytes (binary content under a "
            f"{extension(name) or 'text'} name?). Markdown, text and HTML files must be text."
        )


def _decode_sample(sample: bytes, *, truncated: bool) -> str:
    """The sample decoded the way `decode_text` decodes a file (a multi-byte character cut
    at the sample's end is not held against it)."""
    if sample.startswith(_UTF8_BOM):
        sample = sample[len(_UTF8_BOM) :]
    try:
        return sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(sample) - 3:
            return sample[: exc.start].decode("utf-8", errors="replace")
    try:
        return sample.decode("cp1252")
    except UnicodeDecodeError:
        return sample.decode("latin-1")


def ensure_text(name: str, text: str) -> None:
    if not text.strip():
        raise InvalidDocument(f"{name} is empty")


def parse_date(value: object) -> date | None:
    """A date from a date, datetime or string (ISO 8601, RFC 2822, PDF "D:..." and a few
    common human formats). Returns None when the value cannot be read as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    return None


def parse_pdf_date(value: object) -> date | None:
    """A date from a PDF date string ("D:20240131120000+01'00'"), tolerant of truncation."""
    if value is None:
        return None
    match = _PDF_DATE.match(str(value).strip())
    if match is None:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def metadata_value(value: object) -> str | None:
    """A metadata string for a scalar (or a list of scalars, joined by ", "); None otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    if isinstance(value, list | tuple) and not any(
        isinstance(item, list | tuple | dict) for item in value
    ):
        items = [shown for item in value if (shown := metadata_value(item))]
        return ", ".join(items) or None
    return None


@dataclass(frozen=True)
class _OpenHeading:
    level: int
    text: str | None  # None: the document title, known only at the end
    implied: bool  # a question or appendix the loader made a heading of, not the document's


class SectionBuilder:
    """Collects heading-delimited sections while a loader walks a document in reading order.

    The heading path is the stack of open headings: a heading of level N closes every open
    heading of level >= N. Body text outside any heading is given the path `(title,)`, where
    the title is only known at the end (`sections(title)`). A heading with no body of its own
    (immediately followed by a sub-heading) produces no section.

    Loaders may also open implied headings, which the document marks up as something else:
    `subheading` (a FAQ question: one level below the innermost real heading, so questions
    stay siblings; the next real heading of its level or above closes it, `close_subheadings`
    closes it explicitly) and `appendix` (e.g. footnotes: one level below the outermost
    heading). Opened with no heading above them, they sit below the title: `(title, text)`.
    Implied headings never count as the first H1.
    """

    def __init__(self) -> None:
        self._stack: list[_OpenHeading] = []
        self._path: tuple[str | None, ...] | None = None
        self._body: list[str] = []
        self._done: list[tuple[tuple[str | None, ...] | None, str]] = []
        self.first_h1: str | None = None

    def heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self._flush()
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text
        # The title placeholder (level 0: implied headings opened with no heading above them
        # hang below it) goes too once a real heading gets down to it: that heading is a root.
        while self._stack and (self._stack[-1].level >= level or self._stack[-1].text is None):
            self._stack.pop()
        self._push(_OpenHeading(level, text, implied=False))

    def subheading(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self._flush()
        self._pop_implied()
        level = self._stack[-1].level + 1 if self._stack else 1
        self._push(_OpenHeading(level, text, implied=True))

    def close_subheadings(self) -> None:
        """Close the implied headings: what follows belongs to the enclosing real heading."""
        if any(entry.implied for entry in self._stack):
            self._flush()
            self._pop_implied()
            self._path = tuple(entry.text for entry in self._stack) or None

    def appendix(self, text: str) -> None:
        """An implied heading right below the outermost heading (e.g. "Footnotes"); when a
        heading of that name is the innermost open one already, text goes on under it."""
        text = " ".join(text.split())
        if not text or (self._stack and (self._stack[-1].text or "").casefold() == text.casefold()):
            return
        self._flush()
        root = next((entry for entry in self._stack if not entry.implied), None)
        self._stack = [root] if root is not None else []
        self._push(_OpenHeading((root.level if root else 0) + 1, text, implied=True))

    def _pop_implied(self) -> None:
        while any(entry.implied for entry in self._stack):  # the title placeholder too
            self._stack.pop()

    def _push(self, entry: _OpenHeading) -> None:
        if entry.implied and not self._stack:
            self._stack.append(_OpenHeading(0, None, implied=True))
        self._stack.append(entry)
        self._path = tuple(heading.text for heading in self._stack)

    def text(self, text: str) -> None:
        self._body.append(text)

    def _flush(self) -> None:
        body = tidy_text("".join(self._body))
        self._body = []
        if body:
            self._done.append((self._path, body))

    def sections(self, title: str) -> tuple[ParsedSection, ...]:
        self._flush()
        return tuple(
            ParsedSection(
                heading_path=(
                    tuple(title if part is None else part for part in path)
                    if path is not None
                    else (title,)
                ),
                text=body,
            )
            for path, body in self._done
        )


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cell texts as a Markdown table, the first row its header (Word's, PowerPoint's
    and a sheet's tables read alike). Cells are one line each (line breaks become spaces,
    `|` is escaped); short rows are padded; empty rows go."""
    cleaned = [
        [" ".join(cell.split()).replace("|", "\\|") for cell in row]
        for row in rows
        if any(cell.strip() for cell in row)
    ]
    if not cleaned:
        return ""
    width = max(len(row) for row in cleaned)
    padded = [row + [""] * (width - len(row)) for row in cleaned]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row) + " |" for row in padded[1:]]
    return "\n".join(lines)
