"""The checks every Office file passes before its library opens it (Word, PowerPoint and
Excel's OOXML, OpenDocument): a zip archive of XML parts, which can unpack to far more than
it holds and nest without end.

Rules:
- An OLE compound file (what Office writes for a password-protected document, and the
  legacy `.doc`/`.ppt`/`.xls` formats) is `InvalidDocument` (422) saying which it is and
  what to do: remove the password, or save in the current format.
- Bytes that are no zip archive (a corrupt or truncated file: a zip's directory is at its
  end), or a part encrypted or packed with another method than stored or deflate, are
  `InvalidDocument` (422).
- Budgets (`InputTooCostly`, 413, naming the part and the limit; services/budgets.py):
  each part may unpack to `InputBudget.unpacked_limit` of its packed size, and all parts
  together to `max_unpacked`, read from the archive's directory (Python's zip reader never
  inflates past a part's declared size, and the libraries read through it). The XML parts
  are then read once, as a stream, for their nesting depth (`max_xml_depth`) and element
  count (`max_xml_elements`; an OpenDocument row or cell counted as the many it repeats,
  its blank ones only where content follows them: `_Blanks`), and a sheet's empty rows
  (`max_empty_rows`: a row without a cell, which a reader still walks), before the library
  builds anything of them: a million empty rows or a part nested 100,000 deep is refused
  in a fraction of the parse budget.
- A part declaring a DTD is `InvalidDocument`: Office files never do, and entity
  expansion is the classic XML bomb.
- Macros (`vbaProject.bin`) are never read: no loader opens them, and this check looks only
  at XML parts.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import IO, TypeVar
from xml.parsers import expat

from services.budgets import ARCHIVE_ERRORS, BUDGET, InputBudget
from use_cases.shared.errors import InputTooCostly, InvalidDocument

#: The signature of an OLE compound file (Office's encrypted packages, .doc/.ppt/.xls).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream an encrypted OOXML package keeps its zip in, as its directory names it.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_XML_PARTS = (".xml", ".rels")
_READ_CHUNK = 256 * 1024
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: A sheet's row, in Excel's and OpenDocument's words.
_ROWS = frozenset(("row", "table-row"))
#: An OpenDocument sheet's cells.
_CELLS = frozenset(("table-cell", "covered-table-cell"))
T = TypeVar("T")


def check_package(name: str, data: bytes, kind: str, budget: InputBudget = BUDGET) -> None:
    """The cheap checks, from the bytes' start and the archive's directory alone: not empty,
    not an OLE file, a zip archive, and no part (nor all together) unpacking past its
    budget. `kind` names the format in messages ("Word document")."""
    if not data or data.isspace():
        raise InvalidDocument(f"{name} is empty")
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise InvalidDocument(
                f"{name} is password-protected: remove the password (save a copy without "
                "one) and upload it again."
            )
        raise InvalidDocument(
            f"{name} is in an older binary Office format, not a {kind}: open it and save it "
            "in the current format."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ARCHIVE_ERRORS:
        raise InvalidDocument(
            f"{name} is not a readable {kind} (no zip archive); it may be corrupt or truncated."
        ) from None
    with archive:
        total = 0
        for part in archive.infolist():
            if part.flag_bits & 0x1 or part.compress_type not in _METHODS:
                raise InvalidDocument(
                    f"{name}: its part {part.filename} is encrypted or packed in a way Office "
                    "does not write; save the file again."
                )
            limit = budget.unpacked_limit(part.compress_size)
            if part.file_size > limit:
                raise InputTooCostly(
                    f"{name}: its part {part.filename} unpacks to {part.file_size:,} bytes, "
                    f"more than the {limit:,} allowed for its packed size: refused."
                )
            total += part.file_size
            if total > budget.max_unpacked:
                raise InputTooCostly(
                    f"{name} unpacks to more than {budget.max_unpacked:,} bytes: refused."
                )


def check_parts(name: str, data: bytes, kind: str, budget: InputBudget = BUDGET) -> None:
    """`check_package`, then every XML part streamed once for its depth, elements and empty
    rows (the module docstring), before a library reads it."""
    check_package(name, data, kind, budget)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ARCHIVE_ERRORS:  # checked above; a second reading fails alike
        raise InvalidDocument(
            f"{name} is not a readable {kind}; it may be corrupt or truncated."
        ) from None
    with archive:
        for part in archive.infolist():
            # An empty part (OpenDocument's `Configurations2/accelerator/current.xml`, as
            # LibreOffice and pandoc write it) holds nothing to parse.
            if part.filename.lower().endswith(_XML_PARTS) and part.file_size:
                _check_xml(name, archive, part, budget)


def _check_xml(
    name: str, archive: zipfile.ZipFile, part: zipfile.ZipInfo, budget: InputBudget
) -> None:
    depth = elements = empty_rows = 0
    row_open = False  # a sheet's row, with no cell yet
    row_repeat = 1  # how many rows the open row stands for (OpenDocument repeats them)
    # OpenDocument's empty cells and rows count only once a cell with content follows them
    # in their row or table (`_Blanks`): what a reader expands.
    blanks = _Blanks()

    def charge(weight: int) -> None:
        nonlocal elements
        elements += weight
        if elements > budget.max_xml_elements:
            raise InputTooCostly(
                f"{name}: its part {part.filename} holds more than {budget.max_xml_elements:,} "
                "XML elements: refused (the XML element limit)."
            )

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth, row_open, row_repeat
        depth += 1
        if depth > budget.max_xml_depth:
            raise InputTooCostly(
                f"{name}: its part {part.filename} nests elements more than "
                f"{budget.max_xml_depth:,} deep: refused (the XML depth limit)."
            )
        local = tag.rpartition(":")[2]
        row_open = local in _ROWS
        # An OpenDocument row or cell may stand for many (`number-rows-repeated`,
        # `number-columns-repeated`): a reader expands them, so they count as what they
        # stand for, or a kilobyte could ask for millions of cells.
        if local == "table-row":
            row_repeat = _repeat(attributes, "table:number-rows-repeated")
            blanks.open_row(row_repeat)
        elif local in _CELLS:
            weight = row_repeat * _repeat(attributes, "table:number-columns-repeated")
            charge(blanks.open_cell(weight, "office:value-type" in attributes))
        elif local == "row":  # Excel's: never repeated
            row_repeat = 1
            charge(1)
        else:
            charge(blanks.inside_cell() + 1)  # a cell's paragraph is its content

    def end(tag: str) -> None:
        nonlocal depth, empty_rows, row_open
        depth -= 1
        local = tag.rpartition(":")[2]
        if row_open and local in _ROWS:
            empty_rows += row_repeat
            if empty_rows > budget.max_empty_rows:
                raise InputTooCostly(
                    f"{name}: its part {part.filename} holds more than "
                    f"{budget.max_empty_rows:,} empty rows: refused (the empty-row limit)."
                )
        row_open = False
        if local in _CELLS:
            blanks.close_cell()
        elif local == "table-row":
            blanks.close_row()
        elif local == "table":
            blanks.close_table()

    def doctype(*_: object) -> None:
        raise InvalidDocument(
            f"{name}: its part {part.filename} declares a DTD, which Office files never do: "
            "refused."
        )

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    _parse_part(name, archive, part, parser)


def _parse_part(
    name: str, archive: zipfile.ZipFile, part: zipfile.ZipInfo, parser: expat.XMLParserType
) -> None:
    """Stream one part through `parser`, its faults as the file's (corrupt, truncated)."""
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_READ_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise InvalidDocument(
            f"{name}: its part {part.filename} is not well-formed XML "
            f"({expat.ErrorString(exc.code)}, line {exc.lineno}); the file may be corrupt."
        ) from None
    except ARCHIVE_ERRORS as exc:
        raise InvalidDocument(
            f"{name}: its part {part.filename} cannot be unpacked ({type(exc).__name__}); the "
            "file may be corrupt or truncated."
        ) from None


