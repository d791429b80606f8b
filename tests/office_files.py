"""Office files for the loaders' tests, made at test time by two producers each: the Python
library's own writer (python-docx, python-pptx, openpyxl) and Debian's pandoc (Word and
PowerPoint from Markdown), plus the hostile ones (bombs, an encrypted package) built the
way their producers build them. Nothing here is a committed binary."""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

PANDOC = shutil.which("pandoc")


def require_libreoffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip(
            "LibreOffice is not installed: apt-get install libreoffice-calc-nogui "
            "(.ci/run installs it)"
        )
    return found


#: The LibreOffice library that writes each format the tests convert to, beyond Calc's.
_WRITERS = {"odt": "libswlo.so", "rtf": "libswlo.so", "epub": "libswlo.so", "odp": "libsdlo.so"}


def libreoffice(data: bytes, name: str, to: str, tmp_path: Path) -> bytes:
    """The file `name` (`data`) opened and saved as `to` ("xlsx", "ods", "odt", "odp", "rtf",
    "epub:EPUB") by LibreOffice, headless, with a profile of its own (a LibreOffice another
    process runs is left alone). Skips where the component that writes `to` is missing."""
    program = Path(require_libreoffice()).resolve().parent
    suffix = to.partition(":")[0]  # "epub:EPUB": the format, then the filter that writes it
    if suffix in _WRITERS and not (program / _WRITERS[suffix]).exists():
        pytest.skip(
            "LibreOffice Writer and Impress are not installed: apt-get install "
            "libreoffice-writer-nogui libreoffice-impress-nogui (.ci/run installs them)"
        )
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / f"libreoffice-{to}"
    command = [
        require_libreoffice(),
        f"-env:UserInstallation={(tmp_path / 'libreoffice-profile').as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        to,
        "--outdir",
        str(out),
        str(source),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return (out / f"{source.stem}.{suffix}").read_bytes()


def require_pandoc() -> str:
    if PANDOC is None:
        pytest.skip("pandoc is not installed: apt-get install pandoc (.ci/run installs it)")
    return PANDOC


def pandoc(markdown: str, to: str, tmp_path: Path, *, title: str | None = None) -> bytes:
    """`markdown` converted by pandoc to `to` ("docx", "pptx")."""
    command = [require_pandoc(), "-f", "markdown", "-t", to, "-o", str(tmp_path / f"out.{to}")]
    if title:
        command += ["--metadata", f"title={title}"]
    if to == "rtf":  # else a fragment, without its `{\rtf1` header
        command.append("--standalone")
    subprocess.run(command, input=markdown.encode(), check=True, capture_output=True)
    return (tmp_path / f"out.{to}").read_bytes()


def word_by_library() -> bytes:
    """A Word file written by python-docx: a title in the core properties, headings, lists,
    a table, a comment."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Parking rules"
    document.core_properties.modified = datetime.datetime(2025, 3, 4, 12, 0)
    document.core_properties.author = "Facilities"
    document.add_heading("Visitors", 1)
    commented = document.add_paragraph("Visitors park in bay 7.")
    document.add_comment(commented.runs, text="Check bay number with security", author="Ana")
    document.add_paragraph("Sign in at reception", style="List Bullet")
    document.add_paragraph("Wear the badge", style="List Bullet")
    document.add_heading("Bicycles", 2)
    document.add_paragraph("Lock it", style="List Number")
    document.add_paragraph("Register it", style="List Number")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(
        table.rows, [("Rack", "Place"), ("A", "behind B"), ("B", "garage")], strict=True
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("Racks are checked weekly.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


WORD_MARKDOWN = """\
# Visitors

Visitors park in bay 7.[^bay]

- Sign in at reception
- Wear the badge

## Bicycles

1. Lock it
2. Register it

| Rack | Place    |
|------|----------|
| A    | behind B |
| B    | garage   |

Racks are checked weekly with `check-racks`:

```
check-racks --building B
check-racks --garage
```

[^bay]: Bay 7 was bay 3 until 2023.
"""


def deck_by_library() -> bytes:
    """A deck written by python-pptx: a title slide with a bulleted body and notes, a slide
    with a table, a slide without a title."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Travel budget 2025"
    body = first.placeholders[1].text_frame
    body.text = "Travel is capped"
    sub = body.add_paragraph()
    sub.text = "at 1,200 EUR per trip"
    sub.level = 1
    first.notes_slide.notes_text_frame.text = "Mention the hiring freeze."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Hotel rates"
    shape = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5))
    for row, cells in zip(
        shape.table.rows, [("City", "Rate"), ("Lyon", "140"), ("Oslo", "210")], strict=True
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    third = deck.slides.add_slide(deck.slide_layouts[6])
    box = third.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1))
    box.text_frame.text = "Questions go to the travel desk."
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


DECK_MARKDOWN = """\
# Travel budget 2025

- Travel is capped
- at 1,200 EUR per trip

::: notes
Mention the hiring freeze.
:::

# Hotel rates

| City | Rate |
|------|------|
| Lyon | 140  |
| Oslo | 210  |
"""


