"""What each page of a PDF draws, in decompressed bytes, measured before PDFium reads any page
(a fan-out PDF, 40 pages drawing one 0.5 MiB stream, took ~50 s of CPU to read).

A page draws its content streams (`/Contents`) and the form XObjects they name (`/X0 Do`),
a form's own forms included, each as often as it is drawn. Each distinct stream is inflated
once, never past the budget left (`PdfBudget`), and its size is charged again every time a
page draws it, so a stream shared by many pages (or a form drawn 2,000 times) costs what
PDFium would pay for it: a fan-out PDF is refused after one inflate, in milliseconds, not
after reading its pages.

Besides content streams, what PDFium decodes to read a page's text is charged too:
- an inline image's deflated data (`BI ... /F /Fl ID <data> EI` in a content stream), which
  PDFium inflates to find the image's end, each time the stream is drawn (40 pages sharing a
  stream with a 64 MiB inline image: ~7 s of CPU from ~70 KB);
- a Type 3 font's glyph procedures (`/CharProcs`, and the forms they draw), parsed once a
  document like the font itself (32 MiB of glyph procedure: ~1.7 s);
- every font's side streams, inflated once a document when PDFium loads the font: its
  `/ToUnicode` map, its embedded program (`/FontFile`, `/FontFile2`, `/FontFile3`, a
  composite font's descendants' too) and an embedded `/Encoding` CMap (a 1.6 KB PDF whose
  ToUnicode map inflated to 300 MiB cost a chat attachment +640 MB).
Outside the pages, one stream is charged (`charge_metadata`): the catalog's XMP `/Metadata`,
which PDFium inflates and parses as XML when it opens a document (to look for an XFA shared
form), at ~7 times its inflated size in memory (a 3 MB file whose XMP inflates to 3 GiB took
a parse to 4 GB). pypdf inflates no stream the loader does not ask for (and bounds its own
inflates), the document info is a dictionary of strings, and embedded files and attachments
are never inflated (PDFium only checks that the catalog names them).

Image XObjects and tiling patterns are not charged: PDFium decodes neither to read text (40
pages drawing a 256 MiB image, or filled with a 64 MiB pattern, read in ~0.03 s), and
charging their pixels would refuse PDFs full of screenshots for no cost saved.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.filters import ASCII85Decode, ASCIIHexDecode, LZWDecode, RunLengthDecode
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from services.budgets import PdfBudget

__all__ = ["charge_metadata", "charge_pages"]

#: How deep forms drawing forms are followed (PDFium stops far earlier than any real file).
MAX_FORM_DEPTH = 12
_INFLATE_CHUNK = 1024 * 1024
_INFLATE_FEED = 64 * 1024
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
    meter = _Meter(budget)
    for index in range(page_count):
        try:
            page = reader.pages[index]
        except Exception:  # a broken page tree: PDFium reads what it can
            continue
        budget.charge(meter.page(page))


def charge_metadata(reader: PdfReader, budget: PdfBudget) -> None:
    """Charge `budget` with the catalog's XMP metadata stream, inflated at most to the budget
    left (PDFium inflates it in full and parses it when it opens the document). A catalog
    that cannot be resolved has none to charge: PDFium finds none either."""
    try:
        stream = _resolved(_resolved(reader.trailer["/Root"]).get("/Metadata"))
    except Exception:  # a broken trailer or catalog
        return
    if isinstance(stream, StreamObject):
        left = max(budget.budget.max_pdf_content - budget.content, 0)
        budget.charge(len(_decoded(stream, left)), "page content and metadata")


#: Where a font descriptor keeps an embedded font program (Type 1, TrueType, CFF/OpenType).
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
#: A composite font has one descendant; more are not followed.
_MAX_DESCENDANTS = 4
#: A form drawn by name: "/X0 Do".
_DRAW = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*Do(?![^\s/\[\]()<>{}%])")
#: An inline image: "BI /W 8 ... /F /Fl ID <data> EI"; at most `_MAX_INLINE_HEAD` bytes from
#: "BI" to "ID" (its dictionary) are read, and at most `_MAX_INLINE_IMAGES` a stream (a page
#: of more is charged past the budget).
_BEGIN_IMAGE = re.compile(rb"BI\s")
_IMAGE_DATA = re.compile(rb"\sID\s")
_MAX_INLINE_HEAD = 1024
_MAX_INLINE_IMAGES = 10_000
_WHITESPACE = frozenset(b" \t\r\n\f\0")
#: The filter of an inline image's dictionary: "/F /Fl", "/Filter [/FlateDecode]".
_INLINE_FILTER = re.compile(rb"/(?:F|Filter)\s*\[?\s*/(\w+)")


class _Meter:
    """Sizes of streams (each decoded once) and the cost of drawing each form once, its own
    draws of forms included."""

    def __init__(self, budget: PdfBudget) -> None:
        self._budget = budget
        self._streams: dict[object, tuple[int, Counter[bytes]]] = {}
        self._forms: dict[object, int] = {}
        self._fonts: set[object] = set()
        self._side_streams: set[object] = set()

    def _left(self) -> int:
        return max(self._budget.budget.max_pdf_content - self._budget.content, 0)

    def page(self, page: DictionaryObject) -> int:
        total = 0
        try:
            resources = page.get("/Resources")
            total += self._font_cost(resources)
            for key, stream in _streams(page.get("/Contents")):
                size, draws = self._stream(key, stream)
                total += size + self._drawn(draws, resources, 0)
                if total > self._left():
                    break
        except Exception:  # malformed objects: what was measured so far is charged
            pass
        return total

    def _stream(self, key: object, stream: StreamObject) -> tuple[int, Counter[bytes]]:
        """The bytes PDFium decodes each time it parses `stream` (its inline images'
        included), and the forms it draws."""
        if key not in self._streams:
            data = _decoded(stream, self._left())
            size = len(data) + _inline_images(data, self._left() - len(data))
            self._streams[key] = (size, Counter(_DRAW.findall(data)))
        return self._streams[key]

    def _font_cost(self, resources: object) -> int:
        """What PDFium inflates to load the fonts `resources` names that no page charged yet
        (it loads a font once a document): each font's `/ToUnicode` map and embedded font
        program (`/FontFile`, `/FontFile2`, `/FontFile3`), a composite font's descendants'
        programs and its embedded `/Encoding` CMap, and a Type 3 font's glyph procedures."""
        fonts = _resolved(_resolved(resources).get("/Font")) if resources else None
        if not isinstance(fonts, DictionaryObject):
            return 0
        total = 0
        for value in fonts.values():
            font, key = _resolved(value), _key(value)
            if key in self._fonts or not isinstance(font, DictionaryObject):
                continue
            self._fonts.add(key)
            total += self._font_streams(font)
            if total > self._left():
                return total
            if font.get("/Subtype") == "/Type3":
                total += self._type3_glyphs(font, resources)
                if total > self._left():
                    return total
        return total

    def _font_streams(self, font: DictionaryObject) -> int:
        """The decoded bytes of a font's side streams, each stream once a document."""
        values = [font.get("/ToUnicode"), font.get("/Encoding")]
        parts = [font]
        descendants = _resolved(font.get("/DescendantFonts"))
        if isinstance(descendants, ArrayObject):
            parts += [_resolved(d) for d in descendants[:_MAX_DESCENDANTS]]
        for part in parts:
            descriptor = _resolved(part.get("/FontDescriptor")) if isinstance(part, dict) else None
            if isinstance(descriptor, DictionaryObject):
                values += [descriptor.get(name) for name in _FONT_FILES]
        total = 0
        for value in values:
            stream, key = _resolved(value), _key(value)
            if not isinstance(stream, StreamObject) or key in self._side_streams:
                continue
            self._side_streams.add(key)
            total += len(_decoded(stream, max(self._left() - total, 0)))
            if total > self._left():
                break
        return total

    def _type3_glyphs(self, font: DictionaryObject, resources: object) -> int:
        """A Type 3 font's glyph procedures and the forms they draw (its own resources, else
        the page's)."""
        procs = _resolved(font.get("/CharProcs"))
        own = font.get("/Resources")
        total = 0
        for proc_value in procs.values() if isinstance(procs, DictionaryObject) else ():
            proc = _resolved(proc_value)
            if isinstance(proc, StreamObject):
                size, draws = self._stream(_key(proc_value), proc)
                total += size + self._drawn(draws, own if own is not None else resources, 1)
            if total > self._left():
                return total
        return total

    def _drawn(self, draws: Counter[bytes], resources: object, depth: int) -> int:
        """The content bytes PDFium parses for the forms `draws` names, each as often as it
        is drawn (a form drawn 2,000 times is parsed 2,000 times)."""
        if not draws or depth > MAX_FORM_DEPTH:
            return 0
        xobjects = _resolved(_resolved(resources).get("/XObject")) if resources else None
        if not isinstance(xobjects, DictionaryObject):
            return 0
        total = 0
        for name, times in draws.items():
            value = xobjects.get("/" + name.decode("latin-1"))
            form = _resolved(value)
            if not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form":
                continue
            total += times * self._form(_key(value), form, resources, depth + 1)
            if total > self._left():
                break
        return total

    def _form(self, key: object, form: StreamObject, inherited: object, depth: int) -> int:
        if key not in self._forms:
            self._forms[key] = 0  # a form drawing itself: PDFium stops the loop
            size, draws = self._stream(key, form)
            own = form.get("/Resources")
            self._forms[key] = size + self._drawn(
                draws, own if own is not None else inherited, depth
            )
        return self._forms[key]