class _Blanks:
    """OpenDocument's blank cells and rows, counted only where a reader expands them.
    LibreOffice writes a sheet's empty remainder as repeated empty cells and rows (a row of
    16,384 empty cells, repeated to row 1,048,576), which readers drop (calamine read such a
    sheet in 2 ms); the same blanks followed by a cell with content are a gap a reader fills
    in, cell by cell. So blanks are held back, and counted when content follows them in
    their row (cells) or table (rows); a table's or row's trailing ones never count."""

    def __init__(self) -> None:
        self._rows = 0  # blank rows' cells held back in this table
        self._cells = 0  # blank cells held back in this row
        self._row = 0  # the open row's own weight, until it is counted
        self._row_blank = True
        self._cell = 0  # the open cell's weight, until it is counted
        self._cell_open = False

    def open_row(self, repeat: int) -> None:
        self._row, self._row_blank, self._cells = repeat, True, 0

    def open_cell(self, weight: int, has_value: bool) -> int:
        """What to count now for a cell of `weight` cells (with a value or not)."""
        self._cell, self._cell_open = weight, True
        return self._content() if has_value else 0

    def inside_cell(self) -> int:
        """What to count now for an element inside the open cell (its text: content)."""
        return self._content() if self._cell_open and self._cell else 0

    def close_cell(self) -> None:
        self._cells += self._cell  # blank (a counted cell's weight is 0 by now)
        self._cell, self._cell_open = 0, False

    def close_row(self) -> None:
        if self._row_blank:
            self._rows += self._row + self._cells
        self._cells = self._row = 0

    def close_table(self) -> None:
        self._rows = 0

    def _content(self) -> int:
        weight = self._rows + self._row + self._cells + self._cell
        self._rows = self._row = self._cells = self._cell = 0
        self._row_blank = False
        return weight


def _repeat(attributes: dict[str, str], name: str) -> int:
    """An OpenDocument repeat count (1 when absent or not a number)."""
    value = attributes.get(name, "1")
    return int(value) if value.isascii() and value.isdigit() else 1


def open_package(name: str, data: bytes, kind: str, opener: Callable[[IO[bytes]], T]) -> T:
    """`opener` (python-docx's `Document`, python-pptx's `Presentation`) over the checked
    bytes; whatever it raises on a package it cannot read (many types) is a 422 naming the
    file. Memory errors stay what they are: the parse budget's to report."""
    try:
        return opener(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception:
        raise InvalidDocument(
            f"{name} is not a readable {kind} (a part it needs is missing or broken)."
        ) from None
