"""The hostile-inputs corpus, generated (never committed as binaries): decompression bombs,
malformed ZIPs of each kind and fan-out PDFs, each small on the wire and costly to read
naively. Used by the unit, e2e and fuzz tests and by `bench/bench_hostile_inputs.py`."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

MiB = 1024 * 1024
_EMPTY_OBJECTS = b"{}," * 4096


def zip_bomb(unpacked: int = 96 * MiB, *, item: bytes = b"{}") -> bytes:
    """An export ZIP whose `conversations.json` is `[item,item,...]` of about `unpacked`
    bytes, deflated as hard as it goes (96 MiB of `{}` packs into ~100 KB)."""
    buffer = io.BytesIO()
    chunk = (item + b",") * max(1, 64 * 1024 // (len(item) + 1))
    with _member(buffer) as member:
        member.write(b"[")
        written = 1
        while written < unpacked:
            member.write(chunk)
            written += len(chunk)
        member.write(item + b"]")
    return buffer.getvalue()


def empty_conversation_bomb(unpacked: int = 96 * MiB) -> bytes:
    """A bomb of valid ChatGPT conversations with no messages: each item passes the
    shape check, so only the unpacked-bytes budget can stop it."""
    return zip_bomb(unpacked, item=b'{"id":"c","mapping":{}}')


def nested_item_bomb(unpacked: int = 32 * MiB) -> bytes:
    """One conversation whose `mapping` holds `unpacked` bytes of `{}`s (one item that is
    large once parsed: the per-item budget has to stop it)."""
    buffer = io.BytesIO()
    with _member(buffer) as member:
        member.write(b'[{"id":"c","mapping":{"x":[')
        for _ in range(unpacked // len(_EMPTY_OBJECTS)):
            member.write(_EMPTY_OBJECTS)
        member.write(b"{}]}}]")
    return buffer.getvalue()


@contextmanager
def _member(buffer: io.BytesIO) -> Iterator[IO[bytes]]:
    """`conversations.json` of a new ZIP in `buffer`, written as a stream (deflate, level 9)."""
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("conversations.json", "w", force_zip64=True) as member,
    ):
        yield member


def export_zip(payload: bytes, *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("conversations.json", payload)
    return buffer.getvalue()


def _a_conversation() -> bytes:
    return json.dumps(
        [{"uuid": "c1", "name": "x", "chat_messages": [{"sender": "human", "text": "hi"}]}]
    ).encode()


def encrypted_zip() -> bytes:
    """A ZIP whose member has the encryption flag set."""
    data = bytearray(export_zip(_a_conversation()))
    _patch_u16(data, b"PK\x03\x04", 6, lambda flags: flags | 0x1)
    _patch_u16(data, b"PK\x01\x02", 8, lambda flags: flags | 0x1)
    return bytes(data)


def unknown_method_zip() -> bytes:
    """A ZIP whose member says it is packed with method 99 (AES in WinZip's scheme)."""
    data = bytearray(export_zip(_a_conversation(), method=zipfile.ZIP_STORED))
    _patch_u16(data, b"PK\x03\x04", 8, lambda _: 99)
    _patch_u16(data, b"PK\x01\x02", 10, lambda _: 99)
    return bytes(data)


def corrupt_deflate_zip() -> bytes:
    """A ZIP whose deflate data is not deflate (block type 3, which does not exist)."""
    data = bytearray(export_zip(_a_conversation() * 20))
    start = data.index(b"PK\x03\x04")
    name_len, extra_len = struct.unpack_from("<HH", data, start + 26)
    body = start + 30 + name_len + extra_len
    data[body : body + 4] = b"\xff\xff\xff\xff"
    return bytes(data)


def truncated_zip() -> bytes:
    """A ZIP cut short: no central directory."""
    return export_zip(_a_conversation())[:-30]


def directory_offset_zip(offset: int = 0x7FFFFFFF) -> bytes:
    """A ZIP whose end record says its central directory starts at `offset`: the zip module
    reads the directory (it finds it before the end record) but then seeks before the file's
    start to open the member (`ValueError`, not one of zipfile's own errors)."""
    data = bytearray(export_zip(_a_conversation()))
    struct.pack_into("<I", data, data.rindex(b"PK\x05\x06") + 16, offset)
    return bytes(data)


MALFORMED_ZIPS = {
    "encrypted": (encrypted_zip, "encrypted"),
    "unknown method": (unknown_method_zip, "compression method 99"),
    "corrupt deflate": (corrupt_deflate_zip, "corrupt"),
    "truncated": (truncated_zip, "not a readable ZIP"),
    "directory offset": (directory_offset_zip, "points outside the file"),
}


# -- deep JSON ---------------------------------------------------------------------------------


def deep_json(depth: int = 100_000) -> bytes:
    """Arrays nested `depth` deep, `[[[...]]]` (200 KB at 100,000). As an export file, an
    unbounded streaming parser takes memory with the square of the depth (0.95 GB at 20,000,
    ~24 GB at 100,000); `json.loads` raises `RecursionError` past ~1,000."""
    return b"[" * depth + b"]" * depth


def deep_export_zip(depth: int = 100_000) -> bytes:
    """`deep_json(depth)` as the `conversations.json` of an export ZIP (a few hundred bytes)."""
    return export_zip(deep_json(depth))


def deep_jsonl(depth: int = 30_000) -> bytes:
    """A JSON-lines table file whose second line's object holds arrays nested `depth` deep."""
    return b'{"id": 1}\n{"id": 2, "tags": ' + deep_json(depth) + b"}\n"


def _patch_u16(
    data: bytearray, signature: bytes, offset: int, change: Callable[[int], int]
) -> None:
    at = data.index(signature) + offset
    (value,) = struct.unpack_from("<H", data, at)
    struct.pack_into("<H", data, at, change(value))


# -- PDFs --------------------------------------------------------------------------------------


def fan_out_pdf(
    pages: int = 40, content: int = MiB // 2, *, via_form: bool = False, draws: int = 1
) -> bytes:
    """A PDF of `pages` pages that all draw the same content stream, which inflates to
    `content` bytes of text-showing operators (a few KB on the wire). `via_form`: the pages'
    own content is `/X0 Do` (`draws` times), and the big stream is the form XObject X0."""
    ops = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n"
    stream = zlib.compress(ops * (content // len(ops)), 9)
    first = 6 if via_form else 5
    kids = " ".join(f"{first + i} 0 R" for i in range(pages))
    form = (
        b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        if via_form
        else b""
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< %s/Length %d /Filter /FlateDecode >>\nstream\n" % (form, len(stream))
        + stream
        + b"\nendstream",
    ]
    if via_form:
        own = b"/X0 Do\n" * draws
        objects.append(b"<< /Length %d >>\nstream\n" % len(own) + own + b"endstream")
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] " + (
        b"/Resources << /XObject << /X0 4 0 R >> >> /Contents 5 0 R >>"
        if via_form
        else b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects += [page] * pages
    return pdf_file(objects)


_HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n"


def _pages_drawing(content: bytes, resources: bytes, pages: int, first: list[bytes]) -> bytes:
    """A PDF of `pages` pages that all draw one content stream `content`, with `resources`
    (which may name objects 3, 4, ...: `first` are those objects, after the catalog and the
    page tree)."""
    number = 3 + len(first)
    kids = " ".join(f"{number + 1 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        *first,
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents %d 0 R >>"
    objects += [page % (resources, number)] * pages
    return pdf_file(objects)


def inline_image_pdf(pages: int = 40, pixels: int = 64 * MiB) -> bytes:
    """Pages that all draw one content stream holding an inline image (BI ... ID ... EI) whose
    deflated data inflates to `pixels` bytes: PDFium inflates it on every page to find its
    end (40 pages of 64 MiB: ~7 s of CPU from ~70 KB)."""
    image = zlib.compress(b"\0" * pixels, 9)
    content = (
        _TEXT
        + b"q 100 0 0 100 0 0 cm BI /W %d /H 1 /CS /G /BPC 8 /F /Fl ID\n" % pixels
        + image
        + b"\nEI Q\n"
    )
    return _pages_drawing(content, b"<< /Font << /F1 3 0 R >> >>", pages, [_HELVETICA])


def type3_pdf(pages: int = 40, glyph: int = 32 * MiB) -> bytes:
    """Pages that write with a Type 3 font whose one glyph's procedure inflates to `glyph`
    bytes of path operators: PDFium parses it when the text is read (32 MiB: ~1.7 s)."""
    ops = b"0 0 0 0 0 0 d1 0 0 m 1 1 l S\n"
    proc = zlib.compress(ops * (glyph // len(ops)), 9)
    font = (
        b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1 1] /FontMatrix [0.001 0 0 0.001 0 0] "
        b"/CharProcs << /a 5 0 R >> /Encoding << /Type /Encoding /Differences [97 /a] >> "
        b"/FirstChar 97 /LastChar 97 /Widths [1000] >>"
    )
    glyph_stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(proc) + proc
    content = b"BT /T3 12 Tf 72 720 Td (aaaa) Tj ET\n" + _TEXT
    return _pages_drawing(
        content,
        b"<< /Font << /F1 3 0 R /T3 4 0 R >> >>",
        pages,
        [_HELVETICA, font, glyph_stream + b"\nendstream"],
    )


def image_xobject_pdf(pages: int = 40, pixels: int = 256 * MiB) -> bytes:
    """Pages that all draw one image XObject whose deflated pixels inflate to `pixels` bytes.
    PDFium does not decode an image to read a page's text (40 pages of 256 MiB: ~0.03 s)."""
    image = zlib.compress(b"\0" * pixels, 9)
    xobject = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d /Filter /FlateDecode >>\nstream\n"
        % (pixels, len(image))
        + image
        + b"\nendstream"
    )
    return _pages_drawing(
        _TEXT + b"q 100 0 0 100 0 0 cm /Im0 Do Q\n",
        b"<< /Font << /F1 3 0 R >> /XObject << /Im0 4 0 R >> >>",
        pages,
        [_HELVETICA, xobject],
    )


def metadata_bomb_pdf(inflated: int = 1024 * MiB) -> bytes:
    """A one-page PDF ("Hello") whose catalog's XMP `/Metadata` stream inflates to about
    `inflated` bytes of spaces inside `<x:xmpmeta>` (1 GiB deflates to ~1 MB), written as a
    stream: PDFium inflates and parses it as XML when it opens the file (a 3 GiB one took a
    parse to 4 GB)."""
    xmp = _repeated_deflate(
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>", b" ", inflated, b"</x:xmpmeta>"
    )
    metadata = (
        b"<< /Type /Metadata /Subtype /XML /Length %d /Filter /FlateDecode >>\nstream\n" % len(xmp)
        + xmp
        + b"\nendstream"
    )
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            _HELVETICA,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 6 0 R >>",
            metadata,
            b"<< /Length %d >>\nstream\n" % len(_TEXT) + _TEXT + b"endstream",
        ]
    )


def font_stream_bomb_pdf(stream: str = "/ToUnicode", inflated: int = 300 * MiB) -> bytes:
    """A one-page PDF ("Hello") whose font has a side stream that inflates to about
    `inflated` bytes (300 MiB deflates to ~300 KB): its `/ToUnicode` map (a CMap padded with
    spaces), or with `stream` "/FontFile2" an embedded TrueType program. PDFium inflates
    either when it loads the font to read the page's text (a 1.6 KB PDF's 300 MiB ToUnicode
    map cost a chat attachment +640 MB)."""
    if stream == "/ToUnicode":
        data = _repeated_deflate(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            b"1 begincodespacerange <00> <FF> endcodespacerange\n",
            b" ",
            inflated,
            b"\n1 beginbfchar <48> <0048> endbfchar\nendcmap end end\n",
        )
        font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 5 0 R >>"
    else:
        data = _repeated_deflate(b"\0\1\0\0", b"\0", inflated, b"")
        font = (
            b"<< /Type /Font /Subtype /TrueType /BaseFont /Bomb /FirstChar 32 /LastChar 126 "
            b"/FontDescriptor 7 0 R >>"
        )
    side = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    descriptor = (
        b"<< /Type /FontDescriptor /FontName /Bomb /Flags 32 /FontBBox [0 0 1000 1000] "
        b"/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 %s 5 0 R >>"
        % stream.encode()
    )
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            font,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 6 0 R >>",
            side,
            b"<< /Length %d >>\nstream\n" % len(_TEXT) + _TEXT + b"endstream",
            descriptor,
        ]
    )


