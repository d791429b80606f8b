"""What one input may cost to read: every parser's budget, stated once, and the readers that
enforce it while the bytes are read (never after).

A file's size says little about what reading it costs: a 98 KB ZIP can unpack to 96 MiB, a
JSON document can take 24 times its size in memory once parsed (`[{},{},...]`), and an 8 KB
PDF can have 40 pages that each decompress the same 0.5 MiB stream. So each parser is bounded
by what it produces, not by what it was given:

- **Decompression** (`BoundedReader`): at most `ratio` times the compressed size (but always
  `ratio_floor` bytes, so a small, very compressible file is fine), and never more than
  `max_unpacked` bytes, counted while inflating.
- **JSON** (`stream_json_items`): parsed as a stream (ijson), one top-level item at a time;
  no single item may span more than `max_json_item` bytes, so the memory one item can take
  once parsed is bounded too (about 24 times its bytes at worst).
- **JSON depth** (`max_json_depth`, `JsonDepth`): arrays and objects nested in each other,
  counted over the bytes before any parser sees them: as they stream (`stream_json_items`:
  an export's `conversations.json`, whose parser's memory grows with the square of the
  depth, 0.95 GB at depth 20,000) or over the whole text (`loads_bounded`, for every other
  JSON a client sends: JSONL table rows, the OpenID Connect sign-in cookie, a share page's
  embedded data).
- **PDF** (`PdfBudget`): pages per document and decompressed content bytes per document;
  the loader calls `check_pages` once it knows the page count and `charge` for each page's
  decompressed content as it reads it (its fonts' ToUnicode maps and embedded programs
  included, which PDFium inflates when it loads a font), and for the document's XMP
  metadata stream, which PDFium inflates and parses as XML when it opens the file.
- **YAML** (`max_yaml_expanded`): the bytes a Markdown file's front matter stands for with
  its aliases resolved (an alias counted as what it repeats, each time), measured on the
  parsed node graph before any Python object is built (services/knowledge/loaders/
  markdown.py).
- **Images** (`max_image_pixels`): width x height x frames, from the header, before any
  pixel is decoded (services/conversations/image_reader.py, and the OCR of an image file,
  services/knowledge/loaders/image.py).
- **Office files** (`max_xml_depth`, `max_xml_elements`, `max_empty_rows`): each XML
  part's nesting, element count and empty sheet rows, streamed before Word's,
  PowerPoint's or a workbook's library reads it (services/office/package.py), beside the
  unpacked-bytes budget of each part.
- **Workbooks** (`max_workbook_cells`): the cells of one workbook that hold a value, and
  those of the tables its sheets become, counted as the sheets are read: never the extent a
  sheet claims, a far cell, or repeats of blank cells (services/office/workbooks.py).
- **Archives and mailboxes** (`max_archive_members`, `max_archive_unpacked`,
  `max_archive_ratio`): a `.zip`'s or `.epub`'s members, their unpacked bytes together and
  each one's packing ratio, read from the directory before anything is inflated and counted
  again while inflating; a nested archive counts with its parent; an e-mail's parts and a
  mailbox's messages count as members (services/knowledge/loaders/members.py).
- **OCR** (`ocr_cpu_s`, `max_ocr_pages`): the CPU seconds OCR may spend on one document's
  scanned pages, Tesseract's own included, measured as each page starts
  (services/knowledge/loaders/ocr.py, `read_pages`), and a safety cap on the pages one
  document may ask it to read, checked before any is read. The CPU budget is the binding
  one: a 300-page scan fits within it; a chat attachment's pages and CPU are its own, far
  smaller (CHAT_FILE_OCR_MAX_PAGES).
- **Chats** (`max_chat_messages`): messages of one imported conversation (an export's, a
  share page's, a Slack thread's), counted once it is parsed and before anything is stored
  (use_cases/conversations/imports.py). A chat is read a page at a time whatever its length
  (`ManageChats.page`); the cap states the length those pages were measured at.
- **CPU and memory**: a document's parse runs under `parse_cpu_s` seconds of CPU time (the
  default of the PARSE_CPU_SECONDS setting) and `parse_memory_bytes` of address space (of
  PARSE_MEMORY_MB) in a child process (`services/parse_pool.py`, `BudgetedLoader`); past
  either, the parse is stopped and refused with a 413 naming that budget. Chat attachments,
  admin uploads (POST /api/documents) and the files of `almanac ingest` (a failed file of
  its report; the rest of the folder is still ingested) are parsed so; only the bundled
  sample at bootstrap is read in process (the PDF's page and content budget still applies
  there). A share page of a conversation import is read on a worker thread, by a tokenizer
  whose work is linear in the page's bytes (IMPORT_MAX_PAGE_BYTES), under the same CPU
  seconds measured on that thread (services/conversations/import_formats.py).

Past a budget, the input is refused with `InputTooCostly` (413, `input_too_costly`), whose
detail names the budget; a malformed archive is `InvalidArchive` (422) naming what is wrong.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import IO, Any, NamedTuple, Protocol

import ijson

from use_cases.shared.errors import InputTooCostly, InvalidArchive

__all__ = [
    "ARCHIVE_ERRORS",
    "BUDGET",
    "UTF8_BOM",
    "BoundedReader",
    "InputBudget",
    "JsonDepth",
    "JsonItems",
    "PdfBudget",
    "json_text",
    "loads_bounded",
    "open_zip",
    "open_zip_member",
    "stream_json_items",
]

MiB = 1024 * 1024


@dataclass(frozen=True)
class InputBudget:
    """The limits on reading one input (module docstring). One instance, `BUDGET`, is used
    everywhere; tests make smaller ones."""

    #: Unpacked bytes per compressed byte, checked while inflating. Exports of real chats
    #: (text, ids, timestamps) pack 4 to 8 times; `{}` repeated packs 1,000 times. At 20, a
    #: 100 KB upload unpacks to at most 2 MB, which parses in about a second of CPU.
    ratio: int = 20
    #: Unpacked bytes always allowed whatever the ratio.
    ratio_floor: int = 1 * MiB
    #: Unpacked bytes of one archive member, whatever its compressed size.
    max_unpacked: int = 256 * MiB
    #: Bytes of one top-level JSON item (a conversation of an export).
    max_json_item: int = 8 * MiB
    #: Pages of one PDF.
    max_pdf_pages: int = 2000
    #: Decompressed content-stream bytes of one PDF, all pages together, a stream counted
    #: each time a page draws it (a 300-page manual draws ~10 MiB; the fan-out PDF of issue
    #: 65, 40 pages drawing one 0.5 MiB stream, 20 MiB).
    max_pdf_content: int = 16 * MiB
    #: Pixels of one image, every frame of an animation counted: what decoding it would
    #: produce (4 bytes a pixel as RGBA), read from its header before anything is decoded.
    #: A 48-megapixel photo passes; a 200 KB PNG that claims 40,000 x 40,000 does not.
    max_image_pixels: int = 64_000_000
    #: Elements one XML part of an Office file may nest in each other (real Word, PowerPoint
    #: and Excel files nest a few dozen deep, tables in tables a few more), and elements one
    #: part may hold (a 100,000-row sheet of 20 columns holds ~2.1 million), counted as the
    #: part streams, before any library builds it (services/office/package.py).
    max_xml_depth: int = 512
    max_xml_elements: int = 4_000_000
    #: Rows without a cell in one sheet (formatted blank rows: a few hundred in real
    #: workbooks; a million is a bomb that costs a reader seconds a pass and holds nothing).
    max_empty_rows: int = 100_000
    #: Cells of one workbook (all its sheets): those holding a value, and those of the tables
    #: its sheets become (rows x columns, once the rows and columns holding no value are
    #: gone). openpyxl parses 50,000 to 100,000 cells a CPU-second on these machines (200,000
    #: in 4.8 s on a loaded 2-core one, its package check included), so a workbook within it
    #: is described within PARSE_CPU_SECONDS (5 s), and a sheet is read three times to load
    #: it as a table: a 20,000-row sheet of 10 columns. The default of the
    #: MAX_WORKBOOK_CELLS setting.
    max_workbook_cells: int = 200_000
    #: Pages without a text layer that OCR reads in one document (a scanned PDF's, a TIFF's
    #: frames), checked before any is read: a safety cap as high as a PDF's pages
    #: (`max_pdf_pages`), not the binding limit (`ocr_cpu_s` is). The default of the
    #: OCR_MAX_PAGES setting.
    max_ocr_pages: int = 2000
    #: CPU seconds OCR may spend on one document (its `tesseract` runs and the rendering and
    #: reading of their pages), measured as each page starts. Measured with bench/bench_ocr.py
    #: (`--scan-pages`) on typeset pages scanned at 150 dpi, read at 300: 2.1-2.4 CPU s a page
    #: (a 300-page scan took 638 CPU s, 398 s on a shared 2-core machine); 1,800 leaves 2.8
    #: times that. The default of the OCR_CPU_SECONDS setting.
    ocr_cpu_s: float = 1800.0
    #: Seconds of CPU time one document's parse may take (in a child process, see
    #: services/parse_pool.py); the default of the PARSE_CPU_SECONDS setting.
    parse_cpu_s: float = 5.0
    #: Bytes of address space one document's parse may map (in its child process, see
    #: services/parse_pool.py, `RLIMIT_AS`); past it the parse is refused like a CPU breach;
    #: the default of the PARSE_MEMORY_MB setting. The child with the loaders and PDFium maps
    #: ~90 MiB; the costliest real documents within the upload limits map ~0.33 GiB at their
    #: peak (18 MB of Markdown), 0.24 GiB (18 MB of HTML), 0.19 GiB (a 2,000-page PDF). Two
    #: parses may run at once, so a hostile file costs the server at most twice this.
    parse_memory_bytes: int = 1024 * MiB
    #: Nesting depth of any JSON value read from a client (exports, JSONL table rows, cookies,
    #: embedded page data): real exports nest about 10 deep; past the limit, the input is
    #: refused before it is parsed further (a streaming parser's memory grows with the square
    #: of the depth).
    max_json_depth: int = 256
    #: Bytes a YAML front matter may expand to once its aliases are resolved (aliases are
    #: counted as the bytes of what they repeat).
    max_yaml_expanded: int = 1 * MiB
    #: Messages of one imported conversation. Above what any conversation within
    #: `max_json_item` can hold (the smallest message a reader keeps, Claude's
    #: `{"role":"user","text":"x"},`, is 27 bytes: 8 MiB holds ~311,000), so every export the
    #: other budgets let through imports (a 19 MB export of 562,000 one-line messages does);
    #: it bounds share pages and Slack threads the same way.
    max_chat_messages: int = 500_000

    #: Members of one archive (`.zip`, `.epub`), a nested archive's counted with its
    #: parent's, and messages of one mailbox (`.mbox`) or parts of one e-mail: each is a
    #: loader's run. The default of the ARCHIVE_MAX_MEMBERS setting.
    max_archive_members: int = 1000
    #: Bytes all members of one archive may unpack to together (a nested archive's
    #: counted with its parent's), from its directory and again while inflating. The
    #: default of ARCHIVE_MAX_UNPACKED_MB.
    max_archive_unpacked: int = 256 * MiB
    #: Unpacked bytes per packed byte of one archive member (but always `ratio_floor`):
    #: text packs 3 to 10 times, a zip bomb's members thousands of times. The default of
    #: ARCHIVE_MAX_RATIO.
    max_archive_ratio: int = 100

    def unpacked_limit(self, compressed: int) -> int:
        """Bytes one member of `compressed` bytes may unpack to."""
        return min(self.max_unpacked, max(self.ratio_floor, self.ratio * max(compressed, 0)))


BUDGET = InputBudget()


class BoundedReader(io.RawIOBase):
    """A read-only stream over `source` that raises `InputTooCostly` once more than `limit`
    bytes have been read, or once the current item (since `mark()`) spans more than
    `item_limit` bytes. `what` names the input in the message."""

    def __init__(
        self, source: IO[bytes], limit: int, what: str, *, item_limit: int | None = None
    ) -> None:
        self._source = source
        self._limit = limit
        self._what = what
        self._item_limit = item_limit
        self._item_start = 0
        self.position = 0

    def readable(self) -> bool:
        return True

    def mark(self) -> None:
        """A new item starts here (the `item_limit` counts from this point)."""
        self._item_start = self.position

    def read(self, size: int = -1) -> bytes:
        want = self._limit + 1 - self.position if size is None or size < 0 else size
        chunk = self._source.read(max(0, min(want, self._limit + 1 - self.position)))
        self.position += len(chunk)
        if self.position > self._limit:
            raise InputTooCostly(
                f"{self._what} holds more than {self._limit:,} bytes once unpacked: refused "
                "(a file may unpack to a bounded multiple of its packed size)."
            )
        if self._item_limit is not None and self.position - self._item_start > (
            self._item_limit + _IJSON_BUFFER
        ):
            raise InputTooCostly(
                f"One item of {self._what} is larger than {self._item_limit:,} bytes: refused."
            )
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


#: Bytes ijson reads ahead of the item it yields (its buffer size).
_IJSON_BUFFER = 64 * 1024
_SUPPORTED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
#: What the zip module raises on archives it cannot read (corrupt data, encryption, methods;
#: offsets and sizes that point before the file or past any size: `ValueError`, "negative
#: seek value", and `OverflowError`, from the ZipFile itself or when a member is opened).
ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    OSError,
    ValueError,
    OverflowError,
)


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """`data` (a client's bytes) as a ZIP; `InvalidArchive` naming `what` if its directory
    cannot be read (`ARCHIVE_ERRORS`)."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except ARCHIVE_ERRORS as exc:
        raise InvalidArchive(f"{what} is not a readable ZIP: {_reason(exc)}") from None


def open_zip_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: InputBudget = BUDGET
) -> BoundedReader:
    """`member` of `archive` as a stream bounded by `budget` (its declared sizes are not
    trusted: the count is of the bytes actually inflated). An encrypted member or one packed
    with a method other than stored or deflate is `InvalidArchive`."""
    name = member.filename
    if member.flag_bits & 0x1:
        raise InvalidArchive(f"{name} in the ZIP is encrypted; export it again without a password.")
    if member.compress_type not in _SUPPORTED_METHODS:
        raise InvalidArchive(
            f"{name} in the ZIP is packed with compression method {member.compress_type}; "
            "only stored and deflate are read."
        )
    limit = budget.unpacked_limit(member.compress_size)
    try:
        handle = archive.open(member)
    except ARCHIVE_ERRORS as exc:
        raise InvalidArchive(f"{name} in the ZIP cannot be read: {_reason(exc)}") from None
    return BoundedReader(handle, limit, name, item_limit=budget.max_json_item)


