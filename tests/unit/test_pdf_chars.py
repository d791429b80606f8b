"""The one module that asks PDFium through its raw bindings (services/knowledge/loaders/
pdf_chars.py) answers what pypdfium2's helper classes answer, and stays the only one.

The reference below is the loader's former way, through the helpers (a text object, its
matrix and its font per line): every line of the fixture PDFs, and of PDFs drawn to tell
the facts apart (text scaled by the page's matrix, by its text matrix and inside a form,
bold by weight, bold by name, a line of two faces), must read the same both ways.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from services.knowledge.loaders.pdf_chars import LineFacts, line_facts
from services.knowledge.loaders.pdf_text import _LINE, BOLD_WEIGHT, _bold_face
from tests.hostile_inputs import pdf_file

REPO = Path(__file__).resolve().parents[2]
MODULE = "services/knowledge/loaders/pdf_chars.py"
FIXTURES = REPO / "tests" / "fixtures" / "pdf"
RAW = ("pypdfium2.raw", "pypdfium2_raw", "ctypes")
#: The other exception to the ban, for ctypes alone: glibc's malloc_trim, which no library
#: exposes (one call with an integer; backend/memory.py says why).
MEMORY = "backend/memory.py"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_other_module_imports_the_raw_bindings_or_ctypes() -> None:
    offenders = []
    for folder in ("backend", "services", "use_cases", "bench", "training", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative == MODULE:
                continue
            text = path.read_text(encoding="utf-8")
            if "ctypes" not in text and "raw" not in text:
                continue  # parsed only where an import of either could be
            names = _imports(path)
            banned = [r for r in RAW if relative != MEMORY or r != "ctypes"]
            if any(name == raw or name.startswith(raw + ".") for name in names for raw in banned):
                offenders.append(relative)
    assert offenders == []
    assert {"pypdfium2.raw", "ctypes"} <= _imports(REPO / MODULE)
    assert "ctypes" in _imports(REPO / MEMORY)


def test_the_lint_exception_names_that_module_and_the_heap_trim_alone() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        ruff = tomllib.load(file)["tool"]["ruff"]["lint"]
    assert {"pypdfium2.raw", "ctypes"} <= ruff["flake8-tidy-imports"]["banned-api"].keys()
    excepted = {
        path for path, rules in ruff.get("per-file-ignores", {}).items() if "TID251" in rules
    }
    assert excepted == {MODULE, MEMORY}


# -- the helpers' answers, as the loader asked them before ---------------------------------------


def _helper_facts(
    textpage: pdfium.PdfTextPage, first: int, last: int, faces: dict[bytes, bool]
) -> LineFacts | None:
    count = textpage.count_chars()
    if not 0 <= first < count:
        return None
    textobj = textpage.get_textobj(first)
    _, bottom, _, top = textpage.get_charbox(first)
    if last != first and 0 <= last < count:
        _, low, _, high = textpage.get_charbox(last)
        top, bottom = max(top, high), min(bottom, low)
    if textobj is None:
        return top, bottom, 1.0, False
    last_obj = textpage.get_textobj(last) if 0 <= last < count else None
    bold = _helper_bold(textobj, faces) and (last == first or _helper_bold(last_obj, faces))
    a, b, c, d, _, _ = textobj.get_matrix().get()
    size = textobj.get_font_size() * max(abs(a * d - b * c), 0.0) ** 0.5
    return top, bottom, size, bold


def _helper_bold(textobj: pdfium.PdfTextObj | None, faces: dict[bytes, bool]) -> bool:
    if textobj is None:
        return False
    font = textobj.get_font()
    key = memoryview(font.raw).tobytes()
    if key not in faces:
        faces[key] = font.get_weight() >= BOLD_WEIGHT or bool(
            re.search(r"bold|black|heavy|semibold|demi", font.get_base_name(), re.IGNORECASE)
        )
    return faces[key]


def _spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for found in _LINE.finditer(text):
        raw = found.group(0)
        if raw.strip():
            start = found.start()
            first = start + len(raw) - len(raw.lstrip())
            spans.append((first, start + len(raw.rstrip("\r\n \ufffe")) - 1))
    return spans


def _both_ways(data: bytes | Path) -> list[tuple[LineFacts | None, LineFacts | None]]:
    """(raw, helpers) facts of every line of every page, and of indexes off the page."""
    document = pdfium.PdfDocument(data)
    pairs: list[tuple[LineFacts | None, LineFacts | None]] = []
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                count = textpage.count_chars()
                spans = [*_spans(textpage.get_text_range()), (count, count + 3), (0, count)]
                faces: dict[bytes, bool] = {}
                helpers = [_helper_facts(textpage, first, last, faces) for first, last in spans]
                pairs.extend(zip(line_facts(textpage, spans, _bold_face), helpers, strict=True))
            finally:
                textpage.close()
                page.close()
    finally:
        document.close()
    return pairs


def _pdf(content: bytes, form: bytes, fonts: dict[str, str]) -> bytes:
    """A one-page PDF drawing `content`, which may draw the form /X0 (drawing `form`, at
    twice the size); `fonts`: resource name -> Type 1 font dictionary entries."""
    font_dicts = [f"<< /Type /Font /Subtype /Type1 {entries} >>" for entries in fonts.values()]
    first_font = 6
    resources = " ".join(f"/{name} {first_font + i} 0 R" for i, name in enumerate(fonts))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
        f"<< {resources} >> /XObject << /X0 5 0 R >> >> /Contents 4 0 R >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        f"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Matrix [2 0 0 2 0 0] "
        f"/Resources << /Font << {resources} >> >> /Length {len(form)} >>\nstream\n".encode()
        + form
        + b"\nendstream",
        *(entries.encode() for entries in font_dicts),
    ]
    return pdf_file(objects)


DRAWN = _pdf(
    b"q 1.5 0 0 1.5 0 0 cm BT /R 10 Tf 40 480 Td (Scaled by the page) Tj ET Q "
    b"q 0.5 0 0 0.5 0 0 cm /X0 Do Q "
    b"BT /R 9 Tf 3 0 0 3 40 300 Tm (Scaled by its text matrix) Tj ET "
    b"BT /B 12 Tf 40 250 Td (Bold by name) Tj ET "
    b"BT /W 12 Tf 40 220 Td (Bold by weight) Tj ET "
    b"BT /B 12 Tf 40 190 Td (Bold then ) Tj /R 12 Tf (plain) Tj ET "
    b"BT /R 12 Tf 40 160 Td (Plain then ) Tj /B 12 Tf (bold) Tj ET "
    b"BT /B 12 Tf 40 130 Td (x) Tj ET",
    b"BT /R 12 Tf 40 300 Td (Inside a form) Tj ET",
    {
        "R": "/BaseFont /Helvetica",
        "B": "/BaseFont /Helvetica-Bold",
        "W": "/BaseFont /Mystery /FirstChar 32 /LastChar 126 /FontDescriptor << /Type "
        "/FontDescriptor /FontName /Mystery /Flags 32 /FontBBox [0 -200 1000 900] "
        "/ItalicAngle 0 /Ascent 900 /Descent -200 /CapHeight 700 /StemV 180 >>",
    },
)


@pytest.mark.parametrize("source", sorted(FIXTURES.glob("*.pdf")), ids=lambda path: path.name)
def test_every_line_of_the_fixture_pdfs_reads_as_through_the_helpers(source: Path) -> None:
    pairs = _both_ways(source)
    assert len(pairs) > 20
    assert [raw for raw, _ in pairs] == [helpers for _, helpers in pairs]


def test_scaled_bold_and_formed_lines_read_as_through_the_helpers() -> None:
    pairs = _both_ways(DRAWN)
    assert [raw for raw, _ in pairs] == [helpers for _, helpers in pairs]
    facts = [raw for raw, _ in pairs]
    sizes = {round(fact[2], 2) for fact in facts if fact is not None}
    bold = [fact[3] for fact in facts if fact is not None]
    # the page's matrix (10 x 1.5), the text matrix (9 x 3), the form's own (12 x 2)
    assert {15.0, 27.0, 24.0} <= sizes
    # by name, by weight (StemV 180), a one-character line; not a line of two faces
    assert bold.count(True) == 3
    assert facts[-2] is None  # a line off the page