def _repeated_deflate(head: bytes, byte: bytes, size: int, tail: bytes) -> bytes:
    """zlib data of `head`, `size` bytes of `byte` (whole MiBs) and `tail`, made in well
    under a second for a GiB: each MiB is deflated once after a full flush (which makes the
    next block independent of what came before), so the same deflated block is repeated;
    the checksum is of the whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
    blanks = byte * MiB
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(blanks) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.compress(tail) + packer.flush()
    checksum = zlib.adler32(head)
    for _ in range(size // MiB):
        checksum = zlib.adler32(blanks, checksum)
    checksum = zlib.adler32(tail, checksum)
    body = start + block * (size // MiB) + end
    return b"\x78\xda" + body + struct.pack(">I", checksum)


def deep_pdf(depth: int = 5000) -> bytes:
    """A one-page PDF whose resources nest `depth` dictionaries deep."""
    nested = b"<< /A " * depth + b"1" + b" >>" * depth
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources " + nested + b" >>",
    ]
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of `objects` (numbered from 1, the first the catalogue), its cross-reference
    table and trailer written as a PDF writer would."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def unclosed_script_page(size: int = 160 * 1024, *, tag: bytes = b"<script>") -> bytes:
    """A share page of about `size` bytes that opens `tag` (`<script>`) over and over and
    closes none: a reader that looks for each script's end from each start reads it in time
    quadratic in its size (160 KB held the server for 12 s)."""
    return b"<html><body>" + tag * (size // len(tag))


# -- Markdown ----------------------------------------------------------------------------------


def yaml_alias_markdown(string: int = MiB, aliases: int = 500) -> bytes:
    """A Markdown file (about `string` bytes) whose YAML front matter names one string of
    `string` bytes (`&s`) and repeats it through `aliases` aliases (`[*s, *s, ...]`): PyYAML
    shares one object between them, but the list is joined into a metadata value, so 500
    aliases of 1 MiB once raised the server's peak by 1.5 GB."""
    repeated = ", ".join(["*s"] * aliases)
    front = f"---\ntitle: Aliases\nbig: &s {'x' * string}\nmany: [{repeated}]\n---\n"
    return (front + "# Aliases\n\nA document whose front matter repeats itself.\n").encode()