def workbook_by_library(*, macro: bytes | None = None) -> bytes:
    """A workbook written by openpyxl: a sheet with a title row above its header, typed
    columns; an empty sheet; a sheet without a header row. `macro`: bytes put in as
    `xl/vbaProject.bin` (an .xlsm's macros)."""
    import openpyxl

    book = openpyxl.Workbook()
    sales = book.active
    sales.title = "Q1 Sales"
    sales.append(["Sales report, first quarter"])
    sales.append([])
    sales.append(["Region", "Units", "Revenue", "Closed on", "Code"])
    sales.append(["North", 12, 1520.5, datetime.date(2024, 1, 5), "007"])
    sales.append(["South", 7, 880.0, datetime.date(2024, 2, 1), "010"])
    sales.append(["West", 3, 99.99, datetime.date(2024, 3, 28), "120"])
    book.create_sheet("Notes")
    numbers = book.create_sheet("Readings")
    for row in ([1, 2.5], [2, 3.5]):
        numbers.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if macro is None:
        return data
    return _with_member(data, "xl/vbaProject.bin", macro)


def ods_by_hand() -> bytes:
    """An OpenDocument spreadsheet as LibreOffice lays one out (mimetype first, stored;
    content.xml with a table per sheet)."""
    cells = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
            if isinstance(value, int)
            else f'<table:table-cell office:value-type="string"><text:p>{value}</text:p>'
            "</table:table-cell>"
            for value in row
        )
        + "</table:table-row>"
        for row in (("Team", "Members"), ("Support", 4), ("Sales", 9))
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Teams">'
        f"{cells}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type='
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


def encrypted(data: bytes, password: str = "secret") -> bytes:
    """`data` (an OOXML package) encrypted as Office encrypts it (an OLE compound file with
    an `EncryptedPackage` stream), by msoffcrypto-tool."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def _with_member(data: bytes, name: str, member: bytes, *, replace: bool = False) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if replace and info.filename == name:
                continue
            archive.writestr(info, source.read(info))
        archive.writestr(name, member)
    return buffer.getvalue()


def with_part(data: bytes, name: str, member: bytes) -> bytes:
    """`data` with its part `name` replaced by `member` (deflated)."""
    return _with_member(data, name, member, replace=True)


def huge_shared_strings(size: int = 200 * 1024 * 1024) -> bytes:
    """A shared-strings part of `size` bytes of one repeated string: it packs ~1,000 times."""
    head = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    return head + b"a" * (size - len(head) - 20) + b"</t></si></sst>"


def empty_rows(rows: int = 1_000_000) -> bytes:
    """A sheet part of `rows` empty rows."""
    head = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    )
    body = b"".join(b'<row r="%d"/>' % number for number in range(1, rows + 1))
    return head + body + b"</sheetData></worksheet>"


def deep_nesting(depth: int = 100_000) -> bytes:
    """A Word body of elements nested `depth` deep (within the packing ratio's floor)."""
    namespace = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    return (
        b"<w:document "
        + namespace
        + b"><w:body>"
        + b"<x>" * depth
        + b"</x>" * depth
        + b"</w:body></w:document>"
    )


def png_claiming(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of `width` x `height` white pixels: small on disk (its rows
    pack ~1,000 times), a decompression bomb once decoded."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


#: A page LibreOffice Writer imports as a text document (`libreoffice(..., "odt")`): its
#: title and author become metadata, the `sdfootnote` anchor and block a real footnote (as
#: LibreOffice's own HTML export writes them).
WRITER_HTML = """\
<html><head><title>Parking</title><meta name="author" content="Facilities"></head><body>
<h1>Visitors</h1>
<p>Visitors park in bay 7.<a class="sdfootnoteanc" name="sdfootnote1anc"
href="#sdfootnote1sym"><sup>1</sup></a></p>
<ul><li>Sign in at reception</li><li>Wear the badge<ul><li>At all times</li></ul></li></ul>
<h2>Bicycles</h2>
<ol><li>Lock it</li><li>Register it</li></ol>
<table><tr><th>Rack</th><th>Place</th></tr><tr><td>A</td><td>behind B</td></tr></table>
<pre>check-racks --building B
check-racks --garage</pre>
<div id="sdfootnote1"><p class="sdfootnote"><a class="sdfootnotesym" name="sdfootnote1sym"
href="#sdfootnote1anc">1</a>Bay 3 on weekends.</p></div>
</body></html>
"""

_ODF_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
)


def odf_by_hand(media_type: str, body: str, meta: str = "") -> bytes:
    """An OpenDocument package as the specification lays one out (mimetype first, stored;
    `body` the content of `office:body`, `meta` that of `office:meta`)."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-content {_ODF_NAMESPACES} office:version="1.3">'
        f"<office:body>{body}</office:body></office:document-content>"
    )
    meta_xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-meta {_ODF_NAMESPACES} office:version="1.3">'
        f"<office:meta>{meta}</office:meta></office:document-meta>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), media_type, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
        archive.writestr("meta.xml", meta_xml)
    return buffer.getvalue()
