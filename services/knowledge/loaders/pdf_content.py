"""What each page of a PDF draws, in decompressed bytes, measured before PDFium reads any page
(issue 65: a fan-out PDF, 40 pages drawing one 0.5 MiB stream, took ~50 s of CPU to read).

A page draws its content streams (`/Contents`) and the form XObjects its resources name
(`/Resources /XObject`, a form's own forms included). Each distinct stream is inflated once,
never past the budget left (`PdfBudget`), and its size is charged again for every page that
draws it, so a stream shared by many pages costs what PDFium would pay for it: a fan-out PDF
is refused after one inflate, in milliseconds, not after reading its pages.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.filters import ASCII85Decode, ASCIIHexDecode, LZWDecode, RunLengthDecode
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from services.budgets import PdfBudget

__all__ = ["charge_pages"]

#: How deep forms drawing forms are followed (PDFium stops far earlier than any real file).
MAX_FORM_DEPTH = 12
_INFLATE_CHUNK = 1024 * 1024
_OTHER_FILTERS: dict[str, Any] = {
    "/ASCIIHexDecode": ASCIIHexDecode,
    "/AHx": ASCIIHexDecode,
    "/ASCII85Decode": ASCII85Decode,
    "/A85": ASCII85Decode,
    "/RunLengthDecode": RunLengthDecode,
    "/RL": RunLengthDecode,
    "/LZWDecode": LZWDecode,
    "/LZW": LZWDecode,
}


def charge_pages(reader: PdfReader, page_count: int, budget: PdfBudget) -> None:
    """Charge `budget` with each page's decompressed content (`budget.charge` raises
    `InputTooCostly` past it). A page whose objects cannot be resolved is charged what could
    be measured: PDFium will fail on it too, and a page it cannot read is skipped."""
    sizes: dict[object, int] = {}  # a stream's key -> its decompressed size
    for index in range(page_count):
        try:
            page = reader.pages[index]
        except Exception:  # a broken page tree: PDFium reads what it can
            continue
        budget.charge(_page_content(page, sizes, budget))


def _page_content(page: DictionaryObject, sizes: dict[object, int], budget: PdfBudget) -> int:
    total = 0
    for key, stream in _drawn_streams(page):
        if key not in sizes:
            left = budget.budget.max_pdf_content - budget.content - total
            sizes[key] = _decompressed_size(stream, max(left, 0))
        total += sizes[key]
        if budget.content + total > budget.budget.max_pdf_content:
            break  # over already: the charge refuses it
    return total


def _drawn_streams(page: DictionaryObject) -> Iterator[tuple[object, StreamObject]]:
    """(key, stream) for each content stream `page` draws (as often as `/Contents` lists it:
    PDFium parses it each time) and each form XObject its resources name (once)."""
    try:
        yield from _streams(page.get("/Contents"))
        yield from _forms(page.get("/Resources"), set(), 0)
    except Exception:  # malformed objects: what was found so far is charged
        return


def _streams(value: object) -> Iterator[tuple[object, StreamObject]]:
    resolved = value.get_object() if isinstance(value, IndirectObject) else value
    if isinstance(resolved, StreamObject):
        yield _key(value), resolved
    elif isinstance(resolved, ArrayObject):
        for item in resolved:
            resolved_item = item.get_object() if isinstance(item, IndirectObject) else item
            if isinstance(resolved_item, StreamObject):
                yield _key(item), resolved_item


def _forms(
    resources: object, seen: set[object], depth: int
) -> Iterator[tuple[object, StreamObject]]:
    if depth > MAX_FORM_DEPTH or resources is None:
        return
    resources = resources.get_object() if isinstance(resources, IndirectObject) else resources
    if not isinstance(resources, DictionaryObject):
        return
    xobjects = resources.get("/XObject")
    xobjects = xobjects.get_object() if isinstance(xobjects, IndirectObject) else xobjects
    if not isinstance(xobjects, DictionaryObject):
        return
    for value in xobjects.values():
        key = _key(value)
        form = value.get_object() if isinstance(value, IndirectObject) else value
        if key in seen or not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form":
            continue
        seen.add(key)
        yield key, form
        yield from _forms(form.get("/Resources"), seen, depth + 1)


def _key(value: object) -> object:
    if isinstance(value, IndirectObject):
        return (value.idnum, value.generation)
    return id(value)


def _decompressed_size(stream: StreamObject, limit: int) -> int:
    """The bytes `stream` decodes to through its filters, counted up to `limit + 1` (past
    that, the exact figure does not matter). A filter that fails keeps what it produced."""
    data: bytes = getattr(stream, "_data", b"") or b""
    filters = stream.get("/Filter")
    names = list(filters) if isinstance(filters, ArrayObject) else [filters] if filters else []
    for name in names:
        if name in ("/FlateDecode", "/Fl"):
            data = _inflate(data, limit + 1)
        elif name in _OTHER_FILTERS:
            try:
                data = _OTHER_FILTERS[name].decode(data)
            except Exception:
                return len(data)
        else:  # an image filter (DCT, JBIG2, ...): no page content PDFium would parse
            return len(data)
        if len(data) > limit:
            break
    return len(data)


def _inflate(data: bytes, most: int) -> bytes:
    """`data` inflated, at most `most` bytes of it (a corrupt stream: what came out)."""
    inflater = zlib.decompressobj()
    out = bytearray()
    try:
        while data and len(out) < most:
            out += inflater.decompress(data, min(_INFLATE_CHUNK, most - len(out)))
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        pass
    return bytes(out)