class JsonItems(NamedTuple):
    """A JSON document read as a stream: `array` when its top level is an array (then
    `items` are its elements), else `items` holds the one top-level value."""

    array: bool
    items: Iterator[Any]


def stream_json_items(
    stream: BoundedReader | IO[bytes], what: str, *, max_depth: int = BUDGET.max_json_depth
) -> JsonItems:
    """The items of a top-level JSON array one at a time, or a top-level value as one item
    (either way no item may span more than the stream's `item_limit`, and nothing may nest
    more than `max_depth` deep: the bytes are scanned for it before the parser sees them).
    A leading UTF-8 byte-order mark is dropped; bytes that are not UTF-8 are not JSON.
    Iterating raises `ValueError` naming `what` for text that is not JSON, and
    `InvalidArchive` for a member that cannot be inflated; `InputTooCostly` passes through."""
    bounded = stream if isinstance(stream, BoundedReader) else None
    buffered = io.BufferedReader(_DepthChecked(stream, JsonDepth(max_depth, what)))
    try:
        if buffered.peek(len(UTF8_BOM)).startswith(UTF8_BOM):  # the parser reads UTF-8 only
            buffered.read(len(UTF8_BOM))
        array = buffered.peek(64).lstrip()[:1] == b"["
    except ARCHIVE_ERRORS as exc:
        raise InvalidArchive(f"{what} in the ZIP is corrupt: {_reason(exc)}") from None
    return JsonItems(array, _items(buffered, "item" if array else "", bounded, what))