def _streams(value: object) -> Iterator[tuple[object, StreamObject]]:
    """(key, stream) for each content stream of a page, as often as `/Contents` lists it
    (PDFium parses it each time)."""
    resolved = _resolved(value)
    if isinstance(resolved, StreamObject):
        yield _key(value), resolved
    elif isinstance(resolved, ArrayObject):
        for item in resolved:
            stream = _resolved(item)
            if isinstance(stream, StreamObject):
                yield _key(item), stream


def _resolved(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _key(value: object) -> object:
    if isinstance(value, IndirectObject):
        return (value.idnum, value.generation)
    return id(value)


def _decoded(stream: StreamObject, limit: int) -> bytes:
    """What `stream` decodes to through its filters, at most about `limit + 1` bytes of it
    (past that, the exact figure does not matter). A filter that fails keeps what came in."""
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
                return data
        else:  # an image filter (DCT, JBIG2, ...): no page content PDFium would parse
            return data
        if len(data) > limit:
            break
    return data


def _inline_images(data: bytes, limit: int) -> int:
    """The bytes PDFium inflates for the deflated inline images of content `data`, at most
    about `limit + 1` (other filters decode to about the size they are stored in). Bounded
    whatever `data` holds: each "BI" looks at most `_MAX_INLINE_HEAD` bytes ahead for its
    "ID", and a stream of more than `_MAX_INLINE_IMAGES` is charged past the limit."""
    if b"/Fl" not in data:
        return 0
    total, view, start = 0, memoryview(data), 0
    for _ in range(_MAX_INLINE_IMAGES):
        head = _BEGIN_IMAGE.search(data, start)
        if head is None or total > limit:
            return total
        start = head.end()
        if head.start() and data[head.start() - 1] not in _WHITESPACE:
            continue
        marker = _IMAGE_DATA.search(data, start - 1, head.start() + _MAX_INLINE_HEAD)
        if marker is None:
            continue
        found = _INLINE_FILTER.search(data, start, marker.start())
        if found and found[1] in (b"Fl", b"FlateDecode"):
            total += _inflated_size(view[marker.end() :], limit - total + 1)
        start = marker.end()
    return limit + 1


def _inflated_size(data: memoryview, most: int) -> int:
    """How many bytes the deflate stream at the start of `data` inflates to (at most about
    `most`), fed in small pieces: what follows the stream is never copied."""
    inflater = zlib.decompressobj()
    size, position, pending = 0, 0, b""
    try:
        while size < most and not inflater.eof:
            if not pending:
                if position >= len(data):
                    break
                pending = bytes(data[position : position + _INFLATE_FEED])
                position += len(pending)
            size += len(inflater.decompress(pending, _INFLATE_CHUNK))
            pending = inflater.unconsumed_tail
    except zlib.error:
        pass
    return size


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