# -- workbooks ---------------------------------------------------------------------------------


def far_cell_xlsx(*, sheets: int = 1, rows: int = 5) -> bytes:
    """An Excel workbook of `sheets` sheets, each a few rows of numbers in columns A to C and
    one more number in the last column (XFD1), with no header row: a reader that takes a
    sheet's width from its farthest cell renders every row 16,384 columns wide (a 6.7 KB
    file once made ~5,000 chunks to embed)."""
    import openpyxl

    book = openpyxl.Workbook()
    for number in range(sheets):
        sheet = book.active if number == 0 else book.create_sheet()
        sheet.title = f"Readings {number + 1}"
        for row in range(1, rows + 1):
            for column in range(1, 4):
                sheet.cell(row=row, column=column, value=row * 10 + column)
        sheet.cell(row=1, column=16_384, value=1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_ODS_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods_file(tables: str) -> bytes:
    """An OpenDocument spreadsheet whose body is `tables` (`<table:table>` elements)."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NAMESPACES} '
        f'office:version="1.2"><office:body><office:spreadsheet>{tables}'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
        'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


def _ods_number(value: int, repeat: int = 1) -> str:
    repeated = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return (
        f'<table:table-cell office:value-type="float" office:value="{value}"{repeated}>'
        f"<text:p>{value}</text:p></table:table-cell>"
    )


def blank_repeat_ods(*, rows: int = 5, gap_rows: int = 0) -> bytes:
    """An OpenDocument spreadsheet of `rows` rows of numbers, each with 16,380 blank cells
    (one `table:number-columns-repeated` element) before a last number in column XFD, and
    `gap_rows` blank rows (one `table:number-rows-repeated` row) between the first row and
    the others: well under a kilobyte that a reader expanding the repeats reads as a sheet
    16,384 columns wide (and `gap_rows` rows taller)."""
    blank = '<table:table-cell table:number-columns-repeated="16380"/>'
    body = [
        f"<table:table-row>{_ods_number(n)}{_ods_number(n + 1)}{_ods_number(n + 2)}{blank}"
        f"{_ods_number(n + 3)}</table:table-row>"
        for n in range(1, rows + 1)
    ]
    if gap_rows:
        body.insert(
            1,
            f'<table:table-row table:number-rows-repeated="{gap_rows}">'
            "<table:table-cell/></table:table-row>",
        )
    return ods_file(f'<table:table table:name="Readings">{"".join(body)}</table:table>')


def repeated_value_ods(*, rows: int = 1_000, columns: int = 1_000) -> bytes:
    """An OpenDocument spreadsheet whose one row of one number is repeated `columns` times
    across and `rows` times down: a few hundred bytes that stand for `rows` x `columns`
    cells holding a value."""
    row = (
        f'<table:table-row table:number-rows-repeated="{rows}">{_ods_number(7, columns)}'
        "</table:table-row>"
    )
    return ods_file(f'<table:table table:name="Filled">{row}</table:table>')