def _items(
    buffered: io.BufferedReader[_DepthChecked],
    prefix: str,
    bounded: BoundedReader | None,
    what: str,
) -> Iterator[Any]:
    try:
        for item in ijson.items(buffered, prefix, use_float=True):
            yield item
            if bounded is not None:
                bounded.mark()
    except ijson.JSONError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    except ARCHIVE_ERRORS as exc:
        raise InvalidArchive(f"{what} in the ZIP is corrupt: {_reason(exc)}") from None


class _ByteSource(Protocol):
    """What `_DepthChecked` reads from: a file, a ZIP member, a `BoundedReader`."""

    def read(self, size: int = -1, /) -> bytes: ...


class _DepthChecked(io.RawIOBase):
    """`source` read through a `JsonDepth`: a chunk that nests too deep raises before it is
    handed on."""

    def __init__(self, source: _ByteSource, depth: JsonDepth) -> None:
        self._source = source
        self._depth = depth

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._source.read(len(buffer))
        self._depth.feed(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


# -- JSON nesting depth --------------------------------------------------------------------------

#: Every byte but the quote and the four that open and close arrays and objects.
_NOT_KEPT = bytes(b for b in range(256) if b not in b'"[]{}')
#: What each bracket does to the depth.
_STEP = [1 if b in b"[{" else -1 for b in range(256)]


class JsonDepth:
    """The nesting depth of JSON text fed in pieces: `feed` raises `InputTooCostly` naming
    `what` and the limit as soon as a piece opens an array or object more than `limit` deep,
    before anything parses it. Brackets inside strings do not count (escapes handled); a
    string, an escape or the depth runs on from one piece into the next.

    Linear, and at C speed (bytes methods, no Python step per string): escape pairs are
    dropped (an escaped quote ends no string), then all but quotes and brackets; a bracket is
    inside a string where an odd number of quotes come before it, so adjacent quotes (most
    strings hold no bracket: `""` once the rest is dropped) go too, and the brackets between
    the remaining quotes are kept or dropped by turns. Only where a piece could reach the
    limit are the running depths of its brackets summed (`itertools.accumulate`). Text that
    is not JSON may be measured wrongly past its first error, where any parser stops."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, piece: bytes) -> None:
        if self._escaped and piece:  # the previous piece ended on a lone backslash
            piece, self._escaped = piece[1:], False
        if b"\\" in piece:
            piece = piece.replace(b"\\\\", b"").replace(b'\\"', b"")  # escaped \ and "
            if piece.endswith(b"\\"):  # escapes the next piece's first byte
                piece, self._escaped = piece[:-1], True
        kept = piece.translate(None, _NOT_KEPT).replace(b'""', b"")
        if b'"' in kept:
            runs = kept.split(b'"')
            outside = b"".join(runs[1::2] if self._in_string else runs[::2])
            self._in_string ^= len(runs) % 2 == 0
        else:
            outside = b"" if self._in_string else kept
        opened = outside.count(b"[") + outside.count(b"{")
        if self.depth + opened > self.limit:
            deepest = max(accumulate(map(_STEP.__getitem__, outside), initial=self.depth))
            if deepest > self.limit:
                raise InputTooCostly(
                    f"{self.what} nests arrays and objects more than {self.limit:,} deep: "
                    f"refused (the JSON depth limit is {self.limit:,} levels)."
                )
        self.depth += 2 * opened - len(outside)


def loads_bounded(text: str | bytes, what: str, *, max_depth: int = BUDGET.max_json_depth) -> Any:
    """`json.loads(text)`, once a linear scan has found it nests at most `max_depth` deep
    (else `InputTooCostly` naming `what` and the limit, before anything is built, so no
    `RecursionError` either). Text that is not JSON raises `json.JSONDecodeError`, as
    json.loads does; so do bytes that are not UTF-8.

    Bytes are decoded first (`json_text`) and the scan runs over the decoded text, the one
    the parser reads: `json.loads(bytes)` would itself detect UTF-16 and UTF-32, whose
    brackets a scan of the raw bytes miscounts (`00 22` read as a quote: a UTF-16 text 5,000
    deep scanned as depth 1, then the parser raised `RecursionError`)."""
    decoded = json_text(text)
    JsonDepth(max_depth, what).feed(decoded.encode("utf-8", "surrogatepass"))
    try:
        return json.loads(decoded)
    except RecursionError:  # the scan's limit is far below the parser's; kept as a net
        raise InputTooCostly(
            f"{what} nests arrays and objects too deeply to be read: refused (the JSON depth "
            f"limit is {max_depth:,} levels)."
        ) from None


#: The byte-order mark some editors and exporters put before UTF-8 text.
UTF8_BOM = b"\xef\xbb\xbf"


def json_text(text: str | bytes) -> str:
    """JSON text as the parser should read it: bytes decoded strictly as UTF-8 (JSON's one
    encoding, RFC 8259), a leading byte-order mark dropped (text or bytes). Bytes that are not
    UTF-8 raise `json.JSONDecodeError` at the first bad byte, as text that is not JSON does."""
    if isinstance(text, str):
        return text.removeprefix("\ufeff")
    try:
        return text.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("not UTF-8 text", "", exc.start) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValueError | OverflowError):  # a seek outside the file (ARCHIVE_ERRORS)
        return "an offset or size in its directory points outside the file"
    return str(exc) or type(exc).__name__


@dataclass
class PdfBudget:
    """The page and content budget of one PDF, charged by the loader as it reads (one
    instance per document). `what` names the document in the messages."""

    what: str
    budget: InputBudget = BUDGET
    content: int = 0

    def check_pages(self, pages: int) -> None:
        if pages > self.budget.max_pdf_pages:
            raise InputTooCostly(
                f"{self.what} has {pages:,} pages; at most {self.budget.max_pdf_pages:,} are read."
            )

    def charge(self, decompressed: int, part: str = "page content") -> None:
        """Count `decompressed` more bytes of page content (a page's content streams and
        forms, their inline images, the Type 3 glyphs it uses: services/knowledge/loaders/
        pdf_content.py) or of another stream the loader's libraries inflate (the document's
        XMP metadata), which `part` names in the message."""
        self.content += decompressed
        if self.content > self.budget.max_pdf_content:
            raise InputTooCostly(
                f"{self.what} decompresses to more than {self.budget.max_pdf_content:,} bytes "
                f"of {part}: refused."
            )
